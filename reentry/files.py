"""Small helpers on files that every layer may use (this module imports nothing of the
project)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hash of the file's bytes: the manifest key of a delivery (the same file never loads
    twice) and the data version of a published database."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
