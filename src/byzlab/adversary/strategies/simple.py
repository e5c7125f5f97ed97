"""Simple misbehaviour: crash and omission, equivocation, and values validation must reject.

* silent: sends nothing (a crash at time 0); crash: honest, then stops at a time, iteration
  or step; split-hold: sends its own broadcasts to one half of the nodes only;
* equivocate: conflicting values, one to half the nodes and the opposite to the rest, which
  reliable broadcast must contain (HPZ §2, RBC) and any protocol must survive;
* random-value, invalid-value: transitions that validation (node/validation.py) must reject.

silent, crash and equivocate apply to every protocol (equivocate forges through the
protocol's `equivocal`, byzlab.node.protocol); the others rewrite the Bracha engine's
broadcasts.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.strategies.base import (
    ByzantineNode,
    ItemRewriter,
    NodeSpec,
    Wrapper,
    own_initial,
)
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import Item, Vote
from byzlab.node.protocol import ProtocolNode

__all__ = ["Crash", "Equivocate", "InvalidValue", "RandomValue", "Silent", "SplitHold"]


class Silent(ByzantineNode):
    name = "silent"
    description = "never sends anything, not even ECHO/READY (a crash at time 0)"


class Crash(Wrapper):
    name = "crash"
    description = "behaves honestly, then stops for good at a given time, iteration or step"

    def __init__(
        self,
        spec: NodeSpec,
        ctx: AdversaryContext,
        *,
        at_time: float | None = None,
        at_iteration: int | None = None,
        at_step: int = 1,
        inner: ProtocolNode | None = None,
    ) -> None:
        super().__init__(spec, ctx, inner)
        if at_time is None and at_iteration is None:
            at_time = 3.0
        self.at_time = at_time
        self.at_iteration = at_iteration
        self.at_step = at_step
        self.crashed = False

    def _due(self, now: float) -> bool:
        if self.at_time is not None and now >= self.at_time:
            return True
        if self.at_iteration is not None:
            # steps are the Bracha engine's; on another protocol the node stops as it
            # enters iteration at_iteration
            inner = self.inner
            step = inner.step if isinstance(inner, HonestNode) else self.at_step
            return (inner.iteration, step) >= (self.at_iteration, self.at_step)
        return False

    def start(self, now: float = 0.0) -> list[Effect]:
        return [] if self._due(now) else super().start(now)

    def receive(self, sender: int, msg: Any, now: float = 0.0) -> list[Effect]:
        if self.crashed or self._due(now):
            self.crashed = True
            return []
        return super().receive(sender, msg, now)


class SplitHold(Wrapper):
    name = "split-hold"
    description = "sends its own broadcasts only to one half of the nodes, holding the rest"
    needs = "reliable broadcast's INITIALs"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        n = self.spec.params.n
        out: list[Effect] = []
        for e in effects:
            msg = own_initial(e, self.me)
            if msg is not None:
                out.extend(Send(d, msg) for d in range(n) if d % 2 == 0 or d == self.me)
            elif isinstance(e, Broadcast | Send):
                out.append(e)
        return out


class Equivocate(Wrapper):
    name = "equivocate"
    description = "conflicting values: one value to half the nodes, its opposite to the rest"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        n = self.spec.params.n
        equivocal = self.spec.protocol.equivocal
        for e in effects:
            if isinstance(e, Broadcast) and (other := equivocal(e.msg)) is not None:
                half = set(self.rng.sample(range(n), n // 2))
                for dst in range(n):
                    out.append(Send(dst, other if dst in half else e.msg))
            elif isinstance(e, Broadcast | Send):
                out.append(e)
        return out


def _random_value(item: Item, rng: random.Random) -> Item:
    return replace(item, value=rng.choice((-1, 0, 1)))


class RandomValue(ItemRewriter):
    name = "random-value"
    description = "sends random values in its own broadcasts; validation must reject them"

    def rewrite_item(self, item: Item) -> Item:
        return _random_value(item, self.rng)


class InvalidValue(ItemRewriter):
    name = "invalid-value"
    description = "flips every step-2 and step-3 value it sends; validation must reject them"

    def rewrite_item(self, item: Item) -> Item:
        if isinstance(item, Vote) and item.step in (2, 3):
            return replace(item, value=-item.value if item.value else 1)
        return item
