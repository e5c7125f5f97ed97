"""The §"Collusion" experiment: an honest majority against a disjoint cabal.

An honest group A with stake 0.51 and a disjoint cabal B with 0.49: every weight of A stays
inside A and vice versa, so the ranks summed over a group equal that group's stake, and every
member of a strongly connected group is trusted by exactly its own group's stake.  The paper's
two-group program then gives the cabal's share after blocks 0–4 as 0.48773, 0.48495, 0.48155,
0.47739, 0.47231 (τ = 0.1, temperature 10; :data:`PAPER_CABAL_SHARES`).
:func:`two_group_cabal_share` is that program; :func:`simulate_cabal` runs the same reading of
the mechanism on an explicit random weight matrix (appendix 12.7's block-diagonal
construction, :func:`disjoint_cabal_network`) and reproduces the two-group numbers exactly, for
any within-group stake split, because each group is strongly connected.

Deviations from the paper's appendix code, on purpose: the cabal share is measured over the cabal
peers (the appendix slices ``S[nB:]``, which is the wrong slice when ``nA ≠ nB``); the stake
scaling vector ``A`` and its gradient step (Eq. 6) are not modelled — with an honest majority the
chain loss ``−R · (T − 0.5)`` is negative and the appendix loop only inflates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from byzlab.sidecars._checks import _count, _finite, _nonneg, _positive
from byzlab.sidecars.ranking.mechanism import (
    FloatArray,
    _square,
    _stake_vector,
    connectivity_matrix,
    incentive,
    inflate,
    sigmoid,
)

#: The cabal's stake share after blocks 0-4 as printed in §"Collusion" (stakes 0.51 / 0.49,
#: τ = 0.1, temperature 10), rounded to five decimals.
PAPER_CABAL_SHARES: tuple[float, ...] = (0.48773, 0.48495, 0.48155, 0.47739, 0.47231)


def two_group_cabal_share(
    honest_stake: float = 0.51,
    cabal_stake: float = 0.49,
    *,
    tau: float = 0.1,
    temperature: float = 10.0,
    n_blocks: int = 100,
) -> FloatArray:
    """The §"Collusion" program: the cabal's stake share after each of ``n_blocks`` blocks.

    Group ranks equal group stakes (disjoint groups, rows of ``W`` summing to 1), group trust is
    ``σ(temperature · (share − 0.5))``, and ``τ · ‖S‖`` is minted in proportion to ``I = R · T``.
    """
    a = _nonneg("honest_stake", honest_stake)
    b = _nonneg("cabal_stake", cabal_stake)
    if a + b <= 0:
        raise ValueError("honest_stake + cabal_stake must be > 0")
    t = _nonneg("tau", tau)
    temp = _positive("temperature", temperature)
    n = _count("n_blocks", n_blocks)
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        total = a + b
        trust = sigmoid(temp * (np.array([a, b]) / total - 0.5))
        inc = np.array([a, b]) * trust
        a, b = (float(x) for x in (np.array([a, b]) + t * total * inc / inc.sum()))
        out[k] = b / (a + b)
    return out


def random_weight_matrix(n: int, density: float, rng: np.random.Generator) -> FloatArray:
    """Random non-negative ``n × n`` matrix, each row L1-normalised (appendix 12.7).

    Each entry is non-zero with probability ``density``; a row that comes out empty gets one
    random non-zero entry so every row sums to 1.
    """
    n = _count("n", n, minimum=1)
    d = _finite("density", density)
    if not 0 < d <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    mask = rng.random((n, n)) < d
    empty = ~mask.any(axis=1)
    if empty.any():
        mask[empty, rng.integers(0, n, size=int(empty.sum()))] = True
    w = np.where(mask, rng.random((n, n)), 0.0)
    w = np.where(mask & (w == 0.0), 1e-12, w)
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def disjoint_cabal_network(
    n_honest: int,
    n_cabal: int,
    rng: np.random.Generator,
    *,
    honest_stake: float = 0.51,
    cabal_stake: float = 0.49,
    density: float = 0.9,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Appendix 12.7's network: block-diagonal random ``W``, random stakes per group.

    Returns ``(W, S, cabal_mask)``. Group stakes are split at random across members and sum to
    ``honest_stake`` and ``cabal_stake``.
    """
    na = _count("n_honest", n_honest, minimum=1)
    nb = _count("n_cabal", n_cabal, minimum=1)
    ha = _nonneg("honest_stake", honest_stake)
    cb = _nonneg("cabal_stake", cabal_stake)
    if ha + cb <= 0:
        raise ValueError("honest_stake + cabal_stake must be > 0")
    n = na + nb
    w = np.zeros((n, n))
    w[:na, :na] = random_weight_matrix(na, density, rng)
    w[na:, na:] = random_weight_matrix(nb, density, rng)
    sa = rng.uniform(0.0, 1.0, na) + 1e-12
    sb = rng.uniform(0.0, 1.0, nb) + 1e-12
    s = np.concatenate([sa / sa.sum() * ha, sb / sb.sum() * cb])
    mask = np.zeros(n, dtype=bool)
    mask[na:] = True
    return w, s, mask


def simulate_cabal(
    weights: npt.ArrayLike,
    stake: npt.ArrayLike,
    cabal_mask: npt.ArrayLike,
    *,
    tau: float = 0.1,
    temperature: float = 10.0,
    offset: float = 0.5,
    signed: bool = False,
    depth: int | None = None,
    n_blocks: int = 100,
) -> FloatArray:
    """Run Eqs. 1, 4, 5 on an explicit network; return the cabal's share after each block."""
    s = _stake_vector(stake)
    w = _square(weights, "weights", s.size)
    mask = np.asarray(cabal_mask, dtype=bool)
    if mask.shape != s.shape:
        raise ValueError(f"cabal_mask must have shape {s.shape}, got {mask.shape}")
    n = _count("n_blocks", n_blocks)
    _nonneg("tau", tau)
    c = connectivity_matrix(w, depth=depth, signed=signed)
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        inc = incentive(w, c, s, temperature=temperature, offset=offset)
        s = inflate(s, inc, tau)
        out[k] = s[mask].sum() / s.sum()
    return out
