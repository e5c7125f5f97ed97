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

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from byzlab.adversary.view import AdversaryView, CoinPlan
from byzlab.node.agreement import HonestNode, Phase
from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.coin import clip, sgn
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import DecideMsg, Item, Kind, Message, RbcMsg, Vote, Write
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


def _random_value(item: Item, rng: random.Random) -> Item:
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
        assert self.adversary is not None
        return toward(self.adversary, self.rng, target, iteration)


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


# -- the last word on the coin board (HPZ §2.2, Lemma 6) --------------------------------------
#
# A corrupted node may be as slow as it likes, so it can leave its column of the even board
# BB_2t empty until every honest column is out, and then write its cells knowing all the
# honest coins. The scheduler holds the last honest row for (almost) delta, which keeps every
# honest node from fixing its view until the corrupted columns have arrived as planned: some
# honest nodes get only a prefix of them, others all of them (then one honest column is
# still one row short). The plan picks the cells and, for each honest node, which of these
# views it gets, so that the honest values going into the next iteration come out both
# ways; each corrupted node then fixes its own view (it chooses which honest last rows to
# validate first) so that its own coin, which it must vote next, is the honest minority. The
# next iteration starts split, and the split-vote scheduler keeps its quorums balanced.
#
# Two modes, chosen in step 3. If no corrupted node can make a step-3 vote non-bottom,
# nobody keeps v* (A_keep is empty), every odd-board column is 0 and every honest value is a
# coin. If it can, it does, the scheduler lets exactly one honest node (the keeper) count it,
# and the keeper keeps v* whatever the coin says, so only the others' coins need to come out
# right (the paper's sigma = -v* case). The keeper's stage-1 vote v* then reaches nobody
# early, so honest odd columns stay 0, but a corrupted node can still claim it in its own
# stage-1 support: it holds its odd column back too and decides at the end whether its m0
# odd cells say v* or 0. Since the bias is not weighted, those cells are a lever that
# blacklisting does not shorten.
#
# Our iterated blackboard lets two views differ in a whole partial column, not only in the
# last write of f columns (node/blackboard.py), which is what gives the prefixes room. When
# no plan works, the corrupted nodes still write the column their attack prefers (mirror,
# or the [-f, f] interval) and agreement follows.

Score = Callable[[int, int, int], float]


@dataclass(frozen=True)
class _Candidate:
    """One corrupted node's possible stream for the plan (its late odd cells, if any, then
    its even cells), reduced to the fixed-point totals that a plan needs."""

    odd_value: int
    cells: tuple[int, ...]
    low: int
    low_k: int
    high: int
    high_k: int
    full: int


def _column_shapes(m: int, writers: int) -> list[tuple[int, ...]]:
    """Cell sequences worth trying: all of them for one short column, otherwise paths that
    go one way, turn, and come back (their prefixes sweep the widest range)."""
    if writers == 1 and m <= 10:
        return list(itertools.product((-1, 1), repeat=m))
    shapes = set()
    for a in range(m + 1):
        for b in range(m + 1 - a):
            if writers > 2 and 0 < b < m - a:
                continue  # keep the product small for many writers: two segments only
            for s in (-1, 1):
                shapes.add((s,) * a + (-s,) * b + (s,) * (m - a - b))
    return sorted(shapes)


def _candidates(m: int, xmax: int, weight: int, writers: int, odd_rows: int,
                odd_values: Sequence[int]) -> list[_Candidate]:
    seen: dict[tuple[int, int, int], _Candidate] = {}
    for odd in odd_values:
        # the bias is not weighted: an odd cell counts WEIGHT_ONE (node/coin.py)
        bias = [min(k, odd_rows) * odd * WEIGHT_ONE for k in range(odd_rows + 1)]
        for cells in _column_shapes(m, writers):
            prefix = list(itertools.accumulate(cells, initial=0))
            contrib = bias + [bias[-1] + weight * clip(p, xmax) for p in prefix[1:]]
            last = len(contrib) - 1
            partial = contrib[:last]  # any prefix of the stream short of the whole of it
            low_k = min(range(last), key=partial.__getitem__)
            high_k = max(range(last), key=partial.__getitem__)
            key = (partial[low_k], partial[high_k], contrib[last])
            if key not in seen:
                seen[key] = _Candidate(odd, cells, partial[low_k], low_k, partial[high_k],
                                       high_k, contrib[last])
    return list(seen.values())


