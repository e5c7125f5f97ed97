"""The HTML report: self-contained, and it renders in a real (headless) browser.

The browser test needs Debian's Chromium (tests/browser.py says where and when it is skipped).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from byzlab.orchestration.experiments_cli import report_command, sweep_command
from tests.browser import open_page, require_chromium
from tests.exputil import EXAMPLES, invoke, make_store

# six sweep-wide figures (latency CDF, latency, cost, coins, agreement, decision spread),
# plus the featured run's weights and timeline; the store has no real runs and no matrix
FIGURES = 8


class _Refs(HTMLParser):
    """Every URL the page would load (src, href) and every <img>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images += 1
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("store")
    make_store(store)
    # add an attacked run with several epochs, so the featured run has weights to show
    result = invoke(sweep_command, [EXAMPLES / "attack-timeline.toml", "--out", store])
    assert result.exit_code == 0, result.output
    out = store / "report.html"
    result = invoke(report_command, [store, "--out", out])
    assert result.exit_code == 0, result.output
    assert "featured run sim-hpz-n7-f2-coin-aware-coin-interval-s16-" in result.stdout
    return out


def test_report_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    refs = _Refs()
    refs.feed(page)
    assert refs.images == FIGURES
    external = [u for u in refs.urls if not u.startswith(("data:", "#"))]
    assert external == [], f"the report loads outside resources: {external}"
    assert not re.search(r"<script|<link|@import|url\(", page), "no scripts, links or imports"
    for section in (
        "Summary per configuration",
        "Featured run",
        "Sweep file",
        "Runs that did not agree",
        "latency p50",
    ):
        assert section in page, section
    assert "coin-interval" in page  # the featured run
    # both sweep files that wrote to the store, the tiny sweep and the attack scenario
    assert "2 sweep files wrote to this store" in page
    assert "&quot;run.protocol&quot; = [&quot;hpz&quot;, &quot;bracha-local&quot;]" in page
    assert "attack-timeline.toml" in page


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    require_chromium()

    def actions(page: Any) -> tuple[Any, list[str], Any]:
        assert page.title().startswith("byzlab report")
        images = page.evaluate(
            "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, "
            "w: i.naturalWidth, h: i.naturalHeight}))"
        )
        headings = page.locator("h2").all_inner_texts()
        downloads = page.evaluate(
            "Array.from(document.querySelectorAll('a[download]')).map(a => a.href)"
        )
        return images, headings, downloads

    (images, headings, downloads), console_errors, requests = open_page(
        report, tmp_path / "profile", actions
    )
    assert len(images) == FIGURES, images
    broken = [i for i in images if not i["complete"] or i["w"] <= 0 or i["h"] <= 0]
    assert broken == [], f"images that did not load: {broken}"
    assert all(i["w"] > 300 for i in images), images
    assert console_errors == [], console_errors
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], requests
    assert "Figures" in headings and "Featured run" in headings
    assert "Attack matrix" in headings and "Simulator vs real backends" in headings
    assert len(downloads) == 2 * FIGURES, downloads  # an SVG and a PDF per figure
    assert all(
        d.startswith(("data:image/svg+xml;base64,", "data:application/pdf;base64,"))
        for d in downloads
    )
