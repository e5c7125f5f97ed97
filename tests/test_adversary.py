"""The adversary library: every strategy and scheduler has its intended effect, and safety
(agreement, validity) holds with f corrupted nodes anyway. Seeds are printed on failure."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

import pytest

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.corruption import AdaptiveCorruption
from byzlab.adversary.schedulers import SCHEDULERS, Scheduler, make_scheduler
from byzlab.adversary.strategies import STRATEGIES, NodeSpec, SigmaCorrelation
from byzlab.adversary.triggers import compile_predicate
from byzlab.adversary.view import AdversaryView, CoinPlan
from byzlab.errors import RuleError
from byzlab.network.sim import Simulator
from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.bracha import HPZ
from byzlab.node.coin import clip, coin_terms
from byzlab.node.messages import Complete, DecideMsg, Kind, Message, RbcMsg, Vote, Write
from byzlab.node.params import Params
from tests.simutil import build_sim, describe


def _safe(sim: Simulator) -> None:
    result = sim.run()
    assert result.agreed, describe(result)
    assert result.valid, describe(result)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize(("n", "f"), [(4, 1), (7, 2)])
def test_every_strategy_is_safe_with_f_corrupted(strategy: str, n: int, f: int) -> None:
    for seed in range(12):
        for scheduler in ("random", "split-vote", "coin-aware"):
            _safe(build_sim(n, f, seed=seed, strategy=strategy, scheduler=scheduler))


@pytest.mark.parametrize("scheduler", sorted(set(SCHEDULERS) - {"rules"}))
def test_every_scheduler_is_safe(scheduler: str) -> None:
    for seed in range(12):
        _safe(build_sim(7, 2, seed=seed, strategy="equivocate", scheduler=scheduler))


# -- intended effects of the strategies ---------------------------------------------------------


@dataclass
class Recorder(Scheduler):
    """A random scheduler that records every send: (time, src, dst, msg)."""

    name: str = "recorder"
    log: list[tuple[float, int, int, Message]] = field(default_factory=list)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        self.log.append((now, src, dst, msg))
        return self.rng.random() * self.delta


def test_silent_sends_nothing() -> None:
    sim = build_sim(4, 1, seed=1, strategy="silent", scheduler=Recorder)
    _safe(sim)
    rec = sim.scheduler
    assert not [e for e in rec.log if e[1] == 3]


def test_crash_stops_sending_at_its_time() -> None:
    sim = build_sim(
        4, 1, seed=2, strategy="crash", scheduler=Recorder, strategy_kwargs={"at_time": 2.0}
    )
    _safe(sim)
    rec = sim.scheduler
    times = [t for t, src, _, _ in rec.log if src == 3]
    assert times, "the node never sent anything before crashing"
    assert max(times) < 2.0


def test_equivocation_gets_at_most_one_value_accepted() -> None:
    for seed in range(20):
        sim = build_sim(7, 2, seed=seed, strategy="equivocate")
        _safe(sim)
        for byz in (5, 6):
            for key in {k for node in sim.honest_nodes() for k in node.know.votes}:
                values = {
                    node.know.votes[key][byz]
                    for node in sim.honest_nodes()
                    if key in node.know.votes and node.know.votes[key][byz] is not None
                }
                assert len(values) <= 1, f"seed={seed} node {byz} {key}: {values}"


@pytest.mark.parametrize("strategy", ["invalid-value", "random-value"])
def test_invalid_transitions_are_rejected(strategy: str) -> None:
    rejected = 0
    for seed in range(10):
        sim = build_sim(7, 2, seed=seed, strategy=strategy)
        result = sim.run()
        assert result.agreed, describe(result)
        rejected += sum(result.rejected.values())
    assert rejected > 0


def _byzantine_coin_columns(sim: Simulator) -> list[tuple[int, int, int]]:
    """(iteration, Sigma_G, Sigma_B) for every even board the adversary saw written."""
    view = sim.adversary
    out = []
    for board in sorted(view.cells):
        if board % 2 == 0:
            t = board // 2
            out.append((t, view.sigma_g(t), view.sigma_b(t)))
    return out


def test_biased_coins_push_the_adversarial_direction() -> None:
    """With sigma = -v* known, every corrupted cell is sigma; otherwise cells oppose the
    honest running sum, so the corrupted column mostly ends up against it."""
    against = total = 0
    for seed in range(12):
        sim = build_sim(4, 1, seed=seed, strategy="biased-coins", scheduler="split-vote")
        _safe(sim)
        view = sim.adversary
        for board, columns in view.cells.items():
            if board % 2 or 3 not in columns:
                continue
            t = board // 2
            sigma = view.sigma(t)
            if sigma:
                assert set(columns[3]) == {sigma}, f"seed={seed} board {board}"
            elif view.sigma_g(t):
                total += 1
                against += view.sigma_b(t) * view.sigma_g(t) < 0
    assert total >= 5
    assert against / total > 0.6, (against, total)


def test_mirror_mimic_opposes_the_honest_sum_when_sigma_is_zero() -> None:
    opposed = total = 0
    for seed in range(20):
        sim = build_sim(7, 2, seed=seed, strategy="mirror-mimic", scheduler="split-vote")
        _safe(sim)
        for t, sg, sb in _byzantine_coin_columns(sim):
            if sim.adversary.sigma(t) == 0 and sg:
                total += 1
                opposed += (sb * sg) < 0
    assert total >= 10
    assert opposed / total > 0.7, (opposed, total)


def test_coin_interval_lands_closer_to_zero_than_random_coins() -> None:
    def mean_abs(strategy: str) -> float:
        values = []
        for seed in range(15):
            sim = build_sim(4, 1, seed=seed, strategy=strategy, scheduler="split-vote")
            _safe(sim)
            view = sim.adversary
            values += [abs(view.bias(t) + sg + sb) for t, sg, sb in _byzantine_coin_columns(sim)]
        return sum(values) / len(values)

    assert mean_abs("coin-interval") < mean_abs("random-coins")


def test_split_vote_voter_votes_the_honest_minority() -> None:
    """Its step-2 vote sides with the honest step-1 minority more often than an
    honest-behaving corrupted node's does."""

    def minority_rate(strategy: str) -> float:
        hits = total = 0
        for seed in range(10):
            sim = build_sim(7, 2, seed=seed, strategy=strategy, scheduler="random", inputs="random")
            _safe(sim)
            view = sim.adversary
            for (t, step), votes in view.votes.items():
                honest = [v for j, v in view.votes.get((t, 1), {}).items() if j in view.honest]
                if step != 2 or 5 not in votes or not sum(honest):
                    continue
                total += 1
                hits += votes[5] == -(1 if sum(honest) > 0 else -1)
        assert total >= 5, (strategy, total)
        return hits / total

    # a minority quorum only exists when enough minority votes are validated, so the
    # effect is partial (measured: 0.38 against 0.17 for an honest-behaving node)
    attack, honest = minority_rate("split-vote"), minority_rate("random-coins")
    assert attack > 2 * honest, (attack, honest)


