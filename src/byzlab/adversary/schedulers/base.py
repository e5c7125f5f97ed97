"""The scheduler base class: the adversary's power over delivery order (HPZ §2, "Full
Information & Scheduling").

A scheduler picks the delay of every message in [0, delta]. In the simulator delays are in
virtual time; behind the TCP proxy the same objects are used with delta mapped to wall-clock
seconds, so one scenario means the same thing in both modes. Since the model bounds delays
by delta but puts no lower bound on them, a scheduler controls the delivery order completely
within that window. A scheduler is built with its `AdversaryContext` (the run's parameters,
the full-information view it shares with the corrupted nodes, its own random stream and
delta), so a run is reproducible from its seed and a scheduler is complete once it exists.
The runtime asks it through `DeliveryPolicy` (byzlab.runtime.interfaces) and holds every
answer to [0, delta] (byzlab.runtime.delay).

A scheduler that reads messages beyond the protocol's `value_of` (byzlab.node.protocol)
names what it `needs` of the Bracha family and applies to it only (`applies_to`,
byzlab.adversary.applies); it refuses to be built for a run of another protocol.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from byzlab.adversary.applies import bracha_only, refusal
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.view import AdversaryView
from byzlab.node.messages import Message
from byzlab.node.protocol import Protocol

__all__ = ["Scheduler"]


@dataclass
class Scheduler:
    """Base class: constant delay delta (FIFO on every link and globally)."""

    ctx: AdversaryContext = field(repr=False)
    name: str = "fifo"
    description: str = "every message takes exactly delta: global FIFO delivery"
    # Does `delay` look at message contents? The TCP proxy decodes frames for schedulers that
    # do (full information) and skips that cost for the ones that only look at endpoints.
    inspects_messages: bool = False
    # Copied from the context once, because `delay` reads them on every send (the hot path).
    n: int = field(init=False, repr=False)
    f: int = field(init=False, repr=False)
    delta: float = field(init=False, repr=False)
    rng: random.Random = field(init=False, repr=False)
    view: AdversaryView = field(init=False, repr=False)
    # What it needs of the Bracha family, in words, or None if it applies to any protocol.
    needs: ClassVar[str | None] = None

    @classmethod
    def applies_to(cls, protocol: Protocol) -> str | None:
        """None if this scheduler can run on `protocol`, else why not ("it needs ...")."""
        return bracha_only(cls.needs, protocol)

    def __post_init__(self) -> None:
        refused = refusal("scheduler", self.name, type(self), self.ctx.protocol)
        if refused:
            raise ValueError(refused)
        ctx = self.ctx
        self.n, self.f, self.delta = ctx.n, ctx.f, ctx.delta
        self.rng = ctx.rng
        self.view = ctx.view

    @property
    def byzantine(self) -> frozenset[int]:
        """The corrupted nodes so far (adaptive corruption adds to them during a run)."""
        return self.view.byzantine

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        """The delay of `msg` from `src` to `dst` (two different nodes), sent at `now`, in
        units of delta (the runtime holds it to [0, delta]). Override it; the base class
        answers delta. Draw randomness from `rng` only, so that a seed replays the run."""
        return self.delta

    def describe(self) -> dict[str, Any]:
        """The scheduler as the results record it (JSON-ready): its name, and its options
        if it has any (override it to add them)."""
        return {"name": self.name}
