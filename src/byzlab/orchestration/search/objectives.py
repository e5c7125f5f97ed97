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
violation) the search still climbs towards long, undecided runs, where violations live.
"""

from __future__ import annotations

from collections.abc import Sequence

from byzlab.invariants import check_invariant1, check_nodes, epoch_weights
from byzlab.network.sim import SimResult, Simulator

__all__ = ["OBJECTIVES", "fitness", "objective_value", "violation_kind", "violations"]

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


def fitness(value: float, result: SimResult, sim: Simulator) -> tuple[float, float, float]:
    """The search's ranking of a run: its value, then its iterations and virtual end time."""
    return value, float(result.iterations), sim.now / sim.delta
