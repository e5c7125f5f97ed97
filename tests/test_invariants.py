"""The invariant checkers (byzlab.invariants) fail on deliberately broken inputs and pass on
good ones, and the certain ones are measured on real simulator runs.

The hand-built inputs use small fakes of the read-only surface the checkers use (a node's
`views`, `coin_outputs`, `know.store`, `know.weights`, `know.shadows`), so they do not depend
on how the blackboard is built. All of them: n = 4, f = 1, `Params.practical` (m = 8 rows on
even boards, m0 = Xmax = 4 on odd ones, T = 8, w_min = 0.25, eps = 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from byzlab import invariants
from byzlab.invariants import (
    FixOrderViews,
    check_all,
    check_board_cells,
    check_coin_recompute,
    check_coin_totals,
    check_cross_time_cells,
    check_history_cells,
    check_invariant1,
    check_invariant1_strict,
    check_lemma3,
    check_lemma4,
    check_lemma5_1,
    check_lemma6_1,
    check_lemma12,
    check_nodes,
    in_regime,
    record_fix_order,
)
from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.bracha import HPZ
from byzlab.node.params import Params
from tests.conftest import invariant_checks_enabled
from tests.simutil import build_sim, describe

P = Params.practical(4, 1)
SEED = 7
Stream = list[tuple[int, int]]  # one writer's stream items in order: (board, value)


class FakeStore:
    """The BlackboardStore surface the checkers read, over explicit per-writer streams: the
    cells of board b in column j within a view are the writes to b among j's first view[j]
    items (every node of a test shares one store; views say what each node has seen)."""

    def __init__(self, params: Params, streams: dict[int, Stream]) -> None:
        self.params = params
        self.n = params.n
        self.streams = streams

    def _cells(self, board: int, writer: int, length: int) -> list[int]:
        return [v for b, v in self.streams.get(writer, [])[:length] if b == board]

    def cells_in_view(self, board: int, writer: int, length: int) -> tuple[int, int]:
        cells = self._cells(board, writer, length)
        return len(cells), sum(cells)

    def column(self, board: int, writer: int) -> SimpleNamespace | None:
        cells = self._cells(board, writer, 1 << 30)
        return SimpleNamespace(values=cells) if cells else None

    def column_sums(self, board: int, view: Sequence[int]) -> list[int]:
        return [self.cells_in_view(board, j, view[j])[1] for j in range(self.n)]

    def view_complete(self, board: int, view: Sequence[int]) -> bool:
        rows = self.params.rows(board)
        full = sum(self.cells_in_view(board, j, view[j])[0] == rows for j in range(self.n))
        return full >= self.params.quorum

    def boards(self) -> list[int]:
        return sorted({b for s in self.streams.values() for b, _ in s})


class FakeWeights:
    """Consensus weights: 1 unless `table[(j, e)]` says otherwise; every weight is known."""

    def __init__(self, table: dict[tuple[int, int], float] | None = None) -> None:
        self.table = table or {}

    def weight(self, j: int, e: int) -> int:
        return round(self.table.get((j, e), 1.0) * WEIGHT_ONE)

    def known(self, j: int, e: int) -> bool:
        return True

    def weights_for_iteration(self, iteration: int) -> list[int]:
        e = (iteration - 1) // P.T
        return [self.weight(j, e) for j in range(P.n)]


def node(
    me: int,
    store: FakeStore,
    *,
    weights: FakeWeights | None = None,
    views: dict[int, tuple[int, ...]] | None = None,
    coins: dict[int, int] | None = None,
    x: dict[int, int] | None = None,
    vstar: dict[int, int] | None = None,
) -> Any:
    shadows = [SimpleNamespace(x={}, vstar={}) for _ in range(P.n)]
    shadows[me] = SimpleNamespace(x=dict(x or {}), vstar=dict(vstar or {}))
    know = SimpleNamespace(store=store, weights=weights or FakeWeights(), shadows=shadows)
    return SimpleNamespace(
        me=me,
        params=P,
        protocol=HPZ(),
        views=dict(views or {}),
        coin_outputs=dict(coins or {}),
        iteration=1,
        know=know,
    )


def board1_streams() -> dict[int, Stream]:
    """Every writer: 4 cells of value 1 in BB_1 (full), then 8 cells in BB_2 alternating +-1."""
    return {j: [(1, 1)] * 4 + [(2, 1), (2, -1)] * 4 for j in range(P.n)}


def one_violation(found: list[str], *needles: str) -> None:
    assert len(found) == 1, found
    for needle in (f"seed={SEED}", *needles):
        assert needle in found[0], (needle, found[0])


# --------------------------------------------------------------------------- Theorem 1.2


def test_board_cells_fail_on_f_plus_one_differing_cells() -> None:
    store = FakeStore(P, board1_streams())
    a = node(0, store, views={1: (4, 4, 4, 2)})
    b = node(1, store, views={1: (4, 4, 4, 4)})
    stats = invariants.CheckStats()
    one_violation(
        check_board_cells([a, b], seed=SEED, stats=stats),
        "Theorem 1.2 (per board)",
        "board 1",
        "2 cells",
    )
    assert stats.max_cells_board == 2
    good = node(1, store, views={1: (4, 4, 4, 3)})
    assert check_board_cells([a, good], seed=SEED) == []


def test_board_cells_count_values_that_disagree() -> None:
    """Two stores whose columns disagree on a value: the cell counts alone would say 0."""
    a = node(0, FakeStore(P, board1_streams()), views={1: (4, 4, 4, 4)})
    streams = board1_streams()
    streams[3] = [(1, 1), (1, 0), (1, 0), (1, 1), *streams[3][4:]]
    b = node(1, FakeStore(P, streams), views={1: (4, 4, 4, 4)})
    one_violation(check_board_cells([a, b], seed=SEED), "board 1", "2 cells")


def test_history_cells_fail_when_boards_add_up_beyond_f() -> None:
    """Each board alone differs in 1 <= f cell; boards 1..2 together in 2 > f."""
    store = FakeStore(P, board1_streams())
    a = node(0, store, views={2: (12, 12, 11, 3)})
    b = node(1, store, views={2: (12, 12, 12, 4)})
    assert check_board_cells([a, b], seed=SEED) == []
    one_violation(
        check_history_cells([a, b], seed=SEED),
        "Theorem 1.2 (over history)",
        "boards 1..2",
        "2 cells",
    )
    good = node(1, store, views={2: (12, 12, 12, 3)})
    assert check_history_cells([a, good], seed=SEED) == []


def test_cross_time_cells_fail_on_retroactive_adoption_beyond_f() -> None:
    """Both nodes fix the same view of BB_1; later node 1 adopts 2 more cells of BB_1."""
    store = FakeStore(P, board1_streams())
    a = node(0, store, views={1: (4, 4, 4, 2)})
    b = node(1, store, views={1: (4, 4, 4, 2), 2: (12, 12, 12, 4)})
    assert check_board_cells([a, b], seed=SEED) == []
    assert check_history_cells([a, b], seed=SEED) == []
    found = check_cross_time_cells([a, b], seed=SEED)
    assert len(found) == 2, found  # node 0's and node 1's own view of BB_1 against it
    assert all("across time" in v and "boards 1..1" in v and f"seed={SEED}" in v for v in found)
    good = node(1, store, views={1: (4, 4, 4, 2), 2: (12, 12, 12, 3)})
    assert check_cross_time_cells([a, good], seed=SEED) == []


# --------------------------------------------------------------------------- coin


def coin_streams(col3_even: int) -> dict[int, Stream]:
    """BB_1: 4 zeros per writer. BB_2: writer 0 eight +1 (sum 8, clipped to Xmax = 4),
    writers 1, 2 alternating (sum 0), writer 3 `col3_even` cells of +1."""
    streams: dict[int, Stream] = {j: [(1, 0)] * 4 for j in range(P.n)}
    streams[0] += [(2, 1)] * 8
    streams[1] += [(2, 1), (2, -1)] * 4
    streams[2] += [(2, 1), (2, -1)] * 4
    streams[3] += [(2, 1)] * col3_even
    return streams


def test_coin_totals_fail_when_totals_differ_by_more_than_f() -> None:
    store = FakeStore(P, coin_streams(8))
    a = node(0, store, views={2: (12, 12, 12, 4)})  # bias 0, Sigma 4 + 0 + 0 + 0
    b = node(1, store, views={2: (12, 12, 12, 7)})  # Sigma 4 + 3
    stats = invariants.CheckStats()
    one_violation(
        check_coin_totals([a, b], seed=SEED, stats=stats),
        "Lemma 4 (coin totals within f)",
        "iteration 1",
        "differ by 3",
    )
    assert stats.max_coin_total_gap == 3.0
    good = node(1, store, views={2: (12, 12, 12, 5)})
    assert check_coin_totals([a, good], seed=SEED) == []


def test_lemma4_fails_on_a_flipped_coin_output() -> None:
    """Totals 4 and 5 (outside [-1, 1], within f of each other), nobody keeps: every coin
    must be +1; node 1's is flipped."""
    store = FakeStore(P, coin_streams(8))
    a = node(0, store, views={2: (12, 12, 12, 4)}, coins={1: 1}, x={1: 0})
    b = node(1, store, views={2: (12, 12, 12, 5)}, coins={1: -1}, x={1: 0})
    assert check_coin_totals([a, b], seed=SEED) == []
    stats = invariants.CheckStats()
    one_violation(
        check_lemma4([a, b], seed=SEED, stats=stats), "HPZ Lemma 4", "iteration 1", "nodes [1]"
    )
    assert (stats.lemma4_applied, stats.lemma4_failures) == (1, 1)
    one_violation(check_coin_recompute([a, b], seed=SEED), "Algorithm 2", "node 1")
    b.coin_outputs[1] = 1
    assert check_lemma4([a, b], seed=SEED) == []
    assert check_coin_recompute([a, b], seed=SEED) == []


