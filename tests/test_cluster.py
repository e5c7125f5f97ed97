"""Sweeps on Dask (orchestration/cluster.py): a LocalCluster of two workers, a real
``dask scheduler`` + ``dask worker`` on localhost, and this process give the same trace hash
per run id; a run that raises is recorded as an error row and a run that kills its worker as
failed (KilledWorker), without a hang; Ctrl-C on ``byzlab sweep`` leaves no worker process
behind and the sweep resumes; the executor consumes its items lazily."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from byzlab.api import ByzantineNode, Effect
from byzlab.orchestration.cluster import cluster_executor
from byzlab.orchestration.experiments_cli import sweep_command
from byzlab.orchestration.store import Store
from byzlab.orchestration.sweep import run_sweep
from tests.exputil import ROOT, TINY_SWEEP, invoke, sweep_from_text

BIN = Path(sys.executable).parent
PARENT_PID = "BYZLAB_TEST_CLUSTER_PARENT"


class Exploding(ByzantineNode):
    """A planted bug: raises as the run starts (in whichever worker runs it)."""

    name = "exploding"
    description = "raises at start"

    def start(self, now: float = 0.0) -> list[Effect]:
        raise RuntimeError(f"planted failure at node {self.me}")


class WorkerKiller(ByzantineNode):
    """Kills the worker process that runs it, as an out-of-memory kill would."""

    name = "worker-killer"
    description = "kills its worker at start"

    def start(self, now: float = 0.0) -> list[Effect]:
        if os.environ.get(PARENT_PID) == str(os.getpid()):  # never the test process itself
            raise RuntimeError("WorkerKiller runs in the test process")
        os._exit(3)


def hashes(store_dir: Path) -> dict[str, str]:
    return {r["run_id"]: r["trace_hash"] for r in Store(store_dir).table().to_pylist()}


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@contextlib.contextmanager
def dask_processes(tmp_path: Path, pythonpath: Path | None = None) -> Iterator[str]:
    """A real scheduler and two single-thread workers, started as `dask` commands do; the
    workers import byzlab from ``pythonpath`` first when it is given."""
    info = tmp_path / "scheduler.json"
    log = (tmp_path / "dask.log").open("w")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)

    def start(*args: str | Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [BIN / "dask", *args, "--no-dashboard"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    procs = [start("scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", info)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline and procs[0].poll() is None:
            time.sleep(0.2)
        assert info.exists(), (tmp_path / "dask.log").read_text()
        address = json.loads(info.read_text())["address"]
        procs.append(start("worker", address, "--nworkers", "2", "--nthreads", "1"))
        yield address
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        log.close()


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    with dask_processes(tmp_path) as address:
        yield address


def test_one_process_two_local_workers_and_a_real_cluster_give_the_same_runs(
    tmp_path: Path, dask_cluster: str
) -> None:
    sweep = sweep_from_text(TINY_SWEEP)
    inproc = run_sweep(sweep, tmp_path / "one", jobs=1)
    local = run_sweep(sweep, tmp_path / "two", jobs=2)
    assert inproc.exit_code == 0 and local.exit_code == 0, (inproc.failed, local.failed)
    file = tmp_path / "tiny.toml"
    file.write_text(TINY_SWEEP)
    result = invoke(sweep_command, [file, "--out", tmp_path / "dask", "--cluster", dask_cluster])
    assert result.exit_code == 0, result.output + result.stderr
    said = " ".join(result.stderr.split())  # rich wraps the line at the console's width
    assert f"on the Dask cluster at {dask_cluster} (2 worker threads)" in said, said
    one = hashes(tmp_path / "one")
    assert len(one) == 8 and all(one.values())
    seeds = sorted({r["seed"] for r in inproc.completed})
    assert hashes(tmp_path / "two") == one, f"seeds {seeds}: 2 local workers differ"
    assert hashes(tmp_path / "dask") == one, f"seeds {seeds}: the dask cluster differs"


def test_a_raising_run_is_an_error_row_and_a_dead_worker_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PARENT_PID, str(os.getpid()))
    text = """
[run]
inputs = "split"
[sweep]
"adversary.strategy" = ["equivocate", "tests.test_cluster:Exploding",
                        "tests.test_cluster:WorkerKiller"]