def test_deadlock_and_split_hold_withhold_initials() -> None:
    for strategy, missing in (("deadlock", 1), ("split-hold", 1)):
        sim = build_sim(4, 1, seed=3, strategy=strategy, scheduler=Recorder)
        _safe(sim)
        rec = sim.scheduler
        own_initials: dict[tuple[int, int], set[int]] = {}
        for _, src, dst, msg in rec.log:
            if src == 3 and isinstance(msg, RbcMsg) and msg.kind == Kind.INITIAL:
                own_initials.setdefault((msg.origin, msg.seq), set()).add(dst)
        assert own_initials
        assert all(len(dsts) <= 3 - missing for dsts in own_initials.values()), own_initials


def test_adaptive_corruption_takes_over_state_and_stays_within_f() -> None:
    for rule in ("at-time", "first-decider", "most-influential"):
        for seed in range(6):
            sim = build_sim(
                7,
                2,
                seed=seed,
                strategy="equivocate",
                byzantine_ids=[6],
                observers=[
                    functools.partial(
                        AdaptiveCorruption, rule=rule, strategy="mirror-mimic", at_time=3.0
                    )
                ],
            )
            (corruption,) = sim.observers
            result = sim.run()
            assert result.agreed, f"{rule} {describe(result)}"
            assert len(sim.byzantine_ids) <= 2
            if rule == "at-time":
                assert len(corruption.corrupted) == 1, f"seed={seed}"
                victim = corruption.corrupted[0][1]
                assert victim not in result.honest_decisions


# -- intended effects of the schedulers ---------------------------------------------------------

_V = RbcMsg(int(Kind.READY), 0, 1, Vote(1, 1, 1))


def _context(n: int, f: int, byzantine: list[int], delta: float = 1.0) -> AdversaryContext:
    params = Params.practical(n, f)
    return AdversaryContext(
        params, AdversaryView(params, byzantine), random.Random(0), delta, protocol=HPZ()
    )


