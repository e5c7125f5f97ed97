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
    """Uses full information to fight the HPZ coin (§2.2, Lemma 6), together with corrupted
    nodes that write their coin columns last (the "last word", adversary/strategies.py).

    Even boards: every cell travels at once, except the last row of each honest column,
    whose READYs reach honest nodes only after `hold` x delta. No honest node can fix its
    view before then, so the corrupted nodes see every honest coin, write their columns
    to a plan (`AdversaryView.plans`) and the scheduler delivers them as planned: honest
    node d validates the first `plan.prefix[(d, b)]` cells of corrupted column b at once and
    the rest a full delta late, i.e. after it has fixed its view. With no plan (other
    strategies), corrupted cells travel at once. Odd boards: the writes of nodes that keep v*
    (the bias, a "finger on the scale") arrive last, so they miss as many views as they can.
    Votes travel as in split-vote, so that the coin keeps being needed."""

    name: str = "coin-aware"
    description: str = "holds honest coin rows so corrupted columns have the last word (full info)"
    inspects_messages: bool = True
    hold: float = 0.95

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if not 0.05 < self.hold < 1:
            raise ValueError("hold must be in (0.05, 1): a fraction of delta, below the delta "
                             "that the planned corrupted cells are held for")
        self._votes = SplitVoteScheduler()
        self._votes.bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        view = self.adversary
        if view is None or not isinstance(msg, RbcMsg):
            return self.rng.random() * self.delta
        view.holds_last_rows = True
        if dst in view.byzantine:
            return 0.0  # the adversary's own nodes hear everything at once
        item = msg.item
        if isinstance(item, Write):
            return self._write_delay(dst, msg, item, view)
        if not isinstance(item, Vote):
            return self.rng.random() * self.delta  # blackboard marks: no plan for them yet
        if item.step == 3:
            keeper = min(view.honest, default=-1)
            if msg.kind == Kind.READY and dst == keeper == msg.origin:
                return self.delta  # the keeper's quorum waits for the corrupted v*
            if msg.origin in view.byzantine and item.value:
                # a corrupted non-bottom step-3 vote makes exactly one honest keeper
                return 0.0 if dst == keeper else self.delta
        if item.step == 4:
            # a stage-1 v* reaches nobody early, so the honest odd columns say 0
            return self.delta if item.value and msg.kind == Kind.READY else 0.0
        self._votes.adversary = view
        return self._votes.delay(src, dst, msg, now)

    def _write_delay(self, dst: int, msg: RbcMsg, item: Write, view: AdversaryView) -> float:
        rows = view.params.rows(item.board)
        if msg.origin in view.byzantine:
            t = (item.board + 1) // 2
            plan = view.plans.get(t)
            if plan is None or msg.kind != Kind.READY:
                return 0.0
            # a position in the corrupted node's stream for the plan: its late odd cells
            # (if it held them back), then its even cells
            late = plan.odd_rows.get(msg.origin, 0)
            if item.board % 2 == 1 and not late:
                return 0.0
            position = item.row if item.board % 2 == 1 else late + item.row
            limit = plan.prefix.get((dst, msg.origin), late + view.params.rows(2 * t))
            return self.delta if position > limit else 0.0
        if item.board % 2 == 1:
            return self.delta if item.value else 0.0
        if item.row == 1 and msg.kind == Kind.READY:
            # The even board starts late everywhere: the corrupted nodes' earlier items,
            # slowed by the vote scheduling, are validated by all before any view is fixed.
            return self.hold * self.delta
        if item.row == rows and msg.kind == Kind.READY:
            # A last cell that pushes the running total away from 0 arrives last, so views
            # that fix before it see a total nearer 0. The plan reads the ranks.
            rank = view.hold_rank.get((item.board, msg.origin))
            if rank is None:
                t = item.board // 2
                before = view.bias(t) + sum(view.column_sum(item.board, j) for j in range(self.n)
                                            if j != msg.origin)
                before += view.column_sum(item.board, msg.origin) - item.value
                rank = int(before != 0 and sgn(before) == item.value)
                view.hold_rank[(item.board, msg.origin)] = rank
            return (self.hold - 0.05 * (1 - rank)) * self.delta
        return 0.0

    def describe(self) -> dict[str, Any]:
        """The options, and what the adversary did with them so far: how many coin plans
        the corrupted nodes made, how many promised a split vote, how many came true
        (every node carried the planned value into the next iteration), and the honest
        coin sum the first plan was made against. The TCP proxy writes this into its
        statistics, so real runs show it too."""
        out: dict[str, Any] = {"name": self.name, "hold": self.hold}
        view = self.adversary
        if view is not None and view.plans:
            plans = list(view.plans.values())
            out["plans"] = len(plans)
            out["split_plans"] = sum(p.split for p in plans)
            out["plans_come_true"] = sum(
                1 for p in plans if p.split and all(
                    view.votes.get((p.iteration + 1, 1), {}).get(node) == value
                    for node, value in p.coins.items()))
            first = min(plans, key=lambda p: p.iteration)
            out["first_plan"] = {"iteration": first.iteration, "honest_sum": first.honest_sum,
                                 "split": first.split}
        return out


