"""Adaptive corruption ([[adversary.corrupt]]) in the simulator takes over a node of any
protocol, not only the Bracha engine's: under ``run.protocol = "mmr"`` (byzlab.protocols) the
rule picks its victim, the strategy continues from the victim's own state and random stream,
and the nodes that stay honest still agree on a valid value."""

from __future__ import annotations

from typing import cast

import pytest

from byzlab.adversary.corruption import AdaptiveCorruption
from byzlab.orchestration.scenario import Scenario, build_simulator, parse_scenario

SEEDS = range(12)


def _mmr(seed: int, corrupt: dict[str, object]) -> Scenario:
    return parse_scenario(
        {
            "run": {"n": 7, "f": 2, "seed": seed, "protocol": "mmr"},
            "adversary": {
                "scheduler": "random",
                "byzantine": [{"node": 6, "strategy": "equivocate"}],
                "corrupt": [{"strategy": "equivocate", **corrupt}],
            },
        }
    )


@pytest.mark.parametrize(
    "corrupt",
    [{"rule": "first-decider"}, {"rule": "at-time", "at_time": 1.0, "nodes": [2]}],
    ids=["first-decider", "at-time"],
)
def test_an_mmr_node_is_taken_over_mid_run(corrupt: dict[str, object]) -> None:
    for seed in SEEDS:
        scn = _mmr(seed, corrupt)
        sim = build_simulator(scn)
        rule = cast(AdaptiveCorruption, sim.observers[0])
        result = sim.run()
        taken = [c.node for c in rule.corrupted]
        assert len(taken) == 1, f"seed {seed}: {rule.corrupted}"
        victim = taken[0]
        if corrupt["rule"] == "at-time":
            assert victim == 2, f"seed {seed}: {taken}"
        assert result.byzantine[victim].startswith("equivocate (corrupted at t="), (
            f"seed {seed}: {result.byzantine}"
        )
        assert victim not in result.honest_decisions, f"seed {seed}"
        assert result.agreed and result.valid, f"seed {seed}: {result.stopped}"
        assert sorted(result.honest_decisions) == [i for i in range(6) if i != victim], (
            f"seed {seed}: {result.honest_decisions}"
        )
