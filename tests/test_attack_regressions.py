"""Regression pins for known attacks: HPZ §2.2's coin attacks and the Bracha-phase vote
attack families of Kimmett (2020). Each case runs fixed seeds and pins the outcome measured
when the defence was built: agreement, validity, and upper bounds on latency (units of delta)
and iterations with 50% headroom. A change that weakens the defence (or makes an attack
stronger) breaks these tests; re-measure and re-pin deliberately.

Measured maxima over seeds 0-5 (latency delta / iterations), re-pinned on the
acknowledged-writes blackboard (HPZ Theorem 1.2, node/blackboard.py):
mirror-mimic+coin-aware n=4: 19.1/4, n=7: 206.6/43; coin-interval+coin-aware 19.1/4, 206.6/43;
biased-coins+coin-aware 6.9/2, 6.9/2; split-vote voter+split-vote 64.8/2, 74.6/2;
split-hold 68.8/2, 81.5/2; force-decide 64.8/2, 74.6/2; deadlock 66.1/2, 81.6/2;
sigma-correlation+split-vote 70.6/2, 84.7/2; coin-interval+finger-suppression 7.7/2, 8.8/2.

Why the figures moved. The coin attacks under coin-aware had 54-57 delta and 10-11
iterations on the old blackboard because views fixed on n - f full columns let the
scheduler show honest nodes different prefixes of a corrupted column (a swing of up to m
cells per writer); Theorem 1.2 leaves one swing cell per corrupted writer, so a plan splits
the coin only when the corrupted columns can bring the total within that of 0. At n = 4
(one swing cell) the attack lasts at most 4 iterations on these seeds; at n = 7 (two swing
cells, columns padded to one length so that they are written in lockstep) most seeds last
4-10 iterations and seed 0 lasts 43 iterations over 6 epochs (a split in 41 of 42 plans;
blacklisting never zeroes both corrupted nodes with the practical parameters). At n = 7
A_keep stays empty under coin-aware, so sigma = 0, mirror-mimic mirrors, and with bias = 0
its mirror is coin-interval's choice: the two pins coincide.
The Bracha-phase attacks (split-vote scheduler) still agree in 2 iterations as before; their
latency rose 2.5-2.8x because every coin row now costs a write and an Ack, and the boards
add Done and Complete marks, each an RBC that the split-vote scheduler delays uniformly in
[0, delta] (the construction's measured cost, docs/blackboard.md), not because any attack
got stronger. (Old: split-vote 25.8/2, 28.0/2; split-hold 26.6/2, 29.7/2; force-decide
25.8/2, 28.0/2; deadlock 27.1/2, 29.8/2; sigma-correlation 27.6/2, 30.6/2; biased-coins
7.2/2, 11.7/3; finger-suppression 10.6/2, 9.4/2; mirror-mimic 56.5/11, 54.7/10;
coin-interval 54.5/10, 54.7/10.)
"""

from __future__ import annotations

import pytest

from byzlab.invariants import check_invariant1, epoch_weights
from tests.simutil import build_sim, describe

PINS = {
    # (strategy, scheduler): {(n, f): (max latency in delta, max iterations)}
    ("mirror-mimic", "coin-aware"): {(4, 1): (19.1, 4), (7, 2): (206.6, 43)},
    ("coin-interval", "coin-aware"): {(4, 1): (19.1, 4), (7, 2): (206.6, 43)},
    ("biased-coins", "coin-aware"): {(4, 1): (6.9, 2), (7, 2): (6.9, 2)},
    ("split-vote", "split-vote"): {(4, 1): (64.8, 2), (7, 2): (74.6, 2)},
    ("split-hold", "split-vote"): {(4, 1): (68.8, 2), (7, 2): (81.5, 2)},
    ("force-decide", "split-vote"): {(4, 1): (64.8, 2), (7, 2): (74.6, 2)},
    ("deadlock", "split-vote"): {(4, 1): (66.1, 2), (7, 2): (81.6, 2)},
    ("sigma-correlation", "split-vote"): {(4, 1): (70.6, 2), (7, 2): (84.7, 2)},
    ("coin-interval", "finger-suppression"): {(4, 1): (7.7, 2), (7, 2): (8.8, 2)},
}


@pytest.mark.parametrize(("strategy", "scheduler"), sorted(PINS))
def test_known_attack_outcome_is_pinned(strategy: str, scheduler: str) -> None:
    for (n, f), (latency, iterations) in PINS[(strategy, scheduler)].items():
        for seed in range(6):
            result = build_sim(n, f, seed=seed, strategy=strategy, scheduler=scheduler).run()
            assert result.agreed, describe(result)
            assert result.valid, describe(result)
            assert result.latency_delta <= 1.5 * latency, describe(result)
            assert result.iterations <= int(1.5 * iterations) + 1, describe(result)


def test_the_lemma6_attack_is_blacklisted_after_one_epoch() -> None:
    """Pinned at seed 26 (n = 4, Params.practical with T = 4): coin-interval with the
    coin-aware scheduler outlasts epoch 1 (4 iterations) and Rising-Tide zeroes the corrupted
    node 3 together with honest node 0, the run agrees in iteration 5, in epoch 2, and
    Invariant 1 holds (honest loss 1 <= bad loss 1 + eps^4 f). This replaces the old pin (seed
    7, T = 8: -corr(1, 3) = 64 > beta after 9 split iterations), which was an artefact of the
    old blackboard: with Theorem 1.2 no coin-interval run at n = 4 outlasts an epoch of 8
    iterations (seeds 0-99), so blacklisting only gets to act with shorter epochs."""
    sim = build_sim(4, 1, seed=26, strategy="coin-interval", scheduler="coin-aware", T=4)
    result = sim.run()
    assert result.agreed, describe(result)
    assert result.iterations == 5, describe(result)
    weights = epoch_weights(sim.honest_nodes(), {3}, result.epochs)
    assert weights[0] == [1.0] * 4, describe(result)
    assert weights[1] == pytest.approx([0.0, 1.0, 1.0, 0.0], abs=1e-4), describe(result)
    assert check_invariant1(sim.honest_nodes(), {3}, result.epochs) == [], describe(result)


def test_local_coins_lose_to_the_split_vote_attack_where_hpz_does_not() -> None:
    """The classic exponential attack on Bracha (pinned at n = 10: local coins needed a
    median of 11 iterations over seeds 0-7, HPZ 2)."""
    local = sorted(
        build_sim(
            10, 3, seed=s, protocol="bracha-local", strategy="split-vote", scheduler="split-vote"
        )
        .run()
        .iterations
        for s in range(8)
    )
    hpz = sorted(
        build_sim(10, 3, seed=s, strategy="split-vote", scheduler="split-vote").run().iterations
        for s in range(8)
    )
    assert local[len(local) // 2] >= 6, local
    assert hpz[-1] <= 3, hpz
