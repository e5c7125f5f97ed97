"""The native engine where runs are recorded: ``[run] engine`` in a scenario, the sim
backend's summary.json naming the engine that ran, and replay on either engine.

A recorded run keeps a timeline besides its result (orchestration/runtrace.py: iteration
starts, halts, coins, the end time); the native engine reports it from the extension, and
these tests hold it to the Python recorder's, trace for trace.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from byzlab.orchestration.backend import execute
from byzlab.orchestration.replay import ReplayError, replay_run
from byzlab.orchestration.runtrace import run_recorded
from byzlab.orchestration.scenario import Scenario, ScenarioError, parse_scenario
from byzlab.orchestration.simrun import SimRun
from tests.nativeutil import requires_native


def scenario(protocol: str, scheduler: str, seed: int, engine: str = "python") -> Scenario:
    return parse_scenario(
        {
            # off: a run that records its message trace runs in Python (docs/native.md)
            "run": {
                "n": 7,
                "seed": seed,
                "protocol": protocol,
                "engine": engine,
                "messages": "off",
            },
            "adversary": {"scheduler": scheduler},
        }
    )


@requires_native
@pytest.mark.parametrize("protocol", ["bracha-local", "ideal-coin"])
@pytest.mark.parametrize("scheduler", ["fifo", "random", "exponential"])
def test_recorded_runs_have_the_same_trace_on_both_engines(protocol: str, scheduler: str) -> None:
    for seed in range(12):
        scn = scenario(protocol, scheduler, seed)
        py = run_recorded(scn, engine="python")
        nat = run_recorded(scn, engine="native")
        assert (py.engine, nat.engine) == ("python", "native"), f"seed={seed}"
        assert nat.trace == py.trace, f"seed={seed} {protocol} {scheduler}: traces differ"
        assert nat.result.summary() == py.result.summary(), f"seed={seed}: summaries differ"


@requires_native
def test_sim_run_records_its_engine_and_replays_on_either(tmp_path: Path) -> None:
    seed = 5
    outcome = execute(
        SimRun(scenario("bracha-local", "random", seed, engine="native"), out_root=tmp_path)
    )
    summary = json.loads((outcome.out_dir / "summary.json").read_text())
    assert summary["engine"] == "native", f"seed={seed}: {summary.get('engine')}"
    for engine in (None, "python", "native"):
        result = replay_run(str(outcome.out_dir), tmp_path / "no-store", engine=engine)
        assert result.replayed == summary["trace_hash"], f"seed={seed} on {engine}: {result}"
    summary["engine"] = "rust"
    (outcome.out_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ReplayError, match="engine 'rust' is not one of python, native, auto"):
        replay_run(str(outcome.out_dir), tmp_path / "no-store")


def test_a_run_the_native_engine_cannot_make_runs_in_python(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    seed = 2
    outcome = execute(SimRun(scenario("hpz", "random", seed, engine="auto"), out_root=tmp_path))
    summary = json.loads((outcome.out_dir / "summary.json").read_text())
    assert summary["engine"] == "python", f"seed={seed}: {summary.get('engine')}"
    assert "running the Python engine" not in capfd.readouterr().err, "auto falls back quietly"


def test_a_bad_engine_is_one_line_naming_the_field() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario("bracha-local", "fifo", 0, engine="rust")
    text = str(err.value)
    assert "run.engine" in text and "'rust' is not one of auto, native, python" in text, text
    assert len(text.splitlines()) == 1, text
