"""Schedulers: the adversary's power over delivery order (HPZ §2, "Full Information & Scheduling").

A scheduler picks the delay of every message in [0, delta]. In the simulator delays are in
virtual time; behind the TCP proxy the same objects are used with delta mapped to wall-clock
seconds, so one scenario means the same thing in both modes. Since the model bounds delays
by delta but puts no lower bound on them, a scheduler controls the delivery order completely
within that window. A scheduler is built with its `AdversaryContext` (the run's parameters,
the full-information view it shares with the corrupted nodes, its own random stream and
delta), so a run is reproducible from its seed and a scheduler is complete once it exists.
"""

from __future__ import annotations

import random
from dataclasses import Field, dataclass, field, fields
from typing import Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.view import AdversaryView
from byzlab.node.messages import Complete, Kind, Message, RbcMsg, Vote, Write


@dataclass
class Scheduler:
    """Base class: constant delay delta (FIFO on every link and globally)."""

    ctx: AdversaryContext = field(repr=False)
    name: str = "fifo"
    description: str = "every message takes exactly delta: global FIFO delivery"
    # Does `delay` look at message contents? The TCP proxy decodes frames for schedulers that
    # do (full information) and skips that cost for the ones that only look at endpoints.
    inspects_messages: bool = False
    # Copied from the context once, because `delay` reads them on every send (the hot path).
    n: int = field(init=False, repr=False)
    f: int = field(init=False, repr=False)
    delta: float = field(init=False, repr=False)
    rng: random.Random = field(init=False, repr=False)
    view: AdversaryView = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ctx = self.ctx
        self.n, self.f, self.delta = ctx.n, ctx.f, ctx.delta
        self.rng = ctx.rng
        self.view = ctx.view

    @property
    def byzantine(self) -> frozenset[int]:
        """The corrupted nodes so far (adaptive corruption adds to them during a run)."""
        return self.view.byzantine

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
    _held: frozenset[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        n, f = self.n, self.f
        if self.held is None:
            honest = [i for i in range(n) if i not in self.byzantine]
            self._held = frozenset(honest[-f:])
        elif any(not 0 <= i < n for i in self.held):
            raise ValueError(f"held nodes {sorted(self.held)} out of range for n={n}")
        else:
            self._held = frozenset(self.held)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if src in self._held and src != dst:
            return self.delta
        return self.rng.random() * self.delta * 0.25

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "held": sorted(self._held)}


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
        votes = self.view.votes.get((iteration, 2), {})
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
    _matrix: list[list[float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.n
        matrix = self.matrix
        if matrix is None:
            matrix = [
                [min(abs(i - j), n - abs(i - j)) / (n / 2) * 0.8 for j in range(n)]
                for i in range(n)
            ]
        if len(matrix) != n or any(len(row) != n for row in matrix):
            raise ValueError(f"latency matrix must be {n} x {n}")
        if any(not 0 <= x <= 1 for row in matrix for x in row):
            raise ValueError("latency matrix entries must be in [0, 1] (units of delta)")
        self._matrix = matrix

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        return min(
            self.delta, (self._matrix[src][dst] + self.rng.random() * self.jitter) * self.delta
        )


@dataclass
class TargetedScheduler(Scheduler):
    """Slow or targeted nodes: every message to or from `nodes` (default: f honest nodes)
    takes `slowdown` x delta; all others are uniform in [0, delta/4]."""

    name: str = "targeted"
    description: str = "chosen nodes are slow: their traffic takes the full delta"
    nodes: list[int] | None = None
    slowdown: float = 1.0
    _nodes: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nodes is None:
            self._nodes = [i for i in range(self.n) if i not in self.byzantine][: self.f]
        else:
            self._nodes = list(self.nodes)
        if not 0 <= self.slowdown <= 1:
            raise ValueError("slowdown must be in [0, 1] (a fraction of delta)")

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if src in self._nodes or dst in self._nodes:
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
    _group: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._group = list(range(self.n // 2)) if self.group is None else list(self.group)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        group = self._group
        if now < self.heal_at * self.delta and (src in group) != (dst in group):
            return self.delta
        return self.rng.random() * 0.25 * self.delta


@dataclass
class CoinAwareScheduler(Scheduler):
    """Full information against the HPZ coin (§2.2, Lemma 6), with corrupted nodes that write
    their coin columns last ("the last word", adversary/strategies.py).

    What the acknowledged-writes blackboard (node/blackboard.py, HPZ Theorem 1.2) leaves an
    adversary: a corrupted node may still wait until every honest coin of BB_2t is out and
    only then write its column, but each of its cells needs n - f Acks covering the one
    before, honest nodes stop acking a board once they completed it, and a view fixes only
    after n - f Completes, each showing n - f Dones. So two honest views differ in at most the
    last cell of f writers that lack a Done. This scheduler arranges exactly that:

    * Row 1 of every honest column reaches other honest nodes after delta, so the corrupted
      nodes' earlier items (slowed by the vote scheduling) are validated everywhere before
      any corrupted coin cell needs honest Acks.
    * The last row of the honest writers outside X (X = the n - f - |B| lowest honest ids)
      reaches honest nodes only after `hold` x delta. Every Done needs n - f Acks covering the
      writer's last row, so no honest node completes the board before then, while the X
      nodes' Acks (sent after their own Dones, which travel at once) and the corrupted nodes'
      Acks form the n - f Acks that each corrupted cell needs: the corrupted columns are
      written, as planned, in zero virtual time.
    * Each corrupted column ends in a *swing cell* without a Done (the plan, `CoinPlan`).
      Its READYs reach the plan's `plus` nodes at (hold + (1 - hold)/2) delta after the plan,
      i.e. after they sent their own Complete, and their n - f Completes only at
      (hold + 3(1 - hold)/4) delta, so their views hold the swing cells; they reach every
      other honest node a full delta late, after it fixed its view on honest Completes that
      do not cover them. A corrupted Complete covers its sender's swing cell, so it
      travels at once: nobody can validate it before the swing cell anyway.
    * Odd boards: the v* cells of keepers (the "finger on the scale") reach others last, so
      that the columns of the n - f other writers complete the board first.
    * Votes travel as in split-vote (so the coin keeps being needed), except that a corrupted
      non-bottom step-3 vote counts early at exactly one honest node (the keeper) and a
      stage-1 v* reaches nobody early.

    What it can no longer do (Theorem 1.2 holds now): show different honest nodes different
    prefixes of a corrupted column, hold the last honest coin row while the corrupted
    columns land, or let a corrupted node decide its odd column late (a late odd cell gets no
    honest Acks: honest nodes ack only their first uncompleted board). The swing is at most
    one cell per corrupted writer, weighted: f in all, so only a board whose total the
    corrupted columns bring within that of 0 can split (Lemma 4), and that forces them to
    counteract the honest sum (Lemma 6), which the pairwise correlations see.
    """

    name: str = "coin-aware"
    description: str = "last word on the coin board: swing cells in some views only (full info)"
    inspects_messages: bool = True
    hold: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.05 < self.hold < 0.9:
            raise ValueError(
                "hold must be in (0.05, 0.9): a fraction of delta, leaving room "
                "after it for the swing cells and the plus nodes' Completes"
            )
        # the votes travel as under split-vote, drawing from this scheduler's stream
        self._votes = SplitVoteScheduler(self.ctx)

    def _ackers(self, view: AdversaryView) -> set[int]:
        """X: the honest writers whose last rows travel at once (their Acks, with the
        corrupted ones, make the n - f Acks of each corrupted cell)."""
        honest = sorted(view.honest)
        return set(honest[: max(1, self.n - self.f - len(view.byzantine))])

    def _at(self, start: float, fraction: float, now: float) -> float:
        """The delay that delivers at `start` + fraction x delta, within [0, delta]."""
        return min(self.delta, max(0.0, start + fraction * self.delta - now))

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        view = self.view
        if not isinstance(msg, RbcMsg):
            return self.rng.random() * self.delta
        view.schedules_last_word = True
        item = msg.item
        ours = dst in view.byzantine
        if isinstance(item, Vote):
            return 0.0 if ours else self._vote_delay(src, dst, msg, item, now, view)
        origin, board = msg.origin, item.board
        if board % 2 == 1:
            # the finger on the scale: v* cells of honest keepers arrive last
            if (
                isinstance(item, Write)
                and item.value
                and origin in view.honest
                and dst != origin
                and not ours
            ):
                return self.delta
            return 0.0
        t = board // 2
        plan = view.plans.get(t)
        ready = msg.kind == Kind.READY
        if not ready or dst == origin:
            return 0.0
        # The corrupted nodes see the board as the plus nodes do: the others' swing cells
        # after their own Complete, and no honest last row early (an Ack covering it would
        # be stuck at the honest nodes, and so would the corrupted cells after that Ack).
        plus = ours or (plan is not None and dst in plan.plus)
        if origin in view.byzantine:
            if (
                plan is not None
                and isinstance(item, Write)
                and item.row == len(plan.cells.get(origin, ()))
            ):
                if plus:
                    return self._at(plan.made_at, self.hold + (1 - self.hold) / 2, now)
                return self.delta
            return 0.0
        if isinstance(item, Write) and item.row == 1 and not ours:
            # The even board starts late at the honest nodes: the corrupted nodes' earlier
            # items, slowed by the vote scheduling, are validated everywhere before any
            # corrupted cell needs honest Acks.
            return self.delta
        if (
            isinstance(item, Write)
            and item.row == view.params.rows(board)
            and origin not in self._ackers(view)
        ):
            return self.hold * self.delta
        if isinstance(item, Complete) and plan is not None and plus:
            return self._at(plan.made_at, self.hold + 3 * (1 - self.hold) / 4, now)
        return 0.0

    def _vote_delay(
        self, src: int, dst: int, msg: RbcMsg, item: Vote, now: float, view: AdversaryView
    ) -> float:
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
        return self._votes.delay(src, dst, msg, now)

    def describe(self) -> dict[str, Any]:
        """The options, and what the adversary did with them so far: how many coin plans
        the corrupted nodes made, how many promised a split vote, how many came true
        (every node carried the planned value into the next iteration), and the honest
        coin sum the first plan was made against. The TCP proxy writes this into its
        statistics, so real runs show it too."""
        out: dict[str, Any] = {"name": self.name, "hold": self.hold}
        view = self.view
        if view.plans:
            plans = list(view.plans.values())
            out["plans"] = len(plans)
            out["split_plans"] = sum(p.split for p in plans)
            out["plans_come_true"] = sum(
                1
                for p in plans
                if p.split
                and all(
                    view.votes.get((p.iteration + 1, 1), {}).get(node) == value
                    for node, value in p.coins.items()
                )
            )
            first = min(plans, key=lambda p: p.iteration)
            out["first_plan"] = {
                "iteration": first.iteration,
                "honest_sum": first.honest_sum,
                "split": first.split,
            }
        return out


@dataclass
class FingerSuppressionScheduler(Scheduler):
    """HPZ §2.2, "A Finger on the Scale": when few nodes keep v*, the scheduler decides
    whether their "finger" (here the v* cells they write into the odd board, which make
    the bias) reaches the views at all, or how much of it.

    An honest node that writes v* into the odd board is a finger writer. Up to f of them
    per iteration are made slow: their cells reach others at once only while the bias let
    through so far stays inside [-allow, allow] (allow = f by default); the first cell
    beyond that, and every later one (FIFO), takes delta. Everything else on the coin boards
    travels at once, so the other n - f columns (the corrupted ones included: they must send
    their Dones) complete the odd board and every view is fixed before a held cell lands.

    Under the acknowledged-writes blackboard (Theorem 1.2) the cut is one for all receivers:
    the cells before it are followed (each needed n - f Acks covering the previous one), so
    they are in every view, and only a finger writer's last cell before the cut may be in
    some views and not others. The old per-receiver cut (node d sees a prefix of the finger
    that keeps *its* bias inside, node d' a longer one) would make views differ in whole
    partial columns, which Theorem 1.2 now rules out. Retroactive adoption cannot bring the
    finger back in time: the bias is read from the view fixed after the even board, and
    held cells are never followed before it. With more than f finger writers the scheduler
    cannot hold them all (n - f Dones are needed to complete the board): that is HPZ's
    Lemma 2, the finger wins; so the scheduler also keeps A_keep small and lets a stage-1
    v* reach at most f honest nodes early. Otherwise votes travel as in split-vote."""

    name: str = "finger-suppression"
    description: str = "§2.2 finger on the scale: holds v* bias cells, views' bias stays in [-f, f]"
    inspects_messages: bool = True
    allow: int | None = None
    _fingers: dict[int, list[int]] = field(default_factory=dict, metadata={"internal": True})
    _seen: dict[int, int] = field(default_factory=dict, metadata={"internal": True})
    _cut: dict[tuple[int, int], int] = field(default_factory=dict, metadata={"internal": True})

    def __post_init__(self) -> None:
        super().__post_init__()
        self._allow = self.f if self.allow is None else self.allow
        if self._allow < 0:
            raise ValueError("allow must be >= 0 (how much bias a view may see)")
        # the votes travel as under split-vote, drawing from this scheduler's stream
        self._votes = SplitVoteScheduler(self.ctx)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        view = self.view
        if not isinstance(msg, RbcMsg):
            return self.rng.random() * self.delta
        if dst in view.byzantine:
            return 0.0
        item = msg.item
        if isinstance(item, Vote):
            return self._vote_delay(src, dst, msg, item, now, view)
        t = (item.board + 1) // 2
        fingers = self._fingers.setdefault(t, [])
        if (
            isinstance(item, Write)
            and item.board % 2 == 1
            and item.row == 1
            and item.value
            and msg.origin not in view.byzantine
            and msg.origin not in fingers
            and len(fingers) < self.f
        ):
            fingers.append(msg.origin)
        if msg.origin not in fingers or dst == msg.origin or not isinstance(item, Write):
            # a finger writer validates its own cells at once, so it keeps acking; its marks
            # travel at once too (those after a held cell wait for it anyway, FIFO)
            return 0.0
        if item.board % 2 == 0:
            return self.delta  # behind its held odd cells anyway (FIFO)
        # one cut per (writer, board), the same for every receiver
        cut = self._cut.get((msg.origin, item.board))
        if cut is None:
            seen = self._seen.get(item.board, 0)
            if abs(seen + item.value) <= self._allow:
                self._seen[item.board] = seen + item.value
                return 0.0
            cut = self._cut[(msg.origin, item.board)] = item.row
        return 0.0 if item.row < cut else self.delta

    def _vote_delay(
        self, src: int, dst: int, msg: RbcMsg, item: Vote, now: float, view: AdversaryView
    ) -> float:
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
            return 0.0 if dst in honest[: self.f] else self.delta
        return self._votes.delay(src, dst, msg, now)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "allow": self._allow}


@dataclass
class KeepersScheduler(Scheduler):
    """HPZ Lemma 3's case: |A_keep| >= f + 1 and nobody decides, so the coin must output v*.

    A_keep is the set of honest nodes p whose first n - f validated step-3 votes hold x_p in
    [1, f] non-bottom values (§2.3, §3.1). The scheduler orders READYs, round by round:

    * step 1: receivers outside the `spread` highest honest ids (default n - f - floor(n/2),
      the minority step 2 needs) get the step-1 votes of the leading value (the sign of
      those sent so far) first, the others the opposite value, so the step-2 values come
      out mostly one way, with a minority;
    * step 2: the `makers` lowest honest ids get the leading step-2 value first (more than
      n/2 of their quorum is v*, so they vote v* in step 3); everyone else gets the other
      value first, so they vote bottom;
    * step 3: each receiver counts at most `keep` non-bottom votes early (they arrive first,
      at 0.05 delta), then bottoms; any other non-bottom vote reaches it a full delta late.
      So every honest x_p is in [1, keep] with keep <= f whenever one v* vote exists and at
      least n - 2f bottoms do: every honest node keeps v*, |A_keep| >= f + 1, and no x_p
      reaches f + 1, so nobody decides in step 3.

    Everything else gets uniform delays in [0, delta]. By Lemma 2 the odd board then carries
    at least (n - f) m0 cells of v* in every view, and by Lemma 3 every honest coin outputs
    v* (w.h.p. in HPZ's regime; the invariants check_lemma3 counts it). Since every honest
    node keeps v*, the next iteration decides: this scheduler exercises the lemma, it does
    not stall the protocol."""

    name: str = "keepers"
    description: str = "orders votes so every honest x_p is in [1, f]: |A_keep| >= f+1, no decider"
    inspects_messages: bool = True
    keep: int = 1
    makers: int = 1
    spread: int | None = None
    _early: dict[tuple[int, int], set[int]] = field(
        default_factory=dict, metadata={"internal": True}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        n, f = self.n, self.f
        if not 1 <= self.keep <= max(1, f):
            raise ValueError(
                f"keep must be in [1, f] = [1, {max(1, f)}]: the non-bottom "
                "step-3 votes each honest node counts (x_p)"
            )
        honest = n - len(self.byzantine)
        if not 1 <= self.makers <= honest:
            raise ValueError(
                f"makers must be in [1, {honest}] (honest nodes that vote v* in step 3)"
            )
        self._spread = max(1, n - f - n // 2) if self.spread is None else self.spread
        if not 0 <= self._spread < honest:
            raise ValueError(
                f"spread must be in [0, {honest - 1}] (honest nodes that get the "
                "minority step-1 value first)"
            )

    def _lead(self, iteration: int, step: int) -> int:
        votes = self.view.votes.get((iteration, step), {})
        total = sum(votes.values())
        return 1 if total >= 0 else -1

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        view = self.view
        if not isinstance(msg, RbcMsg) or not isinstance(msg.item, Vote) or msg.item.step == 4:
            return self.rng.random() * self.delta
        if msg.kind != Kind.READY:
            return self.rng.random() * 0.05 * self.delta
        item = msg.item
        honest = sorted(view.honest)
        fast = self.delta * (0.1 + 0.1 * self.rng.random())
        slow = self.delta * (0.8 + 0.2 * self.rng.random())
        if item.step == 1:
            spread = self._spread
            minority = set(honest[len(honest) - spread :]) if spread else set()
            lead = self._lead(item.iteration, 1)
            wanted = -lead if dst in minority else lead
            return fast if item.value == wanted else slow
        if item.step == 2:
            lead = self._lead(item.iteration, 2)
            wanted = lead if dst in honest[: self.makers] else -lead
            return fast if item.value == wanted else slow
        if not item.value:
            return fast
        early = self._early.setdefault((item.iteration, dst), set())
        if msg.origin in early:
            return 0.05 * self.delta
        if len(early) < self.keep:
            early.add(msg.origin)
            return 0.05 * self.delta
        return self.delta

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "keep": self.keep, "makers": self.makers, "spread": self._spread}


SCHEDULERS: dict[str, type[Scheduler]] = {
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
    "keepers": KeepersScheduler,
}


def option_fields(cls: type[Scheduler]) -> list[Field[Any]]:
    """The fields of a scheduler class that a scenario may set (its options): everything
    beyond the base class, except private and internal bookkeeping."""
    base = {f.name for f in fields(Scheduler)}
    return [
        f
        for f in fields(cls)
        if f.name not in base and not f.name.startswith("_") and not f.metadata.get("internal")
    ]


def make_scheduler(name: str, ctx: AdversaryContext, **options: Any) -> Scheduler:
    """The scheduler `name` of the registry, built for the run `ctx` with its `options`."""
    try:
        factory = SCHEDULERS[name]
    except KeyError:
        raise ValueError(
            f"unknown scheduler {name!r}; choose one of: {', '.join(sorted(SCHEDULERS))}"
        ) from None
    return factory(ctx, **options)


# Rule-based triggers live in their own module (they are a small language of their own); it
# needs the base class above, so it is imported last.
from byzlab.adversary.triggers import RuleScheduler  # noqa: E402

SCHEDULERS["rules"] = RuleScheduler