seeds = [0, 1]
"""
    sweep = sweep_from_text(text)
    started = time.monotonic()
    outcome = run_sweep(sweep, tmp_path, jobs=2)
    assert time.monotonic() - started < 120
    assert outcome.exit_code == 1 and not outcome.interrupted
    rows = {r["run_id"]: r for r in outcome.completed}
    errors = sorted((r["seed"], r["error"]) for r in rows.values() if r["error"])
    assert errors == [(s, "RuntimeError: planted failure at node 3") for s in (0, 1)], (
        f"seeds 0, 1: {errors}"
    )
    assert sorted(r["seed"] for r in rows.values() if r["error"] is None and r["agreed"]) == [0, 1]
    assert len(outcome.failed) == 2, outcome.failed
    for run_id, reason in outcome.failed:
        assert "WorkerKiller" in run_id and reason.startswith("KilledWorker: "), reason
    # a failed run is not done: a rerun tries it again, and nothing else
    again = run_sweep(sweep, tmp_path, jobs=1, max_runs=0)
    assert again.skipped == 4 and again.remaining == 2


def test_ctrl_c_leaves_no_worker_behind_and_the_sweep_resumes(tmp_path: Path) -> None:
    file = tmp_path / "sweep.toml"
    file.write_text("""
[run]
n = 7
inputs = "split"
[sweep]
"run.protocol" = ["hpz", "bracha-local"]
"adversary.strategy" = ["equivocate"]
seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
""")
    out = tmp_path / "store"
    proc = subprocess.Popen(
        [BIN / "byzlab", "sweep", file, "--out", out, "--jobs", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    journal = out / "runs.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.1)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert len(workers) >= 2, [p.cmdline() for p in workers]
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    _, alive = psutil.wait_procs(_alive(workers), timeout=15)
    assert not _alive(alive), [(p.pid, p.cmdline()) for p in _alive(alive)]
    done = Store(out).done_ids()
    assert 2 <= len(done) < 32, f"{len(done)} runs recorded before Ctrl-C"
    resumed = run_sweep(sweep_from_text(file.read_text()), out, jobs=1)
    assert resumed.skipped == len(done) and len(resumed.completed) == 32 - len(done)
    assert resumed.exit_code == 0 and len(Store(out).done_ids()) == 32


def test_the_executor_takes_items_as_results_come_back() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for k in range(20):
            taken.append(k)
            yield k

    with cluster_executor(workers=2, window=3) as ex:
        got = []
        for done in ex.map_unordered(_square_or_fail, items()):
            # never more than the window ahead of what was handed back
            assert len(taken) <= len(got) + 1 + 3, (len(taken), len(got))
            got.append(done)
    assert sorted(d.item for d in got) == list(range(20))
    for d in got:
        if d.item % 7 == 3:
            assert d.error == f"ValueError: no square for {d.item}" and d.value is None
            assert isinstance(d.exception, ValueError)
        else:
            assert d.error is None and d.value == d.item**2


def _square_or_fail(k: int) -> int:
    if k % 7 == 3:
        raise ValueError(f"no square for {k}")
    return k * k


def test_a_bad_cluster_address_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "tiny.toml"
    file.write_text(TINY_SWEEP)
    result = invoke(sweep_command, [file, "--out", tmp_path / "s", "--cluster", "127.0.0.1"])
    assert result.exit_code == 2
    assert "expected the scheduler's address as tcp://HOST:PORT" in result.stderr
    result = invoke(
        sweep_command,
        [file, "--out", tmp_path / "s", "--backend", "local", "--cluster", "tcp://127.0.0.1:1"],
    )
    assert result.exit_code == 2 and "--cluster runs simulator runs only" in result.stderr


def test_workers_running_other_code_are_refused_by_name(tmp_path: Path) -> None:
    import byzlab

    other = tmp_path / "other"
    shutil.copytree(Path(byzlab.__file__).parent, other / "byzlab")
    with (other / "byzlab" / "seeds.py").open("a") as fh:
        fh.write("\n# one comment more: other code, as far as trace hashes can tell\n")
    file = tmp_path / "tiny.toml"
    file.write_text(TINY_SWEEP)
    with dask_processes(tmp_path, pythonpath=other) as address:
        result = invoke(sweep_command, [file, "--out", tmp_path / "s", "--cluster", address])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.startswith(f"Error: --cluster {address}: worker tcp://127.0.0.1:"), line
    assert "start the workers from the same checkout and venv" in line and "\n" not in line
    assert not Store(tmp_path / "s").done_ids()
