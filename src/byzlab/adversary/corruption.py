"""Adaptive corruption: the adversary corrupts up to f nodes during the run, by a rule.

HPZ's adversary is adaptive (Huang, Pettie, Zhu, "Byzantine Agreement with Optimal
Resilience via Statistical Fraud Detection", arXiv 2206.15335, §1 and §2 "Corruption & Coin
Flipping"): it may corrupt a node at any point, taking over its keys and its whole state, and
from then on chooses its coin flips. A rule (`CorruptionRule`) watches the run and, when it
fires, the configured strategy is wrapped around the honest node object (`take_over`, with
``inner=``), so the corrupted node continues from the exact state it had. Its earlier
decision, if any, no longer counts: agreement and validity concern the nodes that stay
uncorrupted. The total number of corrupted nodes never exceeds f.

The rules are written once for both runtimes. A rule decides from a small view of the run
(`RunView`: virtual time, the honest nodes it may still take, who decided in which order,
the latest epoch) and from the adversary's full-information view (`AdversaryView`, for the
coin columns), both of which the simulator and the adversary proxy provide:

* in the simulator, `AdaptiveCorruption` is an observer called after every event; its view
  of the run is the simulator's own state, and a takeover is `Simulator.replace`;
* behind the proxy (``byzlab.adversary.proxy.shadows``), the view is made of the shadow
  replicas the proxy keeps of the nodes a rule may pick (`corruptible`), and a takeover
  wraps the shadow and retires the real node process.

Rules:
* "at-time": at virtual time `at_time` (units of delta) corrupt `count` honest nodes
  (the lowest ids, or `nodes`);
* "first-decider": corrupt the first honest node that decides, right after it decides;
* "most-influential": at each epoch boundary corrupt the honest node whose coin columns
  had the largest total |X| in the epoch (the node whose coins an attacker most wants).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.strategies import ByzantineNode, NodeSpec, make_strategy, strategy_class
from byzlab.node.coin import clip
from byzlab.node.protocol import ProtocolNode

if TYPE_CHECKING:
    from byzlab.network.sim import Simulator

__all__ = [
    "RULES",
    "STATIC",
    "AdaptiveCorruption",
    "Corruption",
    "CorruptionRule",
    "RunView",
    "corruptible",
]

RULES = ("at-time", "first-decider", "most-influential")
STATIC = "static"  # the rule of a node corrupted from the start ([[adversary.byzantine]])
_ANY_HONEST = ("first-decider", "most-influential")  # rules that may pick any honest node


class RunView(Protocol):
    """What a rule reads of a run, provided alike by the simulator and the proxy."""

    def now(self) -> float:
        """Virtual time, in units of delta."""
        ...

    def honest(self) -> Sequence[int]:
        """The honest nodes the adversary can still take over, in increasing id order."""
        ...

    def decided(self) -> Sequence[int]:
        """Honest nodes in the order they decided."""
        ...

    def epoch(self) -> int:
        """The latest epoch an honest node has reached (0 before the first iteration)."""
        ...

    def faulty(self) -> int:
        """Nodes corrupted so far, those corrupted from the start included."""
        ...


class Corruption(NamedTuple):
    """One takeover: when (the runtime's time), which node, by which rule, into what."""

    at: float
    node: int
    rule: str
    strategy: str

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "at": self.at, "rule": self.rule, "strategy": self.strategy}


