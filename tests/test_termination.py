"""Termination: honest nodes halt only on 2f + 1 DECIDE, and that is what makes them all decide.

The audit schedule (n = 7, f = 2, protocol bracha-local, honest 0-4, corrupted 5 and 6)
------------------------------------------------------------------------------------------
The old rule let a decided node halt after step 3 of the iteration after its decision
("play one more iteration", removed in 7e30cd8). A halted node stops relaying ECHO and READY,
so reliable broadcast loses totality. The script below (`HOLDS`, `audit_route`, `INPUTS`)
exploits that, with delays within [0, delta] only and corrupted nodes that compute honestly
(every vote they send is valid) but choose who hears what.

Timing (tests/scripted.py, `hold_script`): every INITIAL takes delta, every ECHO, READY and
DECIDE takes 0, except that the ECHOs and READYs of a vote instance reach a receiver that
*holds* it after delta/2. So step s of iteration t happens at time 3(t - 1) + s - 1 for
everyone, in one cascade: each node completes the step on exactly the five instances it
does not hold, and the two it holds land half a step later, before the next INITIALs.
Each instance is held by at most two receivers, so the five others still echo, ready and
accept it at once. Inputs: +1 for nodes 0-3, -1 for node 4 and for the corrupted 5 and 6.

Iteration 1 (steps at t = 1, 2, 3; "p: {a, b}" means p holds a and b):

1. Step-1 holds 0: {4, 5}, 1: {3, 5}, 2: {4, 6}, 3: {1, 6}, 4: {0, 1}, 5: {2, 3},
   6: {0, 2}. Nodes 0-3 see at most one +1 held, so their step-2 value is +1; 4, 5 and 6
   hold two +1 voters and see three -1 out of five: step-2 values +1 +1 +1 +1 -1 -1 -1.
2. Step-2 holds 0: {4, 5}, 1: {5, 6}, 2: {4, 6}, 3: {0, 1}, 4: {2, 3}, 5: {0, 3},
   6: {1, 2}. Only 0, 1 and 2 hold two -1 voters and see four +1 of five (more than n/2):
   step-3 values +1 +1 +1 0 0 0 0 (bottom for 3-6).
3. Step-3 holds 0: {3, 4}, 1: {5, 6}, 2: {0, 6}, 3: {1, 2}, 4: {0, 2}, 5: {1, 3},
   6: {4, 5}. Nodes 0 and 1 count x = 3 >= f + 1 and decide +1 (and send DECIDE); node 2
   counts x = 2, nodes 3 and 4 x = 1: they keep v* = +1 but do not decide. The corrupted
   nodes send no DECIDE, ever.

Iteration 2 (steps at t = 4, 5, 6): every honest value is +1, so every valid vote is +1.

4. Steps 1 and 2: nothing held.
5. Step 3 (t = 6): corrupted node 6 sends its step-3 INITIAL to nobody. Node 0 holds node 3's
   instance, node 1 holds node 2's. The corrupted nodes send their READY for node 2's vote
   only to node 0 and for node 3's only to node 1 (their other messages go to everyone).
   Node 2's vote is echoed by 0, 1, 2, 3, 4 (INITIALs are not held) and readied by 0, 2,
   3, 4: node 0 has those four READYs and the two corrupted ones and accepts it; nodes 2,
   3, 4 have four READYs. Symmetrically for node 3's vote with node 1. So node 0 completes
   step 3 on the votes of {0, 1, 2, 4, 5} and node 1 on {0, 1, 3, 4, 5}, each with x = 5.
6. Old rule: 0 and 1 halt right there, having never readied the instance the other one
   used. At t = 6.5 their held ECHOs and READYs arrive and are dropped. Nodes 2, 3 and 4
   hold 4 of the 5 step-3 votes they need (0, 1, 4, 5) and 2 of the f + 1 DECIDEs
   (from 0 and 1), and nothing else is ever sent to them: the event queue drains with three
   honest nodes undecided.
7. Current rule: 0 and 1 have only 2 DECIDEs (2f + 1 = 5 needed to halt), so they go on. At
   t = 6.5 node 1 readies node 2's vote and node 0 node 3's; nodes 2, 3, 4 reach 5 READYs,
   accept both, complete step 3 with x = 5, decide +1 and send DECIDE; everyone now has 5
   DECIDEs and halts.

The randomized companion checks termination of bracha-local over a few hundred seeded runs
with crashing and equivocating corrupted nodes under the split-vote and random schedulers.
It guards the rule in general but would not have caught this bug: with the old rule
reinstated, all 480 of its runs still terminated (measured when this test was written),
which is why the audit schedule is scripted.
Every assertion names its seed; `byzlab sim --protocol bracha-local ...` replays the random
ones.
"""

