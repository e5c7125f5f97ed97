"""Blacklisting by fractional matching: HPZ §3.3, Algorithms 3 and 4, Lemma 11.

Theory of operation
-------------------
After each epoch of T iterations a player p turns its view of the even blackboards into new
weights (HPZ Algorithm 3, "Weight-Update"):

1. ``correlation_scores``: S[i, j] = sum_t X_i(t) X_j(t) over the clipped column sums of the
   epoch's even blackboards, in exact integer arithmetic; corr(i, j) = w_i w_j S[i, j] (§3.2).
2. ``excess_capacities``: the excess correlation graph H (§3.3, "Excess Graph") with vertex
   capacities c_V(i) = w_i and edge capacities
   c_E(i, j) = 8 / (eps^2 f m T) * max(0, -corr(i, j) - w_i w_j beta).
   Lemma 5(1) says two good players have -corr(i, j) <= w_i w_j beta w.h.p., so every edge
   with positive capacity has at least one Byzantine endpoint.
3. ``rising_tide``: HPZ Algorithm 4 computes a maximal fractional matching mu of H by raising
   every unsaturated edge in lockstep and freezing an edge as soon as it or one of its
   endpoints saturates.
4. ``local_weights``: w_i^(p) = w_i - sum_j mu(i, j). Every matched unit of weight is taken
   from both endpoints of an edge that has a Byzantine endpoint, which is why Invariant 1
   (``invariant1_holds``) survives the update.
5. ``consensus_weight``: everybody adopts player i's own local weight for i, rounded down to 0
   at or below w_min (Algorithm 3 line 6).

Why Rising Tide and not greedy: different good players see blackboards that differ in at most
f cells, so their graphs H^(p), H^(q) differ slightly. Lemma 11 (HPZ22 Lemma 13) bounds the
L1 distance of the residual capacities c_V - sum_j mu by eta_V + 2 eta_E; greedy matchings
have no such Lipschitz bound. The proof of Lemma 12 relies on it to keep local views within
w_min of each other.

Exactness
---------
The consensus weight of player i is *i's* local weight, which every other player recomputes
from i's view (HPZ §3.3, "Rounding Weights Down"). That only works if the recomputation is
bit-identical on every machine, so Rising Tide must not depend on the order of float
reductions, on BLAS, or on libm. Hence:

* weights and capacities live on the fixed-point grid 2**-WEIGHT_BITS. ``to_fixed`` computes
  floor(x * 2**48), which is exact for float64 x in [0, 32) (scaling by a power of two is
  exact, and the result is an integer below 2**53); ``from_fixed`` divides by 2**48, which is
  exact for integers below 2**53;
* capacities are clipped to [0, 1] before conversion. Clipping edge capacities at 1 does not
  change the matching, because mu(i, j) <= c_V(i) <= 1 anyway;
* the algorithm itself (``rising_tide_fixed``) runs on int64 numpy arrays: elementwise integer
  operations and integer sums are exact whatever the summation order;
* ``excess_capacities`` uses only elementwise float operations, which IEEE-754 rounds
  correctly, hence deterministically; ``invariant1_slack`` uses math.fsum.

On the grid Rising Tide cannot split an ulp: a vertex with slack s and d active edges can give
each of them at most floor(s / d) more ulps, so it counts as saturated once floor(s / d) == 0,
leaving fewer than d ulps unused. This is exactly the continuous algorithm run on vertex
capacities lowered by those leftovers (< n ulps each), so feasibility is exact, maximality
holds up to fewer than n ulps per vertex, and Lemma 11 holds up to 2 n^2 ulps in total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = [
    "WEIGHT_BITS",
    "WEIGHT_ONE",
    "consensus_weight",
    "correlation_scores",
    "excess_capacities",
    "from_fixed",
    "invariant1_holds",
    "invariant1_slack",
    "local_weights",
    "rising_tide",
    "rising_tide_fixed",
    "to_fixed",
    "update_weights",
]

WEIGHT_BITS = 48
WEIGHT_ONE = 1 << WEIGHT_BITS

# Values below 32 keep floor(x * 2**48) below 2**53, where float64 still holds every integer,
# so both directions of the conversion are exact.
_FIXED_LIMIT = 32.0
_EXACT_INT_LIMIT = 1 << 53
_INT64_MAX = int(np.iinfo(np.int64).max)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- fixed point


def to_fixed(x: npt.ArrayLike) -> IntArray:
    """floor(x * 2**48) as int64; exact for every float64 in [0, 32), anything else is refused."""
    arr = _as_float(x, "x")
    if np.any(arr >= _FIXED_LIMIT):
        raise ValueError(f"x has entries >= {_FIXED_LIMIT:g}, outside the exact fixed-point range")
    return np.floor(arr * float(WEIGHT_ONE)).astype(np.int64)


def from_fixed(x: npt.ArrayLike) -> FloatArray:
    """x / 2**48 as float64; exact for integers of magnitude below 2**53."""
    arr = _as_int64(x, "x")
    if arr.size and int(np.max(np.abs(arr))) >= _EXACT_INT_LIMIT:
        raise ValueError("x has entries of magnitude >= 2**53, which float64 cannot hold exactly")
    return arr.astype(np.float64) / float(WEIGHT_ONE)


# --------------------------------------------------------------------------- rising tide


def rising_tide(c_v: npt.ArrayLike, c_e: npt.ArrayLike) -> FloatArray:
    """HPZ Algorithm 4 on float capacities, computed exactly on the 2**-48 grid.

    ``c_v`` has shape (n,), ``c_e`` shape (n, n), symmetric with a zero diagonal; entries must
    be non-negative and not NaN (+inf is allowed and, like everything above 1, clipped to 1).
    Returns mu of shape (n, n): float64, symmetric, zero diagonal, every entry on the grid.
    """
    cv = _as_float(c_v, "c_v")
    ce = _as_float(c_e, "c_e")
    _check_graph_shapes(cv, ce)
    _check_symmetric_zero_diagonal(ce, "c_e")
    cv_fixed = to_fixed(np.clip(cv, 0.0, 1.0))
    ce_fixed = to_fixed(np.clip(ce, 0.0, 1.0))
    return from_fixed(_rising_tide_core(cv_fixed, ce_fixed))


def rising_tide_fixed(c_v_fixed: npt.ArrayLike, c_e_fixed: npt.ArrayLike) -> IntArray:
    """HPZ Algorithm 4 in integer ulps: the deterministic core of ``rising_tide``.

    Inputs are non-negative integers (any scale; ``rising_tide`` uses 2**-48 ulps). Returns the
    int64 matching, symmetric with a zero diagonal.
    """
    cv = _as_int64(c_v_fixed, "c_v_fixed")
    ce = _as_int64(c_e_fixed, "c_e_fixed")
    _check_graph_shapes(cv, ce, cv_name="c_v_fixed", ce_name="c_e_fixed")
    if np.any(cv < 0):
        raise ValueError("c_v_fixed has negative entries")
    if np.any(ce < 0):
        raise ValueError("c_e_fixed has negative entries")
    _check_symmetric_zero_diagonal(ce, "c_e_fixed")
    return _rising_tide_core(cv, ce)


def _rising_tide_core(cv: IntArray, ce: IntArray) -> IntArray:
    n = cv.shape[0]
    mu = np.zeros((n, n), dtype=np.int64)
    rows, cols = np.triu_indices(n, k=1)
    positive = ce[rows, cols] > 0
    # Active edges (i < j). All of them sit at the same height `level`, because they started
    # at 0 and have only ever been raised together; frozen edges keep the level they froze at.
    act_i = rows[positive].astype(np.intp)
    act_j = cols[positive].astype(np.intp)
    act_cap = ce[act_i, act_j]
    frozen = np.zeros(n, dtype=np.int64)  # per vertex: total mu on its frozen edges
    level = 0
    while act_i.size:
        deg = (np.bincount(act_i, minlength=n) + np.bincount(act_j, minlength=n)).astype(np.int64)
        # Never negative, and no overflow: frozen + level * deg is the vertex's load <= c_V.
        slack = cv - frozen - level * deg
        touched = deg > 0
        # The grid version of "largest feasible epsilon": every active edge must gain the same
        # whole number of ulps, so a vertex can afford floor(slack / deg) per edge.
        step = min(int(act_cap.min()) - level, int((slack[touched] // deg[touched]).min()))
        level += step
        slack -= step * deg
        # A vertex that cannot give one more ulp to each active edge is saturated. Every round
        # removes at least one edge (the one or the vertex that bounded `step`), so there are
        # at most n(n-1)/2 rounds; usually far fewer, since a saturating vertex takes all its
        # edges along.
        saturated = touched & (slack < deg)
        done = (act_cap == level) | saturated[act_i] | saturated[act_j]
        if np.any(done):
            done_i, done_j = act_i[done], act_j[done]
            mu[done_i, done_j] = level
            frozen += level * (
                np.bincount(done_i, minlength=n) + np.bincount(done_j, minlength=n)
            ).astype(np.int64)
            keep = ~done
            act_i, act_j, act_cap = act_i[keep], act_j[keep], act_cap[keep]
    return mu + mu.T


# --------------------------------------------------------------------------- the excess graph


def correlation_scores(x: npt.ArrayLike) -> IntArray:
    """S = x.T @ x in exact int64: S[i, j] = sum_t X_i(t) X_j(t), corr(i, j) = w_i w_j S[i, j].

    ``x`` is the (T, n) integer array of clipped column sums of one epoch's even blackboards.
    """
    arr = _as_int64(x, "x")
    if arr.ndim != 2:
        raise ValueError(f"x must have shape (T, n), got shape {arr.shape}")
    if arr.size:
        # Each entry of S is a sum of T products bounded by max|X|^2; refuse what could wrap.
        bound = arr.shape[0] * int(np.max(np.abs(arr))) ** 2
        if bound > _INT64_MAX:
            raise ValueError("x is too large: sum_t X_i(t) X_j(t) could overflow int64")
    # Integer matmul in numpy is a plain loop (no BLAS) and integer addition is associative,
    # so the result is exact and identical everywhere.
    return arr.T @ arr


def excess_capacities(
    s: npt.ArrayLike,
    w: npt.ArrayLike,
    *,
    eps: float,
    f: int,
    m: int,
    T: int,
    beta: float,
) -> FloatArray:
    """Edge capacities of the excess correlation graph (HPZ §3.3), zero diagonal.

    c_E(i, j) = 8 / (eps^2 f m T) * max(0, -corr(i, j) - w_i w_j beta), corr = w_i w_j S.
    """
    s_arr = _as_int64(s, "s")
    weights = _as_weights(w, "w")
    n = weights.shape[0]
    if s_arr.shape != (n, n):
        raise ValueError(f"s must have shape (n, n) = ({n}, {n}) to match w, got {s_arr.shape}")
    if not np.array_equal(s_arr, s_arr.T):
        raise ValueError("s must be symmetric")
    if s_arr.size and int(np.max(np.abs(s_arr))) >= _EXACT_INT_LIMIT:
        raise ValueError("s has entries of magnitude >= 2**53, which float64 cannot hold exactly")
    for name, value in (("eps", eps), ("beta", beta)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if eps <= 0:
        raise ValueError(f"eps must be positive (eps = n/f - 3), got {eps!r}")
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta!r}")
    for name, ivalue in (("f", f), ("m", m), ("T", T)):
        if ivalue < 1:
            raise ValueError(f"{name} must be a positive integer, got {ivalue!r}")
    scale = 8.0 / (eps * eps * f * m * T)
    # Elementwise only: each entry sees the same correctly rounded operations in the same
    # order on every machine. w_i * w_j == w_j * w_i exactly, so the result stays symmetric.
    ww = weights[:, None] * weights[None, :]
    corr = ww * s_arr.astype(np.float64)
    # The sign: Algorithm 3 and the "Excess Graph" paragraph print +corr(i, j), but Lemma 5,
    # the text of §3.3 ("if a correlation score -corr(i, j) is too large") and the proof of
    # Lemma 12 are about *negative* correlations, which is what an adversary steering the coin
    # against the good players produces. We therefore use -corr(i, j).
    excess = -corr - ww * beta
    # np.where, not np.maximum, so that the non-positive case is a clean +0.0 (never -0.0).
    cap = np.where(excess > 0.0, scale * excess, 0.0)
    np.fill_diagonal(cap, 0.0)
    return cap.astype(np.float64)


# --------------------------------------------------------------------------- weights


def local_weights(w: npt.ArrayLike, mu: npt.ArrayLike) -> FloatArray:
    """w_i - sum_j mu(i, j) in exact fixed point, clamped at 0, returned on the 2**-48 grid."""
    weights = _as_weights(w, "w")
    n = weights.shape[0]
    mu_arr = _as_float(mu, "mu")
    if mu_arr.shape != (n, n):
        raise ValueError(f"mu must have shape (n, n) = ({n}, {n}) to match w, got {mu_arr.shape}")
    _check_symmetric_zero_diagonal(mu_arr, "mu")
    remaining = to_fixed(weights) - to_fixed(mu_arr).sum(axis=1, dtype=np.int64)
    return from_fixed(np.maximum(remaining, 0))


def update_weights(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    *,
    eps: float,
    f: int,
    m: int,
    T: int,
    beta: float,
) -> FloatArray:
    """One player's local weight vector from its own view (HPZ Algorithm 3, lines 3-5)."""
    weights = _as_weights(w, "w")
    c_e = excess_capacities(correlation_scores(x), weights, eps=eps, f=f, m=m, T=T, beta=beta)
    return local_weights(weights, rising_tide(weights, c_e))