@dataclass
class CorruptionRule:
    """One [[adversary.corrupt]] entry: when to corrupt whom, and the strategy it then runs.

    `due(run)` names the nodes to take now; `take_over(node, at)` turns one honest node
    into the strategy and records it in `corrupted`."""

    ctx: AdversaryContext = field(repr=False)
    rule: str = "at-time"
    strategy: str = "mirror-mimic"
    options: dict[str, Any] = field(default_factory=dict)  # the strategy's, as TOML gives them
    count: int = 1
    at_time: float = 5.0
    nodes: list[int] | None = None
    corrupted: list[Corruption] = field(default_factory=list)
    _epoch_seen: int = 0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"corruption rule {self.rule!r} is not one of {', '.join(RULES)}")
        if self.count < 1:
            raise ValueError("corruption count must be at least 1")

    def exhausted(self, run: RunView) -> bool:
        """This rule took its `count`, or f nodes are corrupted already."""
        return len(self.corrupted) >= self.count or run.faulty() >= self.ctx.params.f

    def victims(self, run: RunView) -> list[int]:
        """The honest nodes this rule corrupts now, in order (the caller stops at `count`
        and at f, see `exhausted`)."""
        if self.exhausted(run):
            return []
        honest = run.honest()
        if self.rule == "at-time":
            if run.now() < self.at_time:
                return []
            return [i for i in (self.nodes or honest) if i in honest]
        if self.rule == "first-decider":
            return [i for i in run.decided() if i in honest][:1]
        epoch = run.epoch()
        if epoch <= self._epoch_seen:
            return []
        self._epoch_seen = epoch
        params = self.ctx.params
        view = self.ctx.view
        first = (epoch - 1) * params.T + 1
        influence = {
            i: sum(
                abs(clip(view.column_sum(2 * t, i), params.xmax))
                for t in range(first, first + params.T)
            )
            for i in honest
        }
        return sorted(honest, key=lambda i: -influence[i])[:1]

    def due(self, run: RunView) -> Iterator[int]:
        """The victims of `victims`, one at a time, while the rule may still corrupt: the
        caller takes each over before asking for the next."""
        for victim in self.victims(run):
            if self.exhausted(run):
                return
            yield victim

    def take_over(self, spec: NodeSpec, node: ProtocolNode, at: float) -> ByzantineNode:
        """The strategy for the node of `spec`, continuing from its honest state machine
        `node` (keys, coins, views); the shared view counts the node as Byzantine from now
        on, and `corrupted` records it at time `at`."""
        options = plugin_kwargs(strategy_class(self.strategy), self.options)
        try:
            strategy = make_strategy(self.strategy, spec, self.ctx, inner=node, **options)
        except TypeError:  # strategies that do not wrap an honest node start from scratch
            strategy = make_strategy(self.strategy, spec, self.ctx, **options)
        self.ctx.view.corrupt(node.me)
        self.corrupted.append(Corruption(at, node.me, self.rule, self.strategy))
        return strategy


def corruptible(rules: Iterable[CorruptionRule | Any], honest: Sequence[int]) -> list[int]:
    """The honest nodes some rule could pick (those a runtime must be ready to take over):
    every honest node for a rule that watches decisions or coins; otherwise the named nodes
    and, for an at-time rule without names, the lowest honest ids, as many as all rules may
    take. `rules` are `CorruptionRule`s or anything with their `rule`, `count` and `nodes`
    (a scenario's entries, proxy.json's)."""
    rules = list(rules)
    if any(r.rule in _ANY_HONEST for r in rules):
        return sorted(honest)
    total = sum(r.count for r in rules)
    picked: set[int] = set()
    for r in rules:
        picked.update(r.nodes if r.nodes else sorted(honest)[:total])
    return sorted(i for i in picked if i in honest)


@dataclass
class AdaptiveCorruption(CorruptionRule):
    """A rule as a simulator observer: called after every event, it reads the run from the
    simulator (`_SimRun`) and corrupts with `Simulator.replace`. `specs` are the honest
    nodes' specs as the assembler built them (byzlab.adversary.assemble), so a node of any
    protocol is taken over with its own random stream, as the proxy's shadows are."""

    specs: Mapping[int, NodeSpec] = field(default_factory=dict)

    def __call__(self, sim: Simulator, now: float) -> None:
        for victim in self.due(_SimRun(sim, now)):
            node = sim.nodes[victim]
            assert not isinstance(node, ByzantineNode)  # run.honest() lists honest nodes only
            corrupted = self.take_over(self.specs[victim], cast(ProtocolNode, node), now)
            sim.replace(victim, corrupted, f"{corrupted.name} (corrupted at t={now:.2f})")


class _SimRun:
    """The simulator's state as a `RunView` (virtual time in units of its delta)."""

    __slots__ = ("_now", "_sim")

    def __init__(self, sim: Simulator, now: float) -> None:
        self._sim = sim
        self._now = now

    def now(self) -> float:
        return self._now / self._sim.delta

    def honest(self) -> list[int]:
        sim = self._sim
        return list(sim.honest_ids)

    def decided(self) -> list[int]:
        return [d.node for d in self._sim.decisions]

    def epoch(self) -> int:
        nodes = self._sim.honest_nodes()
        T = self._sim.params.T
        return max((n.iteration - 1) // T for n in nodes) if nodes else 0

    def faulty(self) -> int:
        return len(self._sim.byzantine_ids)
