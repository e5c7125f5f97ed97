"""The Dirichlet-multinomial seat model: seat moments and the likelihood (paper §2, §4, §5).

Source: R. Jones, "A Bayesian Model for Committee Selection in Blockchain Consensus Protocols"
(April 2025; "the paper"). Section, equation and algorithm numbers are the paper's.

*Seat model* (§2, §4, eqs. 1-2). ``n`` participants, ``k`` seats drawn *with replacement*, so one
participant may hold several seats. Selection probabilities ``p ~ Dirichlet(alpha)`` (eq. 1) and
seat counts ``X | p ~ Multinomial(k, p)`` (eq. 2). Integrating ``p`` out gives the
Dirichlet-multinomial (Pólya) law, eq. 10, implemented by :func:`dirichlet_multinomial_logpmf`.
``alpha`` is proportional to stake; its *scale* ``A = sum(alpha)`` is the concentration: for
``A -> oo`` the model becomes a plain multinomial draw with ``p = alpha / A`` (a stake-weighted
lottery).

*Seat moments* (§5, eqs. 4-5; derivations in Appendices A and B). :func:`expected_seats` is eq.
4, ``E[X_i] = k alpha_i / A``. :func:`seat_variance` is eq. 5 term by term: the expected
multinomial variance ``k (E p_i - E p_i^2)`` plus the variance of the conditional mean
``k^2 Var(p_i)``. It simplifies to the textbook Dirichlet-multinomial variance
``k p_i (1 - p_i) (k + A) / (1 + A)`` with ``p_i = alpha_i / A``. Both are checked against
:func:`simulate_seats` (a Monte Carlo run of eqs. 1-2) in the tests.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from byzlab.sidecars.committee.inputs import FloatArray, IntArray, _as_alpha, _check_int, _check_k


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
