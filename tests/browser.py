"""Headless Chromium for the browser tests: find (or on Debian, install) it and launch it
through playwright. Playwright's own browser download is not used: the system's chromium is."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .system import apt_install, can_install

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEBIAN_PATH = Path("/usr/bin/chromium")


def _find() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return str(DEBIAN_PATH) if DEBIAN_PATH.exists() else None


def ensure_chromium() -> str:
    """The path of chromium; installed with apt-get when missing and running as root on
    Debian. Raises RuntimeError when it cannot be had."""
    found = _find()
    if found:
        return found
    installable = can_install()
    if installable:
        apt_install("chromium")
        found = _find()
        if found:
            return found
    raise RuntimeError(
        "chromium is needed for the dashboard browser tests and was not found "
        + (
            "(apt-get install chromium failed)"
            if installable
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
