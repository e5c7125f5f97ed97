"""The one interpreter of the protocol core's effects, for every runtime.

A process (an honest node or a corrupted node's strategy) answers each input with a list of
effects (byzlab.node.effects). `EffectInterpreter.perform(src, effects, now)` turns that list
into what a runtime does, in the order byzlab.node.effects documents:

* effects are performed in list order;
* a ``Broadcast`` is one transmission to every node in increasing id order, the sender
  included; a ``Send`` is one transmission to its destination, and a ``Send`` to an id
  outside 0..n-1 is dropped (a corrupted node may ask for one; nobody receives it);
* every transmitted message is shown to the observer (the adversary's full-information
  view) before anything else happens to it, so a delivery policy that reads the view sees
  it already;
* a ``Decide``, ``Halt`` or ``Event`` is reported as it comes.

The runtime is the `EffectSink`: it receives each transmission as (src, msg, destinations)
and carries it out, which includes the sender's own copy (the self-delivery of the
contract: no network, no delay, never given to the delivery policy). The simulator queues
each destination's copy (byzlab.network.sim), the node process encodes a broadcast once and
hands the copy for itself back to its state machine, and the proxy does the same for the
corrupted nodes it runs. How long a copy for another node takes is the delivery policy's
choice, held to [0, delta] by byzlab.runtime.delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from byzlab.node.effects import Broadcast, Decide, Effect, Event, Halt, Send
from byzlab.node.messages import Message
from byzlab.runtime.interfaces import SendObserver


class EffectSink(Protocol):
    """What a runtime does with a process's effects (see the module docstring)."""

    def transmit(self, src: int, msg: Message, dsts: Sequence[int], now: float) -> None:
        """Deliver `msg` from `src` to each of `dsts` (increasing ids; `src` itself may be
        among them: that copy is a self-delivery)."""

    def decide(self, src: int, decision: Decide, now: float) -> None:
        """`src` decided."""

    def halt(self, src: int, halt: Halt, now: float) -> None:
        """`src` halted: it takes no more inputs."""

    def event(self, src: int, event: Event, now: float) -> None:
        """`src` reports a trace event."""


class EffectInterpreter:
    """Performs the effects of the processes of an n-node run on one `EffectSink`."""

    __slots__ = ("_everyone", "_n", "_observe", "_sink")

    def __init__(self, n: int, sink: EffectSink, observer: SendObserver | None = None) -> None:
        self._n = n
        self._everyone = range(n)
        self._sink = sink
        self._observe = observer.observe if observer is not None else None

    def perform(self, src: int, effects: Sequence[Effect], now: float) -> None:
        """Carry out `effects`, the answer of process `src` to one input at time `now`."""
        sink = self._sink
        observe = self._observe
        for effect in effects:
            if isinstance(effect, Broadcast):
                msg = effect.msg
                if observe is not None:
                    observe(src, msg, now)
                sink.transmit(src, msg, self._everyone, now)
            elif isinstance(effect, Send):
                if not 0 <= effect.dst < self._n:
                    continue
                msg = effect.msg
                if observe is not None:
                    observe(src, msg, now)
                sink.transmit(src, msg, (effect.dst,), now)
            elif isinstance(effect, Decide):
                sink.decide(src, effect, now)
            elif isinstance(effect, Halt):
                sink.halt(src, effect, now)
            elif isinstance(effect, Event):
                sink.event(src, effect, now)
