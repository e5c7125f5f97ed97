"""Coin attacks on the HPZ blackboards (HPZ §2.1-2.2, Lemma 6).

* random-coins, biased-coins: choose the corrupted cells of the even (coin) boards as they
  are written; any +-1 is valid there, so only the correlation statistics of §3.2 can see
  them;
* mirror-mimic, coin-interval: with the coin-aware scheduler, write the corrupted columns
  last, to a shared plan (planner.py), so that the honest coins disagree ("the last word");
  otherwise steer cell by cell;
* sigma-correlation (§2.2, "A Scheduling Attack"): sigma(t) decided late, against chosen
  target nodes.
"""

from __future__ import annotations

import random
from dataclasses import replace

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.strategies.base import ItemRewriter, NodeSpec
from byzlab.adversary.strategies.planner import plan_last_word
from byzlab.adversary.strategies.votes import PatientVoter
from byzlab.adversary.view import AdversaryView, CoinPlan
from byzlab.node.agreement import HonestNode
from byzlab.node.coin import clip, sgn
from byzlab.node.effects import Broadcast, Effect
from byzlab.node.messages import Item, Message, RbcMsg, Vote, Write

__all__ = [
    "BiasedCoins",
    "CoinInterval",
    "MirrorMimic",
    "RandomCoins",
    "SigmaCorrelation",
    "toward",
]


def toward(view: AdversaryView, rng: random.Random, target: int, iteration: int) -> int:
    """The cell value that moves the corrupted columns' clipped sum toward `target`."""
    gap = target - view.sigma_b(iteration)
    return sgn(gap) if gap else rng.choice((-1, 1))


class _CoinSteering(ItemRewriter):
    """Chooses the values of its cells in the even (coin) blackboards. Any +-1 is valid there,
    so these attacks are invisible to validation; only the correlation statistics of §3.2 can
    catch them."""

    needs = "HPZ's coin messages"

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


class _LastWord(PatientVoter):
    """A corrupted node that writes its coin column last, to a plan shared by all corrupted
    nodes (planner.py), picks its Bracha quorums to keep the vote split (bottom in stage 1,
    v* in step 3 when that can make a keeper), and never sends the Done that would fix its
    swing cell in every view. Without a scheduler that delivers the coin board for the last
    word, it votes like an honest node and steers its cells as it goes (`steer`)."""

    needs = "HPZ's coin messages"

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


class SigmaCorrelation(PatientVoter):
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
    needs = "HPZ's coin messages"

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
        if isinstance(item, Vote) and item.step == 4 and self.inner.protocol.coin is None:
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
