"""What a state machine asks its runtime to do, and the order in which every runtime does it.

A state machine consumes one input (`start` or a delivered message) and answers with a list
of effects. Effects are small frozen values, so a runtime can log, hash or replay them. One
interpreter (byzlab.runtime.interpreter) performs them for the simulator, the node process
and the proxy's corrupted nodes, under this contract:

1. The effects of one input are performed in list order, all of them before the process
   takes its next input.
2. A `Broadcast` sends its message to every node in increasing id order, the sender
   included; a `Send` sends it to one node. A `Send` to an id outside 0..n-1 is dropped.
3. Every message sent is shown to the adversary's full-information view first (HPZ §2,
   "Full Information & Scheduling"), before any copy of it is delivered or scheduled.
4. A copy for another node arrives after a delay the adversary's delivery policy chooses,
   held to [0, delta] by the runtime (byzlab.runtime.delay; HPZ's asynchronous model).
5. Self-delivery: the sender's own copy (of a `Broadcast`, or of a `Send` to itself) never
   crosses the network, takes no time and is never given to the delivery policy. It is
   delivered after every effect of the current input has been performed, in the order the
   copies were sent, and before any input that becomes due later. Whether an input already
   due at that same instant goes first is the runtime's: the simulator queues the copy with
   the others by (time, sequence number), so a delivery queued earlier for the same instant
   precedes it; the node process and the proxy hand it back before reading the next frame.
   Both are schedules the model allows (a delay of 0), so the protocol's guarantees hold
   under either (real time does not replay a seed's trace anyway). A halted process
   receives nothing, its own copies included.
6. `Decide`, `Halt` and `Event` are reported to the runtime as they come; after `Halt` the
   runtime delivers nothing more to the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `msg` to every node in increasing id order, the sender included (its copy is a
    self-delivery, see the module docstring)."""

    msg: Any  # a message of the node's protocol (byzlab.node.protocol)


@dataclass(frozen=True, slots=True)
class Send:
    """Send `msg` to one node (used by the termination gadget and by Byzantine strategies)."""

    dst: int
    msg: Any


@dataclass(frozen=True, slots=True)
class Decide:
    """The node decided `value` (-1 or +1) in iteration (or round) `iteration`; a node decides
    once, and the runtime records the time and the iteration."""

    value: int
    iteration: int


@dataclass(frozen=True, slots=True)
class Halt:
    """The node stops: nothing more is delivered to it, its own copies included. `reason`
    says why ("decided", "corrupted"); the results record it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Event:
    """A trace event: something worth recording that changes no other node."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


Effect = Broadcast | Send | Decide | Halt | Event
"""What a state machine answers each input with: a list of these, performed in order."""
