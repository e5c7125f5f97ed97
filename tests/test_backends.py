"""Every backend runs every scenario and writes the same results layout (issue 15).

``byzlab run SCENARIO --backend sim|local|docker|swarm`` on the default scenario and on a
pool (committee) scenario: the same file names (``backend.RESULT_FILES``, and for a pool the
instance tables with one single-run layout per instance), the same summary keys
(``results.RUN_SUMMARY_KEYS``) and the same nodes.csv columns. The docker cases need a
Docker engine and the image (``byzlab image build``), the swarm cases the multi-host lab
(``tests/multihost.py``, whose manager they run on); without them they are skipped, or fail
under ``BYZLAB_REQUIRE_DOCKER=1``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from byzlab.orchestration.backend import RESULT_FILES
from byzlab.orchestration.dispatch import BACKENDS
from byzlab.orchestration.results import NODE_CSV_COLUMNS, RUN_SUMMARY_KEYS
from byzlab.orchestration.scenario import DEFAULT_IMAGE
from tests.multihost import using_lab

BYZLAB = str(Path(sys.executable).with_name("byzlab"))
POOL_FILES = ("scenario.toml", "summary.json", "instances.json", "instances.csv", "players.csv")
POOL = """
[run]
seed = 2
timeout_s = 60

[adversary]
scheduler = "random"
delta_s = 0.002

[committee]
stakes = [40, 25, 20, 15, 12]
seats = 4
instances = 2

[[committee.byzantine]]
node = 4
strategy = "equivocate"
"""


def _require(backend: str) -> None:
    if backend != "docker":
        return
    from byzlab.errors import DockerUnavailable
    from byzlab.orchestration.docker.engine import connect

    try:
        client = connect(timeout=60)
        client.images.get(DEFAULT_IMAGE)
    except Exception as exc:  # no engine (DockerUnavailable) or no image (ImageNotFound)
        reason = str(exc) if isinstance(exc, DockerUnavailable) else f"no image {DEFAULT_IMAGE}"
        if os.environ.get("BYZLAB_REQUIRE_DOCKER") == "1":
            pytest.fail(f"BYZLAB_REQUIRE_DOCKER=1, but {reason}")
        pytest.skip(reason)
    finally:
        if "client" in locals():
            client.close()


@contextmanager
def _environment(request: pytest.FixtureRequest, backend: str) -> Iterator[dict[str, str]]:
    """What ``byzlab run`` needs for ``backend``: for swarm, the lab's manager as its engine."""
    if backend == "swarm":
        with using_lab(request.config) as lab:
            yield {**os.environ, "DOCKER_HOST": lab.docker_host(1)}
        return
    _require(backend)
    yield dict(os.environ)


def _run(
    tmp_path: Path, backend: str, *args: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / backend
    proc = subprocess.run(
        [BYZLAB, "run", *args, "--backend", backend, "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    assert len(runs) == 1, (backend, proc.returncode, proc.stderr[-3000:])
    return proc, runs[0]


def _check_single(run_dir: Path, backend: str) -> dict[str, Any]:
    names = {p.name for p in run_dir.iterdir()}
    assert set(RESULT_FILES) <= names and "INCOMPLETE.json" not in names, (backend, names)
    summary = json.loads((run_dir / "summary.json").read_text())
    missing = set(RUN_SUMMARY_KEYS) - set(summary)
    assert not missing, (backend, sorted(missing))
    assert summary["backend"] == backend and summary["run_id"] == run_dir.name
    with (run_dir / "nodes.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == NODE_CSV_COLUMNS and len(rows) == 1 + len(summary["inputs"])
    return summary


ENGINES = ("docker", "swarm")


@pytest.mark.parametrize(
    "backend",
    [pytest.param(b, marks=[pytest.mark.docker] if b in ENGINES else []) for b in BACKENDS],
)
def test_the_default_scenario_runs_on_every_backend_with_one_layout(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    with _environment(request, backend) as env:
        proc, run_dir = _run(tmp_path, backend, env=env)
    summary = _check_single(run_dir, backend)
    assert json.loads(proc.stdout) == summary
    assert proc.returncode == 0 and summary["agreed"] and summary["valid"], proc.stderr[-3000:]


@pytest.mark.parametrize(
    "backend",
    [pytest.param(b, marks=[pytest.mark.docker] if b in ENGINES else []) for b in BACKENDS],
)
def test_a_pool_scenario_runs_on_every_backend_with_one_layout(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    scenario = tmp_path / "pool.toml"
    scenario.write_text(POOL)
    with _environment(request, backend) as env:
        proc, run_dir = _run(tmp_path, backend, str(scenario), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(POOL_FILES) <= {p.name for p in run_dir.iterdir()}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["backend"] == backend and summary["instances_done"] == 2
    assert summary["failed_instances"] == [] and summary["over_f_instances"] == []
    for t in range(2):
        _check_single(run_dir / "instances" / str(t), backend)
