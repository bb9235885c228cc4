"""Loading YAML configuration into typed models, with errors that name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


# Configuration is small; a larger file is refused before it is parsed.
MAX_CONFIG_BYTES = 1 << 20


class _NoAliases(yaml.SafeLoader):
    """YAML without aliases (*name): a few nested aliases expand to billions of nodes, and
    configuration never needs them."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in configuration", mark
            )
        return super().compose_node(parent, index)


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid; the message says where and why."""


def _location(loc: tuple, data: object) -> str:
    """Render a pydantic error location, naming list items by their `id`/`name` when present."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                ident = node[item].get("id") or node[item].get("name")
                if ident:
                    label = f"[{item}] (id {ident})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Read `path` as YAML and validate it as `model`; raise ConfigError naming file and field."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: over {MAX_CONFIG_BYTES >> 20} MiB, not configuration")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    try:
        data = yaml.load(text, Loader=_NoAliases)  # a SafeLoader, without aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling)"
            lines.append(f"  {_location(err['loc'], data)}: {msg}")
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(lines)) from None