from __future__ import annotations

import functools
from collections.abc import Collection

import pytest

from byzlab.adversary.assemble import assemble_simulator
from byzlab.network.sim import SimResult, Simulator
from byzlab.node.agreement import HonestNode
from byzlab.node.bracha import BrachaLocal
from byzlab.node.effects import Effect
from byzlab.node.messages import DecideMsg, Kind, Message, Vote
from byzlab.node.params import Params
from byzlab.seeds import derive_rng
from tests.scripted import ScriptedByzantine, ScriptedScheduler, hold_script
from tests.simutil import build_sim, describe

N, F = 7, 2
PROTOCOL = BrachaLocal()
BYZANTINE = (5, 6)
HONEST = (0, 1, 2, 3, 4)
DECIDED_EARLY = (0, 1)
UNDECIDED = (2, 3, 4)
INPUTS = [1, 1, 1, 1, -1, -1, -1]
HOLDS: dict[tuple[int, int], dict[int, set[int]]] = {
    (1, 1): {0: {4, 5}, 1: {3, 5}, 2: {4, 6}, 3: {1, 6}, 4: {0, 1}, 5: {2, 3}, 6: {0, 2}},
    (1, 2): {0: {4, 5}, 1: {5, 6}, 2: {4, 6}, 3: {0, 1}, 4: {2, 3}, 5: {0, 3}, 6: {1, 2}},
    (1, 3): {0: {3, 4}, 1: {5, 6}, 2: {0, 6}, 3: {1, 2}, 4: {0, 2}, 5: {1, 3}, 6: {4, 5}},
    (2, 3): {0: {3}, 1: {2}},
}
# what the script makes each honest node count in step 3 of iteration 1
X_ITERATION_1 = {0: 3, 1: 3, 2: 2, 3: 1, 4: 1}
# the step-3 quorums of iteration 2 on which the early deciders complete (and, formerly, halt)
QUORUM_ITERATION_2 = {0: {0, 1, 2, 4, 5}, 1: {0, 1, 3, 4, 5}}
MAX_TIME = 1000.0  # far beyond the script's 6.5 delta: a run that ends there hit the cap
SEEDS = [0, 1, 2]  # the script does not depend on the seed (no coin is ever flipped)


def audit_route(me: int, msg: Message) -> Collection[int] | None:
    """Who corrupted node `me` sends `msg` to (None: everyone)."""
    if isinstance(msg, DecideMsg):
        return ()
    item = msg.item
    if isinstance(item, Vote) and (item.iteration, item.step) == (2, 3):
        if msg.kind == Kind.INITIAL and msg.origin == 6:
            return ()
        if msg.kind == Kind.READY and msg.origin == 2:
            return (0,)
        if msg.kind == Kind.READY and msg.origin == 3:
            return (1,)
    return None


class OneMoreIterationNode(HonestNode):
    """The halting rule removed in 7e30cd8, reinstated for this test only: a node that decided
    in iteration d halts after step 3 of iteration d + 1 (after updating x, v* and its value,
    exactly where the removed lines sat), instead of going on until 2f + 1 DECIDE."""

    def _after_vote(
        self, t: int, step: int, support: int, values: list[int], out: list[Effect]
    ) -> None:
        if step == 3 and self.decision is not None and t >= self.decided_iteration + 1:
            nonzero = [v for v in values if v]
            self.x = len(nonzero)
            self.vstar = nonzero[0] if nonzero else 0
            if self.x >= 1:
                self.value = self.vstar
            self._halt("played one more iteration", out)
            return
        super()._after_vote(t, step, support, values, out)


