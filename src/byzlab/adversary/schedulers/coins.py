"""Schedulers that attack the HPZ coin's blackboards with full information (HPZ §2.2, Lemma 6).

`coin-aware` gives the corrupted nodes the last word on the even board (their swing cells
reach some honest views and not others); `finger-suppression` holds the v* cells that make
the odd board's bias (§2.2, "A Finger on the Scale"). Both let votes travel as under
split-vote (adversary/schedulers/votes.py), so the coin keeps being needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from byzlab.adversary.schedulers.base import Scheduler
from byzlab.adversary.schedulers.votes import SplitVoteScheduler
from byzlab.adversary.view import AdversaryView
from byzlab.node.messages import Complete, Kind, Message, RbcMsg, Vote, Write

__all__ = ["CoinAwareScheduler", "FingerSuppressionScheduler"]


@dataclass
class CoinAwareScheduler(Scheduler):
    """Full information against the HPZ coin (§2.2, Lemma 6), with corrupted nodes that write
    their coin columns last ("the last word", adversary/strategies/planner.py).

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
    needs = "HPZ's coin messages"
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
    needs = "HPZ's coin messages"
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
