"""One writer per work folder. Every command that changes a work folder (run, ingest, erase,
demo, dashboards, report) holds an exclusive lock on WORKDIR/.reentry.lock while it runs; a
second one waits up to `--wait` seconds, then stops with one line naming the holder.

The lock is an advisory `flock` on that file: the kernel releases it when the holder's process
ends, however it ends (killed included), so the lock of a dead process is simply taken over.
The file records the holder's process id, command and start time, for the message a second
writer prints; it holds nothing else.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

LOCK_NAME = ".reentry.lock"


class WorkFolderBusy(Exception):
    """Another process holds the work folder; the message names it."""


def _holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return (
            f"process {int(data['pid'])} (reentry {str(data['command'])[:40]}, "
            f"started {str(data['started'])[:19]})"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def work_folder_lock(
    workdir: Path, command: str, wait: float = 0.0, poll: float = 0.2, shared: bool = False
) -> Iterator[None]:
    """Hold the work folder's lock for the block; wait up to `wait` seconds for it. A work
    folder this call had to create, and which holds nothing else afterwards (the command
    stopped at its checks), is removed again: a refused command leaves nothing behind.

    `shared`: several holders at once (ingestion on the lake, where each writer commits its
    own appends), none beside an exclusive holder (a run's build and publish)."""
    workdir = Path(workdir)
    created = not workdir.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / LOCK_NAME
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        # O_NOFOLLOW: a link planted in place of the lock file is refused, never followed.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait:g} s" if wait > 0 else ""
                raise WorkFolderBusy(
                    f"the work folder {workdir} is in use by {holder}{waited}; "
                    "try again when it has finished, or pass --wait SECONDS"
                ) from None
            time.sleep(poll)
            continue
        if _same_file(fd, path):
            break
        os.close(fd)  # the file was removed while we waited for it: lock the new one
    try:
        record = {
            "pid": os.getpid(),
            "command": command,
            "started": datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        yield
    finally:
        # (Never under a shared lock: another holder may hold this very file.)
        if created and not shared and [p.name for p in workdir.iterdir()] == [LOCK_NAME]:
            path.unlink()
            workdir.rmdir()
        os.close(fd)  # closing the file releases the lock