def consensus_weight(own_local_weight: float, w_min: float) -> float:
    """w_{i,k+1}: player i's own local weight if it exceeds w_min, else 0 (Algorithm 3 line 6)."""
    if math.isnan(own_local_weight) or math.isnan(w_min):
        raise ValueError("consensus_weight got NaN")
    return float(own_local_weight) if own_local_weight > w_min else 0.0


def invariant1_slack(w: npt.ArrayLike, bad: set[int] | frozenset[int], eps: float, f: int) -> float:
    """sum_{bad}(1 - w_i) + eps^4 f - sum_{good}(1 - w_i); Invariant 1 holds iff this is >= 0."""
    weights = _as_float(w, "w")
    if weights.ndim != 1:
        raise ValueError(f"w must have shape (n,), got shape {weights.shape}")
    n = weights.shape[0]
    bad_set = _check_indices(bad, n)
    good_terms = [1.0 - float(weights[i]) for i in range(n) if i not in bad_set]
    bad_terms = [1.0 - float(weights[i]) for i in sorted(bad_set)]
    # fsum is exactly rounded, hence independent of summation order and platform.
    return math.fsum([*bad_terms, eps**4 * f, *(-t for t in good_terms)])


def invariant1_holds(w: npt.ArrayLike, bad: set[int] | frozenset[int], eps: float, f: int) -> bool:
    """HPZ Invariant 1: sum_{good}(1 - w_i) <= sum_{bad}(1 - w_i) + eps^4 f."""
    return invariant1_slack(w, bad, eps, f) >= 0.0


