"""A run that did not agree has no latency: missing (None, null in JSON, an empty cell in the
result store), never 0 and never the time of whichever nodes did decide. Checked where a
latency is produced: the simulator's result (both engines), ``byzlab sim`` (text and --json),
the sim backend's summary.json and store row, a real run's summary (``build_summary``, which
local and docker runs write) and the attack matrix's cells.

Seed 0 at n = 4 (HPZ, random scheduler) decides at about 66.1 (node 2) to 66.4 delta (the
last): a virtual-time limit of 5 stops it before any decision, 66.3 after node 2's alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from byzlab.adversary.assemble import assemble_simulator
from byzlab.adversary.engine import run_simulator
from byzlab.cli import main
from byzlab.network.sim import Simulator
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.matrix import run_one, summarize
from byzlab.orchestration.scenario import parse_scenario
from byzlab.orchestration.sweep import row_from_summary
from byzlab.seeds import make_inputs
from tests.nativeutil import requires_native
from tests.summaryutil import real_summary

SEED = 0
NO_DECISION, ONE_DECISION = 5.0, 66.3


def build_sim(protocol: str = "hpz", max_time: float | None = None) -> Simulator:
    """Seed SEED at n = 4 with no corrupted node, stopped at ``max_time`` if given."""
    return assemble_simulator(
        Params.practical(4, 1),
        protocol=BUILTIN_PROTOCOLS[protocol],
        inputs=make_inputs("split", 4, SEED),
        seed=SEED,
        scheduler="random",
        max_time=max_time,
    )


@pytest.mark.parametrize("max_time", [NO_DECISION, ONE_DECISION])
def test_the_simulator_reports_no_latency_without_agreement(max_time: float) -> None:
    result = build_sim(max_time=max_time).run()
    what = f"seed={SEED} max_time={max_time}: {result.stopped} {result.decisions}"
    assert not result.agreed and result.stopped == "max-time", what
    assert len(result.decisions) == (0 if max_time == NO_DECISION else 1), what
    assert result.latency_delta is None and result.summary()["latency_delta"] is None, what
    agreed = build_sim().run()
    assert agreed.agreed and agreed.latency_delta == max(d.time for d in agreed.decisions)


@requires_native
def test_the_native_engine_reports_no_latency_without_agreement() -> None:
    # local-coin Bracha decides sooner: at 8.66 (node 1) to 8.77 delta
    for max_time, decided in ((NO_DECISION, 0), (8.7, 2)):
        result = run_simulator(build_sim("bracha-local", max_time), "native", explain=False)
        what = f"seed={SEED} max_time={max_time}: {result.decisions}"
        assert not result.agreed and len(result.decisions) == decided, what
        assert result.latency_delta is None, what


@pytest.mark.parametrize("max_time", [NO_DECISION, ONE_DECISION])
def test_byzlab_sim_says_none_not_zero(max_time: float) -> None:
    args = ["sim", "--n", "4", "--seed", str(SEED), "--max-time", str(max_time)]
    text = CliRunner().invoke(main, args)
    assert text.exit_code != 0 or "no (max-time)" in text.output, text.output
    assert "none (no agreement)" in text.output, text.output
    assert "0.00 delta" not in text.output, text.output
    data = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    assert data["agreed"] is False and data["latency_delta"] is None, data


def test_the_sim_backend_writes_null_in_summary_and_store(tmp_path: Path) -> None:
    scn = parse_scenario({"run": {"n": 4, "seed": SEED}})
    outcome = run_scenario(scn, backend="sim", out_root=tmp_path, max_time=ONE_DECISION)
    summary = json.loads((outcome.out_dir / "summary.json").read_text())
    assert summary["agreed"] is False and len(summary["decision_times"]) == 1, summary
    assert summary["latency_delta"] is None and summary["latency_s"] is None, summary
    row = row_from_summary(
        summary, scn=scn, run_id="r", backend="sim", point="", commit="", wall_s=0.0
    )
    assert row["latency_delta"] is None and row["latency_s"] is None, row


def test_a_real_run_with_some_decisions_has_no_latency() -> None:
    def summary(decided: dict[int, float]) -> dict[str, object]:
        results = {
            i: {"start_time": 100.0, "iteration": 1}
            | ({"decision": 1, "decision_time": 100.0 + decided[i]} if i in decided else {})
            for i in range(3)
        }
        return real_summary(results)

    partial = summary({0: 0.5, 1: 0.7})
    assert partial["agreed"] is False, partial
    assert partial["latency_s"] is None and partial["latency_delta"] is None, partial
    assert partial["decision_times"] == {"0": 0.5, "1": pytest.approx(0.7)}, partial
    full = summary({0: 0.5, 1: 0.7, 2: 0.9})
    assert full["latency_s"] == pytest.approx(0.9), full
    assert full["latency_delta"] == pytest.approx(90.0), full


def test_a_matrix_cell_of_runs_that_did_not_agree_has_no_latency() -> None:
    outcome = run_one("silent", "random", "hpz", SEED, 4, 1, "split", NO_DECISION, {})
    assert not outcome.agreed and outcome.latency_delta is None, outcome
    (cell,) = summarize([outcome])
    assert cell.agreement_rate == 0.0 and cell.latency_median != cell.latency_median, cell
