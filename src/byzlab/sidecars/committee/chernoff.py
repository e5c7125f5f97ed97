"""Committee size from a Chernoff bound (Algorithm 4), checked exactly and by simulation.

Source: R. Jones, "A Bayesian Model for Committee Selection in Blockchain Consensus Protocols"
(April 2025; "the paper"), §11.5 eqs. 26-34, Algorithm 4, Appendix C.

:func:`chernoff_committee_size` is Algorithm 4 line by line:

* line 7: sort ``alpha`` descending;
* line 8: ``q = sum_{i<=f} alpha_(i) / A`` (eq. 26), see :func:`adversary_share`;
* line 9: ``delta = 1/(3q) - 1`` (eq. 32);
* line 10: ``k_min = ceil((2 + delta)(-ln eps) / (delta^2 q))`` (eq. 34).

If ``q >= 1/3`` then ``delta <= 0``: the coalition's *expected* seats already reach ``k/3`` and
no committee size helps, so a ``ValueError`` says so.

What is ``X_b``? The bound eq. 29 is the multiplicative Chernoff bound for a sum of independent
Bernoulli trials. With ``p`` fixed at ``alpha / A`` (the paper's assumption (a) in §11.6) each
of the ``k`` seats lands in the coalition independently with probability ``q``, so
``X_b ~ Binomial(k, q)`` exactly (aggregation property of the multinomial) and the bound holds
for every ``k >= k_min``. :func:`exact_tail_probability` gives that binomial tail and
:func:`smallest_simulated_k` finds, by a seeded simulation of the seat draws, the smallest ``k``
with empirical ``P(X_b >= k/3) <= eps``; :func:`validate_chernoff` puts the two side by side.
Under the full hierarchical model (``p`` random) the coalition's share converges to
``Beta(A_b, A - A_b)`` rather than to ``q``, so ``P(X_b >= k/3)`` has the floor
:func:`dirichlet_tail_floor` that no ``k`` can beat; the Chernoff size is only meaningful when
that floor is below ``eps`` (large concentration ``A``). The paper does not make this
distinction; the simulation supports both models (``model=...``).

The (2 + delta) form of the bound is loose by roughly a factor of two in ``k``: the true
binomial tail decays like ``exp(-k D(1/3 || q))`` and ``D(1/3 || q) > q delta^2 / (2 + delta)``;
at moderate ``eps`` the polynomial prefactor of the exact tail adds more slack. Measured ratios
``k_min / k_simulated`` for ``q`` in [1/12, 1/4]: 1.95-2.47 at ``eps`` = 1e-2 and 1e-3, about
1.75-1.9 at ``eps`` = 1e-6 (see the tests and ``byzlab committee kmin --validate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from byzlab.sidecars.committee.inputs import (
    FloatArray,
    _as_alpha,
    _check_eps,
    _check_f,
    _check_int,
    _check_k,
)

TailModel = Literal["multinomial", "dirichlet-multinomial"]


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
