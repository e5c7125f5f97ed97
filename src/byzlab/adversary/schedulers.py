"""Schedulers: the adversary's power over delivery order (HPZ §2, "Full Information & Scheduling").

A scheduler picks the delay of every message in [0, delta]. In the simulator delays are in
virtual time; behind the TCP proxy the same objects are used with delta mapped to wall-clock
seconds, so one scenario means the same thing in both modes. Since the model bounds delays
by delta but puts no lower bound on them, a scheduler controls the delivery order completely
within that window. Schedulers take their randomness from the `random.Random` handed to
`bind`, so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import Field, dataclass, field, fields
from typing import Any

from byzlab.adversary.view import AdversaryView
from byzlab.node.coin import sgn
from byzlab.node.messages import Kind, Message, RbcMsg, Vote, Write


@dataclass
class Scheduler:
    """Base class: constant delay delta (FIFO on every link and globally)."""

    name: str = "fifo"
    description: str = "every message takes exactly delta: global FIFO delivery"
    n: int = 0
    f: int = 0
    delta: float = 1.0
    byzantine: frozenset[int] = frozenset()
    rng: random.Random = field(default_factory=random.Random)
    # Does `delay` look at message contents? The TCP proxy decodes frames for schedulers that
    # do (full information) and skips that cost for the ones that only look at endpoints.
    inspects_messages: bool = False
    # set by the runtime: the adversary's full-information view (adversary/view.py)
    adversary: AdversaryView | None = None

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        self.n, self.f, self.delta = n, f, delta
        self.byzantine = frozenset(byzantine)
        self.rng = rng

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return self.delta

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class FifoScheduler(Scheduler):
    pass


@dataclass
class UniformScheduler(Scheduler):
    name: str = "random"
    description: str = "independent uniform delays in [0, delta]"

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return self.rng.random() * self.delta


@dataclass
class HoldScheduler(Scheduler):
    """The messages of `held` nodes (default: f honest nodes) take delta; all others at most
    delta/4. Every quorum of n - f then forms from the others first, so exactly n - f nodes
    participate, and the held columns of the blackboards stay partial."""

    name: str = "hold-f"
    description: str = "messages of f chosen nodes arrive last, so exactly n-f participate"
    held: frozenset[int] | None = None

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if self.held is None:
            honest = [i for i in range(n) if i not in self.byzantine]
            self.held = frozenset(honest[-f:])
        elif any(not 0 <= i < n for i in self.held):
            raise ValueError(f"held nodes {sorted(self.held)} out of range for n={n}")

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        assert self.held is not None
        if src in self.held and src != dst:
            return self.delta
        return self.rng.random() * self.delta * 0.25

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "held": sorted(self.held or ())}


@dataclass
class SplitVoteScheduler(Scheduler):
    """The classic attack on Bracha: keep the honest values balanced (Bracha 1987; Kimmett).

    Every receiver d has a "side" (+1 for even ids, -1 for odd). A node accepts an RBC
    instance when 2f+1 READYs reach it, so the scheduler lets INITIALs and ECHOs flow fast
    everywhere and orders the READYs addressed to d: step-1 votes of d's side arrive first,
    so step-2 values split by side; step-2 votes of the value that is rarer so far arrive
    first (full information), so no step-2 quorum holds more than n/2 equal values; step-3
    bottoms arrive first. Everybody votes bottom in step 3 and falls back on the coin.
    Against local coins the honest nodes only escape when their coins are so lopsided that
    one side runs out of votes, which takes exponentially many iterations; the HPZ coin
    escapes as soon as its outcome is unanimous."""

    name: str = "split-vote"
    description: str = "orders READYs so quorums stay balanced and values never converge"
    inspects_messages: bool = True

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if not isinstance(msg, RbcMsg) or not isinstance(msg.item, Vote) or msg.item.step == 4:
            return self.rng.random() * self.delta
        if msg.kind != Kind.READY:
            return self.rng.random() * 0.05 * self.delta
        item = msg.item
        if item.step == 1:
            wanted = 1 if dst % 2 == 0 else -1
        elif item.step == 2:
            wanted = self._rarer(item.iteration, dst)
        else:
            wanted = 0
        if item.value == wanted:
            return self.delta * (0.1 + 0.1 * self.rng.random())
        return self.delta * (0.8 + 0.2 * self.rng.random())

    def _rarer(self, iteration: int, dst: int) -> int:
        votes = self.adversary.votes.get((iteration, 2), {}) if self.adversary else {}
        plus = sum(1 for v in votes.values() if v == 1)
        minus = sum(1 for v in votes.values() if v == -1)
        if plus == minus:
            return 1 if dst % 2 == 0 else -1
        return 1 if plus < minus else -1


@dataclass
class ExponentialScheduler(Scheduler):
    """Delays drawn from an exponential distribution of mean `mean` x delta, cut at delta:
    mostly fast messages with a long tail, like a real network."""

    name: str = "exponential"
    description: str = "exponential delays (mean 0.25 delta) truncated at delta"
    mean: float = 0.25

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return min(self.delta, self.rng.expovariate(1.0 / (self.mean * self.delta)))


@dataclass
class LatencyMatrixScheduler(Scheduler):
    """Fixed per-link latencies (a geography): `matrix[src][dst]` in units of delta, plus
    `jitter` x delta of uniform noise; values are cut at delta. Default: a ring where latency
    grows with the distance between ids."""

    name: str = "latency-matrix"
    description: str = "per-link latency matrix (default: ring distance), plus jitter"
    matrix: list[list[float]] | None = None
    jitter: float = 0.05

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if self.matrix is None:
            self.matrix = [[min(abs(i - j), n - abs(i - j)) / (n / 2) * 0.8 for j in range(n)]
                           for i in range(n)]
        if len(self.matrix) != n or any(len(row) != n for row in self.matrix):
            raise ValueError(f"latency matrix must be {n} x {n}")
        if any(not 0 <= x <= 1 for row in self.matrix for x in row):
            raise ValueError("latency matrix entries must be in [0, 1] (units of delta)")

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        assert self.matrix is not None
        return min(self.delta, (self.matrix[src][dst] + self.rng.random() * self.jitter)
                   * self.delta)


@dataclass
class TargetedScheduler(Scheduler):
    """Slow or targeted nodes: every message to or from `nodes` (default: f honest nodes)
    takes `slowdown` x delta; all others are uniform in [0, delta/4]."""

    name: str = "targeted"
    description: str = "chosen nodes are slow: their traffic takes the full delta"
    nodes: list[int] | None = None
    slowdown: float = 1.0

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if self.nodes is None:
            self.nodes = [i for i in range(n) if i not in self.byzantine][:f]
        if not 0 <= self.slowdown <= 1:
            raise ValueError("slowdown must be in [0, 1] (a fraction of delta)")

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        assert self.nodes is not None
        if src in self.nodes or dst in self.nodes:
            return self.slowdown * self.delta
        return self.rng.random() * 0.25 * self.delta


@dataclass
class PartitionScheduler(Scheduler):
    """Partition and heal: until `heal_at` (virtual time, units of delta) messages between
    the two groups take the full delta while messages inside a group are fast; after it,
    uniform. An asynchronous partition can only slow links down to delta, never cut them."""

    name: str = "partition"
    description: str = "two groups: cross-group links take delta until heal_at, then heal"
    group: list[int] | None = None
    heal_at: float = 30.0

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if self.group is None:
            self.group = list(range(n // 2))

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        assert self.group is not None
        if now < self.heal_at * self.delta and (src in self.group) != (dst in self.group):
            return self.delta
        return self.rng.random() * 0.25 * self.delta


@dataclass
class CoinAwareScheduler(Scheduler):
    """Uses full information to fight the HPZ coin (§2.2, Lemma 6): an honest coin cell that
    pushes the running total bias + Sigma away from zero is delivered late (delta), one that
    pulls it back early, and the odd-board writes of nodes that keep v* (the bias, a "finger
    on the scale") are delayed so that they miss as many views as possible. The corrupted
    nodes' coin cells reach even-numbered nodes at once and odd-numbered ones a delta later,
    so when the total sits near zero the two halves fix views on opposite sides of it (the
    coin splits). Votes travel as in split-vote, so that the coin keeps being needed."""

    name: str = "coin-aware"
    description: str = "delays coin cells and bias writes that would end the game (full info)"
    inspects_messages: bool = True

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        view = self.adversary
        item = getattr(msg, "item", None)
        if view is None or item is None:
            return self.rng.random() * self.delta
        if isinstance(item, Write) and isinstance(msg, RbcMsg):
            if msg.origin in self.byzantine:
                if item.board % 2 == 0 and msg.kind == Kind.READY and dst % 2 == 1:
                    return self.delta
                return self.rng.random() * 0.05 * self.delta
            if item.board % 2 == 1:
                return self.delta if item.value else self.rng.random() * 0.2 * self.delta
            t = item.board // 2
            total = view.bias(t) + view.sigma_g(t) + view.sigma_b(t)
            if total and sgn(total) == item.value:
                return self.delta
            return self.rng.random() * 0.2 * self.delta
        self._votes.adversary = view
        return self._votes.delay(src, dst, msg, now)

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        self._votes = SplitVoteScheduler()
        self._votes.bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)


SCHEDULERS: dict[str, Callable[..., Scheduler]] = {
    "fifo": FifoScheduler,
    "random": UniformScheduler,
    "hold-f": HoldScheduler,
    "split-vote": SplitVoteScheduler,
    "exponential": ExponentialScheduler,
    "latency-matrix": LatencyMatrixScheduler,
    "targeted": TargetedScheduler,
    "partition": PartitionScheduler,
    "coin-aware": CoinAwareScheduler,
}


def option_fields(cls: type[Scheduler]) -> list[Field[Any]]:
    """The fields of a scheduler class that a scenario may set (its options): everything
    beyond the base class, except private and internal bookkeeping."""
    base = {f.name for f in fields(Scheduler)}
    return [f for f in fields(cls) if f.name not in base and not f.name.startswith("_")
            and not f.metadata.get("internal")]


def make_scheduler(name: str, **kwargs: Any) -> Scheduler:
    try:
        factory = SCHEDULERS[name]
    except KeyError:
        raise ValueError(
            f"unknown scheduler {name!r}; choose one of: {', '.join(sorted(SCHEDULERS))}"
        ) from None
    return factory(**kwargs)


# Rule-based triggers live in their own module (they are a small language of their own); it
# needs the base class above, so it is imported last.
from byzlab.adversary.triggers import RuleScheduler  # noqa: E402

SCHEDULERS["rules"] = RuleScheduler