def _assign(options: dict[int, set[int]], byz_signs: set[int]
            ) -> tuple[dict[int, int], int] | None:
    """Give every honest node a value from its options, not all equal, with the corrupted
    nodes' (common) value on the minority side; as balanced as possible."""
    nodes = sorted(options)
    h = len(nodes)
    for minority in (1, -1):
        if minority not in byz_signs:
            continue
        forced = [p for p in nodes if options[p] == {minority}]
        flexible = [p for p in nodes if len(options[p]) == 2]
        k = min(h // 2, len(forced) + len(flexible))
        if k < max(1, len(forced)):
            continue
        chosen = set(forced + flexible[:k - len(forced)])
        return {p: minority if p in chosen else -minority for p in nodes}, minority
    return None


MAX_PLAN_COMBOS = 50_000


class _FirstBySign:
    """For a threshold t, the first option (in list order) whose value v has
    sgn(v - t) = -1, and the first with sgn(v - t) = +1 (sgn(0) = +1, as node/coin.py
    has it): what scanning the list with ``setdefault`` gives, in O(log) per threshold
    instead of a pass over every option (there are C(n - f, needed) of them)."""

    def __init__(self, options: list[tuple[frozenset[int], int]]) -> None:
        self.options = options
        lows: list[int] = []  # -(running minimum): non-decreasing
        highs: list[int] = []  # running maximum: non-decreasing
        for _, value in options:
            lows.append(-value if not lows else max(lows[-1], -value))
            highs.append(value if not highs else max(highs[-1], value))
        self._lows, self._highs = lows, highs

    def first_by_sign(self, t: int) -> dict[int, frozenset[int]]:
        out: dict[int, frozenset[int]] = {}
        below = bisect.bisect_right(self._lows, -t)  # first i with min(v[:i+1]) < t
        if below < len(self.options):
            out[-1] = self.options[below][0]
        at_or_above = bisect.bisect_left(self._highs, t)  # first i with max(v[:i+1]) >= t
        if at_or_above < len(self.options):
            out[1] = self.options[at_or_above][0]
        return out


def plan_last_word(view: AdversaryView, iteration: int, weights: Sequence[int],
                   writers: Sequence[int], score: Score) -> CoinPlan:
    """The corrupted writers' plan for BB_{2 iteration}, once every honest column is out.

    Totals are in the fixed point of node/coin.py (bias * WEIGHT_ONE + sum_j w_j X_j), so
    the expected coins are the ones the nodes will compute. `score(final, honest,
    corrupted)` ranks the plans by the attack's own taste: `final` is the total once every
    column is in every view, `honest` and `corrupted` its honest and corrupted parts.
    """
    params = view.params
    n, f = params.n, params.f
    board = 2 * iteration
    m, xmax, m0 = params.rows(board), params.xmax, params.rows(board - 1)
    done = view.complete_honest(board)
    writers = sorted(writers)
    fixed = sum(weights[j] * clip(view.column_sum(board, j), xmax)
                for j in range(n) if j not in writers and j not in done)
    base = view.bias(iteration) * WEIGHT_ONE + fixed
    full = {j: weights[j] * clip(view.column_sum(board, j), xmax) for j in done}
    short = {j: weights[j] * clip(view.column_sum(board, j) - view.column(board, j)[-1], xmax)
             for j in done}
    honest_sum = sum(full.values())
    stage1 = view.votes.get((iteration, 4), {})
    keepers = {p: v for p, v in stage1.items() if v and p in done}
    # With every corrupted column full, a node needs this many honest columns full.
    needed = max(1, min(len(done), n - f - len(writers)))
    # the order in which honest last rows reach everyone: the scheduler holds some longer
    done.sort(key=lambda j: view.hold_rank.get((board, j), 0))
    # A node that sees every corrupted column fixes its view once `needed` honest last rows
    # are in; they arrive in the order they were sent, so the rest stay one row short.
    seen_full: dict[int, int] = {}
    for pos, p in enumerate(done):
        cols = done[:max(needed, pos + 1)]
        seen_full[p] = sum(full[j] if j in cols else short[j] for j in done)
    own_options = {
        frozenset(cols): sum(full[j] if j in cols else short[j] for j in done)
        for cols in itertools.combinations(done, needed)
    }
    own_signs = _FirstBySign(list(own_options.items()))
    pools = []
    for b in writers:
        late = view.rows_written(board - 1, b) == 0
        odd_values = sorted({0, *keepers.values()}) if late else [0]
        pools.append(_candidates(m, xmax, weights[b], len(writers), m0 if late else 0,
                                 odd_values))
    odd_rows = {b: m0 if view.rows_written(board - 1, b) == 0 else 0 for b in writers}
    best: tuple[tuple[int, float], CoinPlan] | None = None
    # At most MAX_PLAN_COMBOS choices of the corrupted columns are scored (in product
    # order): pool^f grows exponentially with f, and every one up to n = 10 is scored.
    for combo in itertools.islice(itertools.product(*pools), MAX_PLAN_COMBOS):
        corrupted = sum(c.full for c in combo)
        final = base + honest_sum + corrupted
        key = (1, score(final, honest_sum, corrupted))
        lo = base + honest_sum + sum(c.low for c in combo)
        hi = base + honest_sum + sum(c.high for c in combo)
        signs_i = {sgn(lo), sgn(hi)}
        options = {p: {keepers[p]} if p in keepers
                   else signs_i | {sgn(base + corrupted + seen_full[p])} for p in done}
        by_sign = own_signs.first_by_sign(-(base + corrupted))
        assigned = _assign(options, set(by_sign))
        if assigned is not None:
            key = (0, key[1])  # plans that split come first, then the attack's preference
        if best is not None and key >= best[0]:
            continue
        prefix: dict[tuple[int, int], int] = {}
        coins: dict[int, int] = {}
        own_full = dict.fromkeys(writers, frozenset(done[:needed]))
        if assigned is not None:
            outcome, minority = assigned
            for p, value in outcome.items():
                coins[p] = value
                if p in keepers:
                    continue
                if value in signs_i:
                    pick = [c.high_k if value == sgn(hi) else c.low_k for c in combo]
                else:
                    pick = [odd_rows[b] + m for b in writers]
                for b, k in zip(writers, pick, strict=True):
                    prefix[(p, b)] = k
            own_full = dict.fromkeys(writers, by_sign[minority])
            coins.update(dict.fromkeys(writers, minority))
        plan = CoinPlan(
            iteration=iteration,
            cells={b: list(c.cells) for b, c in zip(writers, combo, strict=True)},
            odd_value={b: c.odd_value for b, c in zip(writers, combo, strict=True)},
            odd_rows=odd_rows, prefix=prefix, own_full=own_full, coins=coins,
            split=assigned is not None, keepers=frozenset(keepers),
            final_total=final / WEIGHT_ONE, honest_sum=honest_sum / WEIGHT_ONE)
        best = (key, plan)
    assert best is not None
    return best[1]


class _PatientVoter(SplitVoteVoter):
    """A corrupted voter that waits for the honest votes it reacts to before it votes in
    steps 2-4 (a corrupted node may be as slow as it likes), sides with the honest step-2
    majority so that a unanimous step-2 quorum exists, votes v* in step 3 whenever one
    does (which lets it claim x >= 1 later if it wants), and prefers bottom in stage 1.
    Whatever stage-1 support it claims, its next step-1 value is the one that support and
    its carried view justify, so it is always validated."""

    def __init__(self, spec: NodeSpec, inner: HonestNode | None = None) -> None:
        super().__init__(spec, inner)
        self._held_votes: dict[tuple[int, int], Effect] = {}

    def patient(self) -> bool:
        """Vote this way at all? (Subclasses may vote like an honest node instead.)"""
        return True

    def preferred(self, iteration: int, step: int) -> tuple[int, ...]:
        view = self.adversary
        assert view is not None
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
            if msg is not None and isinstance(msg.item, Vote) and msg.item.step in (2, 3, 4) \
                    and not self._vote_due(msg.item):
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
        view = self.adversary
        assert view is not None
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
        if isinstance(item, Vote) and item.step == 1 and item.iteration > 1 \
                and self.spec.protocol == "hpz" and item.view is not None:
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
    v* in step 3 when that can make a keeper), and carries the view whose coin is the
    honest minority."""

    def __init__(self, spec: NodeSpec, inner: HonestNode | None = None) -> None:
        super().__init__(spec, inner)
        self._held: dict[int, Effect] = {}
        self._peers: dict[int, list[tuple[int, RbcMsg]]] = {}
        self._buffer: dict[int, list[tuple[int, RbcMsg]]] = {}
        self._open: dict[int, set[int]] = {}
        self._done: set[int] = set()

    def score(self, iteration: int) -> Score:
        """How this attack ranks the plans (lower is better)."""
        return lambda final, honest, corrupted: abs(final)

    def steer(self, iteration: int) -> int:
        """The next cell when writing as it goes (no scheduler holds the honest rows back):
        the coin-interval rule, toward a total inside [-f, f]."""
        view = self.adversary
        assert view is not None
        total = view.bias(iteration) + view.sigma_g(iteration) + view.sigma_b(iteration)
        if abs(total) <= self.spec.params.f:
            return self._toward(view.sigma_b(iteration) - sgn(total), iteration)
        return -sgn(total)

    def _toward(self, target: int, iteration: int) -> int:
        assert self.adversary is not None
        return toward(self.adversary, self.rng, target, iteration)

    def _last_word(self) -> bool:
        view = self.adversary
        assert view is not None
        return view.holds_last_rows

    def patient(self) -> bool:
        # Without a scheduler that holds honest rows, it votes like an honest node: its
        # patience is tuned to the coin-aware scheduler's keeper and last-row holds.
        return self._last_word()

    # -- driving the inner node ----------------------------------------------------------

    def start(self, now: float = 0.0) -> list[Effect]:
        self._join()
        out = self.rewrite(self.inner.start(now), now)
        self._advance(out, now)
        return out

    def receive(self, sender: int, msg: Message, now: float = 0.0) -> list[Effect]:
        self._join()
        if isinstance(msg, RbcMsg) and self._holds_back(msg):
            item = msg.item
            assert isinstance(item, Write)
            self._buffer.setdefault(item.board, []).append((sender, msg))
            effects: list[Effect] = []
        elif isinstance(msg, RbcMsg) and self._peer_cell(msg):
            item = msg.item
            assert isinstance(item, Write)
            self._peers.setdefault((item.board + 1) // 2, []).append((sender, msg))
            effects = []
        else:
            effects = self.inner.receive(sender, msg, now)
        out = self.rewrite(effects, now)
        self._advance(out, now)
        return out

    def _join(self) -> None:
        view = self.adversary
        assert view is not None
        view.last_word.add(self.me)

    def _holds_back(self, msg: RbcMsg) -> bool:
        """Honest last-row cells of a board this node writes late stay out of the inner
        node until its own column is written: otherwise it would fix its view first."""
        item = msg.item
        view = self.adversary
        assert view is not None
        if not view.holds_last_rows or not isinstance(item, Write) or item.board in self._done \
                or msg.origin in view.byzantine or msg.origin in self._open.get(item.board, ()) \
                or item.row != self.spec.params.rows(item.board):
            return False
        return (item.board + 1) // 2 >= self.inner.iteration

    def _peer_cell(self, msg: RbcMsg) -> bool:
        """Another corrupted writer's late cells stay out of the inner node until it has
        fixed its odd-board view: that view travels with this node's even cells, and an
        honest node validates those only after everything the view covers, so it must not
        cover cells that some honest node is to see late or never."""
        view = self.adversary
        assert view is not None
        item = msg.item
        if not view.holds_last_rows or not isinstance(item, Write) or msg.origin == self.me \
                or msg.origin not in view.last_word:
            return False
        t = (item.board + 1) // 2
        return t >= self.inner.iteration and not self._past(2 * t - 1)

    def _plan(self, iteration: int) -> CoinPlan | None:
        view = self.adversary
        assert view is not None
        plan = view.plans.get(iteration)
        if plan is None:
            if len(view.complete_honest(2 * iteration)) < self.spec.params.quorum:
                return None
            weights = self.inner.know.weights.weights_for_iteration(iteration)
            plan = plan_last_word(view, iteration, weights, sorted(view.last_word),
                                  self.score(iteration))
            view.plans[iteration] = plan
        return plan

    def rewrite_own(self, effect: Effect, msg: RbcMsg | None, now: float) -> list[Effect]:
        if msg is not None and isinstance(msg.item, Write):
            written = self._write(effect, msg, msg.item)
            return [] if written is None else [written]
        return super().rewrite_own(effect, msg, now)

    def _write(self, effect: Effect, msg: RbcMsg, item: Write) -> Effect | None:
        """This node's own cell: held until the plan exists, then written as planned."""
        t = (item.board + 1) // 2
        odd = item.board % 2 == 1
        if not self._last_word():
            if odd:
                return effect
            value = self.steer(t)
            return effect if value == item.value else \
                Broadcast(replace(msg, item=replace(item, value=value)))
        # the odd column waits for the plan too: it says v* or 0 as the plan needs
        plan = self._plan(t)
        if plan is None or (odd and item.row == 1 and not self._settled(t)):
            self._held[item.board] = effect
            return None
        if odd:
            value = plan.odd_value.get(self.me, item.value)
            if item.row == 1:
                support = self._keep_support(t, 4, value)
                if support is None:
                    return effect
                item = replace(item, value=value, support=support)
            else:
                item = replace(item, value=value)
        else:
            cells = plan.cells.get(self.me)
            if cells is None:
                return effect
            item = replace(item, value=cells[item.row - 1])
        return Broadcast(replace(msg, item=item)) if item is not msg.item else effect

    def _advance(self, out: list[Effect], now: float) -> None:
        for t in sorted(self._peers):
            if self._past(2 * t - 1):
                for sender, msg in self._peers.pop(t):
                    out.extend(self.rewrite(self.inner.receive(sender, msg, now), now))
        self._release_votes(out, now)
        for board in sorted(self._held):
            t = (board + 1) // 2
            if self._plan(t) is not None and (board % 2 == 0 or self._settled(t)):
                effect = self._held.pop(board)
                out.extend(self.rewrite([effect], now))
        progressed = True
        while progressed:
            progressed = False
            for board in sorted(self._buffer):
                if self._ready(board):
                    before = (len(self._open), len(self._done), len(out))
                    out.extend(self._release(board, now))
                    progressed = before != (len(self._open), len(self._done), len(out))

    def _settled(self, iteration: int) -> bool:
        """Have the honest nodes sent their READYs for every honest last row of the even
        board? Only then does this node start writing: over TCP a frame waits for its most
        delayed message, so honest READYs for planned cells must not share frames with the
        held last-row ones."""
        view = self.adversary
        assert view is not None
        board = 2 * iteration
        rows = self.spec.params.rows(board)
        readied: dict[int, set[int]] = {}
        for sender, msg in self._buffer.get(board, []):
            if msg.kind == Kind.READY and isinstance(msg.item, Write) and msg.item.row == rows:
                readied.setdefault(msg.origin, set()).add(sender)
        need = self.spec.params.quorum
        return all(len(readied.get(o, set()) & view.honest) >= need
                   for o in view.complete_honest(board))

    def _past(self, board: int) -> bool:
        """Has the inner node left `board` behind (fixed its view, or moved on)?"""
        inner = self.inner
        return board in inner.views or inner.iteration > (board + 1) // 2 \
            or (inner.phase is Phase.BOARD and inner.board > board)

    def _ready(self, board: int) -> bool:
        """Is this node's column (and, for an even board, every planned corrupted column)
        complete in its inner node?"""
        inner = self.inner
        if board in self._done or board not in self._buffer:
            return False
        if self._past(board):
            return True  # the board is behind us anyway: let everything through
        if inner.know.validated[self.me] != inner.rbc.own_seq:
            return False
        view = self.adversary
        assert view is not None
        rows = self.spec.params.rows(board)
        store = inner.know.store
        writers = view.last_word | {self.me} if board % 2 == 0 else {self.me}
        return all(store.cells_in_view(board, b, inner.know.validated[b])[0] == rows
                   for b in writers)

    def _release(self, board: int, now: float) -> list[Effect]:
        """Feed the held honest last rows: for an even board first the ones this node's own
        view is to contain, and the rest once it has fixed its view."""
        out: list[Effect] = []
        view = self.adversary
        assert view is not None
        if board not in self._open:
            plan = view.plans.get(board // 2) if board % 2 == 0 else None
            chosen = plan.own_full.get(self.me) if plan is not None else None
            self._open[board] = set(chosen) if chosen is not None else set(view.honest)
            out.extend(self._feed(board, self._open[board], now))
        if self._past(board):
            self._done.add(board)
            out.extend(self._feed(board, None, now))
            del self._buffer[board]
        return out

    def _feed(self, board: int, origins: set[int] | None, now: float) -> list[Effect]:
        out: list[Effect] = []
        keep: list[tuple[int, RbcMsg]] = []
        for sender, msg in self._buffer.get(board, []):
            if origins is None or msg.origin in origins:
                out.extend(self.rewrite(self.inner.receive(sender, msg, now), now))
            else:
                keep.append((sender, msg))
        self._buffer[board] = keep
        return out


class MirrorMimic(_LastWord):
    name = "mirror-mimic"
    description = "HPZ §2.2: mirror the honest coin sum when it opposes sigma, mimic it otherwise"

    def score(self, iteration: int) -> Score:
        view = self.adversary
        assert view is not None
        sigma = view.sigma(iteration)

        def rank(final: int, honest: int, corrupted: int) -> float:
            if sigma != 0 and sgn(honest) == sigma:
                return abs(corrupted - honest)  # mimic
            return abs(corrupted + honest)  # mirror
        return rank

    def steer(self, iteration: int) -> int:
        view = self.adversary
        assert view is not None
        sigma = view.sigma(iteration)
        honest = view.sigma_g(iteration)
        mimic = sigma != 0 and sgn(honest) == sigma
        return self._toward(honest if mimic else -honest, iteration)


class CoinInterval(_LastWord):
    name = "coin-interval"
    description = "Lemma 6 attack: steer bias + Sigma into [-f, f] so that honest coins disagree"


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

    def __init__(self, spec: NodeSpec, *, targets: list[int] | None = None,
                 inner: HonestNode | None = None) -> None:
        super().__init__(spec, inner)
        if targets is not None and (not targets or any(
                not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < spec.params.n
                or t == spec.me for t in targets)):
            raise ValueError(f"targets must be honest node ids in 0..{spec.params.n - 1}, "
                                 f"not this node ({spec.me}); got {targets!r}")
        self.targets = list(targets) if targets is not None else None
        self.decided: dict[int, int] = {}  # iteration -> sigma this node chose

    def aimed_at(self) -> list[int]:
        """The target honest nodes (by default the two lowest-numbered honest ones)."""
        view = self.adversary
        assert view is not None
        if self.targets is not None:
            return self.targets
        return sorted(view.honest)[:2]

    def _vote_due(self, item: Vote) -> bool:
        if item.step != 4:
            return super()._vote_due(item)
        view = self.adversary
        assert view is not None
        board, rows = 2 * item.iteration, self.spec.params.rows(2 * item.iteration)
        return super()._vote_due(item) and all(view.rows_written(board, j) == rows
                                               for j in self.aimed_at())

    def rewrite_item(self, item: Item) -> Item:
        if isinstance(item, Vote) and item.step == 4 and self.spec.protocol == "hpz":
            return self._stage1(item)
        if isinstance(item, Write) and item.board % 2 == 0:
            value = self._steer(item.board // 2)
            return item if value == item.value else replace(item, value=value)
        return super().rewrite_item(item)

    def _stage1(self, item: Vote) -> Item:
        view = self.adversary
        assert view is not None
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
        view = self.adversary
        assert view is not None
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
    cls.name: cls for cls in (
        Silent, Crash, RandomValue, InvalidValue, Equivocate, RandomCoins, BiasedCoins,
        MirrorMimic, CoinInterval, SplitVoteVoter, ForceDecide, Deadlock, SplitHold,
        SigmaCorrelation,
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