def build_audit(seed: int, *, old_rule: bool) -> Simulator:
    params = Params.practical(N, F)
    sim = assemble_simulator(
        params,
        protocol=PROTOCOL,
        inputs=INPUTS,
        seed=seed,
        scheduler=functools.partial(ScriptedScheduler, script=hold_script(HOLDS)),
        byzantine={i: functools.partial(ScriptedByzantine, route=audit_route) for i in BYZANTINE},
        max_time=MAX_TIME,
    )
    if old_rule:
        for i in sim.honest_ids:
            node = sim.nodes[i]
            assert isinstance(node, HonestNode)
            sim.nodes[i] = OneMoreIterationNode(
                node.me,
                node.params,
                protocol=node.protocol,
                input_value=node.input_value,
                rng=node.rng,
                ideal_seed=node.ideal_seed,
            )
    return sim


def _honest(sim: Simulator, i: int) -> HonestNode:
    node = sim.nodes[i]
    assert isinstance(node, HonestNode), f"node {i} is not honest (seed={sim.seed})"
    return node


def _first_quorum(node: HonestNode, iteration: int, step: int) -> list[int]:
    return node.know.vote_order.get((iteration, step), [])[: node.params.quorum]


def _x(node: HonestNode, iteration: int) -> int:
    """The x a node counted in step 3 of `iteration`, recomputed from its first quorum."""
    votes = node.know.votes[(iteration, 3)]
    return sum(1 for j in _first_quorum(node, iteration, 3) if votes[j])


def _decide_senders(node: HonestNode, value: int) -> set[int]:
    mask = node._decide_from[value]
    return {j for j in range(node.params.n) if mask >> j & 1}


