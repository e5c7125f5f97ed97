"""The layer contracts hold, and they would catch a wrong import.

`lint-imports` checks the contracts in pyproject.toml (docs/architecture.md explains them) on the
real tree; the tests below also plant a deliberately wrong import in a copy of the tree and
show each contract failing on it, so a contract that silently checks nothing cannot pass.
ruff's banned-api rule (src/byzlab/node/ruff.toml) keeps clocks, sockets, the event loop and
the global random state out of the protocol core; it is shown firing on a probe file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("node/coin.py", "import byzlab.seeds", "the protocol core (node) imports nothing else"),
        ("network/sim.py", "import byzlab.adversary.view", "the simulator and the real transport"),
        ("runtime/interfaces.py", "import byzlab.orchestration", "layers:"),
        ("adversary/view.py", "import byzlab.cli", "layers:"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "byzlab" / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # planted by the test\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout[-4000:]
    broken = [line for line in done.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken) or contract in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("source", "banned"),
    [
        ("import time\n", "time"),
        ("import asyncio\n", "asyncio"),
        ("import socket\n", "socket"),
        ("from random import random\n", "random.random"),
        ("import threading\n", "threading"),
        ("import os\n", "os"),
    ],
)
def test_the_protocol_core_cannot_import_io(source: str, banned: str) -> None:
    # --stdin-filename makes ruff apply the configuration of that path (node/ruff.toml)
    done = subprocess.run(
        [
            str(BIN / "ruff"),
            "check",
            "--select",
            "TID251",
            "--stdin-filename",
            str(ROOT / "src/byzlab/node/probe.py"),
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "TID251" in done.stdout and f"`{banned}` is banned" in done.stdout, done.stdout
