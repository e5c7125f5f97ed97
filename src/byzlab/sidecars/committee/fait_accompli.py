"""Weighted Fait Accompli committees and their comparison with a plain draw (not in the paper).

The committee paper does not describe Fait Accompli. :func:`fait_accompli_split` follows
P. Gaži, A. Kiayias, A. Russell, "Fait Accompli Committee Selection: Improving the Size-Security
Tradeoff of Stake-Based Committees", ACM CCS 2023, IACR ePrint 2023/1273 (wFA, Fig. 6): sort
stakes ``s_1 >= s_2 >= ...``, let ``rho_i = sum_{j>=i} s_j`` and ``i*`` the smallest ``i`` with
``rho_i = 0`` or ``(1 - s_i / rho_i)^2 >= (k - i)/(k - i + 1)``. Parties ``1 .. i*-1`` get
persistent seats weighted by their own stake; the remaining ``k - i* + 1`` seats are filled by
the fallback scheme, here i.i.d. stake-weighted draws among the non-persistent parties (the
draw of :mod:`byzlab.sidecars.committee.draw`), each seat weighing ``rho_{i*} / (k - i* + 1)``.
The adversary's *vote share* is its weighted share of the committee.
:func:`compare_fait_accompli` estimates mean, standard deviation and ``P(share >= 1/3)`` for
both schemes by Monte Carlo, with the exact binomial value alongside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy import stats

from byzlab.sidecars.committee.chernoff import exact_tail_probability
from byzlab.sidecars.committee.draw import draw_committee
from byzlab.sidecars.committee.inputs import (
    FloatArray,
    IntArray,
    _as_int_stakes,
    _as_real_stakes,
    _check_int,
    _check_k,
    _descending_order,
)


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
