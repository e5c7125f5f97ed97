"""Vote attacks on the Bracha phase (HPZ Algorithm 1; the families of Kimmett 2020 on King-Saia).

A corrupted node may claim any n - f validated votes as its support, so it picks the quorum
whose valid outcome (node/steps.py) hurts most: split-vote (the honest minority, and bottom
where it can), force-decide (v* into step 3 so that some nodes decide and others not) and
deadlock (bottom, and INITIALs withheld from f + 1 nodes). `PatientVoter` adds waiting for
the honest votes it reacts to, which the coin attacks (coins.py) build on.
"""

from __future__ import annotations

from dataclasses import replace

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.strategies.base import ItemRewriter, NodeSpec, own_initial
from byzlab.node.agreement import HonestNode
from byzlab.node.coin import sgn
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import DecideMsg, Item, RbcMsg, Vote
from byzlab.node.steps import step_value

__all__ = ["Deadlock", "ForceDecide", "PatientVoter", "QuorumPicker", "SplitVoteVoter"]


class QuorumPicker(ItemRewriter):
    """A corrupted node may claim any n - f validated votes as its support. It picks the
    quorum whose (valid) outcome is most useful to the adversary: `preferred` lists the
    values it wants, best first."""

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        return ()

    def rewrite_item(self, item: Item) -> Item:
        if (
            isinstance(item, Vote)
            and item.step == 1
            and item.iteration > 1
            and self.inner.protocol.coin is not None
            and self.inner.protocol.coin.private
            and self.inner.x == 0
        ):
            # a local coin cannot be validated: the corrupted node picks its "coin" freely
            for want in self.preferred(item.iteration, 1):
                if want:
                    return replace(item, value=want)
            return item
        if not isinstance(item, Vote) or item.step == 1 or not item.support:
            return item
        know = self.inner.know
        votes = know.votes.get((item.iteration, item.step - 1))
        if votes is None:
            return item
        have = [(j, v) for j, v in enumerate(votes) if v is not None]
        quorum = self.spec.params.quorum
        for want in self.preferred(item.iteration, item.step):
            chosen = quorum_for(have, quorum, want, item.step, self.spec.params.n)
            if chosen is not None:
                support, value = chosen
                return replace(item, value=value, support=support)
        return item


def quorum_for(
    have: list[tuple[int, int]], quorum: int, want: int, step: int, n: int
) -> tuple[int, int] | None:
    """A support of `quorum` validated votes whose step outcome is `want`, if one exists:
    take votes equal to `want` first (or bottoms and minorities when `want` is bottom)."""
    if len(have) < quorum:
        return None
    if want == 0:
        counts = {1: sum(1 for _, v in have if v == 1), -1: sum(1 for _, v in have if v == -1)}
        minority = min(counts, key=lambda v: counts[v])
        ranked = sorted(have, key=lambda jv: (jv[1] != 0, jv[1] != minority))
    else:
        ranked = sorted(have, key=lambda jv: jv[1] != want)
    chosen = ranked[:quorum]
    value = step_value(step, [v for _, v in chosen], n)
    if value != want:
        return None
    support = 0
    for j, _ in chosen:
        support |= 1 << j
    return support, value


class SplitVoteVoter(QuorumPicker):
    name = "split-vote"
    description = "votes the honest minority and bottom wherever a valid quorum allows (Kimmett)"

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        # the honest values this vote will be counted with: the previous step's, or for a
        # step-1 coin the honest step-1 votes already out in this iteration
        source = (iteration, step - 1) if step > 1 else (iteration, 1)
        honest = [v for j, v in self.view.votes.get(source, {}).items() if j in self.view.honest]
        minority = -sgn(sum(honest)) if honest else self.rng.choice((-1, 1))
        return (0, minority) if step >= 3 else (minority,)


class ForceDecide(QuorumPicker):
    name = "force-decide"
    description = "pushes v* into step 3 so some nodes reach x >= f+1 and others not (Kimmett)"

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        honest = [
            v
            for j, v in self.view.votes.get((iteration, step - 1), {}).items()
            if j in self.view.honest and v
        ]
        majority = sgn(sum(honest)) if honest else 1
        return (majority, -majority)


class Deadlock(QuorumPicker):
    name = "deadlock"
    description = "votes bottom whenever valid and withholds INITIALs from f+1 nodes (Kimmett)"

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        return (0,)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        n, f = self.spec.params.n, self.spec.params.f
        out: list[Effect] = []
        for e in super().rewrite(effects, now):
            msg = own_initial(e, self.me)
            if msg is not None:
                shunned = set(self.rng.sample(range(n), f + 1)) - {self.me}
                out.extend(Send(d, msg) for d in range(n) if d not in shunned)
            else:
                out.append(e)
        return out


