"""Byzantine strategies: small objects that replace a corrupted node's behaviour.

A strategy has the same interface as an honest node (`start`, `receive`, returning effects)
and is driven by the adversary, which holds the node's keys. Strategies never add
`if byzantine:` branches to honest code; the ones that behave mostly honestly wrap an
`HonestNode` and rewrite or suppress what it sends (the shape of commonware's conflicter and
relab/hotstuff's rule wrappers). All randomness comes from the `random.Random` they are
built with, so simulator runs stay reproducible.

Corrupted nodes share one `AdversaryView` (adversary/view.py): the adversary is
full-information and coordinates all f of them. Families:

* crash and omission: silent, crash (at a time, iteration or step), split-hold;
* RBC misuse: equivocate (conflicting INITIALs);
* invalid transitions, which validation must reject: random-value, invalid-value;
* coin attacks on the HPZ blackboards (HPZ §2.1-2.2, Lemma 6): random-coins, biased-coins,
  mirror-mimic, coin-interval;
* vote attacks on the Bracha phase (the families of Kimmett 2020 on King-Saia): a corrupted
  node may claim any n - f validated votes as its support, so it picks the quorum whose
  valid outcome hurts most: split-vote, force-decide, deadlock.

Adaptive corruption (taking over an honest node's keys and state mid-run) is a rule of the
whole adversary, see `AdaptiveCorruption` in adversary/corruption.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from byzlab.adversary.view import AdversaryView
from byzlab.node.agreement import HonestNode
from byzlab.node.coin import sgn
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import Item, Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params


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
        return HonestNode(self.me, self.params, protocol=self.protocol,
                          input_value=self.input_value, rng=self.rng,
                          ideal_seed=self.ideal_seed)


class ByzantineNode:
    """Base class: a corrupted node. `halted` is always False (it never decides)."""

    name = "byzantine"
    description = ""
    halted = False
    decision: int | None = None
    adversary: AdversaryView | None = None

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.me = spec.me
        self.rng = spec.rng

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

    def __init__(self, spec: NodeSpec, inner: HonestNode | None = None) -> None:
        super().__init__(spec)
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

    def __init__(self, spec: NodeSpec, *, at_time: float | None = None,
                 at_iteration: int | None = None, at_step: int = 1,
                 inner: HonestNode | None = None) -> None:
        super().__init__(spec, inner)
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


def _random_value(item: Vote | Write, rng: random.Random) -> Vote | Write:
    return replace(item, value=rng.choice((-1, 0, 1)))


class Equivocate(_Wrapper):
    name = "equivocate"
    description = "conflicting INITIALs: one value to half the nodes, its opposite to the rest"

    def rewrite(self, effects: list[Effect], now: float) -> list[Effect]:
        out: list[Effect] = []
        n = self.spec.params.n
        for e in effects:
            if isinstance(e, Broadcast) and isinstance(e.msg, RbcMsg) \
                    and e.msg.kind == Kind.INITIAL:
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
    if isinstance(effect, Broadcast) and isinstance(effect.msg, RbcMsg) \
            and effect.msg.kind == Kind.INITIAL and effect.msg.origin == me:
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
        """The cell value that moves the corrupted columns' clipped sum toward `target`."""
        view = self.adversary
        assert view is not None
        gap = target - view.sigma_b(iteration)
        return sgn(gap) if gap else self.rng.choice((-1, 1))


class RandomCoins(_CoinSteering):
    name = "random-coins"
    description = "flips its blackboard coins at random (indistinguishable from honest coins)"


class BiasedCoins(_CoinSteering):
    name = "biased-coins"
    description = "always writes the adversarial direction sigma = -v* (or against the honest sum)"

    def coin_value(self, iteration: int) -> int:
        assert self.adversary is not None
        sigma = self.adversary.sigma(iteration)
        if sigma:
            return sigma
        return -sgn(self.adversary.sigma_g(iteration))


class MirrorMimic(_CoinSteering):
    name = "mirror-mimic"
    description = "HPZ §2.2: mirror the honest coin sum when it opposes sigma, mimic it otherwise"

    def coin_value(self, iteration: int) -> int:
        assert self.adversary is not None
        sigma = self.adversary.sigma(iteration)
        honest = self.adversary.sigma_g(iteration)
        mimic = sigma != 0 and sgn(honest) == sigma
        return self._toward(honest if mimic else -honest, iteration)


class CoinInterval(_CoinSteering):
    name = "coin-interval"
    description = "Lemma 6 attack: steer bias + Sigma into [-f, f] so that honest coins disagree"

    def coin_value(self, iteration: int) -> int:
        view = self.adversary
        assert view is not None
        total = view.bias(iteration) + view.sigma_g(iteration) + view.sigma_b(iteration)
        if abs(total) <= self.spec.params.f:
            return self._toward(view.sigma_b(iteration) - sgn(total), iteration)
        return -sgn(total)


# -- vote attacks on the Bracha phase (Kimmett 2020) ------------------------------------------


class _QuorumPicker(_ItemRewriter):
    """A corrupted node may claim any n - f validated votes as its support. It picks the
    quorum whose (valid) outcome is most useful to the adversary: `preferred` lists the
    values it wants, best first."""

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        return ()

    def rewrite_item(self, item: Item) -> Item:
        if isinstance(item, Vote) and item.step == 1 and item.iteration > 1 \
                and self.spec.protocol == "bracha-local" and self.inner.x == 0:
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


def _outcome(values: list[int], step: int, n: int) -> int:
    if step == 2:
        return sgn(sum(values))
    if step == 3:
        plus, minus = values.count(1), values.count(-1)
        return 1 if plus > n / 2 else -1 if minus > n / 2 else 0
    nonzero = [v for v in values if v]
    return nonzero[0] if nonzero else 0


def _quorum_for(have: list[tuple[int, int]], quorum: int, want: int, step: int,
                n: int) -> tuple[int, int] | None:
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
    value = _outcome([v for _, v in chosen], step, n)
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
        assert self.adversary is not None
        # the honest values this vote will be counted with: the previous step's, or for a
        # step-1 coin the honest step-1 votes already out in this iteration
        source = (iteration, step - 1) if step > 1 else (iteration, 1)
        honest = [v for j, v in self.adversary.votes.get(source, {}).items()
                  if j in self.adversary.honest]
        minority = -sgn(sum(honest)) if honest else self.rng.choice((-1, 1))
        return (0, minority) if step >= 3 else (minority,)


class ForceDecide(_QuorumPicker):
    name = "force-decide"
    description = "pushes v* into step 3 so some nodes reach x >= f+1 and others not (Kimmett)"

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        assert self.adversary is not None
        honest = [v for j, v in self.adversary.votes.get((iteration, step - 1), {}).items()
                  if j in self.adversary.honest and v]
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
    cls.name: cls for cls in (
        Silent, Crash, RandomValue, InvalidValue, Equivocate, RandomCoins, BiasedCoins,
        MirrorMimic, CoinInterval, SplitVoteVoter, ForceDecide, Deadlock, SplitHold,
    )
}


def make_strategy(name: str, spec: NodeSpec, **kwargs: Any) -> ByzantineNode:
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown Byzantine strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}"
        ) from None
    return cls(spec, **kwargs)