def test_lemma4_does_not_apply_when_f_plus_one_keep() -> None:
    store = FakeStore(P, coin_streams(8))
    a = node(0, store, views={2: (12, 12, 12, 4)}, coins={1: 1}, x={1: 1}, vstar={1: -1})
    b = node(1, store, views={2: (12, 12, 12, 5)}, coins={1: -1}, x={1: 1}, vstar={1: -1})
    assert check_lemma4([a, b], seed=SEED) == []


def test_lemma3_fails_when_f_plus_one_keep_and_a_coin_is_not_vstar() -> None:
    store = FakeStore(P, coin_streams(8))
    a = node(0, store, views={2: (12, 12, 12, 4)}, coins={1: -1}, x={1: 1}, vstar={1: -1})
    b = node(1, store, views={2: (12, 12, 12, 4)}, coins={1: 1}, x={1: 1}, vstar={1: -1})
    c = node(2, store, views={2: (12, 12, 12, 4)}, coins={1: -1}, x={1: 0})
    one_violation(
        check_lemma3([a, b, c], seed=SEED),
        "HPZ Lemma 3",
        "iteration 1",
        "|A_keep| = 2",
        "nodes [1]",
    )
    b.coin_outputs[1] = -1
    assert check_lemma3([a, b, c], seed=SEED) == []
    # with only f keepers the premise does not hold
    b.know.shadows[1].x[1] = 0
    b.coin_outputs[1] = 1
    assert check_lemma3([a, b, c], seed=SEED) == []