def _bound(name: str, n: int = 7, f: int = 2, **kwargs: object) -> Scheduler:
    return make_scheduler(name, _context(n, f, [5, 6]), **kwargs)


def test_delays_stay_within_delta() -> None:
    for name in sorted(set(SCHEDULERS) - {"rules"}):
        sched = _bound(name)
        for src in range(7):
            for dst in range(7):
                d = sched.delay(src, dst, _V, 0.0)
                assert 0.0 <= d <= 1.0, (name, d)


def test_fifo_exponential_latency_targeted_partition() -> None:
    assert _bound("fifo").delay(0, 1, _V, 0.0) == 1.0
    exp = _bound("exponential")
    mean = sum(exp.delay(0, 1, _V, 0.0) for _ in range(4000)) / 4000
    assert 0.18 < mean < 0.3
    lat = _bound("latency-matrix", jitter=0.0)
    assert lat.delay(0, 1, _V, 0.0) < lat.delay(0, 3, _V, 0.0)
    tgt = _bound("targeted", nodes=[2])
    assert tgt.delay(2, 0, _V, 0.0) == 1.0
    assert tgt.delay(0, 2, _V, 0.0) == 1.0
    assert tgt.delay(0, 1, _V, 0.0) <= 0.25
    part = _bound("partition", group=[0, 1, 2], heal_at=10.0)
    assert part.delay(0, 4, _V, 1.0) == 1.0
    assert part.delay(0, 1, _V, 1.0) <= 0.25
    assert part.delay(0, 4, _V, 11.0) <= 0.25


def test_split_vote_makes_local_coins_slow_and_not_hpz() -> None:
    local, hpz = [], []
    for seed in range(6):
        local.append(
            build_sim(
                10,
                3,
                seed=seed,
                protocol="bracha-local",
                strategy="split-vote",
                scheduler="split-vote",
            )
            .run()
            .iterations
        )
        hpz.append(
            build_sim(10, 3, seed=seed, strategy="split-vote", scheduler="split-vote")
            .run()
            .iterations
        )
    assert sum(local) > 2 * sum(hpz), (local, hpz)


def test_coin_aware_gives_the_corrupted_columns_the_last_word() -> None:
    """The delays of the coin-aware scheduler under the acknowledged-writes blackboard
    (each within [0, delta]; the honest nodes' own items are never held from themselves)."""
    sim = build_sim(4, 1, seed=0, strategy="coin-interval", scheduler="coin-aware")
    sched, view = sim.scheduler, sim.adversary
    assert not view.schedules_last_word
    m = sim.params.m

    def ready(origin: int, item: Vote | Write | Complete) -> RbcMsg:
        return RbcMsg(int(Kind.READY), origin, 9, item)

    # honest coin rows: row 1 starts late at the honest nodes (the corrupted nodes' earlier
    # items land first), the middle ones travel at once, and the last row of the writers
    # outside X = {0, 1} (whose Acks make the n - f with the corrupted ones) waits hold x delta
    assert sched.delay(1, 0, ready(1, Write(2, 1, 1)), 0.0) == 1.0
    assert view.schedules_last_word
    assert sched.delay(1, 3, ready(1, Write(2, 1, 1)), 0.0) == 0.0  # the adversary's node
    assert sched.delay(1, 0, ready(1, Write(2, 3, 1)), 0.0) == 0.0
    assert sched.delay(2, 0, ready(2, Write(2, m, 1)), 0.0) == pytest.approx(0.5)
    assert sched.delay(2, 3, ready(2, Write(2, m, 1)), 0.0) == pytest.approx(0.5)
    assert sched.delay(0, 1, ready(0, Write(2, m, 1)), 0.0) == 0.0
    # the swing cell (the last planned cell of corrupted column 3) reaches the plus node 1
    # at (hold + (1 - hold)/2) delta after the plan, the others a full delta late; the
    # honest Completes reach node 1 at (hold + 3(1 - hold)/4) delta, node 0 at once
    view.plans[1] = CoinPlan(
        iteration=1, cells={3: [1, 1, -1]}, plus=frozenset({1}), coins={}, split=True, made_at=0.0
    )
    assert sched.delay(3, 1, ready(3, Write(2, 3, -1)), 0.0) == pytest.approx(0.75)
    assert sched.delay(3, 1, ready(3, Write(2, 3, -1)), 0.5) == pytest.approx(0.25)
    assert sched.delay(3, 0, ready(3, Write(2, 3, -1)), 0.0) == 1.0
    assert sched.delay(3, 0, ready(3, Write(2, 2, 1)), 0.0) == 0.0
    assert sched.delay(0, 1, ready(0, Complete(2, 0, 0, (1, 1, 1, 1))), 0.0) == pytest.approx(0.875)
    assert sched.delay(0, 2, ready(0, Complete(2, 0, 0, (1, 1, 1, 1))), 0.0) == 0.0
    # the finger on the scale: v* bias cells and stage-1 v* votes arrive last
    assert sched.delay(1, 0, ready(1, Write(1, 1, 1)), 0.0) == 1.0
    assert sched.delay(1, 0, ready(1, Write(1, 1, 0)), 0.0) == 0.0
    assert sched.delay(1, 0, ready(1, Vote(1, 4, 1)), 0.0) == 1.0
    assert sched.delay(1, 0, ready(1, Vote(1, 4, 0)), 0.0) == 0.0
    # a corrupted non-bottom step-3 vote makes exactly one keeper (the lowest honest id)
    assert sched.delay(3, 0, ready(3, Vote(1, 3, 1)), 0.0) == 0.0
    assert sched.delay(3, 1, ready(3, Vote(1, 3, 1)), 0.0) == 1.0
    with pytest.raises(ValueError, match="hold must be in"):
        _bound("coin-aware", hold=0.95)


