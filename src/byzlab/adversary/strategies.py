"""Byzantine strategies: small objects that replace a corrupted node's behaviour.

A strategy has the same interface as an honest node (`start`, `receive`, returning effects)
and is driven by the adversary, which holds the node's keys. Strategies never add
`if byzantine:` branches to honest code; the ones that behave mostly honestly wrap an
`HonestNode` and rewrite or suppress what it sends (the shape of commonware's conflicter and
relab/hotstuff's rule wrappers). All randomness comes from the `random.Random` they are
built with, so simulator runs stay reproducible.

Shipped here: silent, crash, random-value, equivocate. The adversary issue adds the rest.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params


@dataclass(frozen=True)
class NodeSpec:
    """Everything needed to build a node of a run."""

    me: int
    params: Params
    protocol: str
    input_value: int
    rng: random.Random
    ideal_seed: bytes = b""

    def honest(self) -> HonestNode:
        return HonestNode(self.me, self.params, protocol=self.protocol,
                          input_value=self.input_value, rng=self.rng,
                          ideal_seed=self.ideal_seed)


class ByzantineNode:
    """Base class: a corrupted node. `halted` is always False (it never decides)."""

    name = "byzantine"
    description = ""
    halted = False
    decision: int | None = None

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.me = spec.me
        self.rng = spec.rng

    def start(self, now: float = 0.0) -> list[Effect]:
        return []

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return []

    def snapshot(self) -> dict[str, object]:
        return {"node": self.me, "strategy": self.name}


class Silent(ByzantineNode):
    name = "silent"
    description = "never sends anything, not even ECHO/READY (a crash at time 0)"


class _Wrapper(ByzantineNode):
    """Runs an honest node inside and lets subclasses rewrite its effects."""

    def __init__(self, spec: NodeSpec) -> None:
        super().__init__(spec)
        self.inner = spec.honest()

    def start(self, now: float = 0.0) -> list[Effect]:
        return self.rewrite(self.inner.start(now), now)

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return self.rewrite(self.inner.receive(sender, msg, now), now)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        return [e for e in effects if isinstance(e, Broadcast | Send)]

    def snapshot(self) -> dict[str, object]:
        return {**self.inner.snapshot(), "strategy": self.name}


class Crash(_Wrapper):
    name = "crash"
    description = "behaves honestly, then stops for good at a given time, iteration or step"

    def __init__(self, spec: NodeSpec, *, at_time: float | None = None,
                 at_iteration: int | None = None, at_step: int = 1) -> None:
        super().__init__(spec)
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
            return (self.inner.iteration, self.inner.step) >= (self.at_iteration, self.at_step)
        return False

    def start(self, now: float = 0.0) -> list[Effect]:
        return [] if self._due(now) else super().start(now)

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        if self.crashed or self._due(now):
            self.crashed = True
            return []
        return super().receive(sender, msg, now)


def _random_value(item: Vote | Write, rng: random.Random) -> Vote | Write:
    return replace(item, value=rng.choice((-1, 0, 1)))


class RandomValue(_Wrapper):
    name = "random-value"
    description = "sends random values in its own broadcasts; validation must reject them"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        for e in effects:
            if isinstance(e, Broadcast) and isinstance(e.msg, RbcMsg) \
                    and e.msg.kind == Kind.INITIAL:
                e = Broadcast(replace(e.msg, item=_random_value(e.msg.item, self.rng)))
            if isinstance(e, Broadcast | Send):
                out.append(e)
        return out


class Equivocate(_Wrapper):
    name = "equivocate"
    description = "conflicting INITIALs: one value to half the nodes, its opposite to the rest"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        n = self.spec.params.n
        for e in effects:
            if isinstance(e, Broadcast) and isinstance(e.msg, RbcMsg) \
                    and e.msg.kind == Kind.INITIAL:
                item = e.msg.item
                other = replace(item, value=-item.value if item.value else 1)
                half = set(self.rng.sample(range(n), n // 2))
                for dst in range(n):
                    chosen = other if dst in half else item
                    out.append(Send(dst, replace(e.msg, item=chosen)))
            elif isinstance(e, Broadcast | Send):
                out.append(e)
        return out


StrategyFactory = Callable[..., ByzantineNode]

STRATEGIES: dict[str, type[ByzantineNode]] = {
    cls.name: cls for cls in (Silent, Crash, RandomValue, Equivocate)
}


def make_strategy(name: str, spec: NodeSpec, **kwargs: Any) -> ByzantineNode:
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown Byzantine strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}"
        ) from None
    return cls(spec, **kwargs)
