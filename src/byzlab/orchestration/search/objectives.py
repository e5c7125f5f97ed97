"""What an adversary search maximises: the objectives, and how each scores a finished run.

Every objective is read from one simulator run (its `SimResult`, the simulator after it, and
the safety violation it raised, if any):

* ``iterations``: the iteration in which the last honest node decided (``SimResult``);
* ``epochs``: HPZ's epochs of T iterations those took (0 for a protocol without weights);
* ``latency``: virtual time to agreement in units of delta; a run that did not agree within
  the bound scores the virtual time it ran, at least as much as any run that agreed;
* ``split-coins``: iterations whose coin the honest nodes did not all see the same way;
* ``honest-weight-lost``: HPZ's blacklisting against honest nodes: the largest, over the
  epochs whose weights are known, of the weight the honest nodes lost, sum over honest j of
  (1 - w_j) (Invariant 1 bounds it by what the corrupted nodes lost, plus eps^4 f);
* ``violation``: 1 for a run that broke safety or did not terminate, else 0: agreement or
  validity (raised by the simulator as it happens), the blackboard's certain properties
  (HPZ Theorem 1 and the construction, ``invariants.check_nodes``), HPZ Invariant 1 with its
  slack, or no termination within the run's bound.

A search ranks runs by a *fitness* tuple: the objective's value first, then the run's
iterations and its virtual end time, so that among runs equal in value (most runs have no
violation) the search still climbs towards long, undecided runs, where violations live. For
``violation`` a shaping term comes second, the *distance to disagreement*: how many honest
nodes flipped their coin to the other value in the iteration of the first decision, then
how many flipped one at all there (`coin_against_decision`). Breaking agreement needs
exactly that (an honest node decided v while others left the iteration holding not-v), and
it is rare enough under plain random delays that a search scoring 0 or 1 alone has no slope
to climb.
"""

from __future__ import annotations

from collections.abc import Sequence

from byzlab.invariants import check_invariant1, check_nodes, epoch_weights
from byzlab.network.sim import SimResult, Simulator
from byzlab.node.protocol import CoinFlips

__all__ = [
    "KINDS",
    "OBJECTIVES",
    "coin_against_decision",
    "fitness",
    "objective_value",
    "violation_kind",
    "violations",
]

OBJECTIVES = ("iterations", "epochs", "latency", "split-coins", "honest-weight-lost", "violation")
# the words a violation's description starts with (what a shrink must reproduce)
KINDS = ("agreement", "validity", "blackboard", "invariant-1", "termination")


def violations(sim: Simulator, result: SimResult, raised: str | None) -> list[str]:
    """Every safety or termination failure of the finished run, each as "kind: detail" with
    kind one of `KINDS`; `raised` is the InvariantViolation the run raised (agreement or
    validity), if it did."""
    found: list[str] = []
    if raised is not None:
        found.append(f"{'validity' if raised.startswith('validity') else 'agreement'}: {raised}")
    honest = sim.honest_nodes()
    bad = sim.byzantine_ids
    if honest:
        report = check_nodes(honest, bad, seed=result.seed, epochs=result.epochs, whp=False)
        found += [f"blackboard: {v}" for v in report.violations]
        if result.protocol == "hpz" and result.epochs:
            found += [
                f"invariant-1: {v}"
                for v in check_invariant1(honest, set(bad), result.epochs, seed=result.seed)
            ]
    if raised is None and result.stopped != "all-honest-halted":
        found.append(f"termination: {result.stopped_detail}")
    return found


def violation_kind(description: str) -> str:
    """The kind a violation's description names ("agreement", ...)."""
    return description.split(":", 1)[0]


def _weight_lost(sim: Simulator, result: SimResult) -> float:
    honest = sim.honest_nodes()
    if result.protocol != "hpz" or not honest or not result.epochs:
        return 0.0
    table = epoch_weights(honest, set(sim.byzantine_ids), result.epochs)
    good = sim.honest_ids
    return max((sum(1.0 - w[j] for j in good) for w in table if w is not None), default=0.0)


def objective_value(
    objective: str, sim: Simulator, result: SimResult, found: Sequence[str]
) -> float:
    """The run's value for `objective` (one of `OBJECTIVES`); `found` is its `violations`."""
    if objective == "iterations":
        return float(result.iterations)
    if objective == "epochs":
        return float(result.epochs)
    if objective == "latency":
        return result.latency_delta if result.latency_delta is not None else sim.now / sim.delta
    if objective == "split-coins":
        return float(result.coin_split)
    if objective == "honest-weight-lost":
        return _weight_lost(sim, result)
    if objective == "violation":
        return 1.0 if found else 0.0
    raise ValueError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")


def coin_against_decision(sim: Simulator, result: SimResult) -> tuple[int, int]:
    """In the iteration of the run's first decision: how many honest nodes flipped a coin
    that came out against the decided value, and how many flipped one at all (0, 0 for a
    run without decisions). With a local coin only a node that did not see the decided value
    in its step-3 quorum flips, so for Bracha the first counts the nodes that left that
    iteration holding the other value, and the second those one coin away from it."""
    if not result.decisions:
        return 0, 0
    first = result.decisions[0]
    coins = [
        node.coin_outputs[first.iteration]
        for node in sim.protocol_nodes()
        if isinstance(node, CoinFlips) and first.iteration in node.coin_outputs
    ]
    return sum(1 for v in coins if v != first.value), len(coins)


def fitness(objective: str, value: float, result: SimResult, sim: Simulator) -> tuple[float, ...]:
    """The search's ranking of a run (see the module docstring)."""
    ends = float(result.iterations), sim.now / sim.delta
    if objective == "violation":
        against, flipped = coin_against_decision(sim, result)
        return value, float(against), float(flipped), *ends
    return value, *ends
