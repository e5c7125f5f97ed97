"""Tests for the stake-weighted committee sidecar (R. Jones, "A Bayesian Model for Committee
Selection in Blockchain Consensus Protocols", 2025).

Every randomised test is seeded and names its seed in the failure message. Statistical
tolerances are derived from Monte Carlo standard errors (5 SE unless stated otherwise).
"""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pytest
from click.testing import CliRunner
from nacl.signing import SigningKey
from scipy import stats

from byzlab.sidecars import committee as cm
from byzlab.sidecars.committee import (
    apportion_seats,
    bft_thresholds,
    chernoff_committee_size,
    chernoff_tail_bound,
    command,
    compare_fait_accompli,
    dirichlet_multinomial_logpmf,
    dirichlet_posterior,
    dirichlet_tail_floor,
    draw_committee,
    draw_fait_accompli,
    draw_seats,
    exact_tail_probability,
    expected_seats,
    fait_accompli_split,
    fit_alpha_mcmc,
    optimal_committee_size,
    public_seed,
    random_stake_coalition,
    seat_variance,
    sign_seed_share,
    simulate_seats,
    simulate_tail_curve,
    synthetic_stakes,
    top_stake_coalition,
    validate_chernoff,
    verify_committee,
    verify_seed_share,
)

Z = 5.0  # standard errors allowed in Monte Carlo comparisons


# ---------------------------------------------------------------------------------------------
# Seat moments, eqs. 4-5
# ---------------------------------------------------------------------------------------------


def test_seat_moments_match_monte_carlo() -> None:
    seed, trials, k = 20250401, 40_000, 60
    alpha = np.array([0.5, 2.0, 3.0, 7.5])
    mean, var = expected_seats(alpha, k), seat_variance(alpha, k)
    x = simulate_seats(alpha, k, trials, seed).astype(np.float64)
    assert x.shape == (trials, 4)
    assert np.all(x.sum(axis=1) == k), f"seed={seed}"
    for i in range(alpha.size):
        xi = x[:, i]
        se_mean = math.sqrt(var[i] / trials)
        assert abs(xi.mean() - mean[i]) < Z * se_mean, f"seed={seed} i={i} mean {xi.mean()}"
        # SE of the sample variance: sqrt((m4 - s^4) / N), from the sample itself.
        centred = xi - xi.mean()
        s2 = xi.var(ddof=1)
        se_var = math.sqrt((np.mean(centred**4) - s2**2) / trials)
        assert abs(s2 - var[i]) < Z * se_var, f"seed={seed} i={i} var {s2} vs {var[i]}"
        # The same data reject the plain-multinomial variance k p (1 - p): the test has power.
        p = alpha[i] / alpha.sum()
        assert abs(s2 - k * p * (1 - p)) > Z * se_var, f"seed={seed} i={i}"


def test_seat_variance_equals_textbook_form_and_eq4_sums_to_k() -> None:
    alpha = np.array([0.2, 1.0, 4.0, 9.0, 30.0])
    total = alpha.sum()
    for k in (1, 7, 100, 5000):
        p = alpha / total
        textbook = k * p * (1 - p) * (k + total) / (1 + total)
        np.testing.assert_allclose(seat_variance(alpha, k), textbook, rtol=1e-12)
        assert expected_seats(alpha, k).sum() == pytest.approx(k)
    np.testing.assert_allclose(expected_seats([1, 2, 3], 6), [1.0, 2.0, 3.0])
    assert seat_variance([5.0], 10)[0] == 0.0  # one participant holds every seat


