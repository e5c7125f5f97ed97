"""Stake-weighted committees: the Dirichlet-multinomial seat model, BFT sizing, verifiable draws.

Theory of operation
===================

Everything here is checked against R. Jones, *A Bayesian Model for Committee Selection in
Blockchain Consensus Protocols* (2025), ``papers/bayesian-committee-selection.md`` ("the
paper"). Section, equation and algorithm numbers below are the paper's.

1. Seat model (paper §2, §4, eqs. 1-2)
--------------------------------------
``n`` participants, ``k`` seats drawn *with replacement*, so one participant may hold several
seats. Selection probabilities ``p ~ Dirichlet(alpha)`` (eq. 1) and seat counts
``X | p ~ Multinomial(k, p)`` (eq. 2). Integrating ``p`` out gives the Dirichlet-multinomial
(Pólya) law, eq. 10, implemented by :func:`dirichlet_multinomial_logpmf`. ``alpha`` is
proportional to stake; its *scale* ``A = sum(alpha)`` is the concentration: for ``A -> oo``
the model becomes a plain multinomial draw with ``p = alpha / A`` (a stake-weighted lottery).

2. Seat moments (§5, eqs. 4-5; derivations in Appendices A and B)
-----------------------------------------------------------------
:func:`expected_seats` is eq. 4, ``E[X_i] = k alpha_i / A``. :func:`seat_variance` is eq. 5
term by term: the expected multinomial variance ``k (E p_i - E p_i^2)`` plus the variance of
the conditional mean ``k^2 Var(p_i)``. It simplifies to the textbook Dirichlet-multinomial
variance ``k p_i (1 - p_i) (k + A) / (1 + A)`` with ``p_i = alpha_i / A``. Both are checked
against :func:`simulate_seats` (a Monte Carlo run of eqs. 1-2) in the tests.

3. Inference (§4 items 1-5, §8.1 eqs. 6-7, eq. 10)
--------------------------------------------------
*Conjugate update for p* (eqs. 6-7): after observing committees ``X^(1..T)`` the posterior of
``p`` is ``Dirichlet(alpha + sum_t X^(t))``; updating one committee at a time (eq. 7) gives
the same result, see :func:`dirichlet_posterior`.

*Hierarchical prior on alpha* (§4 item 1): ``alpha_i ~ Gamma(shape, rate)`` i.i.d. The
paper fits it with PyMC (Listing 1); here :func:`fit_alpha_mcmc` is a seeded
Metropolis-within-Gibbs sampler on ``theta = log alpha`` written with NumPy/SciPy only.
The target is the Dirichlet-multinomial likelihood (eq. 10, ``p`` integrated out) times the
Gamma prior times the Jacobian ``prod alpha_i`` of the log transform. Each coordinate gets a
Gaussian random-walk proposal whose scale is adapted during the tuning phase only (towards
the 0.44 one-dimensional optimum) and then frozen, so the recorded chain is a plain,
valid Metropolis chain; acceptance rates of the recorded part are reported. Two readings of
"several observed committees" are offered: independent ``p`` per committee (eq. 10 per row,
the default) or one ``p`` shared by all rows (``shared_p=True``), which is the structure of
the paper's Listing 1.

4. BFT analysis (§10, eqs. 13-19, Algorithm 1)
----------------------------------------------
:func:`bft_thresholds` runs Algorithm 1 verbatim: sort ``E[X_i]`` descending, cumulate
``C(m)`` (eq. 13/18), ``m_s`` = first ``m`` with ``C(m) >= k/3`` and ``m_l`` = first ``m``
with ``C(m) >= 2k/3``, return ``m_s - 1`` and ``m_l - 1``: the largest top-stake coalitions
whose *expected* seats stay below one third (safety) and below two thirds (the paper's
"liveness" threshold). The comparisons are done in exact rational arithmetic
(``3 C(m) >= k`` etc.) so ties such as three equal stakes are decided correctly. Because
``C(m)`` is linear in ``k``, the answer does not depend on ``k``.

5. Iterative committee size (§11.1-11.4, eqs. 20-21, Algorithms 2 and 3)
-----------------------------------------------------------------------
Algorithms 2/3 raise ``k`` until ``C(m_s) < f k`` and ``C_honest >= (1 - f) k``. With
expected (real-valued) seats both sides scale linearly with ``k``, so the loop either stops
at ``k_0`` or never stops. :func:`optimal_committee_size` therefore offers two modes:
``seats="expected"`` is the literal algorithm (returns ``k_0`` or raises ``ValueError``
explaining that no ``k`` works), and ``seats="apportioned"`` replaces ``E[X_i]`` by the
integer seats of a largest-remainder apportionment of ``k`` seats (the rounding done by the
paper's own code, Appendix D, ``compute_and_adjust_seat_counts``), where the loop is
meaningful: small ``k`` lets rounding push the top coalition over ``f k``. ``m_s`` is read as
the number of Byzantine participants to tolerate (the top ``m_s`` by stake) and the honest
participants as everybody else (ranks ``m_s + 1 .. m_s + m_h``).

6. Chernoff committee size (§11.5 eqs. 26-34, Algorithm 4, Appendix C)
----------------------------------------------------------------------
:func:`chernoff_committee_size` is Algorithm 4 line by line:

* line 7: sort ``alpha`` descending;
* line 8: ``q = sum_{i<=f} alpha_(i) / A`` (eq. 26), see :func:`adversary_share`;
* line 9: ``delta = 1/(3q) - 1`` (eq. 32);
* line 10: ``k_min = ceil((2 + delta)(-ln eps) / (delta^2 q))`` (eq. 34).

If ``q >= 1/3`` then ``delta <= 0``: the coalition's *expected* seats already reach ``k/3``
and no committee size helps, so a ``ValueError`` says so.

What is ``X_b``? The bound eq. 29 is the multiplicative Chernoff bound for a sum of
independent Bernoulli trials. With ``p`` fixed at ``alpha / A`` (the paper's assumption (a) in
§11.6) each of the ``k`` seats lands in the coalition independently with probability ``q``,
so ``X_b ~ Binomial(k, q)`` exactly (aggregation property of the multinomial) and the bound
holds for every ``k >= k_min``. :func:`exact_tail_probability` gives that binomial tail and
:func:`smallest_simulated_k` finds, by a seeded simulation of the seat draws, the smallest
``k`` with empirical ``P(X_b >= k/3) <= eps``; :func:`validate_chernoff` puts the two side by
side. Under the full hierarchical model (``p`` random) the coalition's share converges to
``Beta(A_b, A - A_b)`` rather than to ``q``, so ``P(X_b >= k/3)`` has the floor
:func:`dirichlet_tail_floor` that no ``k`` can beat; the Chernoff size is only meaningful
when that floor is below ``eps`` (large concentration ``A``). The paper does not make this
distinction; the simulation supports both models (``model=...``).

The (2 + delta) form of the bound is loose by roughly a factor of two in ``k``: the true
binomial tail decays like ``exp(-k D(1/3 || q))`` and ``D(1/3 || q) > q delta^2 / (2 + delta)``;
at moderate ``eps`` the polynomial prefactor of the exact tail adds more slack. Measured
ratios ``k_min / k_simulated`` for ``q`` in [1/12, 1/4]: 1.95-2.47 at ``eps`` = 1e-2 and 1e-3,
about 1.75-1.9 at ``eps`` = 1e-6 (see the tests and ``byzlab committee kmin --validate``).

7. Verifiable draw (not in the paper)
-------------------------------------
The seed is public: :func:`public_seed` hashes a canonical encoding of the previous
agreement's decision, the agreement instance and the set of members' Ed25519 signatures
(each member signs :func:`seed_message` with ``nacl.signing``; Ed25519 is deterministic, so a
member cannot grind its share, only withhold it)::

    seed = BLAKE2b-256(person="byzlab-cseed-v1",
                       int64_be(previous_decision) || uint64_be(instance) ||
                       uint32_be(m) || (uint32_be(len(sig)) || sig  for sig in sorted(set(sigs))))

:func:`draw_committee` turns ``(stakes, k, seed)`` into seat counts with a counter-mode PRF
and inverse-CDF sampling on exact integer prefix sums ``P_i = s_0 + ... + s_i``, ``T = P_{n-1}``::

    block(c) = BLAKE2b-512(key=seed, person="byzlab-cdraw-v1", data=uint64_be(c)),  c = 0, 1, ...
    r = int_be(block(c));  if r >= 2^512 - (2^512 mod T): c += 1 and retry  (exact rejection)
    u = r mod T  (uniform on [0, T));  seat owner = min{i : P_i > u};  c += 1

Only integer arithmetic and BLAKE2b are involved (no NumPy generator, no floats), so any
machine and any language reproduces the committee; :func:`verify_committee` recomputes it.
Seat ``j`` normally uses block ``j`` (a retry happens with probability below ``2^-256``).

8. Weighted Fait Accompli (not in the paper)
--------------------------------------------
The paper does not describe Fait Accompli. :func:`fait_accompli_split` follows P. Gaži,
A. Kiayias, A. Russell, "Fait Accompli Committee Selection", ACM CCS 2023 (wFA, Fig. 6):
sort stakes ``s_1 >= s_2 >= ...``, let ``rho_i = sum_{j>=i} s_j`` and ``i*`` the smallest ``i``
with ``rho_i = 0`` or ``(1 - s_i / rho_i)^2 >= (k - i)/(k - i + 1)``. Parties ``1 .. i*-1`` get
persistent seats weighted by their own stake; the remaining ``k - i* + 1`` seats are filled
by the fallback scheme, here i.i.d. stake-weighted draws among the non-persistent parties
(the same draw as above), each seat weighing ``rho_{i*} / (k - i* + 1)``. The adversary's
*vote share* is its weighted share of the committee. :func:`compare_fait_accompli` estimates
mean, standard deviation and ``P(share >= 1/3)`` for both schemes by Monte Carlo, with the
exact binomial value alongside.

9. Command line
---------------
``command`` is the ``committee`` click group (registered by the project as
``byzlab committee``): ``seats``, ``bft``, ``kmin``, ``posterior``, ``seed``, ``draw``,
``verify`` and ``compare``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeVar

import click
import numpy as np
import numpy.typing as npt
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from rich.console import Console
from rich.table import Table
from scipy import special, stats

__all__ = [
    "AlphaPosterior",
    "BftThresholds",
    "ChernoffValidation",
    "FaitAccompliCommittee",
    "FaitAccompliSplit",
    "KSearch",
    "SchemeStats",
    "adversary_share",
    "apportion_seats",
    "bft_thresholds",
    "chernoff_committee_size",
    "chernoff_tail_bound",
    "command",
    "compare_fait_accompli",
    "dirichlet_multinomial_logpmf",
    "dirichlet_posterior",
    "dirichlet_tail_floor",
    "draw_committee",
    "draw_fait_accompli",
    "draw_seats",
    "exact_tail_probability",
    "expected_seats",
    "fait_accompli_split",
    "fit_alpha_mcmc",
    "optimal_committee_size",
    "public_seed",
    "random_stake_coalition",
    "seat_variance",
    "seed_message",
    "sign_seed_share",
    "simulate_seats",
    "simulate_tail_curve",
    "smallest_simulated_k",
    "synthetic_stakes",
    "tail_stake_coalition",
    "top_stake_coalition",
    "validate_chernoff",
    "verify_committee",
    "verify_seed_share",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TailModel = Literal["multinomial", "dirichlet-multinomial"]

SEED_PERSON = b"byzlab-cseed-v1"
DRAW_PERSON = b"byzlab-cdraw-v1"
SEED_MESSAGE_TAG = b"byzlab/committee-seed/v1"
_BLOCK_BITS = 512
_MAX_TOTAL_STAKE_BITS = 256


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _as_alpha(alpha: npt.ArrayLike, name: str = "alpha") -> FloatArray:
    try:
        arr = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of positive numbers") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite; got {arr.tolist()}")
    return arr


def _check_int(value: object, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {rng}; got {v}")
    return v


def _check_k(k: object, name: str = "k") -> int:
    return _check_int(k, name, 1)


def _check_eps(eps: float) -> float:
    e = float(eps)
    if not (math.isfinite(e) and 0.0 < e < 1.0):
        raise ValueError(f"eps must be in the open interval (0, 1); got {eps!r}")
    return e


def _check_f(f: object, n: int) -> int:
    if isinstance(f, bool) or not isinstance(f, numbers.Integral):
        raise ValueError(f"f must be an integer number of participants; got {f!r}")
    fi = int(f)
    if not 1 <= fi <= n:
        raise ValueError(f"f must be in [1, n] with n = len(alpha) = {n}; got {fi}")
    return fi


def _as_int_stakes(stakes: Sequence[int] | npt.ArrayLike) -> list[int]:
    """Exact integer stakes (Python ints) for the verifiable draw."""
    if isinstance(stakes, np.ndarray):
        if stakes.ndim != 1 or not np.issubdtype(stakes.dtype, np.integer):
            raise ValueError(
                "stakes must be a 1-D array of integers (the draw uses exact prefix sums)"
            )
        values = [int(v) for v in stakes.tolist()]
    else:
        if isinstance(stakes, str | bytes):
            raise ValueError("stakes must be a sequence of integers")
        try:
            items = list(stakes)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError("stakes must be a sequence of integers") from exc
        values = []
        for v in items:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ValueError(
                    f"stakes must be integers (the draw uses exact prefix sums); got {v!r}"
                )
            values.append(int(v))
    if not values:
        raise ValueError("stakes must be non-empty")
    if any(v < 0 for v in values):
        raise ValueError("stakes must be non-negative")
    total = sum(values)
    if total <= 0:
        raise ValueError("stakes must have a positive total")
    if total.bit_length() > _MAX_TOTAL_STAKE_BITS:
        raise ValueError(f"total stake must be below 2^{_MAX_TOTAL_STAKE_BITS}")
    return values


def _as_real_stakes(stakes: npt.ArrayLike) -> list[Fraction]:
    """Stakes as exact rationals (floats convert exactly), for the Fait Accompli rule."""
    arr = np.asarray(stakes)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("stakes must be a non-empty 1-D array")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError("stakes must be numeric")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError("stakes must be finite")
    out = [Fraction(v) for v in arr.tolist()]
    if any(v < 0 for v in out):
        raise ValueError("stakes must be non-negative")
    if sum(out) <= 0:
        raise ValueError("stakes must have a positive total")
    return out


def _check_seed_bytes(seed: bytes) -> bytes:
    if not isinstance(seed, bytes | bytearray):
        raise ValueError("seed must be bytes")
    if not 16 <= len(seed) <= 64:
        raise ValueError(f"seed must be 16..64 bytes long; got {len(seed)}")
    return bytes(seed)


def _descending_order(values: Sequence[float] | Sequence[Fraction]) -> list[int]:
    """Indices sorted by value descending; ties keep input order (deterministic)."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))


