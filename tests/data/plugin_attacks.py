"""An out-of-tree attack module, as a user would write it against ``byzlab.api`` only.

tests/test_plugins.py copies it into a temporary package (installed with pip, found through
its entry points) and into a plain module on ``PYTHONPATH`` (named as ``module:Name``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import Field

from byzlab.api import (
    AdversaryContext,
    Item,
    ItemRewriter,
    Message,
    NodeSpec,
    PluginOptions,
    Scheduler,
    Vote,
)


class OpposeNode0(ItemRewriter):
    """Votes the opposite of node ``watch``'s last vote that the adversary saw in flight.

    Past the first step its votes no longer follow from the support it claims, so honest
    nodes refuse them: the run's ``rejected`` counts show the strategy acted."""

    name = "oppose-node0"
    description = "vote the opposite of node 0's last vote"

    class Options(PluginOptions):
        watch: int = Field(default=0, ge=0)

    def __init__(self, spec: NodeSpec, ctx: AdversaryContext, watch: int = 0, **kw: Any) -> None:
        super().__init__(spec, ctx, **kw)
        self.watch = watch

    def rewrite_item(self, item: Item) -> Item:
        if not isinstance(item, Vote):
            return item
        seen = [
            votes[self.watch]
            for _, votes in sorted(self.view.votes.items())
            if self.watch in votes and votes[self.watch] != 0
        ]
        return replace(item, value=-seen[-1]) if seen else item


@dataclass
class DelayNode2(Scheduler):
    """Every message to node ``target`` takes delta; every other one arrives at once."""

    name: str = "delay-node2"
    description: str = "delay everything to node 2 by delta"
    target: int = 2

    class Options(PluginOptions):
        target: int = Field(default=2, ge=0)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return self.delta if dst == self.target else 0.0
