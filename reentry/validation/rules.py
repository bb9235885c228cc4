"""The rules on the marts' data, as the dbt project states them: the public marts are the
models of the folder `marts` in the dbt manifest, and a mart's rules are the dbt data tests
attached to it (YAML tests beside its columns, generic tests in dbt_project/macros/tests).

Nothing here lists a mart or restates a rule: both come from the manifest, so a mart added to
the folder is validated and gated without a change here, and a mart without rules is an error
(`check_coverage`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARTS_FOLDER = "marts"


class UncoveredMarts(Exception):
    """A public mart has no rule to validate it (the gate would let it through unchecked)."""

    def __init__(self, marts: Iterable[str]):
        self.marts = sorted(marts)
        super().__init__(
            f"public mart(s) without any dbt data test: {', '.join(self.marts)} "
            "(state their rules beside the columns in models/marts/_marts__models.yml)"
        )


@dataclass(frozen=True)
class DbtRule:
    """One dbt data test on one mart."""

    unique_id: str
    mart: str
    test: str  # the generic test, e.g. between, unique_combination
    name: str  # readable: column, test and arguments, e.g. "rate: between(0, 1)"
    columns: tuple[str, ...] = ()


def public_marts(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """Every model of the dbt project's folder `marts`, sorted by name: the published tables."""
    project = manifest.get("metadata", {}).get("project_name")
    return tuple(
        sorted(
            node["name"]
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model"
            and node["package_name"] == project
            and node["fqn"][1:2] == [MARTS_FOLDER]
        )
    )


def _argument(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_argument(v) for v in value) + "]"
    return str(value)


def rule_name(test_metadata: Mapping[str, Any], column: str | None, where: str | None) -> str:
    """`column: test(arguments)` plus its where clause; the arguments are the test's own
    (code lists, bounds, column names), never a value of a row."""
    kwargs = {
        k: v
        for k, v in test_metadata.get("kwargs", {}).items()
        if k not in ("model", "column_name")
    }
    arguments = ", ".join(f"{k}={_argument(v)}" for k, v in kwargs.items())
    name = f"{test_metadata['name']}({arguments})" if arguments else test_metadata["name"]
    if column:
        name = f"{column}: {name}"
    if where:
        name = f"{name} where {where}"
    return name


def mart_rules(manifest: Mapping[str, Any]) -> dict[str, list[DbtRule]]:
    """The dbt data tests of every public mart (a mart without tests maps to [])."""
    marts = public_marts(manifest)
    by_id = {
        uid: node["name"]
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["name"] in marts
    }
    rules: dict[str, list[DbtRule]] = {m: [] for m in marts}
    for uid, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] != "test":
            continue
        mart = by_id.get(node.get("attached_node") or "")
        if mart is None:
            continue
        metadata = node.get("test_metadata") or {"name": node["name"], "kwargs": {}}
        column = node.get("column_name")
        columns = metadata.get("kwargs", {}).get("columns") or ([column] if column else [])
        rules[mart].append(
            DbtRule(
                unique_id=uid,
                mart=mart,
                test=metadata["name"],
                name=rule_name(metadata, column, node.get("config", {}).get("where")),
                columns=tuple(str(c).strip('"') for c in columns),
            )
        )
    return rules


def check_coverage(manifest: Mapping[str, Any]) -> dict[str, list[DbtRule]]:
    """The rules of every public mart; raise UncoveredMarts naming each mart without one."""
    rules = mart_rules(manifest)
    uncovered = [m for m, r in rules.items() if not r]
    if uncovered:
        raise UncoveredMarts(uncovered)
    return rules


def load_manifest(path: Path) -> dict:
    """The dbt manifest at `path` (reentry.defs.dbt.prepare_manifest parses the project)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_run_results(path: Path) -> dict[str, dict]:
    """unique_id -> result (status, failures, message) of a dbt run_results.json; {} when the
    file is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {r["unique_id"]: r for r in data.get("results", [])}


def test_selectors(rules: Iterable[DbtRule]) -> list[str]:
    """dbt's selectors (test names) of these rules, for `dbt test --select`."""
    # test.<package>.<name>.<hash>: the name may hold a dot (a bound such as 0.5)
    return sorted({rule.unique_id.split(".", 2)[2].rsplit(".", 1)[0] for rule in rules})
