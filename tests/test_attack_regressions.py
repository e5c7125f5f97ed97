"""Regression pins for known attacks: HPZ §2.2's coin attacks and the Bracha-phase vote
attack families of Kimmett (2020). Each case runs fixed seeds and pins the outcome measured
when the defence was built: agreement, validity, and upper bounds on latency (units of delta)
and iterations with 50% headroom. A change that weakens the defence breaks these tests.

Measured maxima over seeds 0-5 (latency delta / iterations) at the time of pinning:
mirror-mimic+coin-aware n=4: 36.3/3, n=7: 26.5/2; coin-interval+coin-aware 36.3/3, 27.4/2;
biased-coins+coin-aware 37.9/3, 28.5/2; split-vote voter+split-vote 25.8/2, 28.0/2;
split-hold 26.6/2, 29.7/2; force-decide 25.8/2, 28.0/2; deadlock 27.1/2, 29.8/2.
"""

from __future__ import annotations

import pytest

from tests.simutil import build_sim, describe

PINS = {
    # (strategy, scheduler): {(n, f): (max latency in delta, max iterations)}
    ("mirror-mimic", "coin-aware"): {(4, 1): (36.3, 3), (7, 2): (26.5, 2)},
    ("coin-interval", "coin-aware"): {(4, 1): (36.3, 3), (7, 2): (27.4, 2)},
    ("biased-coins", "coin-aware"): {(4, 1): (37.9, 3), (7, 2): (28.5, 2)},
    ("split-vote", "split-vote"): {(4, 1): (25.8, 2), (7, 2): (28.0, 2)},
    ("split-hold", "split-vote"): {(4, 1): (26.6, 2), (7, 2): (29.7, 2)},
    ("force-decide", "split-vote"): {(4, 1): (25.8, 2), (7, 2): (28.0, 2)},
    ("deadlock", "split-vote"): {(4, 1): (27.1, 2), (7, 2): (29.8, 2)},
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


def test_local_coins_lose_to_the_split_vote_attack_where_hpz_does_not() -> None:
    """The classic exponential attack on Bracha (pinned at n = 10: local coins needed a
    median of 11 iterations over seeds 0-7, HPZ 2)."""
    local = sorted(build_sim(10, 3, seed=s, protocol="bracha-local", strategy="split-vote",
                             scheduler="split-vote").run().iterations for s in range(8))
    hpz = sorted(build_sim(10, 3, seed=s, strategy="split-vote",
                           scheduler="split-vote").run().iterations for s in range(8))
    assert local[len(local) // 2] >= 6, local
    assert hpz[-1] <= 3, hpz
