"""Stakes and adversary coalitions for committee experiments.

:func:`synthetic_stakes` draws integer stake distributions (Pareto, exponential, uniform,
equal); the coalition builders pick the adversary: the paper's worst case (the ``f`` largest
stakeholders, R. Jones, "A Bayesian Model for Committee Selection in Blockchain Consensus
Protocols", 2025), or the smallest or random stakeholders up to a stake share, which is
where weighted Fait Accompli and a plain draw differ most.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt

from byzlab.sidecars.committee.inputs import (
    IntArray,
    _as_real_stakes,
    _check_f,
    _check_k,
    _descending_order,
)


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
