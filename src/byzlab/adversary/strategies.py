"""Byzantine strategies: small objects that replace a corrupted node's behaviour.

A strategy has the same interface as an honest node (`start`, `receive`, returning effects)
and is driven by the adversary, which holds the node's keys. Strategies never add
`if byzantine:` branches to honest code; the ones that behave mostly honestly wrap an
`HonestNode` and rewrite or suppress what it sends (the shape of commonware's conflicter and
relab/hotstuff's rule wrappers). A strategy is built with the run's `AdversaryContext` (the
shared view), so it is complete once it exists; its randomness is the node's own stream, so
simulator runs stay reproducible.

Corrupted nodes share one `AdversaryView` (adversary/view.py): the adversary is
full-information and coordinates all f of them. Families:

* crash and omission: silent, crash (at a time, iteration or step), split-hold;
* RBC misuse: equivocate (conflicting INITIALs);
* invalid transitions, which validation must reject: random-value, invalid-value;
* coin attacks on the HPZ blackboards (HPZ §2.1-2.2, Lemma 6): random-coins, biased-coins
  (cells written as they go), and mirror-mimic and coin-interval, which with the coin-aware
  scheduler write their columns last, to a shared plan, so that the honest coins disagree
  ("the last word", below) and otherwise steer cell by cell;
* sigma-correlation (§2.2, "A Scheduling Attack"): sigma(t) decided late, against chosen
  target nodes;
* vote attacks on the Bracha phase (the families of Kimmett 2020 on King-Saia): a corrupted
  node may claim any n - f validated votes as its support, so it picks the quorum whose
  valid outcome hurts most: split-vote, force-decide, deadlock.

A corrupted node may also be as slow as it likes: several strategies hold their own
messages back until the honest ones they react to are out, which the model allows (only
honest messages are bound by delta), and buffer what they receive before feeding it to the
honest node inside them, which lets them choose, within what validation accepts, the
view they carry and therefore the coin outcome they must vote.

Adaptive corruption (taking over an honest node's keys and state mid-run) is a rule of the
whole adversary, see `AdaptiveCorruption` in adversary/corruption.py.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.view import AdversaryView, CoinPlan
from byzlab.node.agreement import HonestNode
from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.coin import clip, sgn
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import DecideMsg, Item, Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params
from byzlab.node.steps import step_value


@dataclass(frozen=True)
class NodeSpec:
    """Everything needed to build a node of a run."""

    me: int
    params: Params
    protocol: str
    input_value: int
    rng: random.Random
    ideal_seed: bytes = b""

    def honest(self) -> HonestNode:
        return HonestNode(
            self.me,
            self.params,
            protocol=self.protocol,
            input_value=self.input_value,
            rng=self.rng,
            ideal_seed=self.ideal_seed,
        )


class ByzantineNode:
    """Base class: a corrupted node. `halted` is always False (it never decides).

    It draws from `rng`, its node's stream (`spec.rng`), never from the context's (the
    scheduler's): a corrupted node's coins are the coins of the node it took over, and a
    strategy that wraps an honest node shares that stream with it."""

    name = "byzantine"
    description = ""
    halted = False
    decision: int | None = None

    def __init__(self, spec: NodeSpec, ctx: AdversaryContext) -> None:
        self.spec = spec
        self.me = spec.me
        self.ctx = ctx
        self.view = ctx.view
        self.rng = spec.rng
        self.oracle = ctx.oracle

    def start(self, now: float = 0.0) -> list[Effect]:
        return []

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return []

    def snapshot(self) -> dict[str, object]:
        return {"node": self.me, "strategy": self.name}


class Silent(ByzantineNode):
    name = "silent"
    description = "never sends anything, not even ECHO/READY (a crash at time 0)"


class _Wrapper(ByzantineNode):
    """Runs an honest node inside and lets subclasses rewrite its effects. `inner` may be a
    node that was honest until now (adaptive corruption takes over its state)."""

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, inner: HonestNode | None = None
    ) -> None:
        super().__init__(spec, ctx)
        self.inner = inner if inner is not None else spec.honest()

    def start(self, now: float = 0.0) -> list[Effect]:
        return self.rewrite(self.inner.start(now), now)

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        return self.rewrite(self.inner.receive(sender, msg, now), now)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        return [e for e in effects if isinstance(e, Broadcast | Send)]

    def snapshot(self) -> dict[str, object]:
        return {**self.inner.snapshot(), "strategy": self.name}


class Crash(_Wrapper):
    name = "crash"
    description = "behaves honestly, then stops for good at a given time, iteration or step"

    def __init__(
        self,
        spec: NodeSpec,
        ctx: AdversaryContext,
        *,
        at_time: float | None = None,
        at_iteration: int | None = None,
        at_step: int = 1,
        inner: HonestNode | None = None,
    ) -> None:
        super().__init__(spec, ctx, inner)
        if at_time is None and at_iteration is None:
            at_time = 3.0
        self.at_time = at_time
        self.at_iteration = at_iteration
        self.at_step = at_step
        self.crashed = False

    def _due(self, now: float) -> bool:
        if self.at_time is not None and now >= self.at_time:
            return True
        if self.at_iteration is not None:
            return (self.inner.iteration, self.inner.step) >= (self.at_iteration, self.at_step)
        return False

    def start(self, now: float = 0.0) -> list[Effect]:
        return [] if self._due(now) else super().start(now)

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        if self.crashed or self._due(now):
            self.crashed = True
            return []
        return super().receive(sender, msg, now)


def _random_value(item: Item, rng: random.Random) -> Item:
    return replace(item, value=rng.choice((-1, 0, 1)))


class Equivocate(_Wrapper):
    name = "equivocate"
    description = "conflicting INITIALs: one value to half the nodes, its opposite to the rest"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        n = self.spec.params.n
        for e in effects:
            if (
                isinstance(e, Broadcast)
                and isinstance(e.msg, RbcMsg)
                and e.msg.kind == Kind.INITIAL
            ):
                item = e.msg.item
                other = replace(item, value=-item.value if item.value else 1)
                half = set(self.rng.sample(range(n), n // 2))
                for dst in range(n):
                    chosen = other if dst in half else item
                    out.append(Send(dst, replace(e.msg, item=chosen)))
            elif isinstance(e, Broadcast | Send):
                out.append(e)
        return out


def _own_initial(effect: Effect, me: int) -> RbcMsg | None:
    """The INITIAL of this node's own broadcast carried by `effect`, if it is one."""
    if (
        isinstance(effect, Broadcast)
        and isinstance(effect.msg, RbcMsg)
        and effect.msg.kind == Kind.INITIAL
        and effect.msg.origin == me
    ):
        return effect.msg
    return None


class _ItemRewriter(_Wrapper):
    """Rewrites the items of the node's own INITIALs through `rewrite_item`."""

    def rewrite_item(self, item: Item) -> Item:
        return item

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        for e in effects:
            msg = _own_initial(e, self.me)
            if msg is not None:
                item = self.rewrite_item(msg.item)
                if item is not msg.item:
                    e = Broadcast(replace(msg, item=item))
            if isinstance(e, Broadcast | Send):
                out.append(e)
        return out


class RandomValue(_ItemRewriter):
    name = "random-value"
    description = "sends random values in its own broadcasts; validation must reject them"

    def rewrite_item(self, item: Item) -> Item:
        return _random_value(item, self.rng)


class InvalidValue(_ItemRewriter):
    name = "invalid-value"
    description = "flips every step-2 and step-3 value it sends; validation must reject them"

    def rewrite_item(self, item: Item) -> Item:
        if isinstance(item, Vote) and item.step in (2, 3):
            return replace(item, value=-item.value if item.value else 1)
        return item


# -- coin attacks (HPZ §2.1-2.2, Lemma 6) -----------------------------------------------------


def toward(view: AdversaryView, rng: random.Random, target: int, iteration: int) -> int:
    """The cell value that moves the corrupted columns' clipped sum toward `target`."""
    gap = target - view.sigma_b(iteration)
    return sgn(gap) if gap else rng.choice((-1, 1))


class _CoinSteering(_ItemRewriter):
    """Chooses the values of its cells in the even (coin) blackboards. Any +-1 is valid there,
    so these attacks are invisible to validation; only the correlation statistics of §3.2 can
    catch them."""

    def rewrite_item(self, item: Item) -> Item:
        if isinstance(item, Write) and item.board % 2 == 0:
            value = self.coin_value(item.board // 2)
            if value != item.value:
                return replace(item, value=value)
        return item

    def coin_value(self, iteration: int) -> int:
        return self.rng.choice((-1, 1))

    def _toward(self, target: int, iteration: int) -> int:
        return toward(self.view, self.rng, target, iteration)


class RandomCoins(_CoinSteering):
    name = "random-coins"
    description = "flips its blackboard coins at random (indistinguishable from honest coins)"


class BiasedCoins(_CoinSteering):
    name = "biased-coins"
    description = "always writes the adversarial direction sigma = -v* (or against the honest sum)"

    def coin_value(self, iteration: int) -> int:
        sigma = self.view.sigma(iteration)
        if sigma:
            return sigma
        return -sgn(self.view.sigma_g(iteration))


# -- vote attacks on the Bracha phase (Kimmett 2020) ------------------------------------------


class _QuorumPicker(_ItemRewriter):
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
            and self.spec.protocol == "bracha-local"
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
            chosen = _quorum_for(have, quorum, want, item.step, self.spec.params.n)
            if chosen is not None:
                support, value = chosen
                return replace(item, value=value, support=support)
        return item


def _quorum_for(
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


class SplitVoteVoter(_QuorumPicker):
    name = "split-vote"
    description = "votes the honest minority and bottom wherever a valid quorum allows (Kimmett)"

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        # the honest values this vote will be counted with: the previous step's, or for a
        # step-1 coin the honest step-1 votes already out in this iteration
        source = (iteration, step - 1) if step > 1 else (iteration, 1)
        honest = [v for j, v in self.view.votes.get(source, {}).items() if j in self.view.honest]
        minority = -sgn(sum(honest)) if honest else self.rng.choice((-1, 1))
        return (0, minority) if step >= 3 else (minority,)


class ForceDecide(_QuorumPicker):
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


class Deadlock(_QuorumPicker):
    name = "deadlock"
    description = "votes bottom whenever valid and withholds INITIALs from f+1 nodes (Kimmett)"

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        return (0,)

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        n, f = self.spec.params.n, self.spec.params.f
        out: list[Effect] = []
        for e in super().rewrite(effects, now):
            msg = _own_initial(e, self.me)
            if msg is not None:
                shunned = set(self.rng.sample(range(n), f + 1)) - {self.me}
                out.extend(Send(d, msg) for d in range(n) if d not in shunned)
            else:
                out.append(e)
        return out


# -- the last word on the coin board (HPZ §2.2, Lemma 6) --------------------------------------
#
# A corrupted node may be as slow as it likes, so it can leave its column of the even board
# BB_2t empty until every honest column is out, and then write its cells knowing all the
# honest coins. Under the acknowledged-writes blackboard (node/blackboard.py, HPZ Theorem
# 1.2) that is all the lateness buys: every cell after its first needs n - f Acks covering
# the previous one, so the coin-aware scheduler must keep the honest nodes from completing
# the board while the corrupted columns are written (it holds the last rows of the honest
# writers outside a set X whose Acks, with the corrupted ones, make the n - f), and every
# cell that is followed by another is in every honest view. What stays open is the last cell
# of each corrupted column: the corrupted node never sends its Done, so that *swing cell* is
# in the views of the honest nodes that validate it before their fixing quorum of Completes
# (the plan's `plus` nodes) and in no other. That is one cell per corrupted writer, f cells
# in all, exactly what Theorem 1.2 allows.
#
# The plan (made once, by whichever corrupted node first sees every honest column out)
# fixes each corrupted column's full sum X_b and its swing sign s, so the board's total is
# `final` for the plus nodes and `final - sum_b w_b (clip(X_b) - clip(X_b - s))` for the
# others. The coin splits only if these have different signs, which needs the total within
# about sum_b w_b of 0: the corrupted columns must counteract bias + Sigma_G (Lemma 4,
# Lemma 6.3), and blacklisting shrinks w_b. The rule that picks the sums is the attack's:
# coin-interval prefers any split and otherwise the total nearest 0 (HPZ's forced strategy);
# mirror-mimic sets Sigma_B = -Sigma_G or +Sigma_G by §2.2's rule and splits only when that
# happens to land in the window. The plus nodes are chosen so that the values going into
# the next iteration are as balanced as possible; a corrupted node's own view holds every
# swing cell, so it carries the plus side's coin.
#
# What is gone with the old blackboard (views fixed on n - f full columns): showing honest
# nodes different prefixes of a corrupted column (a swing of up to m cells per writer),
# holding the last honest coin row while the corrupted columns land, and writing the odd
# column late to choose the bias (a late odd cell gets no honest Acks: honest nodes ack only
# their first uncompleted board, so at most one cell could land, and the corrupted node
# would then be stuck behind a Done nobody can acknowledge).

RuleOfSums = Callable[[int], str]

MAX_PLAN_COMBOS = 50_000


def _column_cells(total: int, swing: int) -> list[int]:
    """A column whose cells sum to `total` and whose last cell is `swing`: the shortest."""
    rest = total - swing
    return [sgn(rest)] * abs(rest) + [swing]


def plan_last_word(
    view: AdversaryView,
    iteration: int,
    weights: Sequence[int],
    writers: Sequence[int],
    mode_for: RuleOfSums,
    now: float,
) -> CoinPlan:
    """The corrupted writers' plan for BB_{2 iteration}, once every honest column is out.

    Totals are in the fixed point of node/coin.py (bias * WEIGHT_ONE + sum_j w_j X_j), so the
    expected coins are the ones the nodes will compute. `mode_for(honest_sum)` names the rule
    for the corrupted sums: "interval" (a split if any, else the total nearest 0), "mirror"
    (Sigma_B nearest -Sigma_G) or "mimic" (Sigma_B nearest +Sigma_G); mirror and mimic still
    take a split among the sums that are equally near their target."""
    params = view.params
    board = 2 * iteration
    m, xmax = params.rows(board), params.xmax
    writers = sorted(writers)
    honest_sum = sum(weights[j] * clip(view.column_sum(board, j), xmax) for j in view.honest)
    others = sum(
        weights[j] * clip(view.column_sum(board, j), xmax)
        for j in view.byzantine
        if j not in writers
    )
    base = view.bias(iteration) * WEIGHT_ONE + honest_sum + others
    stage1 = view.votes.get((iteration, 4), {})
    keepers = {p: v for p, v in stage1.items() if v and p in view.honest}
    mode = mode_for(honest_sum)
    target = -honest_sum if mode == "mirror" else honest_sum
    top = min(m, xmax + 1)  # beyond xmax + 1 a column only adds clipped cells
    sums = sorted(range(-top, top + 1), key=lambda x: (abs(x), x))
    contrib = [{x: weights[b] * clip(x, xmax) for x in range(-top - 1, top + 2)} for b in writers]
    best: tuple[tuple[float, ...], tuple[int, ...], int, int, int] | None = None
    for combo in itertools.islice(itertools.product(sums, repeat=len(writers)), MAX_PLAN_COMBOS):
        corrupted = sum(c[x] for c, x in zip(contrib, combo, strict=True))
        final = base + corrupted
        for swing in (1, -1):
            if any(abs(x - swing) > m - 1 for x in combo):
                continue
            without = base + sum(c[x - swing] for c, x in zip(contrib, combo, strict=True))
            split = sgn(without) != sgn(final)
            if mode == "interval":
                key: tuple[float, ...] = (not split, abs(final))
            else:
                key = (abs(corrupted - target), not split, abs(final))
            if best is None or key < best[0]:
                best = (key, combo, swing, final, without)
    assert best is not None
    _, combo, swing, final, without = best
    cells = {b: _column_cells(x, swing) for b, x in zip(writers, combo, strict=True)}
    # Columns of one length go in lockstep: a corrupted node that has written its swing cell
    # acks nothing the honest nodes can validate before they see that cell, so a shorter
    # column would leave the longer ones short of Acks. Pad with pairs that sum to 0.
    longest = max((len(c) for c in cells.values()), default=0)
    for b, c in cells.items():
        pairs = (longest - len(c)) // 2
        cells[b] = c[:-1] + [1, -1] * pairs + c[-1:]
    coins: dict[int, int] = dict(keepers)
    plus: frozenset[int] = frozenset()
    flexible = sorted(p for p in view.honest if p not in keepers)
    up, down = sgn(final), sgn(without)
    coins.update(dict.fromkeys(view.byzantine, up))
    if up != down and flexible:
        fixed = list(keepers.values()) + [up] * len(view.byzantine)
        best_p: tuple[int, int] | None = None
        for p in range(len(flexible) + 1):
            values = fixed + [up] * p + [down] * (len(flexible) - p)
            honest_values = list(keepers.values()) + [up] * p + [down] * (len(flexible) - p)
            if len(set(honest_values)) < 2:
                continue
            imbalance = abs(sum(values))
            if best_p is None or (imbalance, p) < best_p:
                best_p = (imbalance, p)
        if best_p is not None:
            plus = frozenset(flexible[len(flexible) - best_p[1] :]) if best_p[1] else frozenset()
    for p in flexible:
        coins[p] = up if p in plus else down
    honest_coins = {coins[p] for p in view.honest}
    return CoinPlan(
        iteration=iteration,
        cells=cells,
        plus=plus,
        coins=coins,
        split=len(honest_coins) > 1,
        keepers=frozenset(keepers),
        final_total=final / WEIGHT_ONE,
        honest_sum=honest_sum / WEIGHT_ONE,
        corrupted_sum=(final - base) / WEIGHT_ONE,
        mode=mode,
        made_at=now,
    )


class _PatientVoter(SplitVoteVoter):
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
            msg = _own_initial(e, self.me)
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
            held = _own_initial(effect, self.me)
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
        chosen = _quorum_for(have, self.spec.params.quorum, value, 4, self.spec.params.n)
        return None if chosen is None else chosen[0]

    def rewrite_item(self, item: Item) -> Item:
        if not self.patient():
            return item
        item = super().rewrite_item(item)
        if (
            isinstance(item, Vote)
            and item.step == 1
            and item.iteration > 1
            and self.spec.protocol == "hpz"
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


class _LastWord(_PatientVoter):
    """A corrupted node that writes its coin column last, to a plan shared by all corrupted
    nodes (see above), picks its Bracha quorums to keep the vote split (bottom in stage 1,
    v* in step 3 when that can make a keeper), and never sends the Done that would fix its
    swing cell in every view. Without a scheduler that delivers the coin board for the last
    word, it votes like an honest node and steers its cells as it goes (`steer`)."""

    def __init__(
        self, spec: NodeSpec, ctx: AdversaryContext, inner: HonestNode | None = None
    ) -> None:
        super().__init__(spec, ctx, inner)
        self._held: dict[int, Effect] = {}

    def mode(self, iteration: int, honest_sum: int) -> str:
        """The rule for the corrupted column sums (see plan_last_word)."""
        return "interval"

    def steer(self, iteration: int) -> int:
        """The next cell when writing as it goes (no scheduler gives the last word): the
        coin-interval rule, toward a total inside [-f, f]."""
        view = self.view
        total = view.bias(iteration) + view.sigma_g(iteration) + view.sigma_b(iteration)
        if abs(total) <= self.spec.params.f:
            return self._toward(view.sigma_b(iteration) - sgn(total), iteration)
        return -sgn(total)

    def _toward(self, target: int, iteration: int) -> int:
        return toward(self.view, self.rng, target, iteration)

    def _last_word(self) -> bool:
        view = self.view
        return view.schedules_last_word

    def patient(self) -> bool:
        # Without the coin-aware scheduler it votes like an honest node: its patience is
        # tuned to that scheduler's keeper and swing-cell delivery.
        return self._last_word()

    # -- driving the inner node ----------------------------------------------------------

    def start(self, now: float = 0.0) -> list[Effect]:
        self._join()
        out = self.rewrite(self.inner.start(now), now)
        self._advance(out, now)
        return out

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        self._join()
        out = self.rewrite(self.inner.receive(sender, msg, now), now)
        self._advance(out, now)
        return out

    def _join(self) -> None:
        view = self.view
        view.last_word.add(self.me)

    def _plan(self, iteration: int, now: float) -> CoinPlan | None:
        """The shared plan, made as soon as every honest column of BB_2t is out."""
        view = self.view
        plan = view.plans.get(iteration)
        if plan is None:
            if len(view.complete_honest(2 * iteration)) < len(view.honest):
                return None
            weights = self.inner.know.weights.weights_for_iteration(iteration)
            plan = plan_last_word(
                view,
                iteration,
                weights,
                sorted(view.last_word),
                lambda honest_sum: self.mode(iteration, honest_sum),
                now,
            )
            view.plans[iteration] = plan
        return plan

    def _abandoned(self, board: int) -> bool:
        """Has the board been completed without this node's column (n - f Dones are out)?
        Then there is nothing left to plan; write as it goes."""
        return self.inner.know.store.done_count(board) >= self.spec.params.quorum

    def rewrite_own(self, effect: Effect, msg: RbcMsg | None, now: float) -> list[Effect]:
        if msg is not None and isinstance(msg.item, Write):
            written = self._write(effect, msg, msg.item, now)
            return [] if written is None else [written]
        return super().rewrite_own(effect, msg, now)

    def _write(self, effect: Effect, msg: RbcMsg, item: Write, now: float) -> Effect | None:
        """This node's own cell: an even cell waits for the plan, then is written as planned
        (the last planned one is the swing cell)."""
        if item.board % 2 == 1:
            return effect
        t = item.board // 2
        if not self._last_word():
            value = self.steer(t)
        else:
            plan = self._plan(t, now)
            if plan is None and not self._abandoned(item.board):
                self._held[item.board] = effect
                return None
            cells = plan.cells.get(self.me) if plan is not None else None
            if cells is not None and item.row <= len(cells):
                value = cells[item.row - 1]
            else:
                value = self.steer(t)  # no plan for this column, or past its swing cell
        return (
            effect
            if value == item.value
            else Broadcast(replace(msg, item=replace(item, value=value)))
        )

    def _advance(self, out: list[Effect], now: float) -> None:
        self._release_votes(out, now)
        for board in sorted(self._held):
            if self._plan(board // 2, now) is not None or self._abandoned(board):
                effect = self._held.pop(board)
                out.extend(self.rewrite([effect], now))


class MirrorMimic(_LastWord):
    """HPZ §2.2's Mirror-Mimic strategy: when sgn(Sigma_G) = -sigma(t) set Sigma_B = -Sigma_G
    (mirror); when sgn(Sigma_G) = sigma(t) set Sigma_B = Sigma_G (mimic). With sigma = 0
    (A_keep empty, so neither case) it mirrors. The corrupted column sums are chosen for that
    target first; only among sums equally near it does the plan prefer a split coin, so it
    splits the coin only when the mirrored total happens to land in the swing window, and in
    the mimic case the coin follows the honest sum. That is the point of §2.2: mirroring and
    mimicking about equally often cancels the good-bad correlations in aggregate, at the
    price of letting the coin go (it is a misfire of the paper's, not its forced strategy)."""

    name = "mirror-mimic"
    description = "HPZ §2.2: Sigma_B = -Sigma_G when sgn(Sigma_G) = -sigma, +Sigma_G when = sigma"

    def mode(self, iteration: int, honest_sum: int) -> str:
        view = self.view
        sigma = view.sigma(iteration)
        return "mimic" if sigma != 0 and sgn(honest_sum) == sigma else "mirror"

    def steer(self, iteration: int) -> int:
        view = self.view
        sigma = view.sigma(iteration)
        honest = view.sigma_g(iteration)
        mimic = sigma != 0 and sgn(honest) == sigma
        return self._toward(honest if mimic else -honest, iteration)


class CoinInterval(_LastWord):
    """Lemma 6's forced strategy: always aim bias + Sigma_G + Sigma_B into [-f, f], and within
    it at the window where the swing cells split the honest coins; when no split is within
    reach, the total nearest 0."""

    name = "coin-interval"
    description = "Lemma 6 attack: aim bias + Sigma_G + Sigma_B into [-f, f] to split the coin"


class SigmaCorrelation(_PatientVoter):
    """HPZ §2.2, "A Scheduling Attack": the adversary decides sigma(t) in {-v*, 0} late,
    after the coins of two target honest nodes are known, and sets sigma = -v* exactly when
    both targets' columns point that way. A detector that scored sigma-correlation
    sum_t sigma(t) X_i(t) would then blame the (good) targets.

    In the paper a slow honest node decides A_keep by validating its own step-3 message
    early or late. Here the corrupted node is that swing: it votes v* in step 3 whenever a
    unanimous quorum lets it, then holds its stage-1 vote (nobody needs it: the n - f honest
    nodes go on without it) until both targets' coin columns are out, and only then claims
    x >= 1 (stage-1 v*, so sigma = -v*) or x = 0 (bottom, sigma = 0). Its own coin cells
    steer Sigma_B + Sigma_G toward [-f, f], as the paper's attacker does "in general".
    HPZ's own blacklisting scores only pairwise correlations, so the targets lose nothing.
    """

    name = "sigma-correlation"
    description = "§2.2 scheduling attack: sigma set late, so `targets` look sigma-correlated"

    def __init__(
        self,
        spec: NodeSpec,
        ctx: AdversaryContext,
        *,
        targets: list[int] | None = None,
        inner: HonestNode | None = None,
    ) -> None:
        super().__init__(spec, ctx, inner)
        if targets is not None and (
            not targets
            or any(
                not isinstance(t, int)
                or isinstance(t, bool)
                or not 0 <= t < spec.params.n
                or t == spec.me
                for t in targets
            )
        ):
            raise ValueError(
                f"targets must be honest node ids in 0..{spec.params.n - 1}, "
                f"not this node ({spec.me}); got {targets!r}"
            )
        self.targets = list(targets) if targets is not None else None
        self.decided: dict[int, int] = {}  # iteration -> sigma this node chose

    def aimed_at(self) -> list[int]:
        """The target honest nodes (by default the two lowest-numbered honest ones)."""
        view = self.view
        if self.targets is not None:
            return self.targets
        return sorted(view.honest)[:2]

    def _vote_due(self, item: Vote) -> bool:
        if item.step != 4:
            return super()._vote_due(item)
        view = self.view
        board, rows = 2 * item.iteration, self.spec.params.rows(2 * item.iteration)
        return super()._vote_due(item) and all(
            view.rows_written(board, j) == rows for j in self.aimed_at()
        )

    def rewrite_item(self, item: Item) -> Item:
        if isinstance(item, Vote) and item.step == 4 and self.spec.protocol == "hpz":
            return self._stage1(item)
        if isinstance(item, Write) and item.board % 2 == 0:
            value = self._steer(item.board // 2)
            return item if value == item.value else replace(item, value=value)
        return super().rewrite_item(item)

    def _stage1(self, item: Vote) -> Item:
        view = self.view
        t = item.iteration
        votes = self.inner.know.votes.get((t, 3)) or []
        vstar = next((v for v in votes if v), 0)
        xs = [clip(view.column_sum(2 * t, j), self.spec.params.xmax) for j in self.aimed_at()]
        want = vstar if vstar and all(x and sgn(x) == -vstar for x in xs) else 0
        for value in (want, vstar if want == 0 else 0):
            support = self._keep_support(t, 3, value)
            if support is not None:
                self.decided[t] = -value
                return replace(item, value=value, support=support)
        return item

    def _steer(self, iteration: int) -> int:
        """Toward Sigma_B + Sigma_G (+ bias) inside [-f, f], one cell at a time."""
        view = self.view
        total = view.bias(iteration) + view.sigma_g(iteration) + view.sigma_b(iteration)
        if abs(total) <= self.spec.params.f:
            return self.rng.choice((-1, 1))
        return -sgn(total)

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        out = super().receive(sender, msg, now)
        self._release_votes(out, now)
        return out

    def start(self, now: float = 0.0) -> list[Effect]:
        out = super().start(now)
        self._release_votes(out, now)
        return out


class SplitHold(_Wrapper):
    name = "split-hold"
    description = "sends its own broadcasts only to one half of the nodes, holding the rest"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        n = self.spec.params.n
        out: list[Effect] = []
        for e in effects:
            msg = _own_initial(e, self.me)
            if msg is not None:
                out.extend(Send(d, msg) for d in range(n) if d % 2 == 0 or d == self.me)
            elif isinstance(e, Broadcast | Send):
                out.append(e)
        return out


StrategyFactory = Callable[..., ByzantineNode]

STRATEGIES: dict[str, type[ByzantineNode]] = {
    cls.name: cls
    for cls in (
        Silent,
        Crash,
        RandomValue,
        InvalidValue,
        Equivocate,
        RandomCoins,
        BiasedCoins,
        MirrorMimic,
        CoinInterval,
        SplitVoteVoter,
        ForceDecide,
        Deadlock,
        SplitHold,
        SigmaCorrelation,
    )
}


def make_strategy(
    name: str, spec: NodeSpec, ctx: AdversaryContext, **options: Any
) -> ByzantineNode:
    """The strategy `name` of the registry for the corrupted node `spec`, in the run `ctx`."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown Byzantine strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}"
        ) from None
    return cls(spec, ctx, **options)
