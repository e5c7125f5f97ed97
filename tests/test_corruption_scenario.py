"""[[adversary.corrupt]] in scenario files: adaptive corruption chosen by a rule, validated
like every other field, corrupts the chosen node mid-run in the simulator, and the run's
summary.json says who was corrupted when."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from byzlab.errors import ScenarioError
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.scenario import build_simulator, parse_scenario

BASE = {
    "run": {"n": 7, "seed": 1},
    "adversary": {"byzantine": [{"node": 6, "strategy": "equivocate"}]},
}


def _scenario(*corrupt: dict[str, object]) -> dict[str, object]:
    return {**BASE, "adversary": {**BASE["adversary"], "corrupt": list(corrupt)}}  # type: ignore[dict-item]


def test_at_time_corrupts_the_chosen_node_mid_run_in_the_simulator() -> None:
    scn = parse_scenario(
        _scenario(
            {
                "rule": "at-time",
                "at_time": 2.0,
                "nodes": [1],
                "strategy": "crash",
                "options": {"at_step": 2},
            }
        )
    )
    sim = build_simulator(scn)
    result = sim.run()
    assert result.byzantine[1] == "crash (corrupted at t=2.00)"
    assert 1 not in result.honest_decisions
    assert result.agreed


def test_first_decider_corrupts_the_first_node_to_decide() -> None:
    scn = parse_scenario(_scenario({"rule": "first-decider", "strategy": "equivocate"}))
    result = build_simulator(scn).run()
    corrupted = [i for i, name in result.byzantine.items() if "corrupted at" in name]
    assert len(corrupted) == 1 and corrupted[0] not in result.honest_decisions
    assert result.agreed


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"rule": "at-once"}, "adversary.corrupt[0].rule: 'at-once' is not one of"),
        ({"rule": "at-time", "count": 2}, "more than f=2"),
        ({"rule": "first-decider", "at_time": 1.0}, "only the at-time rule takes it"),
        ({"rule": "at-time", "nodes": [6]}, "node 6 is already Byzantine"),
        ({"rule": "at-time", "nodes": [9]}, "node 9 is out of range 0..6"),
        ({"rule": "at-time", "at_time": -1.0}, "adversary.corrupt[0].at_time: must be >= 0"),
        (
            {"rule": "at-time", "strategy": "crash", "options": {"at_tme": 1}},
            "adversary.corrupt[0].options.at_tme: unknown option",
        ),
    ],
)
def test_bad_corrupt_tables_are_one_line_each(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_scenario(entry))
    assert message in str(err.value)


def test_summary_json_records_who_was_corrupted_when(tmp_path: Path) -> None:
    scn = parse_scenario(
        _scenario({"rule": "at-time", "at_time": 2.0, "nodes": [1], "strategy": "silent"})
    )
    outcome = run_scenario(scn, backend="sim", out_root=tmp_path)
    summary = json.loads((outcome.out_dir / "summary.json").read_text())
    assert summary["byzantine"]["1"] == "silent (corrupted at t=2.00)"
    assert "1" not in summary["honest_decisions"]
    assert summary["agreed"]


def test_a_corrupt_table_round_trips_through_toml() -> None:
    import tomllib

    scn = parse_scenario(
        _scenario({"rule": "at-time", "at_time": 2.0, "nodes": [1], "options": {}})
    )
    again = parse_scenario(tomllib.loads(scn.to_toml()))
    assert again.adversary.corrupt == scn.adversary.corrupt


def test_real_backends_refuse_adaptive_corruption_until_the_proxy_supports_it() -> None:
    from byzlab.orchestration.plan import RunPlan

    scn = parse_scenario(_scenario({"rule": "first-decider"}))
    with pytest.raises(ScenarioError, match="simulator only so far"):
        RunPlan.of(scn).proxy_config(key_dir="k", port=0, stats_file="s", ready_file="r")
