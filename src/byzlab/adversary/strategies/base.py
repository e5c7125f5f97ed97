"""What every Byzantine strategy is built on: the node it replaces and the ways to rewrite one.

A strategy has the same interface as an honest node (`start`, `receive`, returning effects)
and is driven by the adversary, which holds the node's keys. Strategies never add
`if byzantine:` branches to honest code; the ones that behave mostly honestly wrap an
`HonestNode` and rewrite or suppress what it sends (the shape of commonware's conflicter and
relab/hotstuff's rule wrappers). A strategy is built with the run's `AdversaryContext` (the
shared view), so it is complete once it exists; its randomness is the node's own stream, so
simulator runs stay reproducible.

* `NodeSpec`: everything needed to build a node of a run (honest or corrupted), its
  protocol object included (byzlab.node.protocol);
* `ByzantineNode`: the base class, a node that sends nothing;
* `Wrapper`: runs an honest node of any protocol inside and rewrites its effects;
* `ItemRewriter`: rewrites the items of the node's own broadcasts, one at a time (the Bracha
  engine's items: HPZ, bracha-local, ideal-coin).

Which protocols a strategy applies to: `ByzantineNode.applies_to(protocol)` is None when it
can run on that protocol, else the reason it cannot. A strategy that reads no message, or
reads and forges values only through the protocol's `value_of` and `equivocal`, applies to
every protocol; one that reads or rewrites Bracha's votes, HPZ's blackboards or the engine's
state names what it `needs` and applies to the Bracha family only (byzlab.node.bracha). A
scenario pairing a strategy with a protocol it does not apply to is refused
(byzlab.adversary.applies).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from byzlab.adversary.applies import bracha_only, refusal
from byzlab.adversary.context import AdversaryContext
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import Item, Kind, RbcMsg
from byzlab.node.params import Params
from byzlab.node.protocol import Protocol, ProtocolNode

__all__ = ["ByzantineNode", "ItemRewriter", "NodeSpec", "Wrapper", "own_initial"]


@dataclass(frozen=True)
class NodeSpec:
    """Everything needed to build a node of a run."""

    me: int
    params: Params
    protocol: Protocol
    input_value: int
    rng: random.Random
    ideal_seed: bytes = b""

    def honest(self) -> ProtocolNode:
        """The node's honest state machine, as its protocol builds it."""
        return self.protocol.node(
            self.me,
            self.params,
            input_value=self.input_value,
            rng=self.rng,
            ideal_seed=self.ideal_seed,
        )


def bracha_node(node: ProtocolNode, name: str) -> HonestNode:
    """`node` as the Bracha engine's node, which a strategy that rewrites the engine's items
    needs (its `applies_to` keeps it away from other protocols)."""
    if not isinstance(node, HonestNode):
        raise TypeError(f"strategy {name!r} needs a node of the Bracha engine, got {node!r}")
    return node


class ByzantineNode:
    """Base class: a corrupted node. `halted` is always False (it never decides).

    It draws from `rng`, its node's stream (`spec.rng`), never from the context's (the
    scheduler's): a corrupted node's coins are the coins of the node it took over, and a
    strategy that wraps an honest node shares that stream with it."""

    name = "byzantine"
    description = ""
    halted = False
    decision: int | None = None
    # What the strategy needs of the Bracha family, in words ("HPZ's coin messages"), or None
    # if it runs on any protocol (see the module docstring).
    needs: ClassVar[str | None] = None

    @classmethod
    def applies_to(cls, protocol: Protocol) -> str | None:
        """None if this strategy can run on `protocol`, else why not ("it needs ...")."""
        return bracha_only(cls.needs, protocol)

    def __init__(self, spec: NodeSpec, ctx: AdversaryContext) -> None:
        refused = refusal("strategy", self.name, type(self), spec.protocol)
        if refused:
            raise ValueError(refused)
        self.spec = spec
        self.me = spec.me
        self.ctx = ctx
        self.view = ctx.view
        self.rng = spec.rng
        self.oracle = ctx.oracle

    def start(self, now: float = 0.0) -> list[Effect]:
        """The node's first effects, at time `now` (`ByzantineNode` sends nothing)."""
        return []

    def receive(self, sender: int, msg: Any, now: float = 0.0) -> list[Effect]:
        """The effects of `msg` from node `sender` arriving at time `now` (`ByzantineNode`
        sends nothing)."""
        return []

    def snapshot(self) -> dict[str, object]:
        """The node's state for the results (JSON-ready): its id and strategy name."""
        return {"node": self.me, "strategy": self.name}


class Wrapper(ByzantineNode):
    """Runs an honest node inside and lets subclasses rewrite its effects. `inner` may be a
    node that was honest until now (adaptive corruption takes over its state)."""

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, inner: ProtocolNode | None = None
    ) -> None:
        super().__init__(spec, ctx)
        self.inner = inner if inner is not None else spec.honest()

    def start(self, now: float = 0.0) -> list[Effect]:
        """The inner honest node's first effects, through `rewrite`."""
        return self.rewrite(self.inner.start(now), now)

    def receive(self, sender: int, msg: Any, now: float = 0.0) -> list[Effect]:
        """The inner honest node's effects of `msg` from `sender` at `now`, through
        `rewrite`."""
        return self.rewrite(self.inner.receive(sender, msg, now), now)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        """What the corrupted node sends instead of the honest node's `effects` (answering an
        input at time `now`). Override it; the base keeps the sends and drops the rest (a
        corrupted node never decides nor halts)."""
        return [e for e in effects if isinstance(e, Broadcast | Send)]

    def snapshot(self) -> dict[str, object]:
        """The inner node's snapshot, with the strategy's name."""
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
    """Rewrites the items of the node's own INITIALs through `rewrite_item` (the Bracha
    engine's items, so `inner` is the engine's `HonestNode`)."""

    needs = "the Bracha engine's votes"
    inner: HonestNode

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, inner: HonestNode | None = None
    ) -> None:
        super().__init__(spec, ctx, inner)
        self.inner = bracha_node(self.inner, self.name)

    def rewrite_item(self, item: Item) -> Item:
        """The item to broadcast instead of `item`, the honest node's next item. Override it;
        return `item` itself to leave the broadcast as it is."""
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
