"""Adaptive corruption: the adversary corrupts up to f nodes during the run, by a rule.

HPZ's adversary is adaptive (§1, §2 "Corruption & Coin Flipping"): it may corrupt a node at
any point, taking over its keys and its whole state, and from then on chooses its coin
flips. Here a rule watches the run (it is a simulator observer, called after every event)
and, when it fires, builds a strategy wrapped around the honest node object (`inner=`) and
has the simulator run it in the node's place (`Simulator.replace`), so the corrupted node
continues from the exact state it had. Its earlier
decision, if any, no longer counts: agreement and validity concern the nodes that stay
uncorrupted. The total number of corrupted nodes never exceeds f.

Rules:
* "at-time": at virtual time `at_time` (units of delta) corrupt `count` honest nodes
  (the lowest ids, or `nodes`);
* "first-decider": corrupt the first honest node that decides, right after it decides;
* "most-influential": at each epoch boundary corrupt the honest node whose coin columns
  had the largest total |X| in the epoch (the node whose coins an attacker most wants).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.strategies import STRATEGIES, ByzantineNode, NodeSpec, make_strategy
from byzlab.node.agreement import HonestNode
from byzlab.node.coin import clip

if TYPE_CHECKING:
    from byzlab.network.sim import Simulator

RULES = ("at-time", "first-decider", "most-influential")


@dataclass
class AdaptiveCorruption:
    ctx: AdversaryContext = field(repr=False)
    rule: str = "at-time"
    strategy: str = "mirror-mimic"
    options: dict[str, Any] = field(default_factory=dict)  # the strategy's, as TOML gives them
    count: int = 1
    at_time: float = 5.0
    nodes: list[int] | None = None
    corrupted: list[tuple[float, int]] = field(default_factory=list)
    _epoch_seen: int = 0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"corruption rule {self.rule!r} is not one of {', '.join(RULES)}")
        if self.count < 1:
            raise ValueError("corruption count must be at least 1")

    def __call__(self, sim: Simulator, now: float) -> None:
        for victim in self._victims(sim, now):
            if len(self.corrupted) >= self.count or len(sim.byzantine_ids) >= sim.params.f:
                return
            corrupted = self._take_over(sim.nodes[victim])
            sim.replace(victim, corrupted, f"{corrupted.name} (corrupted at t={now:.2f})")
            self.ctx.view.corrupt(victim)
            self.corrupted.append((now, victim))

    def _take_over(self, node: object) -> ByzantineNode:
        """The strategy, continuing from the honest node's state (keys, coins, views)."""
        assert isinstance(node, HonestNode)  # _victims picks honest node objects only
        spec = NodeSpec(
            node.me, node.params, node.protocol, node.input_value, node.rng, node.ideal_seed
        )
        options = plugin_kwargs(STRATEGIES[self.strategy], self.options)
        try:
            return make_strategy(self.strategy, spec, self.ctx, inner=node, **options)
        except TypeError:  # strategies that do not wrap an honest node start from scratch
            return make_strategy(self.strategy, spec, self.ctx, **options)

    def _victims(self, sim: Simulator, now: float) -> list[int]:
        if len(self.corrupted) >= self.count or len(sim.byzantine_ids) >= sim.params.f:
            return []
        honest = [i for i in sim.honest_ids if isinstance(sim.nodes[i], HonestNode)]
        if self.rule == "at-time":
            if now < self.at_time * sim.delta:
                return []
            return [i for i in (self.nodes or honest) if i in honest]
        if self.rule == "first-decider":
            return [d.node for d in sim.decisions if d.node in honest][:1]
        epoch = (
            max((n.iteration - 1) // sim.params.T for n in sim.honest_nodes())
            if sim.honest_nodes()
            else 0
        )
        if epoch <= self._epoch_seen:
            return []
        self._epoch_seen = epoch
        view = self.ctx.view
        first = (epoch - 1) * sim.params.T + 1
        influence = {
            i: sum(
                abs(clip(view.column_sum(2 * t, i), sim.params.xmax))
                for t in range(first, first + sim.params.T)
            )
            for i in honest
        }
        return sorted(honest, key=lambda i: -influence[i])[:1]