@dataclass
class FingerSuppressionScheduler(Scheduler):
    """HPZ §2.2, "A Finger on the Scale": when few nodes keep v*, the scheduler decides
    whether their "finger" (here the v* cells they write into the odd board, which make
    the bias) reaches anyone's view at all, or how much of it.

    An honest node that writes v* into the odd board is a finger writer. Up to f of them
    per iteration are made slow for the rest of the coin boards: every cell of theirs
    reaches node d at once only while the bias d has accepted stays inside [-allow, allow]
    (allow = f by default); beyond that, and for all their later cells (FIFO), it takes
    delta. Everything else on the coin boards travels at once, so views are fixed before
    any held cell lands, and since the bias is read from the view fixed after the even
    board, retroactive adoption cannot bring the finger back in time. With more than f
    finger writers the scheduler cannot hold them all (a view needs n - f full columns):
    that is HPZ's Lemma 2, the finger wins; so the scheduler also keeps A_keep small and
    lets a stage-1 v* reach at most f honest nodes early. Otherwise votes travel as in
    split-vote."""

    name: str = "finger-suppression"
    description: str = "§2.2 finger on the scale: holds v* bias cells, views' bias stays in [-f, f]"
    inspects_messages: bool = True
    allow: int | None = None
    _fingers: dict[int, list[int]] = field(default_factory=dict, metadata={"internal": True})
    _seen: dict[tuple[int, int], int] = field(default_factory=dict, metadata={"internal": True})
    _cut: dict[tuple[int, int, int], int] = field(default_factory=dict,
                                                   metadata={"internal": True})
    _decided: dict[tuple[int, int, int, int], float] = field(default_factory=dict,
                                                            metadata={"internal": True})

    def bind(self, *, n: int, f: int, delta: float, byzantine: Sequence[int],
             rng: random.Random) -> None:
        super().bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)
        if self.allow is None:
            self.allow = f
        if self.allow < 0:
            raise ValueError("allow must be >= 0 (how much bias a view may see)")
        self._votes = SplitVoteScheduler()
        self._votes.bind(n=n, f=f, delta=delta, byzantine=byzantine, rng=rng)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        view = self.adversary
        if view is None or not isinstance(msg, RbcMsg):
            return self.rng.random() * self.delta
        if dst in view.byzantine:
            return 0.0
        item = msg.item
        if isinstance(item, Vote):
            return self._vote_delay(src, dst, msg, item, now, view)
        if not isinstance(item, Write):
            return 0.0  # blackboard marks travel at once
        t = (item.board + 1) // 2
        fingers = self._fingers.setdefault(t, [])
        if item.board % 2 == 1 and item.row == 1 and item.value \
                and msg.origin not in view.byzantine and msg.origin not in fingers \
                and len(fingers) < self.f:
            fingers.append(msg.origin)
        if msg.origin not in fingers:
            return 0.0
        if item.board % 2 == 0:
            return self.delta  # behind its held odd cells anyway (FIFO)
        key = (dst, msg.origin, item.board, item.row)
        decided = self._decided.get(key)
        if decided is None:
            cut = self._cut.get((dst, msg.origin, item.board))
            seen = self._seen.get((dst, item.board), 0)
            assert self.allow is not None
            if cut is None and abs(seen + item.value) <= self.allow:
                self._seen[(dst, item.board)] = seen + item.value
                decided = 0.0
            else:
                self._cut.setdefault((dst, msg.origin, item.board), item.row)
                decided = self.delta
            self._decided[key] = decided
        return decided

    def _vote_delay(self, src: int, dst: int, msg: RbcMsg, item: Vote, now: float,
                    view: AdversaryView) -> float:
        """A small A_keep, which is when the finger matters (|A_keep| <= f): a non-bottom
        step-3 vote counts early only at one honest node (the keeper), and a stage-1 v*
        reaches early only the f lowest-numbered honest nodes, who become finger writers."""
        honest = sorted(view.honest)
        if item.step == 3 and honest:
            if msg.kind == Kind.READY and dst == honest[0] == msg.origin:
                return self.delta  # the keeper's quorum waits for the non-bottom vote
            if item.value:
                return 0.0 if dst == honest[0] else self.delta
        if item.step == 4 and item.value and msg.kind == Kind.READY:
            return 0.0 if dst in honest[:self.f] else self.delta
        self._votes.adversary = view
        return self._votes.delay(src, dst, msg, now)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "allow": self.allow}


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
    "finger-suppression": FingerSuppressionScheduler,
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