def _check_script_played_out(sim: Simulator, result: SimResult) -> None:
    """The run followed the audit script up to step 3 of iteration 2 (whatever came next)."""
    seed = result.seed
    for i, x in X_ITERATION_1.items():
        assert _x(_honest(sim, i), 1) == x, (
            f"seed={seed}: node {i} counted x={_x(_honest(sim, i), 1)} in iteration 1, "
            f"the script wants {x}; {describe(result)}"
        )
    early = {(d.node, d.iteration) for d in result.decisions if d.node in DECIDED_EARLY}
    assert early == {(0, 1), (1, 1)}, (
        f"seed={seed}: nodes 0 and 1 should decide in iteration 1: {early}; {describe(result)}"
    )
    for i, quorum in QUORUM_ITERATION_2.items():
        got = set(_first_quorum(_honest(sim, i), 2, 3))
        assert got == quorum, (
            f"seed={seed}: node {i} completed step 3 of iteration 2 on {sorted(got)}, the "
            f"script wants {sorted(quorum)}; {describe(result)}"
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_audit_schedule_terminates_when_halting_needs_2f1_decides(seed: int) -> None:
    sim = build_audit(seed, old_rule=False)
    result = sim.run()
    _check_script_played_out(sim, result)
    assert result.stopped == "all-honest-halted", (
        f"seed={seed}: the run ended by {result.stopped!r}, not by every honest node "
        f"halting; {describe(result)}"
    )
    assert sim.now < MAX_TIME and sim.deliveries < sim.max_deliveries, (
        f"seed={seed}: stopped at a cap (t={sim.now}, {sim.deliveries} deliveries)"
    )
    assert result.agreed and result.decision == 1, f"seed={seed}: {describe(result)}"
    assert sorted(result.honest_decisions) == list(HONEST), f"seed={seed}: {describe(result)}"
    for i in HONEST:
        node = _honest(sim, i)
        assert node.halted and node.decision == 1, (
            f"seed={seed}: node {i} halted={node.halted} decision={node.decision}; "
            f"{describe(result)}"
        )
    for i in UNDECIDED:
        node = _honest(sim, i)
        # they decided in iteration 2 on the four votes they had at t = 6 and node 2's or
        # node 3's, which they could accept only because node 1 or node 0 was still there
        # to ready it
        got = set(_first_quorum(node, 2, 3))
        assert node.decided_iteration == 2 and len((got - {0, 1, 4, 5}) & {2, 3}) == 1, (
            f"seed={seed}: node {i} decided in iteration {node.decided_iteration} on "
            f"{sorted(got)}; {describe(result)}"
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_audit_schedule_starves_undecided_nodes_under_the_old_halting_rule(seed: int) -> None:
    """Reinstating "halt after one more iteration" (7e30cd8) makes the same script end with
    everything delivered and three honest nodes undecided forever."""
    sim = build_audit(seed, old_rule=True)
    result = sim.run()
    _check_script_played_out(sim, result)
    assert result.stopped == "queue-empty" and not sim._queue, (
        f"seed={seed}: expected the event queue to drain (everything delivered), got "
        f"{result.stopped!r} with {len(sim._queue)} events left; {describe(result)}"
    )
    assert sim.now < MAX_TIME and sim.deliveries < sim.max_deliveries, (
        f"seed={seed}: stopped at a cap (t={sim.now}, {sim.deliveries} deliveries)"
    )
    undecided = sorted(i for i in HONEST if _honest(sim, i).decision is None)
    assert undecided == list(UNDECIDED), (
        f"seed={seed}: undecided honest nodes {undecided}, expected {list(UNDECIDED)}; "
        f"{describe(result)}"
    )
    for i in DECIDED_EARLY:
        node = _honest(sim, i)
        assert node.halted and (node.iteration, node.step) == (2, 3), (
            f"seed={seed}: node {i} should have halted after step 3 of iteration 2; "
            f"{node.snapshot()}"
        )
    for i in UNDECIDED:
        node = _honest(sim, i)
        votes = set(node.know.vote_order.get((2, 3), []))
        decides = _decide_senders(node, 1)
        assert not node.halted and (node.iteration, node.step) == (2, 3), (
            f"seed={seed}: node {i}: {node.snapshot()}"
        )
        assert votes == {0, 1, 4, 5}, (
            f"seed={seed}: node {i} holds step-3 votes {sorted(votes)} of iteration 2, "
            f"expected 4 of the {node.params.quorum} it needs: [0, 1, 4, 5]"
        )
        assert decides == set(DECIDED_EARLY) and not _decide_senders(node, -1), (
            f"seed={seed}: node {i} has DECIDE from {sorted(decides)}, expected 2 of the "
            f"f + 1 = {F + 1} it needs: [0, 1]"
        )


# -- randomized companion --------------------------------------------------------------------

RANDOM_SIZES = [(4, 1), (7, 2)]
RANDOM_SEEDS = 60  # x 2 sizes x 2 schedulers x 2 strategies = 480 runs, about 6 s here
RANDOM_MAX_TIME = 5_000.0  # in delta; the slowest of these runs needs well under 100


def _strategy_options(strategy: str, seed: int) -> dict[str, float]:
    if strategy != "crash":
        return {}
    # crash anywhere from before the first step to deep into the run: a crashed node stops
    # relaying, as a halted one did
    return {
        "at_time": derive_rng(seed, "test-termination-crash").choice(
            [0.0, 0.3, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0]
        )
    }


@pytest.mark.parametrize("strategy", ["crash", "equivocate"])
@pytest.mark.parametrize("scheduler", ["split-vote", "random"])
@pytest.mark.parametrize(("n", "f"), RANDOM_SIZES, ids=[f"n{n}f{f}" for n, f in RANDOM_SIZES])
def test_bracha_local_terminates_randomized(n: int, f: int, scheduler: str, strategy: str) -> None:
    for seed in range(RANDOM_SEEDS):
        options = _strategy_options(strategy, seed)
        inputs = "split" if seed % 2 == 0 else "random"
        sim = build_sim(
            n,
            f,
            seed=seed,
            protocol=PROTOCOL,
            strategy=strategy,
            scheduler=scheduler,
            inputs=inputs,
            strategy_kwargs=options,
        )
        sim.max_time = RANDOM_MAX_TIME  # a livelock fails fast, as "max-time"
        result = sim.run()
        where = (
            f"seed={seed} n={n} f={f} scheduler={scheduler} strategy={strategy} "
            f"options={options} inputs={inputs}: {describe(result)}"
        )
        assert result.stopped == "all-honest-halted", where
        assert result.agreed and result.valid, where
        assert len(result.honest_decisions) == n - f, where
        assert all(node.halted for node in sim.honest_nodes()), where
