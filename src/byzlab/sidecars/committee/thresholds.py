"""BFT thresholds and committee size from expected or apportioned seats (paper §10-§11.4).

Source: R. Jones, "A Bayesian Model for Committee Selection in Blockchain Consensus Protocols"
(April 2025; "the paper").

*BFT analysis* (§10, eqs. 13-19, Algorithm 1). :func:`bft_thresholds` runs Algorithm 1
verbatim: sort ``E[X_i]`` descending, cumulate ``C(m)`` (eq. 13/18), ``m_s`` = first ``m`` with
``C(m) >= k/3`` and ``m_l`` = first ``m`` with ``C(m) >= 2k/3``, return ``m_s - 1`` and
``m_l - 1``: the largest top-stake coalitions whose *expected* seats stay below one third
(safety) and below two thirds (the paper's "liveness" threshold). The comparisons are done in
exact rational arithmetic (``3 C(m) >= k`` etc.) so ties such as three equal stakes are decided
correctly. Because ``C(m)`` is linear in ``k``, the answer does not depend on ``k``.

*Iterative committee size* (§11.1-11.4, eqs. 20-21, Algorithms 2 and 3). Algorithms 2/3 raise
``k`` until ``C(m_s) < f k`` and ``C_honest >= (1 - f) k``. With expected (real-valued) seats
both sides scale linearly with ``k``, so the loop either stops at ``k_0`` or never stops.
:func:`optimal_committee_size` therefore offers two modes: ``seats="expected"`` is the literal
algorithm (returns ``k_0`` or raises ``ValueError`` explaining that no ``k`` works), and
``seats="apportioned"`` replaces ``E[X_i]`` by the integer seats of a largest-remainder
apportionment of ``k`` seats (the rounding done by the paper's own code, Appendix D,
``compute_and_adjust_seat_counts``), where the loop is meaningful: small ``k`` lets rounding
push the top coalition over ``f k``. ``m_s`` is read as the number of Byzantine participants to
tolerate (the top ``m_s`` by stake) and the honest participants as everybody else (ranks
``m_s + 1 .. m_s + m_h``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt

from byzlab.sidecars.committee.inputs import (
    FloatArray,
    IntArray,
    _as_alpha,
    _check_int,
    _check_k,
    _descending_order,
)
from byzlab.sidecars.committee.seats import expected_seats


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
