"""Failures of the machine, not of the data: a full disk, exhausted memory, an I/O error.

They end a command with one line that names the step and what to do, never with a traceback
or a library's message (which can quote a value of a row). The run they stop leaves what a
killed run leaves, and the next run finishes it (README, Reliability).
"""

from __future__ import annotations

import errno

# What each kind of failure says in an error's class name or message, and what to do.
_SIGNS = {
    "disk": ("No space left on device", "ENOSPC", "Errno 28", "Disk quota exceeded", "EDQUOT"),
    "memory": (
        "MemoryError",
        "OutOfMemoryException",
        "Out of Memory",
        "Cannot allocate memory",
        "ENOMEM",
    ),
    "io": ("Input/output error", "EIO", "Errno 5]"),
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
            if any(sign in error for sign in signs):
                return kind
    return None


def message(kind: str, step: str | None = None) -> str:
    """The one line for a failure of `kind` during `step`."""
    where = f" during {step}" if step else ""
    return _ADVICE[kind].replace(":", f"{where}:", 1) + _AFTER
