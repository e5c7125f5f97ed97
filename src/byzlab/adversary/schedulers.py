"""Schedulers: the adversary's power over delivery order (HPZ §2, "Full Information & Scheduling").

A scheduler picks the delay of every message in [0, delta]. In the simulator delays are in
virtual time; behind the TCP proxy the same objects are used with delta mapped to wall-clock
seconds, so one scenario means the same thing in both modes. Since the model bounds delays
by delta but puts no lower bound on them, a scheduler controls the delivery order completely
within that window. Schedulers take their randomness from the `random.Random` handed to
`bind`, so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from byzlab.node.messages import Message


@dataclass
class Scheduler:
    """Base class: constant delay delta (FIFO on every link and globally)."""

    name: str = "fifo"
    description: str = "every message takes exactly delta: global FIFO delivery"
    n: int = 0
    f: int = 0
    delta: float = 1.0
    byzantine: frozenset[int] = frozenset()
    rng: random.Random = field(default_factory=random.Random)
    # Does `delay` look at message contents? The TCP proxy decodes frames for schedulers that
    # do (full information) and skips that cost for the ones that only look at endpoints.
    inspects_messages: bool = False

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        self.n, self.f, self.delta = n, f, delta
        self.byzantine = frozenset(byzantine)
        self.rng = rng

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return self.delta

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class FifoScheduler(Scheduler):
    pass


@dataclass
class UniformScheduler(Scheduler):
    name: str = "random"
    description: str = "independent uniform delays in [0, delta]"

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return self.rng.random() * self.delta


@dataclass
class HoldScheduler(Scheduler):
    """The messages of `held` nodes (default: f honest nodes) take delta; all others at most
    delta/4. Every quorum of n - f then forms from the others first, so exactly n - f nodes
    participate, and the held columns of the blackboards stay partial."""

    name: str = "hold-f"
    description: str = "messages of f chosen nodes arrive last, so exactly n-f participate"
    held: frozenset[int] | None = None

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if self.held is None:
            honest = [i for i in range(n) if i not in self.byzantine]
            self.held = frozenset(honest[-f:])
        elif any(not 0 <= i < n for i in self.held):
            raise ValueError(f"held nodes {sorted(self.held)} out of range for n={n}")

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        assert self.held is not None
        if src in self.held and src != dst:
            return self.delta
        return self.rng.random() * self.delta * 0.25

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "held": sorted(self.held or ())}


@dataclass
class SplitVoteScheduler(Scheduler):
    """The classic attack on Bracha: every vote reaches the receivers of "its" side first.

    Even-numbered receivers hear +1 votes quickly and -1 votes late; odd-numbered ones the
    reverse. Each quorum of n - f votes then mirrors its receiver's side, step-2 majorities
    split, step 3 carries bottoms and the honest nodes fall back on the coin. Against local
    coins this makes agreement take exponentially many iterations; the HPZ coin overrides
    it. Blackboard traffic gets ordinary random delays."""

    name: str = "split-vote"
    description: str = "keeps honest values balanced: each receiver hears its own side first"
    inspects_messages: bool = True

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        item = getattr(msg, "item", None)
        value = getattr(item, "value", 0) if getattr(item, "step", 0) in (1, 2, 3) else 0
        if value:
            own_side = 1 if dst % 2 == 0 else -1
            if value == own_side:
                return self.rng.random() * 0.1 * self.delta
            return self.delta * (0.9 + 0.1 * self.rng.random())
        return self.rng.random() * self.delta


SCHEDULERS: dict[str, Callable[..., Scheduler]] = {
    "fifo": FifoScheduler,
    "random": UniformScheduler,
    "hold-f": HoldScheduler,
    "split-vote": SplitVoteScheduler,
}


def make_scheduler(name: str, **kwargs: Any) -> Scheduler:
    try:
        factory = SCHEDULERS[name]
    except KeyError:
        raise ValueError(
            f"unknown scheduler {name!r}; choose one of: {', '.join(sorted(SCHEDULERS))}"
        ) from None
    return factory(**kwargs)
