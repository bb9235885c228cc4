"""Pseudonyms: keyed HMAC-SHA256 over normalised name and birth date, computed inside DuckDB.

The HMAC is written out in SQL (RFC 2104: H(K^opad || H(K^ipad || m))) so that a million
rows are pseudonymised set-based. The key reaches DuckDB only as prepared-statement
parameters of an in-memory connection, never as part of a stored object.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

KEY_ENV = "REENTRY_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32
_BLOCK = 64  # SHA-256 block size
_CHECK_LABEL = b"reentry-warehouse: the pseudonym key of this work database"

# Letters strip_accents() leaves alone or that the spec transliterates to two letters.
_TRANSLITERATIONS = (
    ("ä", "ae"),
    ("ö", "oe"),
    ("ü", "ue"),
    ("ß", "ss"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("ø", "o"),
    ("ł", "l"),
    ("đ", "d"),
    ("ð", "d"),
    ("þ", "th"),
)


class PseudonymKeyError(Exception):
    """No usable pseudonym key; the message says how to provide one."""


@dataclass(frozen=True)
class PseudonymKey:
    """The secret key, kept out of reprs, logs and tracebacks."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise PseudonymKeyError("the pseudonym key is empty")

    def __repr__(self) -> str:
        return "PseudonymKey(<hidden>)"

    def check_value(self) -> str:
        """What a work database remembers of its key: an HMAC of a fixed label under the key,
        hex. It identifies the key without revealing it."""
        return hmac.new(self.secret, _CHECK_LABEL, hashlib.sha256).hexdigest()

    def pads(self) -> dict[str, bytes]:
        """The HMAC inner and outer pads, as SQL parameters `ipad` and `opad`."""
        k = self.secret if len(self.secret) <= _BLOCK else hashlib.sha256(self.secret).digest()
        k = k.ljust(_BLOCK, b"\0")
        return {
            "ipad": bytes(b ^ 0x36 for b in k),
            "opad": bytes(b ^ 0x5C for b in k),
        }


def normalise_name_sql(expr: str) -> str:
    """SQL that folds a name as exports.md says: case, umlauts, accents, spaces, punctuation.

    A name of ASCII characters only (as many bytes as characters, most names) needs neither
    transliteration nor accent stripping, which are most of the cost at a million rows."""
    out = f"lower({expr})"
    for src, dst in _TRANSLITERATIONS:
        out = f"replace({out}, '{src}', '{dst}')"
    return (
        f"case when strlen({expr}) = length({expr}) "
        f"then regexp_replace(upper({expr}), '[^A-Z0-9]', '', 'g') "
        f"else regexp_replace(upper(strip_accents({out})), '[^A-Z0-9]', '', 'g') end"
    )


def hmac_sql(message: str) -> str:
    """SQL for HMAC-SHA256 of a text expression; needs parameters $ipad and $opad."""
    return f"sha256($opad || unhex(sha256($ipad || encode({message}))))"


def person_key_sql(norm_family: str, norm_given: str, birth_date: str) -> str:
    """SQL for the person key from already normalised names and a DATE expression."""
    return hmac_sql(
        f"{norm_family} || '|' || {norm_given} || '|' || strftime({birth_date}, '%Y-%m-%d')"
    )


def pseudonym_sql(family: str, given: str, birth_date: str) -> str:
    """SQL for the person key from raw names; needs $ipad and $opad from PseudonymKey.pads()."""
    return person_key_sql(normalise_name_sql(family), normalise_name_sql(given), birth_date)


RESEARCH_KEY_ENV = "REENTRY_RESEARCH_KEY"


def load_key(
    key_file: Path | None = None,
    *,
    demo: bool = False,
    env: str = KEY_ENV,
    what: str = "pseudonym key",
) -> PseudonymKey:
    """A key from `key_file` or the environment variable `env`; stop clearly if absent."""
    if key_file is not None:
        path = Path(key_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise PseudonymKeyError(f"cannot read the {what} file {path}: {exc.strerror}") from None
        origin = f"key file {path}"
    elif os.environ.get(env):
        secret = os.environ[env].strip().encode("utf-8")
        origin = f"environment variable {env}"
    else:
        flag = "--key-file" if env == KEY_ENV else "--research-key-file"
        raise PseudonymKeyError(
            f"no {what}: set {env} or pass {flag} FILE. The key must come from "
            "the key holder (see README, 'Key custody'); `reentry demo` makes its own."
        )
    if not secret:
        raise PseudonymKeyError(f"the {what} from the {origin} is empty")
    if not demo and len(secret) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"the {what} from the {origin} is {len(secret)} bytes; at least "
            f"{MIN_KEY_BYTES} are required (e.g. `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`)"
        )
    return PseudonymKey(secret)


def ensure_demo_key(path: Path) -> Path:
    """Create a random demo key file (mode 0600) if none exists; return its path."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path
