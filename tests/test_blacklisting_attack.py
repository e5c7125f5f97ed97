"""Blacklisting against the Lemma-6 coin attack (HPZ §3.2-3.4, Lemma 13-14, Invariant 1).

The attack: corrupted nodes running "coin-interval" with the coin-aware scheduler. They
write their coin columns last, after every honest coin is out, and each column ends in a
swing cell (no Done) that only some honest views hold (adversary/strategies/planner.py, "the
last word"). Under the acknowledged-writes blackboard (HPZ Theorem 1.2) that is one cell per
corrupted writer, so a plan splits the coin only when the corrupted columns bring
bias + Sigma within about f of 0, i.e. when they counteract the honest sum: the forced
strategy of Lemma 6, which is what makes the corrupted columns anti-correlated.

Parameters: n = 3f + 1 = 4, `Params.practical` (m = 8, T = 8, c = 1, m0 = Xmax = 4,
beta ~ 36.9, w_min = 0.25, K_max = 3, eps = 1), outside HPZ's proven regime like every
practical preset.

What changed with the construction. On the old blackboard (views fixed on n - f full
columns) the scheduler could show different honest nodes different prefixes of a corrupted
column, the attack kept the vote split for a whole epoch in 22 of 100 runs, and
blacklisting zeroed the corrupted node in 10 of them after one epoch; mirror-mimic
outlasted epochs without being caught. That survival was an artefact of the old blackboard:
with Theorem 1.2 no run of either attack outlasts an epoch of T = 8 iterations (seeds
0-99), so at the preset blacklisting never acts and Invariant 1 holds trivially. With
T = 4, 10 of 100 coin-interval runs outlast epoch 1; in one (seed 26) the weights put the
corrupted node at 0 after one epoch and the run agrees in epoch 2 (Lemma 14); in one
(seed 67) Rising-Tide zeroes two honest nodes and not the corrupted one, breaking
Invariant 1, the kind of false positive these out-of-regime parameters allow (the run still
agrees). `python benchmarks/bench_attacks.py --blacklisting` and docs/blacklisting.md give
the figures at n = 4, 7, 10, 13, before and after the construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from byzlab.invariants import check_invariant1, epoch_weights
from byzlab.node.params import Params
from tests.simutil import build_sim, describe

N, F = 4, 1
SEEDS = range(100)


@dataclass
class Outcome:
    seed: int
    summary: str
    agreed: bool
    epochs: int
    decided_iteration: int
    zeroed_after: int | None  # epoch k whose update put every corrupted weight at 0
    invariant1: list[str]
    weights: list[list[float] | None]


def run(strategy: str, seed: int, **overrides: int) -> Outcome:
    sim = build_sim(N, F, seed=seed, strategy=strategy, scheduler="coin-aware", **overrides)
    result = sim.run()
    bad = set(sim.byzantine_ids)
    honest = sim.honest_nodes()
    weights = epoch_weights(honest, bad, result.epochs)
    # weights[e] are the weights used in epoch e + 1, computed at the end of epoch e
    zeroed = next(
        (e for e, w in enumerate(weights) if w is not None and all(w[b] == 0.0 for b in bad)), None
    )
    return Outcome(
        seed=seed,
        summary=describe(result),
        agreed=result.agreed and result.valid,
        epochs=result.epochs,
        decided_iteration=min((d.iteration for d in result.decisions), default=0),
        zeroed_after=zeroed,
        invariant1=check_invariant1(honest, bad, result.epochs),
        weights=weights,
    )


def test_the_parameters_are_the_practical_defaults() -> None:
    p = Params.practical(N, F)
    assert (p.m, p.T, p.c, p.m0, p.xmax, p.k_max, p.eps) == (8, 8, 1.0, 4, 4, 3, 1.0)
    assert p.beta == pytest.approx(36.93, abs=0.01)
    assert p.w_min == 0.25


@pytest.mark.parametrize("strategy", ["coin-interval", "mirror-mimic"])
def test_no_coin_attack_outlasts_an_epoch_at_the_preset(strategy: str) -> None:
    """With Theorem 1.2 the coin attacks end within the first epoch at T = 8 (measured:
    the longest run, 4 iterations over seeds 0-99 for coin-interval, 0-39 for mirror-mimic),
    so no weight changes and Invariant 1 holds. A stronger attack would break this pin."""
    seeds = SEEDS if strategy == "coin-interval" else range(40)
    outcomes = [run(strategy, seed) for seed in seeds]
    for o in outcomes:
        assert o.agreed, o.summary
        assert o.invariant1 == [], (o.summary, o.invariant1)
        assert o.epochs == 1, (o.summary, o.weights)
        assert o.decided_iteration <= 8, o.summary


def test_coin_interval_is_blacklisted_with_short_epochs() -> None:
    """T = 4: the runs that outlast epoch 1 are where blacklisting can act. Measured over
    seeds 0-99: 10 outlast it, 1 is caught (seed 26, after 1 epoch, agreeing in epoch 2),
    1 breaks Invariant 1 (seed 67: two honest nodes zeroed; outside HPZ's regime)."""
    k_max = Params.practical(N, F).k_max
    outcomes = [run("coin-interval", seed, T=4) for seed in SEEDS]
    for o in outcomes:
        assert o.agreed, o.summary
    survivors = [o for o in outcomes if o.epochs >= 2]
    assert len(survivors) >= 5, [(o.seed, o.epochs) for o in outcomes]
    caught = [o for o in outcomes if o.zeroed_after is not None]
    assert caught, [(o.seed, o.epochs, o.weights) for o in survivors]
    for o in caught:
        assert o.zeroed_after is not None
        assert 1 <= o.zeroed_after <= k_max, (o.summary, o.weights)
        # Lemma 14: with every corrupted weight at 0 the run agrees in the next epoch.
        assert o.decided_iteration <= (o.zeroed_after + 1) * 4, (o.summary, o.weights)
        assert o.invariant1 == [], (o.summary, o.invariant1)
    broken = [o.seed for o in outcomes if o.invariant1]
    assert len(broken) <= 2, broken