def _plans_and_values(
    n: int, f: int, seeds: range, strategy: str = "coin-interval"
) -> tuple[int, int, list[str], int]:
    """(plans that split, plans made, mismatches, plans whose corrupted columns were cut
    short): does every split plan come true?"""
    split = made = cut = 0
    wrong = []
    for seed in seeds:
        sim = build_sim(n, f, seed=seed, strategy=strategy, scheduler="coin-aware")
        result = sim.run()
        assert result.agreed, describe(result)
        assert result.valid, describe(result)
        view = sim.adversary
        for t, plan in view.plans.items():
            made += 1
            # a corrupted column is written as planned unless the honest nodes completed the
            # board first (then its later cells get no honest Acks and are never written)
            cut += any(view.column(2 * t, b) != cells for b, cells in plan.cells.items())
            if not plan.split:
                continue
            split += 1
            carried = view.votes.get((t + 1, 1), {})
            if any(carried.get(p) != v for p, v in plan.coins.items()):
                wrong.append(f"seed={seed} t={t} planned {plan.coins} carried {carried}")
    return split, made, wrong, cut


@pytest.mark.parametrize(
    ("n", "f", "seeds", "rate", "true_rate"), [(4, 1, 20, 0.55, 0.9), (7, 2, 10, 0.7, 0.9)]
)
def test_last_word_plans_split_the_vote_as_planned(
    n: int, f: int, seeds: int, rate: float, true_rate: float
) -> None:
    """Under Theorem 1.2 a plan can only play with one swing cell per corrupted column, so
    fewer plans split than on the old blackboard, and not every split comes true (the
    corrupted nodes' next votes follow their swing cells in their streams, so the honest
    nodes that fixed without those cells count them late), and now and then the honest
    nodes complete the board before a corrupted column is written out. Measured: 25 of 37
    plans split at n = 4 (seeds 0-19), 24 came true, 2 plans cut short; 96 of 106 at n = 7
    (seeds 0-9; seed 0 alone lasts 43 iterations), all came true, none cut short. (The old
    blackboard: 66 of 89 and 54 of 65.)"""
    split, made, wrong, cut = _plans_and_values(n, f, range(seeds))
    assert split / made >= rate, (split, made)
    assert cut <= made // 4, (cut, made)
    assert (split - len(wrong)) / split >= true_rate, wrong


