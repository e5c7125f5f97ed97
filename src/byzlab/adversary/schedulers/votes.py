"""Schedulers that attack the Bracha vote phase (HPZ Algorithm 1, §2.3) with full information.

They order the READYs each receiver gets, reading the votes already out in the shared view:
`split-vote` keeps every quorum balanced so values never converge (the classic attack on
Bracha's local coin), and `keepers` builds HPZ Lemma 3's case, |A_keep| >= f + 1 with no
decider, so that the coin must output v*. split-vote applies to any protocol: outside the
Bracha family it reads votes through the protocol's `value_of` (byzlab.node.protocol).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from byzlab.adversary.schedulers.base import Scheduler
from byzlab.node.bracha import BrachaProtocol
from byzlab.node.messages import Kind, Message, RbcMsg, Vote

__all__ = ["KeepersScheduler", "SplitVoteScheduler"]


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
    escapes as soon as its outcome is unanimous.

    On a protocol outside the Bracha family, which has no READYs or steps to order, every
    message that votes (the protocol's `value_of`) reaches a receiver early if it votes the
    receiver's side or for neither, and late otherwise: each half of the nodes sees its own
    value in the majority of every quorum, and the halves stay apart until a coin joins
    them."""

    name: str = "split-vote"
    description: str = "orders READYs so quorums stay balanced and values never converge"
    inspects_messages: bool = True
    _value_of: Callable[[Any], int | None] | None = field(
        init=False, repr=False, metadata={"internal": True}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        protocol = self.ctx.protocol
        self._value_of = None if isinstance(protocol, BrachaProtocol) else protocol.value_of

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if self._value_of is not None:
            return self._by_value(dst, self._value_of(msg))
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

    def _by_value(self, dst: int, value: int | None) -> float:
        if value is None:
            return self.rng.random() * self.delta
        if value == 0 or value == (1 if dst % 2 == 0 else -1):
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
    needs = "the Bracha engine's votes"
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
