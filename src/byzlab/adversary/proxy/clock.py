"""The proxy's clock: wall-clock seconds since the run started, and virtual time.

The scheduler and the strategies are the simulator's objects, which think in virtual time
with delta = 1. The proxy realises one virtual unit as ``delta_s`` wall-clock seconds, so
a delay of d units is a timer of d x delta_s seconds; with ``delta_s = 0`` (as fast as
possible) one virtual unit is a millisecond of wall-clock time.
"""

from __future__ import annotations

import asyncio

__all__ = ["RunClock"]


class RunClock:
    """Seconds since the protocol started (0 before), and the same in units of delta."""

    def __init__(self, delta_s: float) -> None:
        self.delta_s = delta_s
        self.started = False
        self._t0 = 0.0

    def start(self) -> None:
        self.started = True
        self._t0 = asyncio.get_running_loop().time()

    def elapsed(self) -> float:
        """Seconds since the protocol started (0 before)."""
        return asyncio.get_running_loop().time() - self._t0 if self.started else 0.0

    def virtual(self, elapsed: float) -> float:
        """``elapsed`` seconds in units of delta."""
        return elapsed / self.delta_s if self.delta_s > 0 else elapsed * 1e3

    def now(self) -> float:
        """Virtual time for the scheduler and strategies: units of delta since the start."""
        return self.virtual(self.elapsed())
