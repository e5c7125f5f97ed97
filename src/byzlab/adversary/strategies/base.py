"""What every Byzantine strategy is built on: the node it replaces and the ways to rewrite one.

A strategy has the same interface as an honest node (`start`, `receive`, returning effects)
and is driven by the adversary, which holds the node's keys. Strategies never add
`if byzantine:` branches to honest code; the ones that behave mostly honestly wrap an
`HonestNode` and rewrite or suppress what it sends (the shape of commonware's conflicter and
relab/hotstuff's rule wrappers). A strategy is built with the run's `AdversaryContext` (the
shared view), so it is complete once it exists; its randomness is the node's own stream, so
simulator runs stay reproducible.

* `NodeSpec`: everything needed to build a node of a run (honest or corrupted);
* `ByzantineNode`: the base class, a node that sends nothing;
* `Wrapper`: runs an honest node inside and rewrites its effects;
* `ItemRewriter`: rewrites the items of the node's own broadcasts, one at a time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from byzlab.adversary.context import AdversaryContext
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import Item, Kind, Message, RbcMsg
from byzlab.node.params import Params

__all__ = ["ByzantineNode", "ItemRewriter", "NodeSpec", "Wrapper", "own_initial"]


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
        return HonestNode(
            self.me,
            self.params,
            protocol=self.protocol,
            input_value=self.input_value,
            rng=self.rng,
            ideal_seed=self.ideal_seed,
        )


class ByzantineNode:
    """Base class: a corrupted node. `halted` is always False (it never decides).

    It draws from `rng`, its node's stream (`spec.rng`), never from the context's (the
    scheduler's): a corrupted node's coins are the coins of the node it took over, and a
    strategy that wraps an honest node shares that stream with it."""

    name = "byzantine"
    description = ""
    halted = False
    decision: int | None = None

    def __init__(self, spec: NodeSpec, ctx: AdversaryContext) -> None:
        self.spec = spec
        self.me = spec.me
        self.ctx = ctx
        self.view = ctx.view
        self.rng = spec.rng
        self.oracle = ctx.oracle

    def start(self, now: float = 0.0) -> list[Effect]:
        return []

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return []

    def snapshot(self) -> dict[str, object]:
        return {"node": self.me, "strategy": self.name}


class Wrapper(ByzantineNode):
    """Runs an honest node inside and lets subclasses rewrite its effects. `inner` may be a
    node that was honest until now (adaptive corruption takes over its state)."""

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, inner: HonestNode | None = None
    ) -> None:
        super().__init__(spec, ctx)
        self.inner = inner if inner is not None else spec.honest()

    def start(self, now: float = 0.0) -> list[Effect]:
        return self.rewrite(self.inner.start(now), now)

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return self.rewrite(self.inner.receive(sender, msg, now), now)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        return [e for e in effects if isinstance(e, Broadcast | Send)]

    def snapshot(self) -> dict[str, object]:
        return {**self.inner.snapshot(), "strategy": self.name}


def own_initial(effect: Effect, me: int) -> RbcMsg | None:
    """The INITIAL of this node's own broadcast carried by `effect`, if it is one."""
    if (
        isinstance(effect, Broadcast)
        and isinstance(effect.msg, RbcMsg)
        and effect.msg.kind == Kind.INITIAL
        and effect.msg.origin == me
    ):
        return effect.msg
    return None


class ItemRewriter(Wrapper):
    """Rewrites the items of the node's own INITIALs through `rewrite_item`."""

    def rewrite_item(self, item: Item) -> Item:
        return item

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        for e in effects:
            msg = own_initial(e, self.me)
            if msg is not None:
                item = self.rewrite_item(msg.item)
                if item is not msg.item:
                    e = Broadcast(replace(msg, item=item))
            if isinstance(e, Broadcast | Send):
                out.append(e)
        return out