def test_mirror_mimic_and_coin_interval_write_different_columns() -> None:
    """HPZ §2.2 mirror-mimic sets Sigma_B = +Sigma_G when sgn(Sigma_G) = sigma (mimic), where
    coin-interval aims the total into the split window: on the same seed (same honest coins)
    their corrupted columns differ. Seed 0 at n = 4: a keeper makes sigma = -v* = -1 and
    Sigma_G = -4, so mirror-mimic mimics (X = -4) where coin-interval writes X = +4."""
    plans = {}
    for strategy in ("coin-interval", "mirror-mimic"):
        sim = build_sim(4, 1, seed=0, strategy=strategy, scheduler="coin-aware")
        _safe(sim)
        plans[strategy] = sim.adversary.plans[1]
    interval, mm = plans["coin-interval"], plans["mirror-mimic"]
    assert interval.honest_sum == mm.honest_sum == -4.0
    assert (interval.mode, mm.mode) == ("interval", "mimic")
    assert sum(interval.cells[3]) == 4 and sum(mm.cells[3]) == -4
    assert interval.cells != mm.cells
    assert interval.final_total == 0.0  # inside [-f, f]: the swing cell splits the coin
    # and in the mirror case (sigma = 0 or opposed) mirror-mimic writes -Sigma_G
    for seed in range(1, 6):
        sim = build_sim(4, 1, seed=seed, strategy="mirror-mimic", scheduler="coin-aware")
        _safe(sim)
        for plan in sim.adversary.plans.values():
            if plan.mode == "mirror" and abs(plan.honest_sum) < sim.params.xmax:
                assert plan.corrupted_sum == -plan.honest_sum, (seed, plan)
            if plan.mode == "mimic" and abs(plan.honest_sum) < sim.params.xmax:
                assert plan.corrupted_sum == plan.honest_sum, (seed, plan)


def test_last_word_without_a_holding_scheduler_steers_as_it_goes() -> None:
    """Under a scheduler that does not deliver the coin board for the last word, writing
    last would just be late; the corrupted nodes then write as they go, toward their target,
    and make no plans."""
    for seed in range(5):
        sim = build_sim(4, 1, seed=seed, strategy="coin-interval", scheduler="random")
        _safe(sim)
        assert sim.adversary.plans == {}
        assert not sim.adversary.schedules_last_word


def _sigma_scores(
    n: int, f: int, seeds: range, **kwargs: object
) -> tuple[dict[int, int], list[tuple[int, int, int, list[int]]]]:
    """Per honest node, sum_t sigma(t) X_i(t); and every late sigma decision."""
    scores: dict[int, int] = {}
    decisions = []
    for seed in seeds:
        sim = build_sim(
            n,
            f,
            seed=seed,
            strategy="sigma-correlation",
            scheduler="split-vote",
            strategy_kwargs=kwargs,
        )
        _safe(sim)
        view = sim.adversary
        for b in sim.byzantine_ids:
            node = sim.nodes[b]
            assert isinstance(node, SigmaCorrelation)
            for t, sigma in node.decided.items():
                votes = node.inner.know.votes.get((t, 3)) or []
                vstar = next((v for v in votes if v), 0)
                xs = [clip(view.column_sum(2 * t, j), sim.params.xmax) for j in node.aimed_at()]
                decisions.append((seed, sigma, vstar, xs))
        for t in range(1, sim.honest_nodes()[0].iteration + 1):
            if 2 * t in view.cells:
                for j in view.honest:
                    x = clip(view.column_sum(2 * t, j), sim.params.xmax)
                    scores[j] = scores.get(j, 0) + view.sigma(t) * x
    return scores, decisions


def test_sigma_correlation_decides_sigma_from_the_targets_coins() -> None:
    """HPZ §2.2's scheduling attack: sigma = -v* exactly when both targets' columns point
    to -v*, decided after they are out, so the targets' sigma-correlation grows."""
    scores, decisions = _sigma_scores(7, 2, range(30))
    assert len(decisions) >= 20
    for seed, sigma, vstar, xs in decisions:
        both = vstar != 0 and all(x and (1 if x > 0 else -1) == -vstar for x in xs)
        assert sigma == (-vstar if both else 0), (seed, sigma, vstar, xs)
    assert sum(1 for _, sigma, _, _ in decisions if sigma) >= 3
    targets, others = [scores[0], scores[1]], [scores[j] for j in (2, 3, 4)]
    # measured: targets 20 and 18, the others -12, -8 and 4 (with targets 3, 4: 18 and 16
    # against -4, -6 and 2)
    assert min(targets) > max(others), scores


def test_sigma_correlation_targets_are_an_option() -> None:
    scores, _ = _sigma_scores(7, 2, range(30), targets=[3, 4])
    assert min(scores[3], scores[4]) > max(scores[0], scores[1], scores[2]), scores
    spec = NodeSpec(6, Params.practical(7, 2), HPZ(), 1, random.Random(0))
    with pytest.raises(ValueError, match="targets must be honest node ids"):
        SigmaCorrelation(spec, _context(7, 2, [6]), targets=[6])
    with pytest.raises(ValueError, match="targets must be honest node ids"):
        SigmaCorrelation(spec, _context(7, 2, [6]), targets=[9])


