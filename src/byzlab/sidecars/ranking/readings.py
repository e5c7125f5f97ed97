"""Which reading of the paper reproduces its printed cabal shares.

The text of §"Defining Consensus" is ambiguous in three places; :data:`READINGS` enumerates the
combinations and :func:`reading_table` evaluates all of them on the two-group experiment.
Exactly one family reproduces the printed vector to five decimals:

* trust argument ``temperature · (f_i − 0.5)``, where ``f_i = (Cᵀ S)_i / ‖S‖`` is the fraction of
  the stake that reaches (trusts) peer ``i``, i.e. a 0/1 connectivity matrix with an *offset* of
  0.5 inside the sigmoid (this is the form in the §"Collusion" program; the ``±1`` matrix of the
  appendix gives ``Cᵀ S / ‖S‖ = 2 f_i − 1`` and matches only at half the temperature, 5);
* temperature 10;
* inflation ``τ · ‖S‖ · I / ‖I‖`` (Eq. 5).  The appendix code's ``τ · I / ‖I‖`` (without ``‖S‖``)
  matches block 0 only (``‖S‖ = 1`` there) and then drifts; minting ``τ · I`` matches nothing.

The rank normalisation (``R = Wᵀ S`` or ``Wᵀ S / ‖S‖``) is irrelevant because ``I`` is normalised.
The literal Figure 6 reading, ``σ(10 · Cᵀ S)`` with ``±1`` entries, gives 0.48548, 0.47896, … —
the cabal decays faster than printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from byzlab.sidecars._checks import _count, _nonneg
from byzlab.sidecars.ranking.collusion import PAPER_CABAL_SHARES
from byzlab.sidecars.ranking.mechanism import FloatArray, sigmoid


@dataclass(frozen=True)
class Reading:
    """One interpretation of §"Defining Consensus" for the two-group experiment."""

    name: str
    connectivity: Literal["0/1", "±1"]
    offset: float
    temperature: float
    mint: Literal["tau*|S|*I/|I|", "tau*I/|I|", "tau*I"]


READINGS: tuple[Reading, ...] = (
    Reading("collusion program (0/1 C, offset 0.5), Eq. 5", "0/1", 0.5, 10.0, "tau*|S|*I/|I|"),
    Reading("±1 C, no offset, temp 10 (Figure 6 literal)", "±1", 0.0, 10.0, "tau*|S|*I/|I|"),
    Reading("±1 C, no offset, temp 5", "±1", 0.0, 5.0, "tau*|S|*I/|I|"),
    Reading("±1 C, offset 0.5, temp 10", "±1", 0.5, 10.0, "tau*|S|*I/|I|"),
    Reading("0/1 C, no offset, temp 10", "0/1", 0.0, 10.0, "tau*|S|*I/|I|"),
    Reading(
        "0/1 C, offset 0.5, temp 1 (appendix: no temperature)", "0/1", 0.5, 1.0, "tau*|S|*I/|I|"
    ),
    Reading("0/1 C, offset 0.5, appendix mint τ·I/‖I‖", "0/1", 0.5, 10.0, "tau*I/|I|"),
    Reading("0/1 C, offset 0.5, mint τ·I", "0/1", 0.5, 10.0, "tau*I"),
    Reading("±1 C, no offset, appendix mint τ·I/‖I‖", "±1", 0.0, 10.0, "tau*I/|I|"),
)


def cabal_share_under_reading(
    reading: Reading,
    honest_stake: float = 0.51,
    cabal_stake: float = 0.49,
    *,
    tau: float = 0.1,
    n_blocks: int = 5,
) -> FloatArray:
    """The cabal's share after each block in the two-group experiment under ``reading``."""
    t = _nonneg("tau", tau)
    n = _count("n_blocks", n_blocks)
    s = np.array([_nonneg("honest_stake", honest_stake), _nonneg("cabal_stake", cabal_stake)])
    if s.sum() <= 0:
        raise ValueError("honest_stake + cabal_stake must be > 0")
    out = np.empty(n, dtype=np.float64)
    for k in range(n):
        total = s.sum()
        frac = s / total
        x = frac if reading.connectivity == "0/1" else 2.0 * frac - 1.0
        inc = s * sigmoid(reading.temperature * (x - reading.offset))
        if reading.mint == "tau*|S|*I/|I|":
            s = s + t * total * inc / inc.sum()
        elif reading.mint == "tau*I/|I|":
            s = s + t * inc / inc.sum()
        else:
            s = s + t * inc
        out[k] = s[1] / s.sum()
    return out


def reading_table(
    expected: Sequence[float] = PAPER_CABAL_SHARES,
) -> list[tuple[Reading, FloatArray, bool]]:
    """Evaluate every reading in :data:`READINGS`; flag those matching ``expected`` to 5 d.p."""
    rows = []
    for r in READINGS:
        got = cabal_share_under_reading(r, n_blocks=len(expected))
        match = all(round(float(g), 5) == e for g, e in zip(got, expected, strict=True))
        rows.append((r, got, match))
    return rows
