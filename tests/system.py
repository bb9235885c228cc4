"""Debian packages the tests need from the system (chromium, PostgreSQL): installed with
apt-get when missing and running as root on Debian, as in CI's clean machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def _apt(*args: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return result.returncode == 0


def can_install() -> bool:
    """Whether packages can be installed here (Debian, apt-get, root)."""
    debian = Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None
    return debian and hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(package: str) -> bool:
    """Install a Debian package (without recommends); the package lists are updated only
    when the install fails without it (they may be missing in a fresh container)."""
    install = ("install", "-y", "--no-install-recommends", package)
    return _apt(*install) or (_apt("update") and _apt(*install))