def _bias_in_interval(allow: int | None, seeds: range) -> tuple[int, int]:
    """Honest views fixed in iterations where 1 to f honest nodes wrote a v* finger column:
    how many see |bias| <= f, out of how many. `allow` = None is the attack; a huge allow
    is the same scheduler (same keepers, same finger writers) without the suppression."""
    inside = total = 0
    for seed in seeds:
        sched = functools.partial(make_scheduler, "finger-suppression", allow=allow)
        sim = build_sim(4, 1, seed=seed, strategy="random-coins", scheduler=sched)
        _safe(sim)
        view = sim.adversary
        for t in range(1, max(n.iteration for n in sim.honest_nodes()) + 1):
            fingers = [
                j
                for j, col in view.cells.get(2 * t - 1, {}).items()
                if j in view.honest and col and col[0]
            ]
            if not 1 <= len(fingers) <= sim.params.f:
                continue
            for node in sim.honest_nodes():
                if 2 * t in node.views:
                    bias, _ = coin_terms(
                        node.know.store, node.views[2 * t], t, [WEIGHT_ONE] * sim.params.n
                    )
                    total += 1
                    inside += abs(bias) <= sim.params.f
    return inside, total


def test_finger_suppression_keeps_the_bias_in_the_interval() -> None:
    """HPZ §2.2, a finger on the scale: with few finger writers (1 <= |A_keep| <= f), their
    v* cells reach a view only while its bias stays in [-f, f], and a view fixed before the
    held cells land cannot adopt them later. A finger writer itself waits for its own cells,
    so it sees its own finger: one view in three at n = 4. Measured over seeds 0-79:
    20 of 27 views inside against 6 of 27 with the suppression off."""
    inside, total = _bias_in_interval(None, range(80))
    assert total >= 25, total
    assert inside / total >= 0.6, (inside, total)
    inside, total = _bias_in_interval(1000, range(80))
    assert total >= 25, total
    assert inside / total <= 0.3, (inside, total)


def test_rule_triggers_compose() -> None:
    rule = compile_predicate(
        {"all": [{"sender": 3}, {"kind": "ECHO"}, {"stage": "coin-2"}, {"iteration": 5}]}
    )
    echo = RbcMsg(int(Kind.ECHO), 1, 40, Write(10, 2, 1))
    assert rule(3, 0, echo, 0.0)
    assert not rule(2, 0, echo, 0.0)
    assert not rule(3, 0, RbcMsg(int(Kind.READY), 1, 40, Write(10, 2, 1)), 0.0)
    assert not rule(3, 0, RbcMsg(int(Kind.ECHO), 1, 40, Write(9, 2, 1)), 0.0)
    either = compile_predicate({"any": [{"kind": "DECIDE"}, {"not": {"after": 5}}]})
    assert either(0, 1, DecideMsg(1), 9.0)
    assert either(0, 1, echo, 1.0)
    assert not either(0, 1, echo, 9.0)
    sched = make_scheduler(
        "rules", _context(4, 1, [], delta=2.0), rules=[{"when": {"sender": 3}, "delay": 1.0}]
    )
    assert sched.delay(3, 0, echo, 0.0) == 2.0


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"bogus": 1}, "when.bogus: unknown condition"),
        ({"kind": "PING"}, "when.kind: 'PING' is not one of"),
        ({"all": []}, "when.all: expected a non-empty list"),
        ({"sender": "x"}, "when.sender: expected an integer"),
        ({"after": "soon"}, "when.after: expected a number"),
        ({"stage": "coin-3"}, "when.stage: 'coin-3' is not one of"),
        ({"sender": 1, "receiver": 2}, "exactly one key"),
    ],
)
def test_rule_errors_name_the_field(spec: dict[str, object], needle: str) -> None:
    with pytest.raises(RuleError, match=needle):
        compile_predicate(spec)


def test_rules_scheduler_in_a_run() -> None:
    sched = functools.partial(
        make_scheduler,
        "rules",
        rules=[
            {"when": {"all": [{"sender": 0}, {"stage": "coin-2"}]}, "delay": 1.0},
            {"when": {"not": {"kind": "INITIAL"}}, "delay": 0.1},
        ],
    )
    _safe(build_sim(4, 1, seed=0, strategy="crash", scheduler=sched))