@pytest.mark.parametrize("ordered", [True, False])
def test_lemma6_1_fails_when_a_later_view_of_the_odd_board_is_far(ordered: bool) -> None:
    """Node 0 fixes BB_1 first with bias 14; node 1's view fixed at BB_2 has bias 16."""
    store = FakeStore(P, board1_streams())
    a = node(0, store)
    b = node(1, store)
    if ordered:
        clock = itertools.count()
        a.views = FixOrderViews({}, clock, None)
        b.views = FixOrderViews({}, clock, None)
    a.views[1] = (4, 4, 4, 2)
    b.views[1] = (4, 4, 4, 3)
    b.views[2] = (12, 12, 12, 4)
    stats = invariants.CheckStats()
    found = check_lemma6_1([a, b], seed=SEED, stats=stats)
    label = "first to fix BB_1" if ordered else "Lemma 6.1 (pairwise)"
    one_violation(found, "HPZ Lemma 6.1", "iteration 1", label)
    assert stats.fix_order_known is ordered and stats.max_bias_spread == 2
    b.views[2] = (12, 12, 12, 3)
    assert check_lemma6_1([a, b], seed=SEED) == []


# --------------------------------------------------------------------------- weights


def epoch_streams(anti: tuple[int, int]) -> dict[int, Stream]:
    """One epoch (T = 8 iterations, boards 1..16): odd boards 4 zeros per writer; on every
    even board writer anti[0] writes 4 cells of +1, anti[1] 4 cells of -1, the others +-1
    alternating. Their correlation is -T Xmax^2 = -128, far beyond beta ~ 36.9."""
    streams: dict[int, Stream] = {j: [] for j in range(P.n)}
    for t in range(1, P.T + 1):
        for j in range(P.n):
            streams[j] += [(2 * t - 1, 0)] * 4
            value = 1 if j == anti[0] else -1 if j == anti[1] else 0
            streams[j] += [(2 * t, value)] * 4 if value else [(2 * t, 1), (2 * t, -1)] * 2
    return streams


