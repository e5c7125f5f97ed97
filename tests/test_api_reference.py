"""docs/api.md is the reference of byzlab.api, generated from the module by
scripts/api-reference: these tests fail when the committed file is stale (a public name, a
signature or a docstring changed since it was generated) or when a public name has no
docstring, so the reference a plugin author reads is always the code's."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

import byzlab.api

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "api.md"
REGENERATE = ".venv/bin/python scripts/api-reference > docs/api.md"


def generated() -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api-reference")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"scripts/api-reference failed: {result.stderr.strip()}"
    return result.stdout


def test_committed_reference_is_current() -> None:
    fresh, committed = generated(), REFERENCE.read_text()
    if fresh != committed:
        diff = difflib.unified_diff(
            committed.splitlines(), fresh.splitlines(), "docs/api.md", "generated", lineterm=""
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"docs/api.md is stale; regenerate it: {REGENERATE}\n{shown}")


def test_reference_has_a_section_per_public_name_in_order() -> None:
    headings = [
        line[len("## `") : -1]
        for line in REFERENCE.read_text().splitlines()
        if line.startswith("## `")
    ]
    assert headings == list(byzlab.api.__all__)
