"""The baselines the filter is compared with: Bitcoin's window rule and ASERT.

:class:`BitcoinDAA` ("DAA1" in the note): every ``window`` blocks multiply ``w`` by the ratio of
actual to expected window time, clamped to ``[1/4, 4]`` (Bitcoin measures ``window − 1``
intervals; this model uses all ``window``).  :class:`ASERT` (BCH's aserti3-2d, the successor of
the note's "DAA2"): ``w_{n+1} = w_anchor · 2^{(t_n − (n + 1) b0) / halflife}`` anchored at genesis.
"""

from __future__ import annotations

import math

from byzlab.sidecars._checks import _count, _finite, _positive
from byzlab.sidecars.difficulty.algorithm import _EXP_CAP, _check_step


class BitcoinDAA:
    """Window retarget: every ``window`` blocks, ``w *= clamp(actual / expected time)``."""

    def __init__(
        self, w0: float, *, window: int = 2016, b0: float = 600.0, clamp: float | None = 4.0
    ) -> None:
        self.w = _positive("w0", w0)
        self.window = _count("window", window, 1)
        self.b0 = _positive("b0", b0)
        if clamp is not None and _finite("clamp", clamp) < 1.0:
            raise ValueError(f"clamp must be >= 1 or None, got {clamp!r}")
        self.clamp = clamp
        self._count = 0
        self._elapsed = 0.0

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float:
        _check_step(winning_rate, block_time)
        self._elapsed += block_time
        self._count += 1
        if self._count < self.window:
            return winning_rate
        ratio = self._elapsed / (self.window * self.b0)
        if self.clamp is not None:
            ratio = min(max(ratio, 1.0 / self.clamp), self.clamp)
        self._count = 0
        self._elapsed = 0.0
        return winning_rate * ratio


class ASERT:
    """Absolutely scheduled exponential rise targets, anchored at genesis."""

    def __init__(self, w0: float, *, halflife: float = 172800.0, b0: float = 600.0) -> None:
        self.w_anchor = _positive("w0", w0)
        self.halflife = _positive("halflife", halflife)
        self.b0 = _positive("b0", b0)
        self._time = 0.0
        self._height = 0

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float:
        _check_step(winning_rate, block_time)
        self._time += block_time
        self._height += 1
        exponent = (self._time - self._height * self.b0) / self.halflife * math.log(2.0)
        return self.w_anchor * math.exp(min(max(exponent, -_EXP_CAP), _EXP_CAP))
