"""Shared helpers for the experiment tests: small sweep files and stores built from them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click
from click.testing import CliRunner, Result

from byzlab.orchestration.sweep import Sweep, SweepOutcome, parse_sweep, run_sweep

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# 2 sizes x 2 protocols x 2 seeds = 8 runs, well under a second in one process
TINY_SWEEP = """
[run]
inputs = "split"

[sweep]
"run.n" = [4, 7]
"run.protocol" = ["hpz", "bracha-local"]
"adversary.strategy" = ["equivocate"]
seeds = [0, 1]
"""


def sweep_from_text(text: str) -> Sweep:
    return parse_sweep(tomllib.loads(text), source="test.toml", text=text)


def make_store(out: Path, text: str = TINY_SWEEP, jobs: int = 1) -> SweepOutcome:
    outcome = run_sweep(sweep_from_text(text), out, jobs=jobs)
    assert outcome.exit_code == 0, (outcome.failed, [r["error"] for r in outcome.errors])
    return outcome


def invoke(command: click.Command, args: list[str]) -> Result:
    """Run a click command in-process; the result keeps stdout and stderr apart."""
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