class PatientVoter(SplitVoteVoter):
    """A corrupted voter that waits for the honest votes it reacts to before it votes in
    steps 2-4 (a corrupted node may be as slow as it likes), sides with the honest step-2
    majority so that a unanimous step-2 quorum exists, votes v* in step 3 whenever one
    does (which lets it claim x >= 1 later if it wants), and prefers bottom in stage 1.
    Whatever stage-1 support it claims, its next step-1 value is the one that support and
    its carried view justify, so it is always validated."""

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, inner: HonestNode | None = None
    ) -> None:
        super().__init__(spec, ctx, inner)
        self._held_votes: dict[tuple[int, int], Effect] = {}

    def patient(self) -> bool:
        """Vote this way at all? (Subclasses may vote like an honest node instead.)"""
        return True

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        view = self.view
        seen = [v for j, v in view.votes.get((iteration, 2), {}).items() if j in view.honest]
        if step == 2:
            # side with the honest step-2 majority, so that a unanimous quorum (and with it
            # a non-bottom step-3 vote) exists; with none out yet, the step-1 minority
            if seen and sum(seen):
                return (sgn(sum(seen)),)
            return super().preferred(iteration, step)
        if step == 3:
            lead = sgn(sum(seen)) if seen else 1
            return (lead, -lead, 0)
        if step == 4:
            return (0,)
        return super().preferred(iteration, step)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        patient = self.patient()
        for e in effects:
            if patient and isinstance(e, Broadcast) and isinstance(e.msg, DecideMsg):
                continue  # a corrupted node never helps anyone terminate
            msg = own_initial(e, self.me)
            if not patient:
                out.extend(self.rewrite_own(e, msg, now))
                continue
            if (
                msg is not None
                and isinstance(msg.item, Vote)
                and msg.item.step in (2, 3, 4)
                and not self._vote_due(msg.item)
            ):
                self._held_votes[(msg.item.iteration, msg.item.step)] = e
                continue
            out.extend(self.rewrite_own(e, msg, now))
        return out

    def rewrite_own(self, effect: Effect, msg: RbcMsg | None, now: float) -> list[Effect]:
        """Rewrite one effect that is not a held vote (subclasses handle their cells)."""
        return super().rewrite([effect], now)

    def _vote_due(self, item: Vote) -> bool:
        """Steps 2-4 wait until the honest votes they react to are in: step 2 for the honest
        step-2 votes (to side with their majority), step 3 until this node has validated
        them (to find a unanimous quorum), stage 1 until it has validated the honest step-3
        votes (to find an all-bottom support)."""
        view = self.view
        quorum = self.spec.params.quorum
        step = 2 if item.step == 2 else item.step - 1
        seen = [j for j in view.votes.get((item.iteration, step), {}) if j in view.honest]
        if len(seen) < quorum:
            return False
        if item.step == 2:
            return True
        validated = self.inner.know.votes.get((item.iteration, step))
        return validated is not None and all(validated[j] is not None for j in seen)

    def _release_votes(self, out: list[Effect], now: float) -> None:
        for key in sorted(self._held_votes):
            effect = self._held_votes[key]
            held = own_initial(effect, self.me)
            assert held is not None
            assert isinstance(held.item, Vote)
            if self._vote_due(held.item):
                del self._held_votes[key]
                out.extend(super().rewrite([effect], now))

    def _keep_support(self, iteration: int, of_step: int, value: int) -> int | None:
        """A quorum of this node's validated votes of (iteration, of_step) that keeps
        `value`: v* if one of them is v*, 0 if all are bottom (the rule of stage 1 on the
        step-3 votes and of the odd board on the stage-1 votes), as a support bitmask."""
        votes = self.inner.know.votes.get((iteration, of_step))
        if votes is None:
            return None
        have = [(j, v) for j, v in enumerate(votes) if v is not None]
        chosen = quorum_for(have, self.spec.params.quorum, value, 4, self.spec.params.n)
        return None if chosen is None else chosen[0]

    def rewrite_item(self, item: Item) -> Item:
        if not self.patient():
            return item
        item = super().rewrite_item(item)
        if (
            isinstance(item, Vote)
            and item.step == 1
            and item.iteration > 1
            and self.inner.protocol.coin is None
            and item.view is not None
        ):
            # The stage-1 vote went out with a support this node chose, so the next value
            # must be what that support and the carried view justify (validation.py).
            t = item.iteration - 1
            shadow = self.inner.know.shadows[self.me]
            x = shadow.x.get(t)
            if x is not None:
                expected = shadow.vstar[t] if x >= 1 else self.inner.know.coin(item.view, t)
                if expected != item.value:
                    item = replace(item, value=expected)
        return item
