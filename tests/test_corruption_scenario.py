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


@pytest.mark.parametrize("seed", [0, 3])
def test_most_influential_corrupts_at_an_epoch_boundary(seed: int) -> None:
    """T = 1 and the split-vote scheduler: the run reaches iteration 2, the first epoch
    boundary, where the rule takes the honest node whose coin column weighed most."""
    scn = parse_scenario(
        {
            "run": {"n": 7, "seed": seed},
            "params": {"T": 1},
            "adversary": {
                "scheduler": "split-vote",
                "byzantine": [{"node": 6, "strategy": "equivocate"}],
                "corrupt": [{"rule": "most-influential", "strategy": "mirror-mimic"}],
            },
        }
    )
    sim = build_simulator(scn)
    result = sim.run()
    ((at, node, rule, strategy),) = sim.observers[0].corrupted
    assert rule == "most-influential" and strategy == "mirror-mimic", f"seed={seed}"
    assert 0 < at < result.latency_delta and result.iterations >= 2, f"seed={seed} at={at}"
    assert node not in result.honest_decisions and result.agreed, f"seed={seed}"


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
    static, taken = summary["corrupted"]
    assert static == {"node": 6, "at": 0.0, "rule": "static", "strategy": "equivocate"}
    assert taken["node"] == 1 and taken["rule"] == "at-time" and taken["strategy"] == "silent"
    assert 2.0 <= taken["at"] < summary["latency_delta"], summary
    rows = (outcome.out_dir / "nodes.csv").read_text().splitlines()
    assert rows[2].startswith("1,corrupted,silent,"), rows


def test_a_corrupt_table_round_trips_through_toml() -> None:
    import tomllib

    scn = parse_scenario(
        _scenario({"rule": "at-time", "at_time": 2.0, "nodes": [1], "options": {}})
    )
    again = parse_scenario(tomllib.loads(scn.to_toml()))
    assert again.adversary.corrupt == scn.adversary.corrupt


def test_the_proxy_holds_the_keys_of_the_corruptible_nodes_and_no_others() -> None:
    from byzlab.orchestration.plan import RunPlan

    def proxy_keys(*corrupt: dict[str, object]) -> list[int]:
        return sorted(RunPlan.of(parse_scenario(_scenario(*corrupt))).key_ids(None))

    # ids 0..6 are nodes, 7 is the proxy's own key, 6 is Byzantine from the start
    assert proxy_keys() == [6, 7]
    assert proxy_keys({"rule": "at-time", "nodes": [2]}) == [2, 6, 7]
    assert proxy_keys({"rule": "at-time"}) == [0, 6, 7]  # the lowest honest id
    assert proxy_keys({"rule": "first-decider"}) == list(range(8))  # anyone may decide first
    plan = RunPlan.of(parse_scenario(_scenario({"rule": "at-time", "nodes": [2], "at_time": 1.5})))
    cfg = plan.proxy_config(key_dir="k", port=0, stats_file="s", ready_file="r")
    assert cfg["corrupt"] == [
        {
            "rule": "at-time",
            "strategy": "mirror-mimic",
            "options": {},
            "count": 1,
            "at_time": 1.5,
            "nodes": [2],
        }
    ]
