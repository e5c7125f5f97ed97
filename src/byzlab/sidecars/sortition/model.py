"""Merit-based sortition itself (paper §2): the active set, the EMA quality and its targets.

Source: J. M. D. Kruijssen, R. Valieva, K. Peluso, N. Emmons, S. N. Longmore, "Merit-Based
Sortition in Decentralized Systems" (Allora Foundation, 2024), arXiv:2411.07302.

Each epoch ``i`` the ``N_act`` participants with the highest smoothed quality ``Q_{i-1,j}`` form
the active set ``A_i`` (§2); ties at the cut are broken uniformly at random, and when fewer than
``N_act`` participants have a ``Q`` yet, the rest are drawn at random from the new ones.  Active
participants produce an instantaneous quality ``T_ij``.  Then every present participant's EMA is
updated (Eq. 1), ``Q_ij = α Q̂_ij + (1 − α) Q_{i-1,j}``, towards the target

* ``Q̂_ij = T_ij`` for active participants that contributed (Eq. 2);
* ``Q̂_ij = f_P({T_ij' : j' ∈ A_i})``, the ``P``-th percentile of the active set's instantaneous
  scores, for inactive participants (Eq. 3);
* ``Q̂_ij = min_A(T) − λ_pen σ_A(T)`` for active participants that missed the epoch (Eq. 4,
  ``λ_pen = 2``; ``σ`` is the population standard deviation of the contributed scores).

A participant without an EMA (epoch 0, or newly joined) starts at its first target, ``Q = Q̂``:
Figure 1's inactive participants start *at* the percentile (about −0.05 for P = 20%).  The
percentile is numpy's linear interpolation.  If no active participant contributes in an epoch,
no target exists and the EMAs are left unchanged.

Random sortition, the baseline, draws ``N_act`` present participants uniformly each epoch.  It
is run on the *same* pool and the same ``T_ij`` draws (common random numbers), so the difference
between the two is the selection alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from byzlab.sidecars._checks import _count, _finite, _probability
from byzlab.sidecars.sortition.config import SortitionConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def select_active(
    ema: npt.ArrayLike,
    present: npt.ArrayLike,
    n_active: int,
    rng: np.random.Generator,
) -> BoolArray:
    """Top-``n_active`` present participants by EMA, random tie-breaking (§2).

    ``ema`` is NaN for participants without a quality metric yet; they are ranked after all
    others, in random order.
    """
    q = np.asarray(ema, dtype=np.float64)
    pres = np.asarray(present, dtype=bool)
    if q.shape != pres.shape or q.ndim != 1:
        raise ValueError("ema and present must be 1-D arrays of the same shape")
    n = _count("n_active", n_active, 0)
    idx = np.flatnonzero(pres)
    if idx.size <= n:
        out = np.zeros(q.shape, dtype=bool)
        out[idx] = True
        return out
    qi = q[idx]
    has = ~np.isnan(qi)
    tiebreak = rng.random(idx.size)
    # lexsort: last key is primary. Primary: has-EMA first; then higher EMA; then random.
    order = np.lexsort((tiebreak, -np.where(has, qi, 0.0), ~has))
    out = np.zeros(q.shape, dtype=bool)
    out[idx[order[:n]]] = True
    return out


def target_qualities(
    scores: npt.ArrayLike,
    active: npt.ArrayLike,
    contributed: npt.ArrayLike,
    present: npt.ArrayLike,
    *,
    percentile: float,
    penalty: float = 2.0,
) -> FloatArray:
    """The EMA targets ``Q̂_ij`` of Eqs. 2-4 (NaN where absent or when no one contributed)."""
    t = np.asarray(scores, dtype=np.float64)
    act = np.asarray(active, dtype=bool)
    con = np.asarray(contributed, dtype=bool) & act
    pres = np.asarray(present, dtype=bool)
    if not (t.shape == act.shape == con.shape == pres.shape) or t.ndim != 1:
        raise ValueError("scores, active, contributed and present must be 1-D, same shape")
    p = _finite("percentile", percentile)
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile!r}")
    return _targets(t, act, con, pres, p, _finite("penalty", penalty))


def _percentile_linear(sorted_values: FloatArray, p: float) -> float:
    """``np.percentile(x, p)`` (linear interpolation) for an already sorted ``x``."""
    pos = p / 100.0 * (sorted_values.size - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, sorted_values.size - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def _targets(
    t: FloatArray, act: BoolArray, con: BoolArray, pres: BoolArray, p: float, penalty: float
) -> FloatArray:
    target = np.full(t.shape, np.nan)
    tc = np.sort(t[con])
    if tc.size == 0:
        return target
    target[pres & ~act] = _percentile_linear(tc, p)  # Eq. 3
    mean = tc.sum() / tc.size
    sd = math.sqrt(float(((tc - mean) ** 2).sum()) / tc.size)
    target[act & ~con] = tc[0] - penalty * sd  # Eq. 4
    target[con] = t[con]  # Eq. 2
    return target


def update_ema(ema: npt.ArrayLike, target: npt.ArrayLike, alpha: float) -> FloatArray:
    """Eq. 1 applied to every participant with a target: ``Q = α Q̂ + (1 − α) Q_prev``.

    A participant without an EMA yet (NaN) starts at its target; one without a target (NaN:
    absent, or no one contributed) keeps its EMA. Returns the new EMA array.
    """
    out = np.array(ema, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if out.shape != t.shape or out.ndim != 1:
        raise ValueError("ema and target must be 1-D arrays of the same shape")
    _update_ema(out, t, _probability("alpha", alpha, open_zero=True))
    return out


def _update_ema(ema: FloatArray, target: FloatArray, alpha: float) -> None:
    upd = ~np.isnan(target)
    fresh = upd & np.isnan(ema)
    ema[fresh] = target[fresh]
    old = upd & ~fresh
    ema[old] = alpha * target[old] + (1.0 - alpha) * ema[old]


@dataclass(frozen=True)
class SortitionRun:
    """One simulated pool; participant arrays are indexed by order of first appearance."""

    config: SortitionConfig
    median_quality: FloatArray  # Q̃_j
    join_epoch: npt.NDArray[np.int64]
    leave_epoch: npt.NDArray[np.int64]  # first epoch no longer present
    ema: FloatArray  # (n_epochs, n) Q_ij after epoch i; NaN when absent / not yet scored
    active: BoolArray  # (n_epochs, n) merit-based active set A_i
    scores: FloatArray  # (n_epochs, n) instantaneous T_ij; NaN when absent
    contributed: BoolArray  # (n_epochs, n) False when the participant missed the epoch
    merit_mean: FloatArray  # 𝒯_i, mean T over contributors of A_i (NaN if none)
    random_mean: FloatArray  # same for random sortition on the same draws
    pool_size: npt.NDArray[np.int64]

    @property
    def active_fraction(self) -> FloatArray:
        """Fraction of the run's epochs each participant spent in the merit-based active set."""
        return np.asarray(self.active.mean(axis=0), dtype=np.float64)


