"""The ranking mechanism: ranks, connectivity, trust, incentive and stake inflation.

*Ranks* (Eq. 1).  Peer ``i`` reports a row ``w_i`` of scores for the other peers; the chain
holds the weight matrix ``W`` and the stake vector ``S`` and computes ``R = Wᵀ S``.

*Inflation* (Eq. 2 and Eq. 5).  Each block mints ``τ · ‖S‖`` new stake, split in proportion to a
score vector: ``S ← S + τ · ‖S‖ · I / ‖I‖`` (``‖·‖`` is the L1 norm; stakes are non-negative).

*Connectivity* (§"Defining Consensus" and appendix 12.7).  ``c_ij`` is the expected number of visits
to ``j`` of a random walk started at ``i`` (the fundamental matrix ``(I − Q)⁻¹`` of the absorbing
chain whose transient part ``Q`` is ``W`` without its diagonal), possibly cut off at depth ``d``.
Only its sign pattern is used: the appendix code maps positive entries to ``+1`` and the rest to
``−1``.  An entry of ``(I − Q)⁻¹ = Σₖ Qᵏ`` is positive exactly when ``j`` is reachable from ``i``
(or ``i = j``), so :func:`connectivity_matrix` computes that reachability pattern directly by
boolean path doubling instead of a pseudo-inverse with a floating-point threshold.

*Trust and incentive* (Eq. 4, Figure 6).  ``T = σ(temperature · (Cᵀ S))`` and ``I = R · T``
(element-wise), with the sigmoid ``σ(x) = 1 / (1 + e⁻ˣ)`` and temperature 10; which offset and
temperature reproduce the paper's numbers is the subject of ``readings``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from byzlab.sidecars._checks import _count, _finite, _nonneg, _positive

FloatArray = npt.NDArray[np.float64]


def _stake_vector(stake: npt.ArrayLike, name: str = "stake") -> FloatArray:
    s = np.asarray(stake, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} must be finite")
    if np.any(s < 0):
        raise ValueError(f"{name} must be non-negative")
    if s.sum() <= 0:
        raise ValueError(f"{name} must have a positive total")
    return s


def _square(matrix: npt.ArrayLike, name: str, n: int | None = None) -> FloatArray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {m.shape}")
    if n is not None and m.shape[0] != n:
        raise ValueError(f"{name} must be {n}x{n} to match stake, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite")
    return m


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    """Logistic function ``1 / (1 + e⁻ˣ)``, evaluated without overflow warnings."""
    a = np.asarray(x, dtype=np.float64)
    out = np.empty_like(a)
    pos = a >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-a[pos]))
    ea = np.exp(a[~pos])
    out[~pos] = ea / (1.0 + ea)
    return out


def rank_scores(weights: npt.ArrayLike, stake: npt.ArrayLike) -> FloatArray:
    """Ranks ``R = Wᵀ S`` (Eq. 1). ``weights[i, j]`` is the score peer ``i`` gives peer ``j``."""
    s = _stake_vector(stake)
    w = _square(weights, "weights", s.size)
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return np.asarray(w.T @ s, dtype=np.float64)


def connectivity_matrix(
    weights: npt.ArrayLike, *, depth: int | None = None, signed: bool = False
) -> FloatArray:
    """Sign pattern of the expected-visit matrix of a random walk on ``W`` (appendix 12.7).

    ``C[i, j]`` is 1 when a walk from ``i`` reaches ``j`` within ``depth`` steps over edges with
    positive weight (``i`` always reaches itself), else 0 — or ``-1`` when ``signed`` is true,
    which is the appendix's ``np.where(C > 0, 1, -1)``. ``depth=None`` means unbounded (the
    absorbing-chain fundamental matrix of the appendix).
    """
    w = _square(weights, "weights")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    n = w.shape[0]
    if depth is not None:
        depth = _count("depth", depth, minimum=0)
    steps = n if depth is None else min(depth, n)
    adj = (w > 0).astype(np.int64)
    np.fill_diagonal(adj, 0)  # the appendix drops self-loops from Q
    # Binary exponentiation of the boolean matrix (I | A): its k-th power is "reachable in at
    # most k steps".
    reach = np.eye(n, dtype=bool)
    power = reach | adj.astype(bool)
    remaining = steps
    while remaining > 0:
        if remaining & 1:
            reach = (reach.astype(np.int64) @ power.astype(np.int64)) > 0
        remaining >>= 1
        if remaining:
            power = (power.astype(np.int64) @ power.astype(np.int64)) > 0
    c = reach.astype(np.float64)
    if signed:
        c = np.where(reach, 1.0, -1.0)
    return c


def trust_scores(
    connectivity: npt.ArrayLike,
    stake: npt.ArrayLike,
    *,
    temperature: float = 10.0,
    offset: float = 0.5,
) -> FloatArray:
    """Trust ``T_i = σ(temperature · ((Cᵀ S)_i / ‖S‖ − offset))`` (Eq. 4, Figure 6).

    With a 0/1 connectivity matrix ``(Cᵀ S)_i / ‖S‖`` is the fraction of stake that trusts peer
    ``i`` and ``offset=0.5`` puts the inflection point at a stake majority (the reading that
    reproduces the paper's numbers). With a ``±1`` matrix use ``offset=0``.
    """
    s = _stake_vector(stake)
    c = _square(connectivity, "connectivity", s.size)
    t = _positive("temperature", temperature)
    off = _finite("offset", offset)
    frac = (c.T @ s) / s.sum()
    return sigmoid(t * (frac - off))


def incentive(
    weights: npt.ArrayLike,
    connectivity: npt.ArrayLike,
    stake: npt.ArrayLike,
    *,
    temperature: float = 10.0,
    offset: float = 0.5,
) -> FloatArray:
    """Incentive ``I = R · T = (Wᵀ S) · σ(…)`` (Eq. 4), element-wise product."""
    r = rank_scores(weights, stake)
    t = trust_scores(connectivity, stake, temperature=temperature, offset=offset)
    return r * t


def inflate(stake: npt.ArrayLike, scores: npt.ArrayLike, tau: float) -> FloatArray:
    """One block of inflation, ``S + τ · ‖S‖ · I / ‖I‖`` (Eq. 5, L1 norms)."""
    s = _stake_vector(stake)
    i = np.asarray(scores, dtype=np.float64)
    if i.shape != s.shape:
        raise ValueError(f"scores must have shape {s.shape}, got {i.shape}")
    if not np.all(np.isfinite(i)) or np.any(i < 0):
        raise ValueError("scores must be finite and non-negative")
    if i.sum() <= 0:
        raise ValueError("scores must have a positive total")
    t = _nonneg("tau", tau)
    return np.asarray(s + t * s.sum() * i / i.sum(), dtype=np.float64)
