"""The contracts between the runtime and the layers above it.

The simulator (byzlab.network.sim) and the real transport (byzlab.network.tcp and the proxy)
drive *processes*: honest nodes (byzlab.node.agreement.HonestNode) and corrupted ones (the
adversary's strategies) alike. They ask a *delivery policy* (the adversary's scheduler) for
every message's delay, and tell a *send observer* (the adversary's full-information view) about
every message sent. These are structural types: any object with the right methods meets them,
so the runtime never imports the adversary's classes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from byzlab.node.effects import Effect
from byzlab.node.messages import Message


@runtime_checkable
class Process(Protocol):
    """One node of a run, as the runtime drives it: inputs in, effects out (sans-IO)."""

    me: int

    @property
    def halted(self) -> bool:
        """True once the process has stopped: the runtime delivers nothing more to it."""

    def start(self, now: float) -> list[Effect]:
        """The process's first effects, once, at time `now` (the run's start)."""

    def receive(self, src: int, msg: Message, now: float) -> list[Effect]:
        """The effects of `msg` from node `src` arriving at time `now`."""


class DeliveryPolicy(Protocol):
    """Chooses the delay of every message between two different nodes, in [0, delta].

    `inspects_messages` says whether `delay` reads the message (the proxy decodes frames only
    for policies that do). The runtime, not the policy, enforces the bound (see
    byzlab.runtime.interpreter)."""

    name: str
    inspects_messages: bool

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        """How long `msg`, sent by `src` to `dst` at time `now`, takes to arrive, in the
        runtime's time unit (delta is 1.0); the runtime holds the answer to [0, delta]."""

    def describe(self) -> dict[str, Any]:
        """The policy's name and options as JSON-ready data (the results record it)."""


class SendObserver(Protocol):
    """Sees every message as it is sent, before any delivery (the adversary's full
    information)."""

    def observe(self, src: int, msg: Message, now: float) -> None: ...