# --------------------------------------------------------------------------------------------
# 1-2. Dirichlet-multinomial seat model
# --------------------------------------------------------------------------------------------


def expected_seats(alpha: npt.ArrayLike, k: int) -> FloatArray:
    """Expected seats ``E[X_i] = k alpha_i / sum(alpha)`` (paper eq. 4)."""
    a = _as_alpha(alpha)
    kk = _check_k(k)
    return np.asarray(kk * a / a.sum(), dtype=np.float64)


def seat_variance(alpha: npt.ArrayLike, k: int) -> FloatArray:
    """Seat-count variance ``Var(X_i)`` of the Dirichlet-multinomial model (paper eq. 5)."""
    a = _as_alpha(alpha)
    kk = float(_check_k(k))
    total = a.sum()
    within = kk * (a / total - a * (a + 1.0) / (total * (total + 1.0)))
    between = kk**2 * a * (total - a) / (total**2 * (total + 1.0))
    return np.asarray(within + between, dtype=np.float64)


def simulate_seats(alpha: npt.ArrayLike, k: int, trials: int, seed: int) -> IntArray:
    """Monte Carlo of eqs. 1-2: ``p ~ Dir(alpha)``, ``X ~ Mult(k, p)``; shape ``(trials, n)``."""
    a = _as_alpha(alpha)
    kk = _check_k(k)
    t = _check_int(trials, "trials", 1)
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(a, size=t)
    return rng.multinomial(kk, p).astype(np.int64)


def dirichlet_multinomial_logpmf(x: npt.ArrayLike, alpha: npt.ArrayLike) -> float:
    """Log of the Dirichlet-multinomial pmf ``P(X = x | alpha)`` (paper eq. 10)."""
    a = _as_alpha(alpha)
    xs = np.asarray(x)
    if xs.shape != a.shape or not np.issubdtype(xs.dtype, np.integer) or np.any(xs < 0):
        raise ValueError("x must be non-negative integer counts with the same length as alpha")
    xf = xs.astype(np.float64)
    k = xf.sum()
    total = a.sum()
    value = (
        special.gammaln(k + 1.0)
        - special.gammaln(xf + 1.0).sum()
        + special.gammaln(total)
        - special.gammaln(k + total)
        + (special.gammaln(xf + a) - special.gammaln(a)).sum()
    )
    return float(value)


# --------------------------------------------------------------------------------------------
# 3. Inference: conjugate posterior for p, MCMC for alpha
# --------------------------------------------------------------------------------------------


