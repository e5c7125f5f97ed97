"""The runtime's effect interpreter and delta bound (byzlab.runtime; the contract is in
byzlab.node.effects and docs/runtime.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from byzlab.node.effects import Broadcast, Decide, Event, Halt, Send
from byzlab.node.messages import DecideMsg, Message
from byzlab.runtime.delay import DelayBound
from byzlab.runtime.interpreter import EffectInterpreter


class Log:
    """An EffectSink and SendObserver that records what it is told, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def observe(self, src: int, msg: Message, now: float) -> None:
        self.calls.append(("observe", src, msg))

    def transmit(self, src: int, msg: Message, dsts: Sequence[int], now: float) -> None:
        self.calls.append(("transmit", src, msg, list(dsts)))

    def decide(self, src: int, decision: Decide, now: float) -> None:
        self.calls.append(("decide", src, decision.value))

    def halt(self, src: int, halt: Halt, now: float) -> None:
        self.calls.append(("halt", src, halt.reason))

    def event(self, src: int, event: Event, now: float) -> None:
        self.calls.append(("event", src, event.name))


def test_effects_are_performed_in_order_each_message_observed_before_it_is_transmitted() -> None:
    log = Log()
    a, b = DecideMsg(1), DecideMsg(-1)
    EffectInterpreter(4, log, log).perform(
        2,
        [Broadcast(a), Decide(1, 3), Send(2, b), Send(0, a), Event("x"), Halt("done")],
        5.0,
    )
    assert log.calls == [
        ("observe", 2, a),
        ("transmit", 2, a, [0, 1, 2, 3]),  # every node in id order, the sender included
        ("decide", 2, 1),
        ("observe", 2, b),
        ("transmit", 2, b, [2]),  # a Send to itself is a self-delivery
        ("observe", 2, a),
        ("transmit", 2, a, [0]),
        ("event", 2, "x"),
        ("halt", 2, "done"),
    ]


def test_a_send_outside_the_ids_is_dropped_unseen() -> None:
    log = Log()
    EffectInterpreter(4, log, log).perform(0, [Send(4, DecideMsg(1)), Send(-1, DecideMsg(1))], 0.0)
    assert log.calls == []


class Fixed:
    name = "fixed"
    inspects_messages = False

    def __init__(self, value: float) -> None:
        self.value = value
        self.asked: list[tuple[int, int]] = []

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        self.asked.append((src, dst))
        return self.value

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


def test_the_delta_bound_clamps_and_never_asks_about_self_delivery() -> None:
    msg = DecideMsg(1)
    for value, want in ((0.5, 0.5), (-1.0, 0.0), (3.0, 2.0), (math.nan, 2.0), (2.0, 2.0)):
        policy = Fixed(value)
        bound = DelayBound(policy, 2.0)
        assert bound.delays(1, range(3), msg, 0.0) == [want, 0.0, want]
        assert policy.asked == [(1, 0), (1, 2)]
        assert bound.delay(1, 0, msg, 0.0) == want
