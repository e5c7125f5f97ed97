"""What a difficulty adjustment algorithm (DAA) is here: one winning rate per block.

A DAA sees the winning rate in force while a block was mined and that block's time, and sets the
rate for the next block; an algorithm that retargets only every so many blocks returns the rate
unchanged in between.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

AlgorithmFactory = Callable[[float], "DifficultyAlgorithm"]

#: Exponent cap for ``exp`` in the simulation; a diverging, unclamped controller saturates here
#: instead of overflowing.
_EXP_CAP = 700.0


class DifficultyAlgorithm(Protocol):
    """A DAA: told the winning rate in force and the block's time, returns the next rate."""

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float: ...


def _check_step(winning_rate: float, block_time: float) -> None:
    if not (math.isfinite(winning_rate) and winning_rate > 0):
        raise ValueError(f"winning_rate must be finite and > 0, got {winning_rate!r}")
    if not (block_time >= 0):  # also rejects NaN; +inf is allowed (a stalled chain)
        raise ValueError(f"block_time must be >= 0, got {block_time!r}")