FULL = (64, 64, 64, 64)


def test_lemma12_fails_when_local_weights_drift_beyond_w_min() -> None:
    """Node 0 sees writer 3's columns and cuts the weights of 0 and 3 to 0; node 1 never saw
    writer 3's coins (its view stops before them), so its local weights stay 1."""
    store = FakeStore(P, epoch_streams((0, 3)))
    a = node(0, store, views={16: FULL})
    b = node(1, store, views={16: (64, 64, 64, 4)})
    stats = invariants.CheckStats()
    found = check_lemma12([a, b], {3}, seed=SEED, stats=stats)
    one_violation(found, "HPZ Lemma 12", "epoch 2", "w_min = 0.25")
    assert stats.max_local_weight_gap == 1.0
    same = node(1, store, views={16: FULL})
    assert check_lemma12([a, same], {3}, seed=SEED) == []


def test_lemma5_1_fails_on_an_honest_honest_edge_with_capacity() -> None:
    honest_pair = FakeStore(P, epoch_streams((0, 1)))
    nodes = [node(i, honest_pair, views={16: FULL}) for i in range(3)]
    found = check_lemma5_1(nodes, {3}, seed=SEED)
    assert len(found) == 3, found  # one per honest node's excess graph
    assert all(
        "HPZ Lemma 5(1)" in v and "honest nodes 0 and 1" in v and "epoch 1" in v for v in found
    )
    with_bad = FakeStore(P, epoch_streams((0, 3)))
    nodes = [node(i, with_bad, views={16: FULL}) for i in range(3)]
    assert check_lemma5_1(nodes, {3}, seed=SEED) == []


def test_invariant1_strict_fails_where_the_slack_form_holds() -> None:
    """Epoch 1: the good nodes lost 0.25 in total, the bad one nothing. eps^4 f = 1 covers it,
    the strict form does not."""
    store = FakeStore(P, board1_streams())
    weights = FakeWeights({(0, 1): 0.75})
    nodes = [node(i, store, weights=weights) for i in range(3)]
    assert check_invariant1(nodes, {3}, 2, seed=SEED) == []
    one_violation(
        check_invariant1_strict(nodes, {3}, 2, seed=SEED), "Invariant 1 (strict", "epoch 1", "0.25"
    )
    weights.table[(3, 1)] = 0.5
    assert check_invariant1_strict(nodes, {3}, 2, seed=SEED) == []
    # and the slack form fails once the good loss exceeds bad loss + eps^4 f
    weights.table.update({(0, 1): 0.0, (1, 1): 0.0, (3, 1): 1.0})
    assert len(check_invariant1(nodes, {3}, 2, seed=SEED)) == 1