# --------------------------------------------------------------------------- validation


def _as_float(x: npt.ArrayLike, name: str) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers: {exc}") from exc
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries")
    return arr


def _as_int64(x: npt.ArrayLike, name: str) -> IntArray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must have an integer dtype, got {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _INT64_MAX:
        raise ValueError(f"{name} has entries that do not fit in int64")
    return arr.astype(np.int64)


def _as_weights(w: npt.ArrayLike, name: str) -> FloatArray:
    arr = _as_float(w, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (n,), got shape {arr.shape}")
    if np.any(arr > 1.0):
        raise ValueError(f"{name} has entries above 1; weights live in [0, 1]")
    return arr


def _check_graph_shapes(
    cv: npt.NDArray[np.generic],
    ce: npt.NDArray[np.generic],
    *,
    cv_name: str = "c_v",
    ce_name: str = "c_e",
) -> None:
    if cv.ndim != 1:
        raise ValueError(f"{cv_name} must have shape (n,), got shape {cv.shape}")
    n = cv.shape[0]
    if ce.shape != (n, n):
        raise ValueError(
            f"{ce_name} must have shape (n, n) = ({n}, {n}) to match {cv_name}, got {ce.shape}"
        )


def _check_symmetric_zero_diagonal(ce: npt.NDArray[np.generic], name: str) -> None:
    if not np.array_equal(ce, ce.T):
        raise ValueError(f"{name} must be symmetric")
    if np.any(np.diagonal(ce) != 0):
        raise ValueError(f"{name} must have a zero diagonal")


def _check_indices(indices: Iterable[int], n: int) -> frozenset[int]:
    out = frozenset(int(i) for i in indices)
    if any(i < 0 or i >= n for i in out):
        raise ValueError(f"bad contains indices outside range(0, {n})")
    return out
