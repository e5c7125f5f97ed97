"""Per-round state within a window of rounds: what bounds a node's memory under attack.

A Byzantine sender may send messages for any round up to the decoder's bound (2^31). A node
keeps state only for rounds in [current - behind, current + ahead] and drops the rest,
counted, exactly as the Bracha engine keeps only `window` reliable-broadcast instances per
origin: memory is (behind + ahead + 1) rounds of O(n) bits whatever the adversary sends.

The window costs nothing in byzlab's model. Rounds ahead: an honest node's messages of a
round can reach a receiver before the receiver gets there, and must be kept; but honest
nodes stay within a few rounds of each other, because every message between honest nodes
arrives within delta and a node that is ahead either decides within an expected constant
number of rounds (mmr) or cannot outpace the n - f quorum it waits for. Rounds behind: mmr
keeps relaying the BVAL messages of rounds it has left, since a slower honest node may still
need them (BV-broadcast's uniformity holds only while honest nodes relay); Ben-Or needs
nothing of a round it has left (`behind` = 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

S = TypeVar("S")

AHEAD: Final = 64


class RoundWindow(Generic[S]):
    """The state of rounds current - behind .. current + ahead, made on first use."""

    def __init__(self, make: Callable[[], S], *, behind: int, ahead: int = AHEAD) -> None:
        self.make = make
        self.behind = behind
        self.ahead = ahead
        self.current = 1
        self._rounds: dict[int, S] = {}

    def get(self, rnd: int) -> S | None:
        """The state of round `rnd`, or None when it is outside the window."""
        if not self.current - self.behind <= rnd <= self.current + self.ahead:
            return None
        state = self._rounds.get(rnd)
        if state is None:
            state = self._rounds[rnd] = self.make()
        return state

    def refusal(self, rnd: int) -> str:
        """Why round `rnd` has no state here: it is behind the window or beyond it."""
        return "past-round" if rnd < self.current else "round-window"

    def advance(self, current: int) -> None:
        """Move the window to `current` and forget every round now behind it."""
        self.current = current
        low = current - self.behind
        for rnd in [r for r in self._rounds if r < low]:
            del self._rounds[rnd]

    def __len__(self) -> int:
        return len(self._rounds)

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._rounds))