def test_check_nodes_keeps_certain_and_whp_violations_apart() -> None:
    store = FakeStore(P, board1_streams())
    weights = FakeWeights({(0, 1): 0.75})
    a = node(0, store, weights=weights, views={1: (4, 4, 4, 2)})
    b = node(1, store, weights=weights, views={1: (4, 4, 4, 4)})
    report = check_nodes([a, b], {3}, seed=SEED, epochs=2)
    assert not report.ok and not report.in_regime
    assert report.counts["thm1.2-board"] == 1 and report.counts["invariant1-strict"] == 1
    assert any("Theorem 1.2 (per board)" in v for v in report.violations)
    assert all("Invariant 1" not in v for v in report.violations)
    assert len(report.whp_violations) == 1 and "strict" in report.whp_violations[0]
    assert report.summary()["max_cells_board"] == 2
    only_certain = check_nodes([a, b], {3}, seed=SEED, epochs=2, whp=False)
    assert only_certain.whp_violations == [] and only_certain.violations == report.violations


def test_in_regime_follows_the_proofs_margins() -> None:
    for params in (Params.practical(4), Params.practical(16), Params.theory(7, 2)):
        assert in_regime(params) == (params.margins()["outside_regime"] == [])
        assert not in_regime(params)  # byzlab's presets all lie outside (params.py)


# --------------------------------------------------------------------------- real runs


@pytest.mark.allow_violations
def test_fix_order_is_recorded_without_changing_the_run() -> None:
    plain = build_sim(4, 1, seed=0, scheduler="random").run()
    sim = build_sim(4, 1, seed=0, scheduler="random")
    record_fix_order(sim)
    result = sim.run()
    assert result.trace_hash == plain.trace_hash
    nodes = sim.honest_nodes()
    assert all(isinstance(nd.views, FixOrderViews) for nd in nodes)
    seqs = sorted(
        s
        for nd in nodes
        if isinstance(nd.views, FixOrderViews)
        for s, _ in nd.views.fixed_at.values()
    )
    assert seqs == list(range(len(seqs))) and len(seqs) == sum(len(nd.views) for nd in nodes)
    assert check_all(sim, result).stats.fix_order_known


def test_the_fixture_fails_a_run_with_a_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    if not invariant_checks_enabled():
        pytest.skip("BYZLAB_CHECK_INVARIANTS=0")
    fake = invariants.InvariantReport(seed=0, in_regime=False, violations=["broken on purpose"])
    fake.counts["fake"] = 1
    monkeypatch.setattr(invariants, "check_all", lambda *a, **k: fake)
    with pytest.raises(pytest.fail.Exception, match="broken on purpose"):
        build_sim(4, 1, seed=1, scheduler="random").run()


# Runs on the blackboard construction before acknowledged writes (node/blackboard.py at
# 3db9765), measured with this file's checkers: every one breaks HPZ Theorem 1.2's f-cell
# bound. (4, 1) random seeds 0 and 2: two views of BB_1 differ in 2 cells; (10, 3) split-vote
# under coin-interval seeds 0-2: up to 6 cells; (4, 1) coin-aware under coin-interval seed 1:
# 5 cells of BB_2, honest totals 5 apart, and Lemma 4 itself fails (a total outside [-f, f]
# and honest coins that disagree).
OLD_CONSTRUCTION_FAILURES = [
    (4, 1, "random", None, 0),
    (4, 1, "random", None, 2),
    (10, 3, "split-vote", "coin-interval", 0),
    (10, 3, "split-vote", "coin-interval", 1),
    (10, 3, "split-vote", "coin-interval", 2),
    (4, 1, "coin-aware", "coin-interval", 1),
]


# These seeds broke HPZ Theorem 1.2 (and at n = 4 under coin-aware, Lemma 4) on the
# blackboard that fixed views as soon as n - f columns were full; they pass on the
# acknowledged-writes construction (node/blackboard.py).
@pytest.mark.allow_violations
@pytest.mark.parametrize(("n", "f", "scheduler", "strategy", "seed"), OLD_CONSTRUCTION_FAILURES)
def test_certain_invariants_hold_on_runs_that_broke_the_old_construction(
    n: int, f: int, scheduler: str, strategy: str | None, seed: int
) -> None:
    sim = build_sim(n, f, seed=seed, scheduler=scheduler, strategy=strategy)
    record_fix_order(sim)
    result = sim.run()
    report = check_all(sim, result, whp=False)
    assert report.stats.checked["thm1.2-board"] > 0, describe(result)
    assert report.violations == [], (describe(result), report.summary(), report.violations[:5])
    assert report.stats.max_cells_board <= f and report.stats.max_cells_history <= f
