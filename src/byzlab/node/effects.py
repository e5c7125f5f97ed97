"""What a state machine asks its runtime to do. The runtime (simulator or TCP) performs them.

A state machine consumes one input (`start` or a delivered message) and appends effects to
a list. Effects are small frozen values, so a runtime can log, hash or replay them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from byzlab.node.messages import Message


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `msg` to every node, the sender included."""

    msg: Message


@dataclass(frozen=True, slots=True)
class Send:
    """Send `msg` to one node (used by the termination gadget and by Byzantine strategies)."""

    dst: int
    msg: Message


@dataclass(frozen=True, slots=True)
class Decide:
    value: int
    iteration: int


@dataclass(frozen=True, slots=True)
class Halt:
    reason: str


@dataclass(frozen=True, slots=True)
class Event:
    """A trace event: something worth recording that changes no other node."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


Effect = Broadcast | Send | Decide | Halt | Event