def _as_counts(counts: npt.ArrayLike, n: int | None = None) -> IntArray:
    arr = np.asarray(counts)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError("counts must be a 1-D vector or a 2-D (committees x participants) array")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0)):
        raise ValueError("counts must be non-negative integers")
    if n is not None and arr.shape[1] != n:
        raise ValueError(f"counts must have {n} columns (one per participant); got {arr.shape[1]}")
    return arr.astype(np.int64)


def dirichlet_posterior(alpha_prior: npt.ArrayLike, counts: npt.ArrayLike) -> FloatArray:
    """Conjugate update ``alpha_post = alpha_prior + sum_t X^(t)`` (paper eqs. 6-7).

    ``counts`` is one committee (1-D) or several (2-D, one row per committee); applying eq. 7
    row by row gives the same result as adding all rows at once.
    """
    a = _as_alpha(alpha_prior, "alpha_prior")
    x = _as_counts(counts, a.size)
    return np.asarray(a + x.sum(axis=0), dtype=np.float64)


@dataclass(frozen=True)
class AlphaPosterior:
    """Posterior draws of ``alpha`` from :func:`fit_alpha_mcmc`."""

    samples: FloatArray
    """Recorded draws, shape ``(draws, n)`` (tuning draws excluded)."""
    acceptance_rate: float
    """Fraction of accepted coordinate proposals in the recorded part of the chain."""
    acceptance_per_component: FloatArray
    step_sizes: FloatArray
    """Frozen random-walk scales on ``log alpha`` after tuning."""
    seed: int
    shape: float
    rate: float

    def mean(self) -> FloatArray:
        return np.asarray(self.samples.mean(axis=0), dtype=np.float64)

    def interval(self, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        """Equal-tailed credible interval per component."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1); got {level}")
        lo, hi = np.quantile(self.samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)

    def expected_seats(self, k: int) -> FloatArray:
        """Posterior mean of ``k alpha_i / sum(alpha)`` (eq. 4 averaged over the posterior)."""
        kk = _check_k(k)
        shares = self.samples / self.samples.sum(axis=1, keepdims=True)
        return np.asarray(kk * shares.mean(axis=0), dtype=np.float64)


def fit_alpha_mcmc(
    counts: npt.ArrayLike,
    *,
    shape: float = 2.0,
    rate: float = 1.0,
    draws: int = 2000,
    tune: int = 1000,
    seed: int = 0,
    init: npt.ArrayLike | None = None,
    shared_p: bool = False,
) -> AlphaPosterior:
    """Sample ``p(alpha | X)`` for ``alpha_i ~ Gamma(shape, rate)`` (paper §4, eq. 3 and eq. 10).

    Metropolis-within-Gibbs on ``theta = log alpha``: each sweep proposes
    ``theta_i' = theta_i + s_i z`` for every coordinate in turn. The likelihood is the
    Dirichlet-multinomial eq. 10 (``p`` integrated out), one independent ``p`` per observed
    committee unless ``shared_p`` (one ``p`` for all rows, as in the paper's Listing 1).
    The scales ``s_i`` adapt during ``tune`` sweeps only. ``counts`` may have zero rows, in
    which case the chain samples the prior.
    """
    x = _as_counts(counts)
    if not (math.isfinite(shape) and shape > 0):
        raise ValueError(f"shape must be positive; got {shape}")
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be positive; got {rate}")
    n_draws = _check_int(draws, "draws", 1)
    n_tune = _check_int(tune, "tune", 0)
    if shared_p and x.shape[0] > 0:
        x = x.sum(axis=0, keepdims=True)
    n = x.shape[1]
    k_vals, k_mult = np.unique(x.sum(axis=1), return_counts=True)
    k_valsf = k_vals.astype(np.float64)
    k_multf = k_mult.astype(np.float64)
    columns = []
    for i in range(n):
        vals, mult = np.unique(x[:, i], return_counts=True)
        columns.append((vals.astype(np.float64), mult.astype(np.float64)))

    def total_term(total: float) -> float:
        # sum_t [lgamma(A) - lgamma(A + k_t)]
        return float(np.dot(k_multf, special.gammaln(total) - special.gammaln(total + k_valsf)))

    def column_term(i: int, a_i: float) -> float:
        # sum_t [lgamma(x_ti + alpha_i) - lgamma(alpha_i)]
        vals, mult = columns[i]
        return float(np.dot(mult, special.gammaln(vals + a_i) - special.gammaln(a_i)))

    def log_prior(theta_i: float) -> float:
        # Gamma(shape, rate) density of alpha = e^theta times the Jacobian e^theta.
        return shape * theta_i - rate * math.exp(theta_i)

    alpha = (
        np.full(n, shape / rate, dtype=np.float64)
        if init is None
        else _as_alpha(init, "init").copy()
    )
    if alpha.size != n:
        raise ValueError(f"init must have {n} entries; got {alpha.size}")
    theta = np.log(alpha)
    cur_total = total_term(float(alpha.sum()))
    cur_cols = [column_term(i, float(alpha[i])) for i in range(n)]

    rng = np.random.default_rng(seed)
    iters = n_tune + n_draws
    normals = rng.standard_normal((iters, n))
    log_uniforms = np.log(rng.random((iters, n)))
    log_step = np.full(n, math.log(0.5))
    batch = 50
    batch_acc = np.zeros(n)
    recorded_acc = np.zeros(n)
    samples = np.empty((n_draws, n), dtype=np.float64)

    for it in range(iters):
        for i in range(n):
            th_new = float(theta[i] + math.exp(log_step[i]) * normals[it, i])
            a_new = math.exp(th_new)
            total_new = float(alpha.sum() - alpha[i] + a_new)
            new_total = total_term(total_new)
            new_col = column_term(i, a_new)
            log_ratio = (new_total + new_col + log_prior(th_new)) - (
                cur_total + cur_cols[i] + log_prior(float(theta[i]))
            )
            if log_uniforms[it, i] < log_ratio:
                theta[i] = th_new
                alpha[i] = a_new
                cur_total = new_total
                cur_cols[i] = new_col
                if it < n_tune:
                    batch_acc[i] += 1
                else:
                    recorded_acc[i] += 1
        if it < n_tune and (it + 1) % batch == 0:
            # Adaptive scaling (Roberts & Rosenthal 2009), tuning phase only.
            adj = min(0.5, 1.0 / math.sqrt((it + 1) / batch))
            log_step += np.where(batch_acc / batch > 0.44, adj, -adj)
            batch_acc[:] = 0
        if it >= n_tune:
            samples[it - n_tune] = alpha
    per_comp = recorded_acc / n_draws
    return AlphaPosterior(
        samples=samples,
        acceptance_rate=float(per_comp.mean()),
        acceptance_per_component=per_comp,
        step_sizes=np.exp(log_step),
        seed=seed,
        shape=float(shape),
        rate=float(rate),
    )


# --------------------------------------------------------------------------------------------
# 4-5. BFT analysis (Algorithm 1) and iterative committee size (Algorithms 2/3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BftThresholds:
    """Result of Algorithm 1."""

    max_byzantine_safety: int
    """``m_s - 1``: largest top-stake coalition with ``C(m) < k/3``."""
    max_byzantine_liveness: int
    """``m_l - 1``: largest top-stake coalition with ``C(m) < 2k/3``."""
    order: IntArray
    """Participants in descending order of ``E[X_i]``."""
    expected_sorted: FloatArray
    cumulative: FloatArray
    """``C(1), ..., C(n)`` (eq. 18)."""


def bft_thresholds(alpha: npt.ArrayLike, k: int) -> BftThresholds:
    """Algorithm 1: maximum tolerable Byzantine participants for safety and liveness."""
    a = _as_alpha(alpha)
    kk = _check_k(k)
    order = _descending_order(a.tolist())
    expected = expected_seats(a, kk)[order]
    # Exact comparisons: C(m) >= k/3  <=>  3 * sum_top(alpha) >= sum(alpha), likewise 2k/3.
    exact = [Fraction(float(a[i])) for i in order]
    total = sum(exact, Fraction(0))
    m_s = m_l = 0
    running = Fraction(0)
    for m, value in enumerate(exact, start=1):
        running += value
        if 3 * running >= total and m_s == 0:
            m_s = m
        if 3 * running >= 2 * total and m_l == 0:
            m_l = m
    return BftThresholds(
        max_byzantine_safety=m_s - 1,
        max_byzantine_liveness=m_l - 1,
        order=np.asarray(order, dtype=np.int64),
        expected_sorted=expected,
        cumulative=np.cumsum(expected),
    )


def _integer_weights(a: FloatArray) -> list[int]:
    """Exact integer weights proportional to the float ``alpha`` (floats are dyadic rationals)."""
    fracs = [Fraction(float(v)) for v in a]
    denom = math.lcm(*(fr.denominator for fr in fracs))
    return [fr.numerator * (denom // fr.denominator) for fr in fracs]


def apportion_seats(alpha: npt.ArrayLike, k: int) -> IntArray:
    """Largest-remainder (Hamilton) apportionment of ``k`` whole seats in proportion to alpha.

    Exact: quotas ``k alpha_i / A`` are floored in integer arithmetic, and the leftover seats
    go to the largest remainders (ties: larger alpha, then lower index).
    """
    a = _as_alpha(alpha)
    kk = _check_k(k)
    w = _integer_weights(a)
    total = sum(w)
    floors = [kk * wi // total for wi in w]
    rems = [kk * wi % total for wi in w]
    left = kk - sum(floors)
    for i in sorted(range(len(w)), key=lambda i: (-rems[i], -w[i], i))[:left]:
        floors[i] += 1
    return np.asarray(floors, dtype=np.int64)


def optimal_committee_size(
    alpha: npt.ArrayLike,
    byzantine: int,
    *,
    f: float | Fraction = Fraction(1, 3),
    honest: int | None = None,
    k0: int = 1,
    k_max: int = 100_000,
    seats: Literal["expected", "apportioned"] = "apportioned",
) -> int:
    """Algorithms 2/3: smallest ``k >= k0`` with ``C(m_s) < f k`` and ``C_honest >= (1 - f) k``.

    ``byzantine`` is ``m_s``, the number of top-stake participants assumed Byzantine;
    ``honest`` is ``m_h``, the number of honest participants counted for liveness (default:
    all others, ranks ``m_s + 1 .. n``). ``f`` is the Byzantine *fraction* (Algorithms 2/3 use
    ``f`` for a fraction, Algorithm 4 for a count).

    ``seats="expected"`` is the literal algorithm with ``E[X_i]``; both constraints are then
    linear in ``k``, so the answer is ``k0`` or a ``ValueError`` (no ``k`` satisfies them).
    ``seats="apportioned"`` uses whole seats from :func:`apportion_seats` and iterates.
    """
    a = _as_alpha(alpha)
    n = a.size
    m_s = _check_int(byzantine, "byzantine", 0, n)
    m_h = n - m_s if honest is None else _check_int(honest, "honest", 0, n - m_s)
    ff = Fraction(f)
    if not 0 < ff < 1:
        raise ValueError(f"f must be a fraction in (0, 1); got {f}")
    start = _check_k(k0, "k0")
    stop = _check_int(k_max, "k_max", start)
    order = _descending_order(a.tolist())
    byz_idx, hon_idx = order[:m_s], order[m_s : m_s + m_h]

    def satisfied(c_top: Fraction, c_honest: Fraction, k: int) -> bool:
        return c_top < ff * k and c_honest >= (1 - ff) * k

    if seats == "expected":
        w = _integer_weights(a)
        total = sum(w)
        c_top = Fraction(start * sum(w[i] for i in byz_idx), total)
        c_hon = Fraction(start * sum(w[i] for i in hon_idx), total)
        if satisfied(c_top, c_hon, start):
            return start
        raise ValueError(
            "no committee size satisfies the constraints with expected seats: C(m_s) and "
            "C_honest both scale linearly with k, so the top "
            f"{m_s} participants' share {float(c_top) / start:.4f} must be < f = {float(ff):.4f}"
            f" and the honest share {float(c_hon) / start:.4f} must be >= 1 - f"
        )
    if seats != "apportioned":
        raise ValueError(f"seats must be 'expected' or 'apportioned'; got {seats!r}")
    for k in range(start, stop + 1):
        x = apportion_seats(a, k)
        c_top_i = int(x[byz_idx].sum()) if byz_idx else 0
        c_hon_i = int(x[hon_idx].sum()) if hon_idx else 0
        if satisfied(Fraction(c_top_i), Fraction(c_hon_i), k):
            return k
    raise ValueError(f"no committee size k in [{start}, {stop}] satisfies the constraints")


# --------------------------------------------------------------------------------------------
# 6. Chernoff committee size (Algorithm 4) and its validation
# --------------------------------------------------------------------------------------------


def adversary_share(alpha: npt.ArrayLike, f: int) -> float:
    """``q``: the top-``f`` share of ``alpha`` (Algorithm 4 lines 7-8, eq. 26)."""
    a = _as_alpha(alpha)
    ff = _check_f(f, a.size)
    top = np.sort(a)[::-1]
    return float(top[:ff].sum() / a.sum())


def chernoff_committee_size(alpha: npt.ArrayLike, f: int, eps: float) -> int:
    """Algorithm 4: minimal ``k`` with Chernoff bound ``P(X_b >= k/3) <= eps``.

    Raises ``ValueError`` if the top-``f`` share ``q >= 1/3``: the coalition then expects at
    least a third of the seats and no committee size can keep it below ``k/3``.
    """
    a = _as_alpha(alpha)
    ff = _check_f(f, a.size)
    e = _check_eps(eps)
    q = adversary_share(a, ff)  # lines 7-8
    if 3.0 * q >= 1.0:
        raise ValueError(
            f"the top-{ff} share q = {q:.4f} is >= 1/3, so no committee size k can keep "
            "P(X_b >= k/3) <= eps: the coalition expects at least k/3 seats for every k"
        )
    delta = 1.0 / (3.0 * q) - 1.0  # line 9
    return math.ceil((2.0 + delta) * (-math.log(e)) / (delta**2 * q))  # line 10


def _check_q(q: float) -> float:
    qq = float(q)
    if not (math.isfinite(qq) and 0.0 < qq < 1.0 / 3.0):
        raise ValueError(f"q must be in (0, 1/3); got {q!r}")
    return qq


def chernoff_tail_bound(q: float, k: int) -> float:
    """Right-hand side of eq. 33: ``exp(-delta^2 k q / (2 + delta))``, ``delta = 1/(3q) - 1``."""
    qq = _check_q(q)
    kk = _check_k(k)
    delta = 1.0 / (3.0 * qq) - 1.0
    return math.exp(-(delta**2) * kk * qq / (2.0 + delta))


def exact_tail_probability(q: float, k: int) -> float:
    """``P(X_b >= k/3)`` for ``X_b ~ Binomial(k, q)``: seats drawn i.i.d. with fixed ``p``."""
    qq = float(q)
    if not (math.isfinite(qq) and 0.0 <= qq <= 1.0):
        raise ValueError(f"q must be in [0, 1]; got {q!r}")
    kk = _check_k(k)
    return float(stats.binom.sf(-(-kk // 3) - 1, kk, qq))


def dirichlet_tail_floor(alpha: npt.ArrayLike, f: int) -> float:
    """``lim_{k->oo} P(X_b >= k/3)`` under the full model: ``P(Beta(A_b, A - A_b) >= 1/3)``."""
    a = _as_alpha(alpha)
    ff = _check_f(f, a.size)
    top = np.sort(a)[::-1]
    a_b = float(top[:ff].sum())
    rest = float(a.sum()) - a_b
    if rest <= 0:
        return 1.0
    return float(stats.beta.sf(1.0 / 3.0, a_b, rest))


def simulate_tail_curve(
    alpha: npt.ArrayLike,
    f: int,
    k_max: int,
    *,
    trials: int = 200_000,
    seed: int = 0,
    model: TailModel = "multinomial",
) -> FloatArray:
    """Empirical ``P(X_b >= k/3)`` for ``k = 1 .. k_max`` (entry ``k - 1``), seeded.

    Each trial draws seats one after another, so the committees for all ``k`` are nested
    (common random numbers): seat ``j`` lands in the top-``f`` coalition with probability
    ``q`` (``model="multinomial"``: ``p = alpha / A``) or ``q_t ~ Beta(A_b, A - A_b)`` drawn
    once per trial (``model="dirichlet-multinomial"``: ``p ~ Dir(alpha)``). By the
    aggregation property of the multinomial and the Dirichlet this is exactly the law of the
    coalition's seat count in a full ``n``-participant draw.
    """
    a = _as_alpha(alpha)
    ff = _check_f(f, a.size)
    kmax = _check_k(k_max, "k_max")
    t = _check_int(trials, "trials", 1)
    rng = np.random.default_rng(seed)
    top = np.sort(a)[::-1]
    a_b = float(top[:ff].sum())
    rest = float(a.sum()) - a_b
    if model == "multinomial":
        q: FloatArray | float = a_b / (a_b + rest)
    elif model == "dirichlet-multinomial":
        q = rng.beta(a_b, rest, size=t) if rest > 0 else np.ones(t)
    else:
        raise ValueError(f"model must be 'multinomial' or 'dirichlet-multinomial'; got {model!r}")
    seats = np.zeros(t, dtype=np.int64)
    curve = np.empty(kmax, dtype=np.float64)
    for k in range(1, kmax + 1):
        seats += rng.random(t) < q
        curve[k - 1] = np.count_nonzero(3 * seats >= k) / t
    return curve


@dataclass(frozen=True)
class KSearch:
    """Smallest committee sizes accepted by a seeded simulation."""

    first_k: int | None
    """Smallest ``k`` with empirical ``P(X_b >= k/3) <= eps``."""
    stable_k: int | None
    """Smallest ``k`` such that every ``k'`` in ``[k, k_max]`` is accepted (the tail is not
    monotone in ``k`` because ``ceil(k/3)`` moves in steps)."""
    k_max: int
    curve: FloatArray
    trials: int
    seed: int


def smallest_simulated_k(
    alpha: npt.ArrayLike,
    f: int,
    eps: float,
    *,
    k_max: int | None = None,
    trials: int = 200_000,
    seed: int = 0,
    model: TailModel = "multinomial",
) -> KSearch:
    """Scan ``k = 1 .. k_max`` (default: Chernoff ``k_min``) with :func:`simulate_tail_curve`."""
    e = _check_eps(eps)
    kmax = chernoff_committee_size(alpha, f, e) if k_max is None else _check_k(k_max, "k_max")
    curve = simulate_tail_curve(alpha, f, kmax, trials=trials, seed=seed, model=model)
    ok = curve <= e
    first = int(np.argmax(ok)) + 1 if ok.any() else None
    stable: int | None = None
    if ok[-1]:
        bad = np.flatnonzero(~ok)
        stable = int(bad[-1]) + 2 if bad.size else 1
    return KSearch(first, stable, kmax, curve, trials, seed)


@dataclass(frozen=True)
class ChernoffValidation:
    """Algorithm 4 against an exact binomial computation and a seeded simulation."""

    q: float
    delta: float
    k_min: int
    bound_at_k_min: float
    exact_at_k_min: float
    simulated_at_k_min: float
    simulated_se: float
    smallest_exact_k: int
    search: KSearch

    @property
    def ratio(self) -> float:
        """``k_min / stable simulated k``: how conservative Algorithm 4 is (>= 1 expected)."""
        if self.search.stable_k is None:
            return math.nan
        return self.k_min / self.search.stable_k


def validate_chernoff(
    alpha: npt.ArrayLike,
    f: int,
    eps: float,
    *,
    trials: int = 200_000,
    seed: int = 0,
) -> ChernoffValidation:
    """Run Algorithm 4 and check it by the exact binomial tail and a seeded simulation."""
    k_min = chernoff_committee_size(alpha, f, eps)
    q = adversary_share(alpha, f)
    search = smallest_simulated_k(alpha, f, eps, k_max=k_min, trials=trials, seed=seed)
    p_sim = float(search.curve[k_min - 1])
    # Smallest k from which every k' <= k_min has an exact tail <= eps (same rule as stable_k).
    rejected = [k for k in range(1, k_min + 1) if exact_tail_probability(q, k) > eps]
    smallest_exact = rejected[-1] + 1 if rejected else 1
    return ChernoffValidation(
        q=q,
        delta=1.0 / (3.0 * q) - 1.0,
        k_min=k_min,
        bound_at_k_min=chernoff_tail_bound(q, k_min),
        exact_at_k_min=exact_tail_probability(q, k_min),
        simulated_at_k_min=p_sim,
        simulated_se=math.sqrt(max(p_sim, 1.0 / trials) * (1 - p_sim) / trials),
        smallest_exact_k=smallest_exact,
        search=search,
    )


# --------------------------------------------------------------------------------------------
# 7. Verifiable committee draw
# --------------------------------------------------------------------------------------------


def seed_message(previous_decision: int, instance: int) -> bytes:
    """The message each member signs to contribute to the seed of ``instance``."""
    dec = _check_int(previous_decision, "previous_decision", -(2**63), 2**63 - 1)
    inst = _check_int(instance, "instance", 0, 2**64 - 1)
    return SEED_MESSAGE_TAG + dec.to_bytes(8, "big", signed=True) + inst.to_bytes(8, "big")


def sign_seed_share(signing_key: SigningKey, previous_decision: int, instance: int) -> bytes:
    """A member's 64-byte Ed25519 signature on :func:`seed_message`."""
    return bytes(signing_key.sign(seed_message(previous_decision, instance)).signature)


def verify_seed_share(
    verify_key: VerifyKey, previous_decision: int, instance: int, signature: bytes
) -> bool:
    """Check one member's seed share; anyone can do this before accepting the seed."""
    try:
        verify_key.verify(seed_message(previous_decision, instance), bytes(signature))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def public_seed(previous_decision: int, instance: int, signatures: Sequence[bytes]) -> bytes:
    """32-byte public seed: BLAKE2b over the canonical encoding described in the module doc.

    The signatures are treated as a set (sorted, duplicates removed, each length-prefixed),
    so the order in which they were collected does not matter.
    """
    msg = seed_message(previous_decision, instance)
    as_object: object = signatures
    if isinstance(as_object, bytes | bytearray | str):
        raise ValueError("signatures must be a sequence of bytes objects, not a single one")
    sigs = []
    for s in signatures:
        if not isinstance(s, bytes | bytearray) or len(s) == 0:
            raise ValueError("signatures must be non-empty bytes objects")
        sigs.append(bytes(s))
    if not sigs:
        raise ValueError("signatures must contain at least one signature")
    canon = sorted(set(sigs))
    h = hashlib.blake2b(digest_size=32, person=SEED_PERSON)
    h.update(msg[len(SEED_MESSAGE_TAG) :])
    h.update(len(canon).to_bytes(4, "big"))
    for s in canon:
        h.update(len(s).to_bytes(4, "big"))
        h.update(s)
    return h.digest()


def _prf_block(seed: bytes, counter: int) -> int:
    digest = hashlib.blake2b(
        counter.to_bytes(8, "big"), digest_size=64, key=seed, person=DRAW_PERSON
    ).digest()
    return int.from_bytes(digest, "big")


def draw_seats(stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes) -> list[int]:
    """Owner of each of the ``k`` seats, in draw order (see the module doc for the spec)."""
    return _draw_owners(_as_int_stakes(stakes), _check_k(k), _check_seed_bytes(seed))


def _draw_owners(values: list[int], kk: int, key: bytes) -> list[int]:
    prefix = list(itertools.accumulate(values))
    total = prefix[-1]
    limit = (1 << _BLOCK_BITS) - ((1 << _BLOCK_BITS) % total)
    owners: list[int] = []
    counter = 0
    while len(owners) < kk:
        r = _prf_block(key, counter)
        counter += 1
        if r >= limit:  # exact rejection keeps u uniform on [0, total)
            continue
        owners.append(bisect.bisect_right(prefix, r % total))
    return owners


def draw_committee(stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes) -> IntArray:
    """Seat counts of a verifiable stake-weighted draw of ``k`` seats with replacement."""
    values = _as_int_stakes(stakes)
    owners = _draw_owners(values, _check_k(k), _check_seed_bytes(seed))
    return np.bincount(np.asarray(owners, dtype=np.int64), minlength=len(values)).astype(np.int64)


def verify_committee(
    stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes, seats: npt.ArrayLike
) -> bool:
    """True iff ``seats`` is exactly the committee drawn from ``(stakes, k, seed)``."""
    expected = draw_committee(stakes, k, seed)
    claimed = np.asarray(seats)
    if claimed.shape != expected.shape or not np.issubdtype(claimed.dtype, np.integer):
        return False
    return bool(np.array_equal(claimed, expected))


# --------------------------------------------------------------------------------------------
# 8. Weighted Fait Accompli and the comparison
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaitAccompliSplit:
    """Deterministic part of weighted Fait Accompli (Gaži-Kiayias-Russell 2023, Fig. 6)."""

    persistent: IntArray
    """Participants with a persistent seat (``i < i*``), largest stake first."""
    nonpersistent: IntArray
    """Candidates for the ``k - n_persistent`` fallback seats."""
    nonpersistent_seats: int
    nonpersistent_stake: Fraction
    """``rho_{i*}``: stake of all non-persistent participants."""
    total_stake: Fraction

    @property
    def seat_weight(self) -> Fraction:
        """Vote weight of one fallback seat: ``rho_{i*} / (k - n_persistent)``."""
        return self.nonpersistent_stake / self.nonpersistent_seats


def fait_accompli_split(stakes: npt.ArrayLike, k: int) -> FaitAccompliSplit:
    """Persistent seats of weighted Fait Accompli, with exact rational arithmetic.

    ``i*`` is the smallest 1-based rank ``i`` with ``rho_i = 0`` or
    ``(1 - s_i/rho_i)^2 >= (k - i)/(k - i + 1)``, evaluated as
    ``(rho_i - s_i)^2 (k - i + 1) >= (k - i) rho_i^2``; it is at most ``k``, so at least one
    seat is left for the fallback.
    """
    return _fait_accompli_split_exact(_as_real_stakes(stakes), _check_k(k))


def _fait_accompli_split_exact(s: list[Fraction], kk: int) -> FaitAccompliSplit:
    order = _descending_order(s)
    total = sum(s, Fraction(0))
    rho = total
    i_star = len(s) + 1
    for i, idx in enumerate(order, start=1):
        si = s[idx]
        if rho == 0 or (rho - si) ** 2 * (kk - i + 1) >= (kk - i) * rho**2:
            i_star = i
            break
        rho -= si
    n1 = i_star - 1
    return FaitAccompliSplit(
        persistent=np.asarray(order[:n1], dtype=np.int64),
        nonpersistent=np.asarray(order[n1:], dtype=np.int64),
        nonpersistent_seats=kk - n1,
        nonpersistent_stake=rho,
        total_stake=total,
    )


@dataclass(frozen=True)
class FaitAccompliCommittee:
    split: FaitAccompliSplit
    seats: IntArray
    """Fallback seats per participant (zero for persistent ones)."""

    def weights(self, stakes: npt.ArrayLike) -> FloatArray:
        """Vote weight per participant: own stake if persistent, else seats x seat weight."""
        w = self.seats.astype(np.float64) * float(self.split.seat_weight)
        s = np.asarray(stakes, dtype=np.float64)
        w[self.split.persistent] = s[self.split.persistent]
        return w


def draw_fait_accompli(
    stakes: Sequence[int] | npt.ArrayLike, k: int, seed: bytes
) -> FaitAccompliCommittee:
    """Verifiable wFA committee: persistent seats plus :func:`draw_committee` on the rest."""
    values = _as_int_stakes(stakes)
    split = _fait_accompli_split_exact([Fraction(v) for v in values], _check_k(k))
    seats = np.zeros(len(values), dtype=np.int64)
    if split.nonpersistent_stake > 0:
        rest = [values[i] for i in split.nonpersistent.tolist()]
        seats[split.nonpersistent] = draw_committee(rest, split.nonpersistent_seats, seed)
    return FaitAccompliCommittee(split=split, seats=seats)


@dataclass(frozen=True)
class SchemeStats:
    """Adversary's committee vote share under one scheme (Monte Carlo and exact)."""

    scheme: str
    stake_share: float
    mean_share: float
    std_share: float
    p_exceed: float
    """Monte Carlo ``P(share >= 1/3)``."""
    p_exceed_exact: float
    persistent_seats: int
    trials: int
    seed: int


def _coalition_indices(adversary: Sequence[int] | npt.ArrayLike, n: int) -> list[int]:
    idx = np.asarray(adversary)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError("adversary must be a 1-D sequence of participant indices")
    out = [int(i) for i in idx.tolist()]
    if any(not 0 <= i < n for i in out) or len(set(out)) != len(out):
        raise ValueError(f"adversary must hold distinct indices in [0, {n}); got {out}")
    return out


def compare_fait_accompli(
    stakes: npt.ArrayLike,
    k: int,
    adversary: Sequence[int] | npt.ArrayLike,
    *,
    trials: int = 20_000,
    seed: int = 0,
) -> dict[str, SchemeStats]:
    """Adversary's vote share: plain stake-weighted draw vs weighted Fait Accompli.

    Both schemes are sampled ``trials`` times (seeded). The plain draw gives the coalition
    ``X ~ Binomial(k, q)`` of ``k`` equal seats; wFA gives its persistent stake plus
    ``Y ~ Binomial(k - n_1, r)`` fallback seats of weight ``rho_{i*}/(k - n_1)``, where ``r``
    is its share of the non-persistent stake (aggregation of the multinomial draw).
    """
    s = _as_real_stakes(stakes)
    kk = _check_k(k)
    t = _check_int(trials, "trials", 2)
    adv = _coalition_indices(adversary, len(s))
    rng = np.random.default_rng(seed)
    total = sum(s, Fraction(0))
    adv_stake = sum((s[i] for i in adv), Fraction(0))
    q = float(adv_stake / total)

    plain = rng.binomial(kk, q, size=t)
    plain_share = plain / kk
    threshold = -(-kk // 3)  # X >= k/3  <=>  X >= ceil(k/3)
    out = {
        "stake-weighted draw": SchemeStats(
            scheme="stake-weighted draw",
            stake_share=q,
            mean_share=float(plain_share.mean()),
            std_share=float(plain_share.std(ddof=1)),
            p_exceed=float(np.mean(plain >= threshold)),
            p_exceed_exact=exact_tail_probability(q, kk),
            persistent_seats=0,
            trials=t,
            seed=seed,
        )
    }

    split = _fait_accompli_split_exact(s, kk)
    adv_set = set(adv)
    persistent_adv = sum((s[i] for i in split.persistent.tolist() if i in adv_set), Fraction(0))
    rho = split.nonpersistent_stake
    n2 = split.nonpersistent_seats
    if rho > 0:
        r = float(
            sum((s[i] for i in split.nonpersistent.tolist() if i in adv_set), Fraction(0)) / rho
        )
        y = rng.binomial(n2, r, size=t)
        # share >= 1/3  <=>  Y >= (total/3 - persistent_adv) * n2 / rho, exactly.
        need = math.ceil((total / 3 - persistent_adv) * n2 / rho)
        fa_share = (float(persistent_adv) + y * float(split.seat_weight)) / float(total)
        fa_exceed = float(np.mean(y >= need))
        fa_exact = 1.0 if need <= 0 else float(stats.binom.sf(need - 1, n2, r))
    else:
        fa_share = np.full(t, float(persistent_adv / total))
        fa_exceed = fa_exact = 1.0 if 3 * persistent_adv >= total else 0.0
    out["weighted Fait Accompli"] = SchemeStats(
        scheme="weighted Fait Accompli",
        stake_share=q,
        mean_share=float(fa_share.mean()),
        std_share=float(fa_share.std(ddof=1)),
        p_exceed=fa_exceed,
        p_exceed_exact=fa_exact,
        persistent_seats=int(split.persistent.size),
        trials=t,
        seed=seed,
    )
    return out


def synthetic_stakes(
    dist: Literal["pareto", "exponential", "uniform", "equal"],
    n: int,
    *,
    seed: int = 0,
    pareto_shape: float = 1.16,
    scale: int = 1_000_000,
) -> IntArray:
    """Integer stake distributions for experiments; ``pareto`` is heavy-tailed (shape 1.16
    is the "80/20" tail). Values are ``>= 1`` and scaled by ``scale``."""
    nn = _check_k(n, "n")
    if not (math.isfinite(pareto_shape) and pareto_shape > 0):
        raise ValueError(f"pareto_shape must be positive; got {pareto_shape}")
    rng = np.random.default_rng(seed)
    if dist == "pareto":
        raw = rng.pareto(pareto_shape, nn) + 1.0
    elif dist == "exponential":
        raw = rng.exponential(1.0, nn)
    elif dist == "uniform":
        raw = rng.uniform(0.0, 1.0, nn)
    elif dist == "equal":
        raw = np.ones(nn)
    else:
        raise ValueError(f"dist must be pareto, exponential, uniform or equal; got {dist!r}")
    return np.maximum(np.rint(raw * scale), 1).astype(np.int64)


def top_stake_coalition(stakes: npt.ArrayLike, f: int) -> IntArray:
    """The paper's worst case: the ``f`` largest stakeholders."""
    s = _as_real_stakes(stakes)
    ff = _check_f(f, len(s))
    return np.asarray(_descending_order(s)[:ff], dtype=np.int64)


def _greedy_coalition(s: list[Fraction], order: list[int], share: float) -> IntArray:
    if not (math.isfinite(share) and 0.0 < share < 1.0):
        raise ValueError(f"share must be in (0, 1); got {share!r}")
    budget = Fraction(share) * sum(s, Fraction(0))
    chosen: list[int] = []
    acc = Fraction(0)
    for i in order:
        if acc + s[i] <= budget:
            chosen.append(i)
            acc += s[i]
    return np.asarray(sorted(chosen), dtype=np.int64)


def tail_stake_coalition(stakes: npt.ArrayLike, share: float) -> IntArray:
    """Smallest stakeholders, smallest first, while their total stays ``<= share`` of all."""
    s = _as_real_stakes(stakes)
    return _greedy_coalition(s, _descending_order(s)[::-1], share)


def random_stake_coalition(stakes: npt.ArrayLike, share: float, seed: int = 0) -> IntArray:
    """Random stakeholders (seeded order) while their total stays ``<= share`` of all."""
    s = _as_real_stakes(stakes)
    order = np.random.default_rng(seed).permutation(len(s)).tolist()
    return _greedy_coalition(s, order, share)


# --------------------------------------------------------------------------------------------
# 9. Command line
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T")


def _parse_list(kind: Callable[[str], _T], what: str) -> Callable[..., list[_T]]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> list[_T]:
        if value is None:
            return []
        try:
            items = [kind(v.strip()) for v in value.split(",") if v.strip()]
        except ValueError as exc:
            raise click.BadParameter(f"expected comma-separated {what}; got {value!r}") from exc
        if not items:
            raise click.BadParameter(f"expected at least one {what[:-1]}")
        return items

    return callback


_float_list = _parse_list(float, "numbers")
_int_list = _parse_list(int, "integers")


def _run(fn: Callable[[], _T]) -> _T:
    """Turn library ValueErrors into clean click errors (``Error: ...``, exit status 1)."""
    try:
        return fn()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _console() -> Console:
    console = Console(highlight=False, markup=False)  # labels like E[p_i|X] are not markup
    if not console.is_terminal:  # pipes and CliRunner: do not squeeze tables into 80 columns
        console.width = max(console.width, 120)
    return console


@click.group(name="committee", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Stake-weighted committees (papers/bayesian-committee-selection.md).

    Dirichlet-multinomial seat moments (eqs. 4-5), BFT thresholds (Algorithm 1), committee
    sizes (Algorithms 3-4), posterior inference for alpha, verifiable seeded draws and a
    comparison with weighted Fait Accompli.
    """


_alpha_option = click.option(
    "--alpha",
    required=True,
    callback=_float_list,
    help="Dirichlet parameters / stakes, comma-separated (e.g. 1,2,3).",
)


@command.command()
@_alpha_option
@click.option("--k", type=int, required=True, help="Committee size (seats, with replacement).")
@click.option(
    "--mc",
    type=int,
    default=0,
    show_default=True,
    help="Also run this many Monte Carlo committees (p ~ Dir(alpha), X ~ Mult(k, p)).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --mc.")
def seats(alpha: list[float], k: int, mc: int, seed: int) -> None:
    """Expected seats and their variance per participant (paper eqs. 4-5)."""
    mean = _run(lambda: expected_seats(alpha, k))
    var = seat_variance(alpha, k)
    table = Table(title=f"Dirichlet-multinomial seats, k = {k}")
    for col in ("i", "alpha_i", "E[X_i]", "Var(X_i)", "sd"):
        table.add_column(col, justify="right")
    sim = None
    if mc:
        sim = _run(lambda: simulate_seats(alpha, k, mc, seed))
        table.add_column("MC mean", justify="right")
        table.add_column("MC var", justify="right")
    for i, a in enumerate(alpha):
        row = [str(i), f"{a:g}", f"{mean[i]:.4f}", f"{var[i]:.4f}", f"{math.sqrt(var[i]):.4f}"]
        if sim is not None:
            row += [f"{sim[:, i].mean():.4f}", f"{sim[:, i].var(ddof=1):.4f}"]
        table.add_row(*row)
    console = _console()
    console.print(table)
    if sim is not None:
        console.print(f"Monte Carlo: {mc} committees, seed {seed}")


@command.command()
@_alpha_option
@click.option("--k", type=int, required=True, help="Committee size.")
@click.option(
    "--byzantine",
    type=int,
    default=None,
    help="m_s: top-stake participants assumed Byzantine; also runs Algorithm 3 for k.",
)
@click.option(
    "--fraction",
    type=float,
    default=1 / 3,
    show_default="1/3",
    help="Byzantine fraction f for Algorithm 3.",
)
@click.option(
    "--mode",
    type=click.Choice(["apportioned", "expected"]),
    default="apportioned",
    show_default=True,
    help="Algorithm 3 with whole (largest-remainder) seats or literal expected seats.",
)
def bft(alpha: list[float], k: int, byzantine: int | None, fraction: float, mode: str) -> None:
    """Largest tolerable top-stake coalitions (Algorithm 1) and Algorithm 3's k."""
    res = _run(lambda: bft_thresholds(alpha, k))
    table = Table(title=f"Algorithm 1, k = {k}")
    for col in ("rank m", "participant", "E[X]_(m)", "C(m)", "C(m)/k"):
        table.add_column(col, justify="right")
    for m in range(len(alpha)):
        table.add_row(
            str(m + 1),
            str(int(res.order[m])),
            f"{res.expected_sorted[m]:.3f}",
            f"{res.cumulative[m]:.3f}",
            f"{res.cumulative[m] / k:.4f}",
        )
    console = _console()
    console.print(table)
    console.print(f"max Byzantine participants for safety   (C < k/3):  {res.max_byzantine_safety}")
    console.print(
        f"max Byzantine participants for liveness (C < 2k/3): {res.max_byzantine_liveness}"
    )
    if byzantine is not None:
        seats_mode: Literal["expected", "apportioned"] = (
            "expected" if mode == "expected" else "apportioned"
        )
        k_opt = _run(lambda: optimal_committee_size(alpha, byzantine, f=fraction, seats=seats_mode))
        console.print(
            f"Algorithm 3 ({mode} seats): smallest k tolerating the top {byzantine} = {k_opt}"
        )


@command.command()
@_alpha_option
@click.option("--f", "f", type=int, required=True, help="Byzantine participants (top f by stake).")
@click.option("--eps", type=float, default=1e-6, show_default=True, help="Failure tolerance.")
@click.option(
    "--validate",
    is_flag=True,
    help="Check k_min by exact binomial tails and a seeded simulation of the seat draws.",
)
@click.option("--trials", type=int, default=200_000, show_default=True, help="Simulation trials.")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
def kmin(alpha: list[float], f: int, eps: float, validate: bool, trials: int, seed: int) -> None:
    """Chernoff committee size k_min (Algorithm 4), optionally validated by simulation."""
    k_min = _run(lambda: chernoff_committee_size(alpha, f, eps))
    q = adversary_share(alpha, f)
    table = Table(title="Algorithm 4")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("top-f share q (eq. 26)", f"{q:.6f}")
    table.add_row("delta = 1/(3q) - 1 (eq. 32)", f"{1 / (3 * q) - 1:.6f}")
    table.add_row("k_min (eq. 34)", str(k_min))
    table.add_row("Chernoff bound at k_min", f"{chernoff_tail_bound(q, k_min):.3e}")
    table.add_row("exact P(X_b >= k/3) at k_min", f"{exact_tail_probability(q, k_min):.3e}")
    table.add_row("floor under p ~ Dir(alpha)", f"{dirichlet_tail_floor(alpha, f):.3e}")
    if validate:
        v = _run(lambda: validate_chernoff(alpha, f, eps, trials=trials, seed=seed))
        table.add_row("simulated P at k_min", f"{v.simulated_at_k_min:.3e} ± {v.simulated_se:.1e}")
        table.add_row("smallest k, exact binomial", str(v.smallest_exact_k))
        table.add_row("first simulated k accepted", str(v.search.first_k))
        table.add_row("smallest simulated k (stable)", str(v.search.stable_k))
        table.add_row("k_min / simulated k", f"{v.ratio:.2f}")
        table.add_row("simulation", f"{trials} trials, seed {seed}")
    console = _console()
    console.print(table)
    if dirichlet_tail_floor(alpha, f) > eps:
        console.print(
            "note: k_min assumes p = alpha/sum(alpha) (a stake-weighted lottery); if p itself "
            "is drawn from Dir(alpha), P(X_b >= k/3) stays above the floor for every k"
        )


def _parse_counts(value: str) -> list[list[int]]:
    try:
        rows = [[int(v) for v in row.split(",")] for row in value.split(";") if row.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"expected rows like '5,10,7;5,10,8'; got {value!r}") from exc
    if not rows or len({len(r) for r in rows}) != 1:
        raise click.BadParameter("all committee rows must have the same number of participants")
    return rows


_PAPER_COUNTS = "5,10,7,13,15;5,10,8,12,15;8,12,15,8,7"


@command.command()
@click.option(
    "--counts",
    default=_PAPER_COUNTS,
    show_default=True,
    help="Observed seat counts, committees separated by ';' (default: the paper's Listing 1).",
)
@click.option(
    "--prior-alpha",
    callback=_float_list,
    default=None,
    help="Dirichlet prior for the conjugate update (default: all ones).",
)
@click.option("--shape", type=float, default=2.0, show_default=True, help="Gamma prior shape.")
@click.option("--rate", type=float, default=1.0, show_default=True, help="Gamma prior rate.")
@click.option("--draws", type=int, default=2000, show_default=True, help="Recorded MCMC sweeps.")
@click.option("--tune", type=int, default=1000, show_default=True, help="Tuning sweeps.")
@click.option("--seed", type=int, default=0, show_default=True, help="MCMC seed.")
@click.option("--shared-p", is_flag=True, help="One p for all committees (paper's Listing 1).")
def posterior(
    counts: str,
    prior_alpha: list[float],
    shape: float,
    rate: float,
    draws: int,
    tune: int,
    seed: int,
    shared_p: bool,
) -> None:
    """Conjugate Dirichlet posterior for p (eqs. 6-7) and MCMC for alpha (Gamma prior)."""
    rows = np.asarray(_parse_counts(counts), dtype=np.int64)
    n = rows.shape[1]
    prior = prior_alpha or [1.0] * n
    post = _run(lambda: dirichlet_posterior(prior, rows))
    fit = _run(
        lambda: fit_alpha_mcmc(
            rows, shape=shape, rate=rate, draws=draws, tune=tune, seed=seed, shared_p=shared_p
        )
    )
    lo, hi = fit.interval(0.95)
    k = int(rows.sum(axis=1).max())
    seats_post = fit.expected_seats(k)
    table = Table(title=f"{rows.shape[0]} committees of {n} participants")
    for col in ("i", "alpha_post", "E[p_i|X]", "alpha mean", "95% interval", f"E[X_i], k={k}"):
        table.add_column(col, justify="right")
    for i in range(n):
        table.add_row(
            str(i),
            f"{post[i]:g}",
            f"{post[i] / post.sum():.4f}",
            f"{fit.mean()[i]:.3f}",
            f"[{lo[i]:.3f}, {hi[i]:.3f}]",
            f"{seats_post[i]:.2f}",
        )
    console = _console()
    console.print(table)
    console.print(
        f"MCMC: acceptance {fit.acceptance_rate:.3f}, {draws} draws after {tune} tuning "
        f"sweeps, seed {seed}, prior Gamma({shape:g}, rate {rate:g})"
    )


@command.command()
@click.option(
    "--decision", type=int, required=True, help="Previous agreement's decision (e.g. -1 or 1)."
)
@click.option("--instance", type=int, required=True, help="Agreement instance number (>= 0).")
@click.option(
    "--sig", "sigs", multiple=True, required=True, help="A member's signature, hex (repeatable)."
)
def seed(decision: int, instance: int, sigs: tuple[str, ...]) -> None:
    """Public seed (hex) from the previous decision, instance and members' signatures."""
    try:
        raw = [bytes.fromhex(s) for s in sigs]
    except ValueError as exc:
        raise click.BadParameter("signatures must be hex strings", param_hint="--sig") from exc
    click.echo(_run(lambda: public_seed(decision, instance, raw)).hex())


def _seed_from_hex(ctx: click.Context, param: click.Parameter, value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise click.BadParameter(f"not a hex string: {value!r}") from exc
    if not 16 <= len(raw) <= 64:
        raise click.BadParameter(f"seed must be 16..64 bytes; got {len(raw)}")
    return raw


_stakes_option = click.option(
    "--stakes", required=True, callback=_int_list, help="Integer stakes, comma-separated."
)
_seed_hex_option = click.option(
    "--seed-hex", required=True, callback=_seed_from_hex, help="Public seed, hex (16-64 bytes)."
)


@command.command()
@_stakes_option
@click.option("--k", type=int, required=True, help="Seats to draw (with replacement).")
@_seed_hex_option
@click.option(
    "--fait-accompli", is_flag=True, help="Weighted Fait Accompli instead of a plain draw."
)
def draw(stakes: list[int], k: int, seed_hex: bytes, fait_accompli: bool) -> None:
    """Verifiable stake-weighted committee from a public seed."""
    total = sum(stakes)
    console = _console()
    if fait_accompli:
        fa = _run(lambda: draw_fait_accompli(stakes, k, seed_hex))
        weights = fa.weights(stakes)
        persistent = set(fa.split.persistent.tolist())
        table = Table(title=f"weighted Fait Accompli, k = {k}")
        for col in ("i", "stake", "kind", "seats", "vote weight"):
            table.add_column(col, justify="right")
        for i, s in enumerate(stakes):
            kind = "persistent" if i in persistent else "drawn"
            n_seats = 1 if i in persistent else int(fa.seats[i])
            table.add_row(str(i), str(s), kind, str(n_seats), f"{weights[i] / total:.4f}")
        console.print(table)
        console.print(
            f"{len(persistent)} persistent seats, {fa.split.nonpersistent_seats} drawn seats"
        )
        return
    counts = _run(lambda: draw_committee(stakes, k, seed_hex))
    table = Table(title=f"stake-weighted draw, k = {k}")
    for col in ("i", "stake", "stake share", "seats", "E[seats]"):
        table.add_column(col, justify="right")
    for i, s in enumerate(stakes):
        table.add_row(str(i), str(s), f"{s / total:.4f}", str(counts[i]), f"{k * s / total:.2f}")
    console.print(table)
    console.print("seats: " + ",".join(str(int(c)) for c in counts))


@command.command()
@_stakes_option
@click.option("--k", type=int, required=True, help="Committee size.")
@_seed_hex_option
@click.option("--seats", "claimed", required=True, callback=_int_list, help="Claimed seat counts.")
def verify(stakes: list[int], k: int, seed_hex: bytes, claimed: list[int]) -> None:
    """Check a claimed committee against the seed; exit status 1 if it does not match."""
    ok = _run(lambda: verify_committee(stakes, k, seed_hex, np.asarray(claimed, dtype=np.int64)))
    if not ok:
        raise click.ClickException("committee does NOT match the seed")
    click.echo("committee matches the seed")


@command.command()
@click.option(
    "--dist",
    type=click.Choice(["pareto", "exponential", "uniform", "equal"]),
    default="pareto",
    show_default=True,
    help="Synthetic stake distribution (ignored with --stakes).",
)
@click.option("--stakes", callback=_int_list, default=None, help="Explicit integer stakes.")
@click.option("--n", type=int, default=300, show_default=True, help="Participants.")
@click.option("--k", type=int, default=100, show_default=True, help="Committee size.")
@click.option(
    "--adversary",
    type=click.Choice(["top", "tail", "random"]),
    default="top",
    show_default=True,
    help="top: the f largest stakes; tail: the smallest stakes up to --share; "
    "random: random parties up to --share.",
)
@click.option("--f", "f", type=int, default=3, show_default=True, help="Coalition size for top.")
@click.option(
    "--share", type=float, default=0.25, show_default=True, help="Stake share for tail/random."
)
@click.option("--pareto-shape", type=float, default=1.16, show_default=True, help="Pareto tail.")
@click.option("--trials", type=int, default=20_000, show_default=True, help="Monte Carlo trials.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (stakes and draws).")
def compare(
    dist: Literal["pareto", "exponential", "uniform", "equal"],
    stakes: list[int],
    n: int,
    k: int,
    adversary: str,
    f: int,
    share: float,
    pareto_shape: float,
    trials: int,
    seed: int,
) -> None:
    """Adversary's vote share: plain stake-weighted draw vs weighted Fait Accompli."""

    def go() -> tuple[dict[str, SchemeStats], int, str]:
        s = (
            np.asarray(stakes, dtype=np.int64)
            if stakes
            else synthetic_stakes(dist, n, seed=seed, pareto_shape=pareto_shape)
        )
        if adversary == "top":
            adv = top_stake_coalition(s, f)
        elif adversary == "tail":
            adv = tail_stake_coalition(s, share)
        else:
            adv = random_stake_coalition(s, share, seed)
        label = "explicit stakes" if stakes else f"{dist} stakes"
        return compare_fait_accompli(s, k, adv, trials=trials, seed=seed), int(adv.size), label

    res, n_adv, label = _run(go)
    table = Table(title=f"{label}, n = {len(stakes) or n}, k = {k}, {adversary} coalition")
    for col in ("scheme", "persistent", "stake share", "mean share", "sd", "P(>=1/3) MC", "exact"):
        table.add_column(col, justify="right")
    for st in res.values():
        table.add_row(
            st.scheme,
            str(st.persistent_seats),
            f"{st.stake_share:.4f}",
            f"{st.mean_share:.4f}",
            f"{st.std_share:.4f}",
            f"{st.p_exceed:.2e}",
            f"{st.p_exceed_exact:.2e}",
        )
    console = _console()
    console.print(table)
    console.print(f"coalition of {n_adv} participants; {trials} trials, seed {seed}")
