"""Sweeps: the grid, the store they write, resuming after a crash, field-level errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from byzlab.orchestration.experiments_cli import sweep_command
from byzlab.orchestration.runtrace import run_recorded
from byzlab.orchestration.scenario import build_simulator, load_scenario
from byzlab.orchestration.store import Store
from byzlab.orchestration.sweep import (
    SweepError,
    load_sweep,
    run_id_for,
    run_sweep,
)
from tests.exputil import EXAMPLES, ROOT, TINY_SWEEP, invoke, make_store, sweep_from_text

# --------------------------------------------------------------------------- end to end


def test_example_sweep_end_to_end_writes_a_typed_store(tmp_path: Path) -> None:
    out = tmp_path / "small"
    result = invoke(sweep_command, [EXAMPLES / "sweep-small.toml", "--out", out, "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "already done" in result.stdout and "24 runs" in result.stderr
    table = pq.read_table(out / "runs.parquet")
    assert table.num_rows == 24  # 2 n x 2 protocols x 2 schedulers x 3 seeds
    types = {f.name: f.type for f in table.schema}
    assert types["n"] == pa.int64() and types["seed"] == pa.int64()
    assert types["agreed"] == pa.bool_() and types["latency_delta"] == pa.float64()
    assert types["m"] == pa.int64() and types["c"] == pa.float64()
    assert pa.types.is_timestamp(types["finished_at"]) and types["run_id"] == pa.string()
    rows = table.to_pylist()
    assert len({r["run_id"] for r in rows}) == 24
    assert {(r["n"], r["protocol"], r["scheduler"]) for r in rows} == {
        (n, p, s) for n in (4, 7) for p in ("hpz", "bracha-local") for s in ("random", "split-vote")
    }
    assert sorted({r["seed"] for r in rows}) == [0, 1, 2]
    for r in rows:
        where = f"run {r['run_id']} (seed {r['seed']})"
        assert r["agreed"] and r["valid"] and r["error"] is None, where
        assert r["strategy"] == "equivocate" and r["corrupted"] == r["f"], where
        assert r["byzlab_version"] and len(r["git_commit"]) >= 7, where
        assert r["latency_delta"] > 0 and r["messages"] > 0 and r["trace_hash"], where
        run_dir = out / "runs" / r["run_id"]
        assert (run_dir / "scenario.toml").read_text() == r["scenario"], where
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["trace_hash"] == r["trace_hash"] and summary["seed"] == r["seed"], where
        trace = json.loads((run_dir / "trace.json").read_text())
        assert trace["format"] == "byzlab-sim-trace-v1", where
        assert {int(d["node"]) for d in trace["decisions"]} == set(trace["honest"]), where
        assert json.loads(r["point"])["seed"] == r["seed"], where
    # the recorded scenario is the resolved one: it runs to the same hash on its own
    first = rows[0]
    scn = load_scenario(out / "runs" / first["run_id"] / "scenario.toml")
    assert build_simulator(scn).run().trace_hash == first["trace_hash"], first["run_id"]


def test_parallel_and_serial_sweeps_record_the_same_runs(tmp_path: Path) -> None:
    serial = make_store(tmp_path / "serial", jobs=1).store.table()
    parallel = make_store(tmp_path / "parallel", jobs=2).store.table()
    a = dict(zip(serial["run_id"].to_pylist(), serial["trace_hash"].to_pylist(), strict=True))
    b = dict(zip(parallel["run_id"].to_pylist(), parallel["trace_hash"].to_pylist(), strict=True))
    assert a == b and len(a) == 8


def test_the_trace_recorder_does_not_change_the_run() -> None:
    scn = load_scenario(EXAMPLES / "attack-timeline.toml")
    recorded = run_recorded(scn)
    plain = build_simulator(scn).run()
    assert recorded.result.trace_hash == plain.trace_hash, f"seed={scn.seed}"
    trace = recorded.trace
    # every honest node entered every iteration it played, in order, from iteration 1
    for node, log in trace["iteration_starts"].items():
        iterations = [t for t, _ in log]
        assert iterations == list(range(1, len(iterations) + 1)), (node, log, scn.seed)
        assert [at for _, at in log] == sorted(at for _, at in log), (node, log)
    assert len(trace["epoch_weights"]) == recorded.result.epochs


def test_a_plain_scenario_file_is_a_sweep_of_one_run(tmp_path: Path) -> None:
    sweep = load_sweep(EXAMPLES / "attack-timeline.toml")
    assert len(sweep.points) == 1 and sweep.points[0].scenario.seed == 16
    outcome = run_sweep(sweep, tmp_path)
    assert len(outcome.completed) == 1 and outcome.exit_code == 0


def test_strategy_and_corrupted_pick_the_last_nodes() -> None:
    sweep = sweep_from_text("""
