"""Failures of the machine, not of the data: a full disk, exhausted memory, an I/O error.

They end a command with one line that names the step and what to do, never with a traceback
or a library's message (which can quote a value of a row). The run they stop leaves what a
killed run leaves, and the next run finishes it (README, Reliability).
"""

from __future__ import annotations

import errno
import re

# What each kind of failure says in an error's class name or message (whole words: a value a
# library quotes in its message must not pass for one), and what to do.
_SIGNS = {
    "disk": re.compile(r"No space left on device|Disk quota exceeded|\b(ENOSPC|EDQUOT)\b"),
    "memory": re.compile(
        r"\b(MemoryError|OutOfMemoryException|ENOMEM)\b|Out of Memory Error|Cannot allocate memory"
    ),
    "io": re.compile(r"Input/output error|\bEIO\b|\[Errno 5\]"),
}
_ERRNOS = {
    errno.ENOSPC: "disk",
    errno.EDQUOT: "disk",
    errno.ENOMEM: "memory",
    errno.EIO: "io",
}
_ADVICE = {
    "disk": "out of disk space: free space in the work folder's file system and run again",
    "memory": "out of memory: close other programs or use a machine with more memory, "
    "then run again",
    "io": "an input/output error of the disk: check the disk, then run again",
}
_AFTER = "; nothing is lost: the next run finishes this one"


def kind_of(error: BaseException | str | None) -> str | None:
    """'disk', 'memory' or 'io' if `error` (an exception, or an error's class name and
    message) is such a failure of the machine, else None. An exception's causes count."""
    while isinstance(error, BaseException):
        if isinstance(error, MemoryError):
            return "memory"
        if isinstance(error, OSError) and error.errno in _ERRNOS:
            return _ERRNOS[error.errno]
        found = kind_of(f"{type(error).__name__}: {error}")
        if found:
            return found
        error = error.__cause__ or error.__context__
    if isinstance(error, str):
        for kind, signs in _SIGNS.items():
            if signs.search(error):
                return kind
    return None


def message(kind: str, step: str | None = None) -> str:
    """The one line for a failure of `kind` during `step`."""
    where = f" during {step}" if step else ""
    return _ADVICE[kind].replace(":", f"{where}:", 1) + _AFTER