def simulate(config: SortitionConfig, rng: np.random.Generator) -> SortitionRun:
    """Run merit-based and random sortition side by side on one pool (§3)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    c = config
    n_ep = c.n_epochs
    joins = np.zeros(n_ep, dtype=np.int64)
    if c.p_growth > 0 and n_ep > 1:
        joins[1:] = rng.poisson(c.p_growth, n_ep - 1)
    n_total = c.n_init + int(joins.sum())
    join_epoch = np.concatenate(
        [np.zeros(c.n_init, dtype=np.int64), np.repeat(np.arange(n_ep, dtype=np.int64), joins)]
    )
    lifetime = rng.geometric(c.p_attr, n_total).astype(np.int64)
    leave_epoch = np.minimum(join_epoch + lifetime, n_ep + 1)
    median = rng.normal(c.mu_q, c.sigma_q, n_total)

    ema = np.full(n_total, np.nan)
    ema_hist = np.full((n_ep, n_total), np.nan)
    active_hist = np.zeros((n_ep, n_total), dtype=bool)
    score_hist = np.full((n_ep, n_total), np.nan)
    contrib_hist = np.zeros((n_ep, n_total), dtype=bool)
    merit_mean = np.full(n_ep, np.nan)
    random_mean = np.full(n_ep, np.nan)
    pool = np.zeros(n_ep, dtype=np.int64)
    for i in range(n_ep):
        present = (join_epoch <= i) & (i < leave_epoch)
        ema[~present] = np.nan  # departed participants lose their record
        pool[i] = int(present.sum())
        active = select_active(ema, present, c.n_active, rng)
        scores = median + c.volatility * rng.standard_normal(n_total)
        contributed = rng.random(n_total) >= c.p_miss
        target = _targets(scores, active, contributed & active, present, c.percentile, c.penalty)
        _update_ema(ema, target, c.alpha)
        ema_hist[i] = ema
        active_hist[i] = active
        score_hist[i, present] = scores[present]
        contrib_hist[i] = contributed & present
        mc = active & contributed
        if mc.any():
            merit_mean[i] = scores[mc].mean()
        # Random sortition on the same pool and draws.
        idx = np.flatnonzero(present)
        pick = rng.choice(idx, size=min(c.n_active, idx.size), replace=False)
        rc = pick[contributed[pick]]
        if rc.size:
            random_mean[i] = scores[rc].mean()
    return SortitionRun(
        config=c,
        median_quality=median,
        join_epoch=join_epoch,
        leave_epoch=leave_epoch,
        ema=ema_hist,
        active=active_hist,
        scores=score_hist,
        contributed=contrib_hist,
        merit_mean=merit_mean,
        random_mean=random_mean,
        pool_size=pool,
    )
