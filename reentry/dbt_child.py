"""`reentry-dbt`: dbt as the run's child that dies with it.

dagster-dbt starts dbt as a separate process. Were the run killed (SIGKILL, the OOM killer),
that dbt build would go on writing the work database after the run's lock was released, and
a next run would find the database in use. Started through this entry point, dbt asks the
kernel (Linux PR_SET_PDEATHSIG) to be killed when its parent dies, then runs dbt's own
command line in the same process.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


# The run that starts dbt names itself here (Settings.export_for_dbt): were it already dead
# when dbt starts, dbt's parent would be another process and dbt must not run.
PARENT_ENV = "REENTRY_DBT_PARENT"


def main() -> None:
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(1)
    from dbt.cli.main import cli

    cli()
