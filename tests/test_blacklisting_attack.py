"""Blacklisting works against the Lemma-6 coin attack (HPZ §3.2-3.4, Lemma 13, Invariant 1).

The attack: corrupted nodes running "coin-interval" with the coin-aware scheduler. They
write their coin columns last, after every honest coin is out, and the scheduler shows each
honest node only part of them, so that honest coins disagree and the vote stays split
(adversary/strategies.py, "the last word"); whenever it can, the plan also lands the full
board, bias + Sigma, in [-f, f], which is what makes the corrupted column anti-correlated
with the honest ones. Against that, HPZ's blacklisting must zero the corrupted weight within
K_max = 3f epochs without ever breaking Invariant 1, and the run must still agree.

Parameters: n = 3f + 1 = 4 with `Params.practical` exactly as shipped, no overrides:
m = 8 coin rows, T = 8 iterations per epoch, c = 1, hence m0 = Xmax = 4,
beta = m sqrt(T (c ln n)^3) ~ 36.9, w_min = sqrt(n)/T = 0.25, K_max = 3, eps = 1.

The attack keeps the protocol from agreeing for a whole epoch in about one run in five
(each iteration it finds a split about three times in four); only then is an epoch
boundary reached and can blacklisting act at all. Whether it then catches the corrupted
node depends on how anti-correlated its column was: landing the board in [-f, f] makes
X_B = -Sigma_G, whose correlation with the honest columns is large only when the honest
sums were large, and in the iterations the adversary survives they tend to be small.
Measured over seeds 0-99: 22 runs outlast epoch 1; in 10 of them the weights computed at
the end of epoch 1 put the corrupted node at 0 (it took 1 epoch), and each of these then
agrees in epoch 2 (HPZ Lemma 14); the other 12 agree in epoch 2 anyway. Every run agrees,
and Invariant 1 holds in every epoch of every run. The same runs under mirror-mimic are
never blacklisted: mirroring and mimicking cancel in the pairwise correlations, HPZ §2.2's
point about that strategy. `python benchmarks/bench_attacks.py --blacklisting` reproduces
these figures, and those for shorter and longer epochs (T = 4: 47 runs outlast epoch 1,
18 are caught, after 1 to 3 epochs, but 3 break Invariant 1; T = 12: 8 and 5, 1 breaks it).
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


def run(strategy: str, seed: int) -> Outcome:
    sim = build_sim(N, F, seed=seed, strategy=strategy, scheduler="coin-aware")
    result = sim.run()
    bad = set(sim.byzantine_ids)
    honest = sim.honest_nodes()
    weights = epoch_weights(honest, bad, result.epochs)
    # weights[e] are the weights used in epoch e + 1, computed at the end of epoch e
    zeroed = next((e for e, w in enumerate(weights)
                   if w is not None and all(w[b] == 0.0 for b in bad)), None)
    return Outcome(
        seed=seed, summary=describe(result), agreed=result.agreed and result.valid,
        epochs=result.epochs,
        decided_iteration=min((d.iteration for d in result.decisions), default=0),
        zeroed_after=zeroed, invariant1=check_invariant1(honest, bad, result.epochs),
        weights=weights)


def test_the_parameters_are_the_practical_defaults() -> None:
    p = Params.practical(N, F)
    assert (p.m, p.T, p.c, p.m0, p.xmax, p.k_max, p.eps) == (8, 8, 1.0, 4, 4, 3, 1.0)
    assert p.beta == pytest.approx(36.93, abs=0.01)
    assert p.w_min == 0.25


def test_coin_interval_is_blacklisted_within_k_max_epochs() -> None:
    k_max = Params.practical(N, F).k_max
    outcomes = [run("coin-interval", seed) for seed in SEEDS]
    for o in outcomes:
        assert o.agreed, o.summary
        assert o.invariant1 == [], (o.summary, o.invariant1)
    caught = [o for o in outcomes if o.zeroed_after is not None]
    # measured: 10 runs (seeds 7, 9, 38, 60, 72, 76, 83, 85, 87, 98), each after 1 epoch
    assert len(caught) >= 5, [(o.seed, o.epochs, o.weights) for o in outcomes if o.epochs > 1]
    T = Params.practical(N, F).T
    for o in caught:
        assert o.zeroed_after is not None
        assert 1 <= o.zeroed_after <= k_max, (o.summary, o.weights)
        # Lemma 14: with every corrupted weight at 0 the run agrees in the next epoch.
        assert o.decided_iteration <= (o.zeroed_after + 1) * T, (o.summary, o.weights)
    assert {o.zeroed_after for o in caught} == {1}, [(o.seed, o.weights) for o in caught]


def test_mirror_mimic_outlasts_epochs_without_being_blacklisted() -> None:
    """HPZ §2.2: mirror when the honest sum opposes sigma, mimic when it agrees, and the
    good-bad correlations cancel. With a keeper in most iterations (sigma = -v*), the
    corrupted node mimics about half the time and blacklisting never catches it here."""
    outcomes = [run("mirror-mimic", seed) for seed in range(40)]
    survivors = [o for o in outcomes if o.epochs >= 2]
    assert survivors, "no run outlasted an epoch"
    for o in outcomes:
        assert o.agreed, o.summary
        assert o.invariant1 == [], (o.summary, o.invariant1)
    assert all(o.zeroed_after is None for o in outcomes), \
        [(o.seed, o.weights) for o in outcomes if o.zeroed_after is not None]
