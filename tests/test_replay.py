"""Replay: a recorded simulator run reproduces its trace hash; tampering is detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from byzlab.orchestration.experiments_cli import replay_command
from byzlab.orchestration.replay import ReplayError, replay_run
from byzlab.orchestration.store import Store
from tests.exputil import invoke, make_store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path / "store").store


def first_run(store: Store, protocol: str = "hpz") -> dict[str, object]:
    return next(r for r in store.table().to_pylist() if r["protocol"] == protocol)


@pytest.mark.parametrize("protocol", ["hpz", "bracha-local"])
def test_replay_reproduces_the_trace_hash(store: Store, protocol: str) -> None:
    row = first_run(store, protocol)
    result = invoke(replay_command, [row["run_id"], "--store", store.root])
    assert result.exit_code == 0, f"run {row['run_id']} seed {row['seed']}: {result.output}"
    assert f"trace hash {row['trace_hash']} reproduced" in result.stdout
    assert "store row" in result.stdout and "summary.json" in result.stdout


def test_replay_accepts_a_run_directory(store: Store) -> None:
    row = first_run(store)
    run_dir = store.run_dir(str(row["run_id"]))
    result = replay_run(str(run_dir), Path("/nonexistent"))
    assert result.ok and set(result.recorded) == {"store row", "summary.json"}, result


def test_a_tampered_store_hash_is_detected(store: Store) -> None:
    row = first_run(store)
    run_id, real = str(row["run_id"]), str(row["trace_hash"])
    fake = "0" * 32
    lines = store.journal.read_text().splitlines()
    edited = []
    for line in lines:
        data = json.loads(line)
        if data["run_id"] == run_id:
            data["trace_hash"] = fake
        edited.append(json.dumps(data))
    store.journal.write_text("\n".join(edited) + "\n")
    result = invoke(replay_command, [run_id, "--store", store.root])
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.stderr and fake in result.stderr and real in result.stderr
    assert f"seed {row['seed']}" in result.stderr


def test_a_tampered_summary_hash_is_detected(store: Store) -> None:
    row = first_run(store)
    summary_file = store.run_dir(str(row["run_id"])) / "summary.json"
    summary = json.loads(summary_file.read_text())
    summary["trace_hash"] = "f" * 32
    summary_file.write_text(json.dumps(summary))
    result = replay_run(str(row["run_id"]), store.root)
    assert not result.ok and result.recorded["summary.json"] == "f" * 32
    assert result.replayed == row["trace_hash"]


def test_a_changed_scenario_does_not_reproduce(store: Store) -> None:
    row = first_run(store)
    scenario = store.run_dir(str(row["run_id"])) / "scenario.toml"
    scenario.write_text(scenario.read_text().replace("seed = 0", "seed = 1"))
    result = invoke(replay_command, [row["run_id"], "--store", store.root])
    assert result.exit_code == 1, result.output
    assert "scenario.toml differs" in result.stderr


def test_only_simulator_runs_replay(tmp_path: Path) -> None:
    store = Store(tmp_path)
    run_dir = store.run_dir("local-hpz-n4-x")
    run_dir.mkdir(parents=True)
    (run_dir / "scenario.toml").write_text("[run]\nn = 4\n")
    store.append(
        {
            "run_id": "local-hpz-n4-x",
            "backend": "local",
            "protocol": "hpz",
            "n": 4,
            "f": 1,
            "seed": 0,
            "trace_hash": "ab" * 16,
        }
    )
    result = invoke(replay_command, ["local-hpz-n4-x", "--store", tmp_path])
    assert result.exit_code == 2 and "only simulator runs replay" in result.stderr
    with pytest.raises(ReplayError, match="no run 'nope'"):
        replay_run("nope", tmp_path)
    result = invoke(replay_command, ["x", "--store", tmp_path / "missing"])
    assert result.exit_code == 2 and "no result store here" in result.stderr
