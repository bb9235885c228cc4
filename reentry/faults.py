"""Named moments of a run where the crash tests kill it for real.

`REENTRY_KILL_AT=<moment>` (or `<moment>@N`, the N-th time that moment is reached) makes the
process send SIGKILL to itself when it gets there: to its whole process group when it leads
one (a dbt build it started dies with it, as on a power cut), else to itself alone. Nothing is
caught, flushed or cleaned up: the next run must recover from exactly what a kill leaves.

Unset (always, outside tests/test_crash.py) it does nothing. The moments are the boundaries
between the steps of `reentry run`, listed in MOMENTS; tests/test_crash.py kills at each.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "REENTRY_KILL_AT"

# Every moment a run passes, in order (tests/test_crash.py kills at each).
MOMENTS = (
    "ingest:started",  # the ingestion run is recorded, no file read yet
    "ingest:file",  # a file's rows and manifest row are committed
    "ingest:loaded",  # every file is loaded, none moved to the archive yet
    "ingest:archived",  # a file has moved to the archive
    "build:model",  # dbt has finished a model (dbt is killed with the run)
    "build:done",  # dbt's build has finished, not yet recorded in the ledger
    "build:recorded",  # the build is recorded, the marts not yet validated
    "validate:done",  # the validation is recorded, its result not yet handed on
    "publish:staged",  # the new researchers' database is written beside the old one
    "publish:moved",  # it has replaced the old one, not yet recorded in the ledger
    "outputs:dashboards",  # the dashboards are drawn, the packs not yet
    "erase:logged",  # an erasure is logged and applied, nothing rebuilt yet
    "erase:published",  # the release without the person is published, not yet finished
)

_reached: Counter[str] = Counter()


def moment(name: str) -> None:
    """Mark that the run has reached `name`; be killed there if the crash test asks."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition("@")
    if target != name:
        return
    _reached[name] += 1
    if _reached[name] < int(nth or 1):
        return
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