@pytest.mark.parametrize(
    ("alpha", "k", "match"),
    [
        ([1.0, -1.0], 5, "alpha must be positive"),
        ([1.0, 0.0], 5, "alpha must be positive"),
        ([], 5, "alpha must be a non-empty"),
        ([[1.0, 2.0]], 5, "alpha must be a non-empty 1-D"),
        ([1.0, float("nan")], 5, "alpha must be positive and finite"),
        ([1.0, 2.0], 0, "k must be >= 1"),
        ([1.0, 2.0], 2.5, "k must be an integer"),
    ],
)
def test_seat_model_input_validation(alpha: list[float], k: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        expected_seats(alpha, k)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        seat_variance(alpha, k)  # type: ignore[arg-type]


def test_dirichlet_multinomial_logpmf_is_eq10() -> None:
    alpha = np.array([0.7, 2.0, 3.5])
    for x in ([3, 5, 2], [0, 0, 10], [10, 0, 0]):
        ref = stats.dirichlet_multinomial.logpmf(x, alpha, 10)
        assert dirichlet_multinomial_logpmf(np.array(x), alpha) == pytest.approx(ref, rel=1e-12)
    # A pmf: sums to one over all compositions of k = 6 into 3 parts.
    total = sum(
        math.exp(dirichlet_multinomial_logpmf(np.array([a, b, 6 - a - b]), alpha))
        for a in range(7)
        for b in range(7 - a)
    )
    assert total == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Inference: conjugate posterior (eqs. 6-7) and MCMC for alpha
# ---------------------------------------------------------------------------------------------


def test_conjugate_posterior_hand_example() -> None:
    prior = [2.0, 3.0, 1.0]
    counts = np.array([[1, 0, 4], [2, 2, 0]])
    np.testing.assert_array_equal(dirichlet_posterior(prior, counts), [5.0, 5.0, 5.0])
    # eq. 7: the posterior becomes the next prior; one row at a time gives the same answer.
    step = dirichlet_posterior(dirichlet_posterior(prior, counts[0]), counts[1])
    np.testing.assert_array_equal(step, [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="counts must have 3 columns"):
        dirichlet_posterior(prior, [1, 2])
    with pytest.raises(ValueError, match="non-negative integers"):
        dirichlet_posterior(prior, [1, -2, 0])
    with pytest.raises(ValueError, match="alpha_prior must be positive"):
        dirichlet_posterior([0.0, 1.0, 1.0], [1, 2, 0])


def test_mcmc_recovers_known_alpha() -> None:
    data_seed, chain_seed = 11, 0
    truth = np.array([1.0, 2.0, 4.0])
    x = simulate_seats(truth, 50, 200, data_seed)
    fit = fit_alpha_mcmc(x, shape=2.0, rate=1.0, draws=2000, tune=1000, seed=chain_seed)
    lo, hi = fit.interval(0.95)
    msg = f"data seed={data_seed} chain seed={chain_seed} interval={lo}..{hi}"
    assert np.all(lo < truth), msg
    assert np.all(truth < hi), msg
    np.testing.assert_allclose(fit.mean(), truth, rtol=0.25, err_msg=msg)
    assert 0.2 < fit.acceptance_rate < 0.7, f"{msg} acceptance={fit.acceptance_rate}"
    assert fit.samples.shape == (2000, 3)
    np.testing.assert_allclose(fit.expected_seats(70).sum(), 70.0)
    again = fit_alpha_mcmc(x, draws=2000, tune=1000, seed=chain_seed)
    np.testing.assert_array_equal(fit.samples, again.samples)


def test_mcmc_without_data_samples_the_gamma_prior() -> None:
    # With no committees the target is the prior; a missing log-Jacobian would give
    # Gamma(shape - 1, rate) instead (mean 1 here), which this test rejects.
    seed, shape, rate = 3, 2.0, 1.0
    fit = fit_alpha_mcmc(
        np.empty((0, 2), dtype=np.int64), shape=shape, rate=rate, draws=20_000, seed=seed
    )
    assert np.all(np.abs(fit.mean() - shape / rate) < 0.2), f"seed={seed} mean={fit.mean()}"
    assert np.all(np.abs(fit.samples.var(axis=0) - shape / rate**2) < 0.5), f"seed={seed}"
    assert 0.3 < fit.acceptance_rate < 0.6, f"seed={seed} acceptance={fit.acceptance_rate}"


def test_mcmc_input_validation() -> None:
    with pytest.raises(ValueError, match="shape must be positive"):
        fit_alpha_mcmc([[1, 2]], shape=0.0)
    with pytest.raises(ValueError, match="draws must be >= 1"):
        fit_alpha_mcmc([[1, 2]], draws=0)
    with pytest.raises(ValueError, match="init must have 2 entries"):
        fit_alpha_mcmc([[1, 2]], init=[1.0, 1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Algorithm 1 and Algorithms 2/3
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "safety", "liveness"),
    [
        # E = (1, 1, 1), k = 3: C(1) = 1 >= k/3 -> m_s = 1; C(2) = 2 >= 2k/3 -> m_l = 2.
        ([1.0, 1.0, 1.0], 0, 1),
        # Uniform n = 10: C(m) = m k / 10; m_s = 4, m_l = 7 -> the classic f < n/3 answer.
        ([1.0] * 10, 3, 6),
        # E = 25, 20, 15, 10, 5, ... (k = 100): C = 25, 45 >= 33.3 -> m_s = 2; 70 >= 66.7 -> 4.
        ([5, 4, 3, 2, 1, 1, 1, 1, 1, 1], 1, 3),
        # Shuffled input: Algorithm 1 sorts first.
        ([1, 1, 3, 1, 2, 1, 4, 1, 5, 1], 1, 3),
        # A whale with half the stake: C/k = 0.5, 0.6, 0.7 -> m_s = 1, m_l = 3.
        ([10.0, 2.0, 2.0, 2.0, 2.0, 2.0], 0, 2),
    ],
)
def test_algorithm1_hand_examples(alpha: list[float], safety: int, liveness: int) -> None:
    for k in (3, 100, 1001):  # C(m) is linear in k, so k does not matter
        res = bft_thresholds(alpha, k)
        assert (res.max_byzantine_safety, res.max_byzantine_liveness) == (safety, liveness)
        assert res.cumulative[-1] == pytest.approx(k)
        assert np.all(np.diff(res.expected_sorted) <= 0)


def test_apportionment_is_exact_largest_remainder() -> None:
    np.testing.assert_array_equal(apportion_seats([1.0, 1.0, 1.0], 3), [1, 1, 1])
    # quotas 7 * (0.5, 0.3, 0.2) = 3.5, 2.1, 1.4 -> floors 3, 2, 1, one seat to remainder 0.5
    np.testing.assert_array_equal(apportion_seats([5, 3, 2], 7), [4, 2, 1])
    for k in range(1, 40):
        assert apportion_seats([0.1, 0.2, 0.3, 0.4], k).sum() == k


def test_algorithms_2_3_optimal_committee_size() -> None:
    uniform = [1.0] * 10
    # Expected seats: 3 of 10 hold 0.3 < 1/3 and the rest 0.7 >= 2/3 -> already at k0.
    assert optimal_committee_size(uniform, 3, seats="expected", k0=5) == 5
    with pytest.raises(ValueError, match="scale linearly with k"):
        optimal_committee_size(uniform, 4, seats="expected")
    # Whole seats: ties go to the lower index, so the top 3 hold 3 seats for every
    # k in 3..10 and min(k, 3) below; 3 < k/3 first holds at k = 10 (7 >= 20/3 too).
    assert optimal_committee_size(uniform, 3) == 10
    assert optimal_committee_size(uniform, 0) == 1
    with pytest.raises(ValueError, match=r"no committee size k in \[1, 200\]"):
        optimal_committee_size([3.0, 1.0, 1.0, 1.0], 1, k_max=200)
    with pytest.raises(ValueError, match="byzantine must be in"):
        optimal_committee_size(uniform, 11)
    with pytest.raises(ValueError, match="f must be a fraction"):
        optimal_committee_size(uniform, 3, f=1.5)


# ---------------------------------------------------------------------------------------------
# Algorithm 4 (Chernoff committee size)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "f", "eps", "expected"),
    [
        # q = 1/6, delta = 1: k = ceil(3 ln(1/eps) / (1/6)) = ceil(18 ln(1/eps)).
        ([1.0] * 6, 1, 1e-2, 83),  # 18 * 4.6052 = 82.89
        ([1.0] * 6, 1, 1e-6, 249),  # 18 * 13.8155 = 248.68
        # q = 1/12, delta = 3: k = ceil(5 ln(1/eps) / (9/12)) = ceil(20/3 ln(1/eps)) = 30.70.
        ([1.0] * 12, 1, 1e-2, 31),
        # Unsorted input; f = 1 picks the 2 (q = 2/12 = 1/6) -> as above.
        ([1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1], 1, 1e-2, 83),
        # f = 2 -> q = 3/12 = 1/4, delta = 1/3: k = ceil((7/3) L / (1/36)) = ceil(84 L) = 386.83.
        ([1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1], 2, 1e-2, 387),
    ],
)
def test_chernoff_committee_size_hand_cases(
    alpha: list[float], f: int, eps: float, expected: int
) -> None:
    assert chernoff_committee_size(alpha, f, eps) == expected


def test_chernoff_committee_size_rejects_q_at_least_one_third() -> None:
    with pytest.raises(ValueError, match=r"q = 0\.3333 is >= 1/3, so no committee size k"):
        chernoff_committee_size([1.0, 1.0, 1.0], 1, 1e-3)
    with pytest.raises(ValueError, match="no committee size k can keep"):
        chernoff_committee_size([5.0, 1.0, 1.0, 1.0], 1, 1e-3)
    with pytest.raises(ValueError, match="no committee size k can keep"):
        chernoff_committee_size([1.0] * 9, 3, 1e-3)  # exactly 1/3 with three of nine


@pytest.mark.parametrize(
    ("f", "eps", "match"),
    [
        (0, 1e-3, r"f must be in \[1, n\]"),
        (7, 1e-3, r"f must be in \[1, n\] with n = len\(alpha\) = 6"),
        (1.5, 1e-3, "f must be an integer"),
        (1, 0.0, r"eps must be in the open interval \(0, 1\)"),
        (1, 1.0, r"eps must be in the open interval \(0, 1\)"),
        (1, float("nan"), "eps must be"),
    ],
)
def test_chernoff_input_validation(f: object, eps: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        chernoff_committee_size([1.0] * 6, f, eps)  # type: ignore[arg-type]


# Measured k_min / (smallest stable simulated k), 200k trials, seeds 0-4 (eps = 1e-2, 1e-3):
# q = 1/12: 2.14-2.47, q = 1/10: 1.96-2.31, q = 1/6: 1.95-2.24, q = 1/4: 2.03-2.37.
# Why about two: the exact tail decays like exp(-k D(1/3 || q)) while eq. 29 uses the weaker
# exponent q delta^2 / (2 + delta) (ratio 1.6 for q = 0.1 as eps -> 0), and at moderate eps
# the exact tail's polynomial prefactor adds the rest. The bound must be >= 1 (it is a bound)
# and we assert <= 3 so that a looser (wrong) formula would be caught.
@pytest.mark.parametrize(
    ("alpha", "f"),
    [([1.0] * 10, 1), ([1.0] * 6, 1), ([5, 4, 3, 2, 1, 1, 1, 1, 1, 1], 1)],
)
def test_kmin_validated_by_simulation(alpha: list[float], f: int) -> None:
    eps, trials, seed = 1e-3, 200_000, 7
    v = validate_chernoff(alpha, f, eps, trials=trials, seed=seed)
    msg = f"seed={seed} alpha={alpha} f={f} k_min={v.k_min} search={v.search.first_k}"
    assert v.simulated_at_k_min <= eps, msg
    assert v.exact_at_k_min <= v.bound_at_k_min <= eps, msg
    assert v.search.stable_k is not None, msg
    assert v.search.first_k is not None, msg
    assert v.search.first_k <= v.search.stable_k <= v.k_min, msg
    assert 1.0 <= v.ratio <= 3.0, f"{msg} ratio={v.ratio}"
    # The simulation agrees with the exact binomial answer up to lattice/MC noise.
    assert abs(v.search.stable_k - v.smallest_exact_k) <= max(4, 0.1 * v.smallest_exact_k), msg


def test_tail_simulation_matches_full_multinomial_draws() -> None:
    # The coalition-only simulation must agree with drawing all n participants' seats.
    seed, trials, k, f = 5, 100_000, 30, 1
    alpha = np.array([3.0, 1, 1, 1, 1, 1, 1, 1])  # q = 0.3
    q = 0.3
    curve = simulate_tail_curve(alpha, f, k, trials=trials, seed=seed)
    full = np.random.default_rng(seed + 1).multinomial(k, alpha / alpha.sum(), size=trials)
    p_full = np.mean(3 * full[:, 0] >= k)
    exact = exact_tail_probability(q, k)
    se = math.sqrt(exact * (1 - exact) / trials)
    assert abs(curve[k - 1] - exact) < Z * se, f"seed={seed}"
    assert abs(p_full - exact) < Z * se, f"seed={seed + 1}"
    assert chernoff_tail_bound(0.25, 387) <= 1e-2


def test_dirichlet_model_tail_has_a_floor() -> None:
    # Under p ~ Dir(alpha) the coalition's share tends to Beta(A_b, A - A_b): no k beats it.
    seed, trials = 9, 60_000
    alpha = [1.0] * 10
    floor = dirichlet_tail_floor(alpha, 1)  # P(Beta(1, 9) >= 1/3) = (2/3)^9
    assert floor == pytest.approx((2 / 3) ** 9)
    curve = simulate_tail_curve(
        alpha, 1, 1000, trials=trials, seed=seed, model="dirichlet-multinomial"
    )
    se = math.sqrt(floor * (1 - floor) / trials)
    assert abs(curve[-1] - floor) < Z * se + 0.002, f"seed={seed} {curve[-1]} vs {floor}"
    assert curve[-1] > 1e-3 > exact_tail_probability(0.1, 1000), f"seed={seed}"


# ---------------------------------------------------------------------------------------------
# Verifiable draws
# ---------------------------------------------------------------------------------------------


def _spec_draw(stakes: list[int], k: int, seed: bytes) -> list[int]:
    """Independent rendering of the module docstring's specification (linear search)."""
    prefix = list(itertools.accumulate(stakes))
    total = prefix[-1]
    limit = 2**512 - 2**512 % total
    owners: list[int] = []
    counter = 0
    while len(owners) < k:
        block = hashlib.blake2b(
            counter.to_bytes(8, "big"), digest_size=64, key=seed, person=b"byzlab-cdraw-v1"
        ).digest()
        counter += 1
        r = int.from_bytes(block, "big")
        if r < limit:
            owners.append(next(i for i, p in enumerate(prefix) if p > r % total))
    return owners


def test_draw_is_reproducible_and_matches_the_spec() -> None:
    seed = bytes(range(32))
    stakes = [1, 2, 3, 4, 0, 10]
    owners = draw_seats(stakes, 12, seed)
    # Golden vector: the same on every machine (pure BLAKE2b and integer arithmetic).
    assert owners == [3, 2, 0, 5, 2, 5, 3, 5, 5, 3, 3, 5]
    assert owners == _spec_draw(stakes, 12, seed)
    assert draw_seats(np.array(stakes, dtype=np.int64), 12, seed) == owners
    seats = draw_committee(stakes, 12, seed)
    np.testing.assert_array_equal(seats, np.bincount(owners, minlength=6))
    # Prefix property: a larger committee from the same seed extends the smaller one.
    assert draw_seats(stakes, 40, seed)[:12] == owners
    assert draw_seats(stakes, 40, b"\x01" * 32) != draw_seats(stakes, 40, seed)


def test_verify_committee_rejects_tampering() -> None:
    seed = public_seed(1, 42, [b"\x07" * 64, b"\x09" * 64])
    stakes = [5, 1, 1, 8, 3]
    seats = draw_committee(stakes, 25, seed)
    assert verify_committee(stakes, 25, seed, seats)
    tampered = seats.copy()
    donor = int(np.flatnonzero(tampered)[0])
    tampered[donor] -= 1
    tampered[(donor + 1) % 5] += 1  # same total, one seat moved
    assert not verify_committee(stakes, 25, seed, tampered)
    assert not verify_committee(stakes, 25, seed, seats[:-1])
    assert not verify_committee(stakes, 26, seed, seats)
    assert not verify_committee(stakes, 25, public_seed(1, 43, [b"\x07" * 64]), seats)
    assert not verify_committee(stakes, 25, seed, seats.astype(np.float64))


def test_draw_shares_match_stakes_chi_square() -> None:
    seed = public_seed(-1, 3, [b"chi-square"])
    stakes = [1, 2, 3, 4, 10, 0, 30, 50]
    k = 20_000
    seats = draw_committee(stakes, k, seed)
    assert seats[5] == 0  # zero stake never gets a seat
    assert seats.sum() == k
    nz = [i for i, s in enumerate(stakes) if s]
    expected = [k * stakes[i] / sum(stakes) for i in nz]
    res = stats.chisquare([int(seats[i]) for i in nz], expected)
    assert res.pvalue > 1e-3, f"seed={seed.hex()} chi2={res.statistic} p={res.pvalue}"


def test_public_seed_canonical_encoding_and_signatures() -> None:
    keys = [SigningKey(bytes([i]) * 32) for i in range(1, 5)]
    sigs = [sign_seed_share(key, 1, 7) for key in keys]
    assert all(len(s) == 64 for s in sigs)
    assert all(verify_seed_share(k.verify_key, 1, 7, s) for k, s in zip(keys, sigs, strict=True))
    assert not verify_seed_share(keys[0].verify_key, 1, 8, sigs[0])  # wrong instance
    assert not verify_seed_share(keys[1].verify_key, 1, 7, sigs[0])  # wrong signer
    seed = public_seed(1, 7, sigs)
    assert len(seed) == 32
    assert public_seed(1, 7, sigs[::-1]) == seed  # order does not matter
    assert public_seed(1, 7, [*sigs, sigs[0]]) == seed  # a set: duplicates ignored
    assert public_seed(-1, 7, sigs) != seed
    assert public_seed(1, 8, sigs) != seed
    assert public_seed(1, 7, sigs[:3]) != seed
    # Spec rendering of the canonical encoding.
    canon = sorted(set(sigs))
    data = (1).to_bytes(8, "big", signed=True) + (7).to_bytes(8, "big")
    data += len(canon).to_bytes(4, "big")
    data += b"".join(len(s).to_bytes(4, "big") + s for s in canon)
    assert seed == hashlib.blake2b(data, digest_size=32, person=b"byzlab-cseed-v1").digest()
    assert (
        public_seed(1, 7, [b"\x01" * 64, b"\x02" * 64]).hex()
        == "9c3b1e1f3f89441d24bbebb82e095f1e804a0bbfc63c61706c5c111aa46ecb1d"
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: public_seed(1, 7, []), "at least one signature"),
        (lambda: public_seed(1, -1, [b"x"]), "instance must be in"),
        (lambda: public_seed(2**63, 0, [b"x"]), "previous_decision must be in"),
        (lambda: public_seed(1, 0, b"abc"), "not a single one"),
        (lambda: draw_committee([1, 2], 3, b"short"), "seed must be 16..64 bytes"),
        (lambda: draw_committee([1.5, 2], 3, b"s" * 32), "stakes must be integers"),
        (lambda: draw_committee([0, 0], 3, b"s" * 32), "positive total"),
        (lambda: draw_committee([-1, 3], 3, b"s" * 32), "non-negative"),
        (lambda: draw_committee([1, 2], 0, b"s" * 32), "k must be >= 1"),
    ],
)
def test_draw_input_validation(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Weighted Fait Accompli
# ---------------------------------------------------------------------------------------------


def test_fait_accompli_split_hand_examples() -> None:
    # k = 4: i = 1: (100-50)^2 * 4 = 10000 < 3 * 100^2; i = 2: 20^2 * 3 = 1200 < 2 * 50^2;
    # i = 3: 10^2 * 2 = 200 < 1 * 20^2; i = 4 = k always qualifies -> i* = 4.
    split = fait_accompli_split([5, 50, 10, 30, 5], 4)
    np.testing.assert_array_equal(split.persistent, [1, 3, 2])
    assert split.nonpersistent_seats == 1
    assert split.nonpersistent_stake == 10
    assert split.seat_weight == 10
    # Equal stakes: (1 - 1/10)^2 = 0.81 >= 4/5 at i = 1 -> nobody is persistent.
    assert fait_accompli_split([1] * 10, 5).persistent.size == 0
    # Fewer parties than seats: everyone persistent, no stake left for the fallback.
    split = fait_accompli_split([3, 2, 1], 10)
    assert split.persistent.size == 3
    assert split.nonpersistent_stake == 0


def test_draw_fait_accompli_weights_sum_to_total_stake() -> None:
    stakes = [int(s) for s in synthetic_stakes("pareto", 60, seed=4)]
    seed = public_seed(1, 1, [b"fa"])
    fa = draw_fait_accompli(stakes, 30, seed)
    assert fa.seats.sum() == fa.split.nonpersistent_seats
    assert np.all(fa.seats[fa.split.persistent] == 0)
    assert fa.weights(stakes).sum() == pytest.approx(sum(stakes), rel=1e-12)
    again = draw_fait_accompli(stakes, 30, seed)
    np.testing.assert_array_equal(fa.seats, again.seats)


def test_fait_accompli_vs_plain_draw_on_heavy_tailed_stakes() -> None:
    stake_seed, seed, trials, k = 3, 1, 20_000, 100
    stakes = synthetic_stakes("pareto", 300, seed=stake_seed)
    assert stakes.max() / stakes.sum() > 0.03  # heavy tail: one party of 300 holds > 3%
    for adversary in (top_stake_coalition(stakes, 5), random_stake_coalition(stakes, 0.3, 0)):
        res = compare_fait_accompli(stakes, k, adversary, trials=trials, seed=seed)
        plain, fa = res["stake-weighted draw"], res["weighted Fait Accompli"]
        msg = f"stake seed={stake_seed} seed={seed} adversary={adversary.size} parties"
        q = plain.stake_share
        assert 0 < q < 1 / 3, msg
        assert fa.persistent_seats > 0, msg
        plain_sd = math.sqrt(q * (1 - q) / k)
        assert plain.std_share == pytest.approx(plain_sd, rel=0.05), msg
        for st in (plain, fa):
            assert 0.0 <= st.p_exceed <= 1.0, msg
            assert abs(st.mean_share - q) < Z * max(st.std_share, 1e-12) / math.sqrt(trials), msg
            se = math.sqrt(max(st.p_exceed_exact * (1 - st.p_exceed_exact), 1 / trials) / trials)
            assert abs(st.p_exceed - st.p_exceed_exact) < Z * se, msg
        # Persistent seats remove the sampling noise on the largest stakes.
        assert fa.std_share < plain.std_share, msg
        assert fa.p_exceed_exact <= plain.p_exceed_exact, msg


def test_compare_input_validation() -> None:
    with pytest.raises(ValueError, match="adversary must hold distinct indices"):
        compare_fait_accompli([1, 2, 3], 5, [0, 0])
    with pytest.raises(ValueError, match="adversary must hold distinct indices"):
        compare_fait_accompli([1, 2, 3], 5, [3])
    with pytest.raises(ValueError, match="dist must be"):
        synthetic_stakes("zipf", 10)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_help(runner: CliRunner) -> None:
    res = runner.invoke(command, ["--help"])
    assert res.exit_code == 0, res.output
    for sub in ("seats", "bft", "kmin", "posterior", "seed", "draw", "verify", "compare"):
        assert sub in res.output
    res = runner.invoke(command, ["kmin", "--help"])
    assert res.exit_code == 0
    assert "Algorithm 4" in res.output
    assert "--validate" in res.output


def test_cli_seats(runner: CliRunner) -> None:
    res = runner.invoke(command, ["seats", "--alpha", "1,2,3", "--k", "60", "--mc", "500"])
    assert res.exit_code == 0, res.output
    assert "10.0000" in res.output  # E[X_0] = 60 * 1/6
    assert "Monte Carlo: 500 committees, seed 0" in res.output


def test_cli_seats_rejects_bad_alpha(runner: CliRunner) -> None:
    res = runner.invoke(command, ["seats", "--alpha", "1,x,3", "--k", "10"])
    assert res.exit_code == 2
    assert "Invalid value for '--alpha'" in res.output
    res = runner.invoke(command, ["seats", "--alpha", "1,-2,3", "--k", "10"])
    assert res.exit_code == 1
    assert "alpha must be positive" in res.output
    res = runner.invoke(command, ["seats", "--alpha", "1,2,3", "--k", "0"])
    assert res.exit_code == 1
    assert "k must be >= 1" in res.output


def test_cli_bft(runner: CliRunner) -> None:
    args = ["bft", "--alpha", "5,4,3,2,1,1,1,1,1,1", "--k", "100", "--byzantine", "1"]
    res = runner.invoke(command, args)
    assert res.exit_code == 0, res.output
    assert "max Byzantine participants for safety   (C < k/3):  1" in res.output
    assert "max Byzantine participants for liveness (C < 2k/3): 3" in res.output
    assert "smallest k tolerating the top 1 = " in res.output


def test_cli_kmin(runner: CliRunner) -> None:
    args = ["kmin", "--alpha", "1,1,1,1,1,1", "--f", "1", "--eps", "0.01"]
    res = runner.invoke(command, args)
    assert res.exit_code == 0, res.output
    assert "83" in res.output
    res = runner.invoke(command, [*args, "--validate", "--trials", "20000", "--seed", "4"])
    assert res.exit_code == 0, res.output
    assert "smallest simulated k (stable)" in res.output
    assert "20000 trials, seed 4" in res.output


def test_cli_kmin_error_when_q_too_large(runner: CliRunner) -> None:
    res = runner.invoke(command, ["kmin", "--alpha", "5,1,1", "--f", "1", "--eps", "1e-3"])
    assert res.exit_code == 1
    assert "no committee size k can keep" in res.output
    res = runner.invoke(command, ["kmin", "--alpha", "1,1,1", "--f", "1", "--eps", "2"])
    assert res.exit_code == 1
    assert "eps must be in the open interval (0, 1)" in res.output


def test_cli_posterior(runner: CliRunner) -> None:
    res = runner.invoke(command, ["posterior", "--draws", "300", "--tune", "200", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert "3 committees of 5 participants" in res.output
    assert "acceptance" in res.output
    assert "19" in res.output  # conjugate alpha_post for participant 0: 1 + 5 + 5 + 8
    res = runner.invoke(command, ["posterior", "--counts", "1,2;3"])
    assert res.exit_code == 2
    assert "same number of participants" in res.output


def test_cli_seed_draw_and_verify(runner: CliRunner) -> None:
    res = runner.invoke(
        command,
        ["seed", "--decision", "1", "--instance", "7", "--sig", "01" * 64, "--sig", "02" * 64],
    )
    assert res.exit_code == 0, res.output
    seed_hex = res.output.strip()
    assert seed_hex == "9c3b1e1f3f89441d24bbebb82e095f1e804a0bbfc63c61706c5c111aa46ecb1d"
    res = runner.invoke(
        command, ["draw", "--stakes", "1,2,3,4", "--k", "10", "--seed-hex", seed_hex]
    )
    assert res.exit_code == 0, res.output
    seats_line = next(ln for ln in res.output.splitlines() if ln.startswith("seats: "))
    claimed = seats_line.removeprefix("seats: ")
    expected = draw_committee([1, 2, 3, 4], 10, bytes.fromhex(seed_hex))
    assert claimed == ",".join(str(int(c)) for c in expected)
    base = ["verify", "--stakes", "1,2,3,4", "--k", "10", "--seed-hex", seed_hex, "--seats"]
    res = runner.invoke(command, [*base, claimed])
    assert res.exit_code == 0, res.output
    assert "matches" in res.output
    res = runner.invoke(command, [*base, "10,0,0,0"])
    assert res.exit_code == 1
    assert "does NOT match" in res.output
    res = runner.invoke(command, ["draw", "--stakes", "1,2", "--k", "3", "--seed-hex", "zz"])
    assert res.exit_code == 2
    assert "not a hex string" in res.output
    args = ["draw", "--stakes", "50,30,10,5,5", "--k", "4", "--seed-hex", seed_hex]
    res = runner.invoke(command, [*args, "--fait-accompli"])
    assert res.exit_code == 0, res.output
    assert "3 persistent seats, 1 drawn seats" in res.output


def test_cli_compare(runner: CliRunner) -> None:
    args = ["compare", "--dist", "pareto", "--n", "200", "--k", "100", "--trials", "2000"]
    res = runner.invoke(command, [*args, "--adversary", "random", "--share", "0.3"])
    assert res.exit_code == 0, res.output
    assert "weighted Fait Accompli" in res.output
    assert "stake-weighted draw" in res.output
    assert "2000 trials, seed 0" in res.output
    res = runner.invoke(command, [*args, "--adversary", "top", "--f", "500"])
    assert res.exit_code == 1
    assert "f must be in [1, n]" in res.output


def test_module_exports_resolve() -> None:
    for name in cm.__all__:
        assert hasattr(cm, name), name
