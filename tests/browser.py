"""Headless Chromium for the browser tests: find (or on Debian, install) it and launch it
through playwright. Playwright's own browser download is not used: the system's chromium is."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEBIAN_PATH = Path("/usr/bin/chromium")


def _find() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return str(DEBIAN_PATH) if DEBIAN_PATH.exists() else None


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


def ensure_chromium() -> str:
    """The path of chromium; installed with apt-get when missing and running as root on
    Debian. Raises RuntimeError when it cannot be had."""
    found = _find()
    if found:
        return found
    debian = Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if debian and is_root:
        install = ("install", "-y", "--no-install-recommends", "chromium")
        # The package lists may be missing or stale (as in a fresh container): update only
        # when the install fails without it.
        if not _apt(*install) and _apt("update"):
            _apt(*install)
        found = _find()
        if found:
            return found
    raise RuntimeError(
        "chromium is needed for the dashboard browser tests and was not found "
        + (
            "(apt-get install chromium failed)"
            if debian and is_root
            else "(install Debian's `chromium` package, or put a `chromium` on PATH)"
        )
    )


@contextmanager
def chromium_browser() -> Iterator:
    """A headless playwright Chromium browser on the system's chromium."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