[run]
n = 7
[sweep]
"adversary.strategy" = ["crash", "none"]
"adversary.corrupted" = [1, 2]
""")
    got = {
        (
            p.scenario.adversary.byzantine[0].strategy
            if p.scenario.adversary.byzantine
            else "none",
            tuple(b.node for b in p.scenario.adversary.byzantine),
        )
        for p in sweep.points
    }
    assert got == {("crash", (6,)), ("crash", (5, 6)), ("none", ())}
    assert len(sweep.points) == 4  # "none" twice, with the same scenario


def test_unquoted_dotted_keys_nest_the_same_way() -> None:
    quoted = sweep_from_text('[sweep]\n"run.n" = [4, 7]\n"adversary.scheduler" = ["fifo"]\n')
    nested = sweep_from_text('[sweep]\nrun.n = [4, 7]\nadversary.scheduler = ["fifo"]\n')
    assert [p.scenario for p in quoted.points] == [p.scenario for p in nested.points]
    assert [p.scenario.n for p in nested.points] == [4, 7]


def test_scheduler_options_keys_can_be_swept() -> None:
    sweep = sweep_from_text("""
[run]
n = 7
[adversary]
scheduler = "hold-f"
[sweep]
adversary.scheduler_options.held = [[0, 1], [2]]
""")
    assert [p.scenario.adversary.scheduler_options["held"] for p in sweep.points] == [[0, 1], [2]]


# --------------------------------------------------------------------------- resume


class Crash(Exception):
    """Stands in for a crash in the middle of a sweep."""


def test_a_resumed_sweep_skips_the_runs_already_done(tmp_path: Path) -> None:
    sweep = sweep_from_text(TINY_SWEEP)
    first: list[str] = []

    def crash_after_three(row: dict[str, Any]) -> None:
        first.append(row["run_id"])
        if len(first) == 3:
            raise Crash

    with pytest.raises(Crash):  # in the parent, while two worker processes run
        run_sweep(sweep, tmp_path, jobs=2, on_row=crash_after_three)
    store = Store(tmp_path)
    assert store.done_ids() == set(first) and len(first) == 3

    second: list[str] = []
    outcome = run_sweep(sweep, tmp_path, jobs=1, on_row=lambda row: second.append(row["run_id"]))
    assert outcome.skipped == 3 and outcome.total == 8, (first, second)
    assert not set(first) & set(second), f"reran finished runs: {set(first) & set(second)}"
    assert len(second) == 5 and store.done_ids() == set(first) | set(second)
    assert pq.read_table(tmp_path / "runs.parquet").num_rows == 8
    assert run_sweep(sweep, tmp_path, jobs=1).completed == []  # nothing left to do


def test_a_hard_crash_and_a_torn_row_lose_nothing_that_was_recorded(tmp_path: Path) -> None:
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(TINY_SWEEP)
    out = tmp_path / "store"
    # a process that dies abruptly (no finally, no snapshot) after recording two rows
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from byzlab.orchestration.sweep import load_sweep, run_sweep
        done = []
        def hook(row):
            done.append(row)
            if len(done) == 2:
                os._exit(17)
        run_sweep(load_sweep(Path({str(sweep_file)!r})), Path({str(out)!r}), jobs=1,
                  on_row=hook)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 17, proc.stderr
    journal = out / "runs.jsonl"
    assert len(journal.read_bytes().splitlines()) == 2
    assert not (out / "runs.parquet").exists()  # the crash came before any snapshot
    # and a crash in the middle of the next append leaves a torn line behind
    with journal.open("ab") as fh:
        fh.write(b'{"run_id": "sim-hpz-torn", "agreed": tr')
    store = Store(out)
    assert len(store.rows()) == 2, "the torn line is not a row"
    outcome = run_sweep(load_sweep(sweep_file), out, jobs=1)
    assert outcome.skipped == 2 and len(outcome.completed) == 6
    lines = journal.read_bytes().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["run_id"] != "sim-hpz-torn" for line in lines)


def test_max_runs_stops_early_and_the_rerun_goes_on(tmp_path: Path) -> None:
    sweep = tmp_path / "s.toml"
    sweep.write_text(TINY_SWEEP)
    result = invoke(
        sweep_command, [sweep, "--out", tmp_path / "o", "--max-runs", "3", "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "5 runs left" in result.stderr
    result = invoke(sweep_command, [sweep, "--out", tmp_path / "o", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "8 runs, 3 already done, 5 to run" in result.stderr
    assert Store(tmp_path / "o").table().num_rows == 8


def test_two_sweeps_cannot_write_one_store(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.locked():
        result = invoke(sweep_command, [EXAMPLES / "attack-timeline.toml", "--out", tmp_path])
    assert result.exit_code == 2 and "another sweep is writing" in result.stderr


def test_run_ids_are_stable_and_name_the_point() -> None:
    scn = sweep_from_text(TINY_SWEEP).points[0].scenario
    run_id = run_id_for(scn, "sim")
    assert run_id == run_id_for(scn, "sim") and run_id.startswith("sim-hpz-n4-f1-random-")
    assert "-s0-" in run_id
    assert run_id != run_id_for(scn, "sim", max_time=100.0) != run_id_for(scn, "local")
    assert run_id != run_id_for(scn.with_seed(1), "sim")


# --------------------------------------------------------------------------- bad sweep files


def sweep_problems(text: str) -> list[str]:
    with pytest.raises(SweepError) as info:
        sweep_from_text(text)
    return info.value.problems


def test_error_unknown_field_path() -> None:
    (problem,) = sweep_problems('[sweep]\n"run.nn" = [4]\n')
    assert problem.startswith("sweep.run.nn: unknown field; did you mean run.n?"), problem
    (problem,) = sweep_problems('[sweep]\n"adversary.byzantine_nodes" = [1]\n')
    assert problem.startswith("sweep.adversary.byzantine_nodes: unknown field"), problem
    (problem,) = sweep_problems("[sweep]\nrun.seed = [1, 2]\n")
    assert "sweep.run.seed: sweep seeds with the `seeds` key" in problem


@pytest.mark.parametrize("example", ["committee.toml", "sortition.toml"])
def test_error_multi_instance_scenarios_are_refused_up_front(example: str) -> None:
    """Before any run starts, not as an error row per run."""
    text = (EXAMPLES / example).read_text() + "\n[sweep]\nseeds = [0, 1]\n"
    (problem,) = sweep_problems(text)
    section = example.removesuffix(".toml")
    assert problem.startswith(f"{section}: a sweep runs single agreement instances"), problem
    assert "byzlab run FILE --backend sim|local" in problem


def test_error_value_is_not_a_list() -> None:
    (problem,) = sweep_problems('[sweep]\n"run.n" = 4\n')
    assert problem == "sweep.run.n: expected a list of values, got integer 4"
    (problem,) = sweep_problems('[sweep]\nseeds = "0,1"\n')
    assert problem == "sweep.seeds: expected a list of values, got string '0,1'"
    (problem,) = sweep_problems("[sweep.run]\nn = { min = 4, max = 7 }\n")
    assert problem.startswith("sweep.run.n: expected a list of values, got table")


def test_error_empty_list() -> None:
    (problem,) = sweep_problems('[sweep]\n"run.protocol" = []\n')
    assert problem == "sweep.run.protocol: the list is empty; give at least one value"


def test_error_invalid_value_names_the_field_and_index() -> None:
    (problem,) = sweep_problems('[sweep]\n"adversary.scheduler" = ["random", "fast"]\n')
    assert problem.startswith("sweep.adversary.scheduler[1]: 'fast' is not one of "), problem
    assert "split-vote" in problem
    (problem,) = sweep_problems('[sweep]\n"run.n" = [4, "7"]\n')
    assert problem == "sweep.run.n[1]: expected an integer, got string '7'"
    (problem,) = sweep_problems("[sweep]\nseeds = [0, -1]\n")
    assert problem == "sweep.seeds[1]: must be >= 0, got -1"
    (problem,) = sweep_problems('[sweep]\n"adversary.strategy" = ["sneaky"]\n')
    assert problem.startswith("sweep.adversary.strategy[0]: 'sneaky' is not one of none, ")
    (problem,) = sweep_problems('[sweep]\n"params.m" = [8, 0]\n')
    assert problem == "sweep.params.m[1]: must be >= 1, got 0"


def test_error_repeated_value() -> None:
    (problem,) = sweep_problems("[sweep]\nseeds = [0, 1, 0]\n")
    assert problem == "sweep.seeds[2]: 0 repeats sweep.seeds[0]"


def test_error_invalid_combination_names_the_point() -> None:
    (problem,) = sweep_problems('[run]\nf = 2\n[sweep]\n"run.n" = [7, 5]\n')
    assert problem.startswith("run.f: f=2 is too large for n=5"), problem
    assert problem.endswith("(with run.n=5)"), problem
    (problem,) = sweep_problems('[sweep]\n"run.n" = [7]\n"run.f" = [2, 3]\n')
    assert problem.startswith("sweep.run.f[1]: f=3 is too large for n=7"), problem
    assert problem.endswith("(with run.n=7)"), problem
    (problem,) = sweep_problems(
        '[run]\nn = 7\n[sweep]\n"adversary.strategy" = ["crash"]\n"adversary.corrupted" = [2, 3]\n'
    )
    assert problem.startswith("sweep.adversary.corrupted[1]: 3 corrupted nodes exceed f=2")
    (problem,) = sweep_problems('[sweep]\n"adversary.corrupted" = [1]\n')
    assert "needs sweep.adversary.strategy" in problem
    (problem,) = sweep_problems(
        '[sweep]\n"adversary.strategy" = ["crash"]\n'
        '"adversary.byzantine" = [[{node = 3, strategy = "crash"}]]\n'
    )
    assert problem.startswith("sweep.adversary.strategy: cannot be combined with"), problem


def test_error_in_the_fixed_tables_keeps_the_scenario_path() -> None:
    (problem,) = sweep_problems('[run]\nprotocl = "hpz"\n[sweep]\nseeds = [1]\n')
    assert problem.startswith("run.protocl: unknown key"), problem


def test_bad_sweep_file_exits_2_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[sweep]\n"run.nn" = [4]\n"adversary.scheduler" = ["fast"]\nseeds = []\n')
    result = invoke(sweep_command, [path, "--out", tmp_path / "out"])
    assert result.exit_code == 2
    assert "3 problems" in result.stderr and "Traceback" not in result.output
    for fragment in (
        "sweep.run.nn: unknown field",
        "sweep.adversary.scheduler[0]: 'fast'",
        "sweep.seeds: the list is empty",
    ):
        assert fragment in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
    tomllib.loads(path.read_text())  # the file itself is valid TOML: these are field errors


# --------------------------------------------------------------------------- real backend


def test_local_backend_sweep_records_real_runs(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    path.write_text(
        "[run]\nn = 4\ntimeout_s = 30\n[adversary]\ndelta_s = 0.002\n"
        '[sweep]\n"adversary.strategy" = ["equivocate"]\nseeds = [3]\n'
    )
    result = invoke(sweep_command, [path, "--out", tmp_path / "o", "--backend", "local"])
    assert result.exit_code == 0, result.output
    (row,) = Store(tmp_path / "o").table().to_pylist()
    where = f"run {row['run_id']} (seed {row['seed']})"
    assert row["backend"] == "local" and row["run_id"].startswith("local-hpz-n4-"), where
    assert row["agreed"] and row["latency_s"] > 0 and row["delta_s"] == 0.002, where
    run_dir = tmp_path / "o" / "runs" / row["run_id"]
    assert (run_dir / "nodes.csv").exists() and (run_dir / "scenario.toml").exists(), where
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["backend"] == "local" and summary["byzlab_version"], where


# --------------------------------------------------------------------------- runs that raise


def test_a_run_that_raises_is_recorded_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from byzlab.errors import InvariantViolation
    from byzlab.orchestration import runtrace
    from byzlab.orchestration.replay import replay_run

    def explode(scn: Any, **kwargs: Any) -> Any:
        if scn.n == 7:
            raise InvariantViolation(f"agreement violated (seed={scn.seed})")
        return original(scn, **kwargs)

    original = runtrace.run_recorded
    monkeypatch.setattr(runtrace, "run_recorded", explode)
    outcome = run_sweep(sweep_from_text(TINY_SWEEP), tmp_path, jobs=1)
    assert outcome.exit_code == 1 and len(outcome.errors) == 4
    rows = {r["run_id"]: r for r in Store(tmp_path).table().to_pylist()}
    assert len(rows) == 8
    for r in rows.values():
        if r["n"] == 7:
            assert r["error"] == f"InvariantViolation: agreement violated (seed={r['seed']})"
            assert r["agreed"] is False and r["trace_hash"] is None and r["stopped"] == "error"
        else:
            assert r["error"] is None and r["agreed"], r["run_id"]
    failed = next(r for r in rows.values() if r["error"])
    replayed = replay_run(failed["run_id"], tmp_path)
    assert replayed.ok and "reproduced the recorded error" in replayed.describe()
    monkeypatch.setattr(runtrace, "run_recorded", original)  # "fixed": the error is gone
    replayed = replay_run(failed["run_id"], tmp_path)
    assert not replayed.ok and "MISMATCH" in replayed.describe(), replayed
    # and a rerun does not retry them: a raising run is deterministic, so it is done
    assert run_sweep(sweep_from_text(TINY_SWEEP), tmp_path, jobs=1).completed == []
