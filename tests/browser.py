"""A real (headless) browser for the tests of byzlab's HTML pages: the report and the trace viewer.

The tests need Debian's Chromium at /usr/bin/chromium (scripts/ci-setup.d/30-browser installs
it) and drive it through Playwright. Without it a browser test is skipped, unless
BYZLAB_REQUIRE_BROWSER=1 (as CI sets), in which case a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test without Chromium (fail instead if BYZLAB_REQUIRE_BROWSER=1)."""
    if CHROMIUM.exists():
        return
    if os.environ.get("BYZLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"BYZLAB_REQUIRE_BROWSER=1 but {CHROMIUM} is missing; run scripts/ci-setup.d/30-browser"
        )
    pytest.skip(
        f"{CHROMIUM} not installed (scripts/ci-setup.d/30-browser installs it; "
        "set BYZLAB_REQUIRE_BROWSER=1 to make this a failure)"
    )


def open_page(
    page_file: Path,
    profile: Path,
    actions: Callable[[Any], Any],
    viewport: dict[str, int] | None = None,
) -> tuple[Any, list[str], list[str]]:
    """Open `page_file` in headless Chromium (a fresh profile in `profile`), run
    ``actions(page)`` once it has loaded, and return what it returned, the console errors
    (uncaught exceptions included) and every URL the page requested."""
    from playwright.sync_api import sync_playwright

    console_errors: list[str] = []
    requests: list[str] = []
    profile.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            **({"viewport": viewport} if viewport else {}),
        )
        try:
            page = context.new_page()
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            out = actions(page)
        finally:
            context.close()
    return out, console_errors, requests
