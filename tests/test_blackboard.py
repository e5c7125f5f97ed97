"""Iterated blackboard properties (HPZ Theorem 1 as node/blackboard.py guarantees them),
checked on real simulator runs under random and adversarial schedules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from byzlab.adversary.schedulers import SplitVoteScheduler
from byzlab.invariants import check_blackboard
from byzlab.network.sim import Simulator
from byzlab.node.messages import Message, RbcMsg, Write
from tests.simutil import build_sim


@dataclass
class SlowWriterScheduler(SplitVoteScheduler):
    """Adversarial: every blackboard message about one writer's cells takes the full delta,
    everything else is fast; the victim changes every few time units. This makes that
    writer's columns lag and partial in different ways at different readers."""

    name: str = "slow-writer"

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        victim = int(now // 3) % self.n
        if isinstance(msg, RbcMsg) and isinstance(msg.item, Write) and msg.origin == victim:
            return self.delta * (0.5 + 0.5 * self.rng.random())
        if isinstance(msg, RbcMsg) and isinstance(msg.item, Write):
            return self.rng.random() * 0.1 * self.delta
        return super().delay(src, dst, msg, now)


@dataclass
class ReaderSplitScheduler(SplitVoteScheduler):
    """Adversarial: half of the readers get all writes late, the other half early, so that
    their fixed views differ as much as the adversary can make them."""

    name: str = "reader-split"

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if dst % 2 and isinstance(msg, RbcMsg) and isinstance(msg.item, Write):
            return self.delta
        if isinstance(msg, RbcMsg) and isinstance(msg.item, Write):
            return self.rng.random() * 0.2 * self.delta
        return super().delay(src, dst, msg, now)


SCHEDULES = {
    "split-vote": lambda: "split-vote",
    "slow-writer": SlowWriterScheduler,
    "reader-split": ReaderSplitScheduler,
}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize(("n", "f"), [(4, 1), (10, 3)])
def test_blackboard_properties(schedule: str, n: int, f: int) -> None:
    views = adoptions = 0
    widest = 0
    for seed in range(25 if n < 10 else 8):
        sim = build_sim(n, f, seed=seed, scheduler=SCHEDULES[schedule](), inputs="split",
                        strategy="crash", strategy_kwargs={"at_time": 40.0})
        result = sim.run()
        assert result.agreed, f"seed={seed} schedule={schedule}"
        report = check_blackboard(sim.honest_nodes())
        assert not report.violations, f"seed={seed} schedule={schedule}: {report.violations[:3]}"
        views += report.views_checked
        adoptions += report.adoptions_checked
        widest = max(widest, report.max_columns_differing_on_fixed_board)
    # the checks must not be vacuous: many views fixed, many carried views adopted
    assert views >= 50 and adoptions >= 50, (views, adoptions)
    assert widest <= 2 * f


def test_prefix_and_full_columns_in_every_fixed_view() -> None:
    sim = build_sim(4, 1, seed=3, scheduler="split-vote", inputs="split")
    sim.run()
    assert any(node.views for node in sim.honest_nodes())
    for node in sim.honest_nodes():
        store = node.know.store
        for board, view in node.views.items():
            full = sum(1 for j in range(4)
                       if store.cells_in_view(board, j, view[j])[0] == node.params.rows(board))
            assert full >= 3, f"node {node.me} board {board}"
            grid = store.view_matrix(board, view)
            for j in range(4):
                column = [grid[r][j] for r in range(len(grid))]
                filled = [c is not None for c in column]
                assert filled == sorted(filled, reverse=True), f"column {j} is not a prefix"


@dataclass
class HoldSplitScheduler(SplitVoteScheduler):
    """hold-f on top of split votes (so that the run lasts long enough to fill boards)."""

    name: str = "hold-split"

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        if src in (0, 1) and src != dst:
            return self.delta
        return super().delay(src, dst, msg, now) * 0.25


def test_held_columns_stay_partial() -> None:
    """When two writers' messages always arrive last, the n - f others fill every board and
    the held columns are not among the full ones."""
    checked = 0
    for seed in range(30):
        sim = build_sim(10, 3, seed=seed, scheduler=HoldSplitScheduler(), inputs="split")
        sim.run()
        checked += _check_held_partial(sim, held=[0, 1], n=10, f=3)
    assert checked >= 10


def _check_held_partial(sim: Simulator, held: list[int], n: int, f: int) -> int:
    node = sim.honest_nodes()[0]
    if not node.views:
        return 0
    first_board = min(node.views)
    view = node.views[first_board]
    rows = node.params.rows(first_board)
    full = {j for j in range(n)
            if node.know.store.cells_in_view(first_board, j, view[j])[0] == rows}
    assert len(full) >= n - f
    assert not set(held) & full, f"seed={sim.seed} held {held} full {full}"
    return 1
