"""``iterations`` means one thing for every protocol and backend: the iteration in which the
last honest node decided (``network.sim.iterations_taken``). It used to be the iteration the
furthest node was in at the end, which a local-coin node leaves the moment it decides (its
coin is immediate) and an HPZ node does not (it halts inside its Coin-Flip): the same FIFO
run that every node decides at step 3 of iteration 1 counted 1 for hpz and 2 for bracha-local
and ideal-coin. A decision on f + 1 DECIDEs counts in the iteration of the node's next step 3
(node/agreement.py), so HPZ's coin stage counts toward the next iteration as a local coin's
instant flip does.
"""

from __future__ import annotations

import pytest

from byzlab import plugins
from byzlab.adversary.engine import native_support, run_simulator
from byzlab.node.agreement import HonestNode, Phase
from byzlab.node.effects import Decide
from byzlab.node.messages import DecideMsg
from tests.nativeutil import requires_native
from tests.simutil import build_sim, describe
from tests.summaryutil import real_summary

BRACHA = ("hpz", "bracha-local", "ideal-coin")


@pytest.mark.parametrize("inputs", ["all-plus", "split"])
@pytest.mark.parametrize("n", [4, 7])
def test_identical_fifo_traffic_counts_alike_for_every_protocol(inputs: str, n: int) -> None:
    counts = {}
    for protocol in BRACHA:
        result = build_sim(
            n, (n - 1) // 3, seed=1, protocol=protocol, scheduler="fifo", inputs=inputs
        ).run()
        assert result.agreed, describe(result)
        assert {d.iteration for d in result.decisions} == {1}, describe(result)
        counts[protocol] = (result.iterations, result.epochs, result.latency_delta)
    assert set(counts.values()) == {(1, 1, counts["hpz"][2])}, f"seed=1 n={n}: {counts}"


@pytest.mark.parametrize("protocol", [*BRACHA, "mmr", "ben-or"])
def test_iterations_is_the_last_honest_decision(protocol: str) -> None:
    n, f = (6, 1) if protocol == "ben-or" else (7, 2)
    for seed in range(6):
        sim = build_sim(n, f, seed=seed, protocol=plugins.protocol(protocol), strategy="equivocate")
        result = sim.run()
        assert result.agreed, describe(result)
        last = max(d.iteration for d in result.decisions)
        assert result.iterations == last, f"seed={seed} {protocol}: {result.decisions}"
        # a node may have played on after deciding, never the other way round
        reached = max(node.iteration for node in sim.protocol_nodes())
        assert reached >= last, f"seed={seed} {protocol}"


@requires_native
def test_the_native_engine_counts_as_python_does() -> None:
    for protocol in ("bracha-local", "ideal-coin"):
        for seed in range(4):
            py = build_sim(7, 2, seed=seed, protocol=protocol, scheduler="random").run()
            sim = build_sim(7, 2, seed=seed, protocol=protocol, scheduler="random")
            assert native_support(sim) is None, f"seed={seed}: {native_support(sim)}"
            nat = run_simulator(sim, "native", explain=False)
            assert (nat.trace_hash, nat.iterations) == (py.trace_hash, py.iterations), seed


def test_a_decision_on_decide_messages_in_hpz_coin_stage_counts_in_the_next_iteration() -> None:
    """An HPZ node past step 3 of iteration 1 (writing its coin's blackboards) that hears
    f + 1 DECIDEs decides in iteration 2, as a local-coin node, already in iteration 2 there,
    does; before its step 3 it decides in iteration 1."""
    for phase, step, expected in ((Phase.BOARD, 3, 2), (Phase.VOTE, 4, 2), (Phase.VOTE, 2, 1)):
        sim = build_sim(4, 1, seed=0)
        node = sim.nodes[0]
        assert isinstance(node, HonestNode)
        node.start(0.0)
        node.iteration, node.phase, node.step = 1, phase, step
        node.receive(1, DecideMsg(1), 0.0)
        (decide,) = [e for e in node.receive(2, DecideMsg(1), 0.0) if isinstance(e, Decide)]
        assert decide.iteration == expected, (phase, step, decide)


def test_a_real_run_counts_the_decided_iteration() -> None:
    decided = {"decision": 1, "decision_time": 1.0, "start_time": 0.0}
    # every node played into iteration 2 after deciding in iteration 1
    played_on = {i: {**decided, "iteration": 2, "decided_iteration": 1} for i in range(3)}
    assert real_summary(played_on)["iterations"] == 1
    # one node has not decided: it counts the iteration it reached
    partial = {**played_on, 2: {"iteration": 3, "start_time": 0.0}}
    assert real_summary(partial)["iterations"] == 3
