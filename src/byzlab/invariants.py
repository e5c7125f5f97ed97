"""Invariant checkers. They sit outside the protocol and read nodes' state after the fact.

Every checker returns a list of human-readable violations (empty when the property holds);
each names the lemma of HPZ ("Byzantine Agreement with Optimal Resilience via Statistical
Fraud Detection", Huang, Pettie and Zhu), the run's seed and the board or iteration, so a
test can print it as is. `check_all(sim, result)` runs them all on a finished simulation and
returns an `InvariantReport`.

Two kinds of property, kept apart in the report
-----------------------------------------------
*Certain* (`InvariantReport.violations`): they hold with probability 1 once the blackboard
satisfies HPZ Theorem 1, whatever the parameters, the schedule or the corrupted nodes do.
Tests assert them on every run (tests/conftest.py does it for every simulator run).

* Theorem 1.2 per board (`check_board_cells`): two honest views of board b, each fixed when
  its node finished b, differ in at most f cells of b.
* Theorem 1.2 over history (`check_history_cells`): two honest views fixed at the same board
  t differ in at most f cells in total over boards 1..t.
* Theorem 1.2 across time (`check_cross_time_cells`, used by Lemma 6.1): a view fixed at
  board b and any honest view fixed at a later board b' (the same node's included), both
  restricted to boards 1..b, differ in at most f cells.
* Coin totals (`check_coin_totals`, the step of Lemma 4's proof): in iteration t the honest
  totals bias + Sigma of the views fixed after BB_{2t} are within f of each other. Cells are
  in {-1, 0, 1}, weights in [0, 1] and clipping is 1-Lipschitz, so one differing cell moves
  a total by at most 1.
* Coin outputs (`check_coin_recompute`): every honest coin output is sgn(bias + Sigma) of the
  view it was computed from (a self-check of the totals used above).
* Lemma 4 (`check_lemma4`): if |A_keep| <= f and some honest total lies outside [-f, f],
  every honest coin output of that iteration is its sign.
* Lemma 6.1 (`check_lemma6_1`): bias-bar(t), the bias of BB_{2t-1} in the view of the first
  honest node to fix its view of BB_{2t-1}, is within f of the bias of BB_{2t-1} in every
  honest view fixed at board 2t-1 or later. "First" is by simulator order, known when the
  run was instrumented with `record_fix_order` (check_all's callers do it); otherwise the
  equivalent pairwise statement is checked (every two such biases within f).
* The construction's own properties (`check_blackboard`): prefix columns that agree between
  honest nodes, n - f full columns in every fixed view, adoption of carried views.

*With high probability in the proofs' regime* (`InvariantReport.whp_violations`): Lemma 3,
Lemma 5(1), Lemma 12 and Invariant 1 (with its eps^4 f slack, and strictly). They are
proved for m = Omega(n ln n / eps^4), T = Omega(n^2 ln^3 n / eps^4) and eps in [1/f, 1/2],
and only with probability 1 - n^-Omega(c). At the practical preset (m = 8, T = 8) they can
and do fail legitimately: a failure there is a measurement, not a bug. `in_regime(params)`
says whether every inequality of the proofs holds (`Params.margins`); tests should assert
`whp_violations` only where it is True (or where a test has argued its own bound).

Cost: the blackboard checks are O(V^2 n) for V fixed views plus O(V B n) store queries for
B boards, cheap for the usual runs of a few boards; the weight checks (Lemma 5(1), 12) run
Rising-Tide once per honest node and epoch, which is why the test fixture runs only the
certain checkers.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from byzlab.node.agreement import HonestNode
from byzlab.node.blackboard import BlackboardStore
from byzlab.node.blacklist import (
    WEIGHT_ONE,
    correlation_scores,
    excess_capacities,
    invariant1_holds,
    invariant1_slack,
    update_weights,
)
from byzlab.node.coin import clip
from byzlab.node.params import Params

if TYPE_CHECKING:
    from byzlab.network.sim import SimResult, Simulator

IntMatrix = npt.NDArray[np.int64]

CERTAIN_CHECKERS = (
    "blackboard",
    "thm1.2-board",
    "thm1.2-history",
    "thm1.2-cross-time",
    "coin-totals",
    "coin-recompute",
    "lemma4",
    "lemma6.1",
)
WHP_CHECKERS = ("lemma3", "lemma5.1", "lemma12", "invariant1", "invariant1-strict")


def _seed(seed: int | None) -> str:
    return f"seed={seed}" if seed is not None else "seed=?"


# --------------------------------------------------------------------------- statistics


@dataclass
class CheckStats:
    """What the checkers looked at, and the largest gaps they measured (for sweeps)."""

    checked: Counter[str] = field(default_factory=Counter)
    max_cells_board: int = 0
    max_cells_history: int = 0
    max_cells_cross_time: int = 0
    max_cells_missing_vs_union: int = 0
    max_coin_total_gap: float = 0.0
    max_bias_spread: int = 0
    max_local_weight_gap: float = 0.0
    max_honest_edge_capacity: float = 0.0
    lemma4_applied: int = 0
    lemma4_failures: int = 0
    lemma3_applied: int = 0
    lemma3_failures: int = 0
    fix_order_known: bool = False
    skipped: list[str] = field(default_factory=list)


@dataclass
class InvariantReport:
    """`violations`: certain properties (assert always); `whp_violations`: properties that
    hold with high probability in the proofs' regime only (assert only if `in_regime`)."""

    seed: int | None
    in_regime: bool
    violations: list[str] = field(default_factory=list)
    whp_violations: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    stats: CheckStats = field(default_factory=CheckStats)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> dict[str, Any]:
        s = self.stats
        return {
            "seed": self.seed,
            "in_regime": self.in_regime,
            "violations": len(self.violations),
            "whp_violations": len(self.whp_violations),
            "counts": dict(self.counts),
            "checked": dict(s.checked),
            "max_cells_board": s.max_cells_board,
            "max_cells_history": s.max_cells_history,
            "max_cells_cross_time": s.max_cells_cross_time,
            "max_cells_missing_vs_union": s.max_cells_missing_vs_union,
            "max_coin_total_gap": s.max_coin_total_gap,
            "max_bias_spread": s.max_bias_spread,
            "max_local_weight_gap": s.max_local_weight_gap,
            "max_honest_edge_capacity": s.max_honest_edge_capacity,
            "lemma4_applied": s.lemma4_applied,
            "lemma4_failures": s.lemma4_failures,
            "lemma3_applied": s.lemma3_applied,
            "lemma3_failures": s.lemma3_failures,
            "fix_order_known": s.fix_order_known,
            "skipped": list(s.skipped),
        }


def in_regime(params: Params) -> bool:
    """Are these parameters inside HPZ's proven regime, i.e. does every inequality of the
    proofs of Lemmas 5 and 12 hold and is eps in [1/f, 1/2] (`Params.margins`, whose
    `outside_regime` lists what fails)? Only then are Lemmas 3, 5, 12 and Invariant 1
    expected to hold w.h.p.; no parameter set within byzlab's limits is (params.py)."""
    return not params.margins()["outside_regime"]


# --------------------------------------------------------------------------- fix order


class FixOrderViews(dict[int, tuple[int, ...]]):
    """A node's `views` dict that also records when each board's view was fixed: a global
    sequence number (shared by all nodes of a run, so it orders fixes across nodes) and the
    simulator's virtual time. Installed by `record_fix_order`; behaves as a plain dict."""

    def __init__(
        self, initial: dict[int, tuple[int, ...]], clock: itertools.count[int], sim: Any
    ) -> None:
        super().__init__(initial)
        self._clock = clock
        self._sim = sim
        self.fixed_at: dict[int, tuple[int, float]] = {}

    def __setitem__(self, board: int, view: tuple[int, ...]) -> None:
        if board not in self.fixed_at:
            self.fixed_at[board] = (next(self._clock), float(getattr(self._sim, "now", 0.0)))
        super().__setitem__(board, view)


def record_fix_order(sim: Simulator) -> None:
    """Instrument `sim` (before `run`) so `check_lemma6_1` knows which honest node fixed its
    view of a board first. Reads nothing but `HonestNode.views`; changes no behaviour."""
    clock = itertools.count()
    for node in sim.honest_nodes():
        if not isinstance(node.views, FixOrderViews):
            node.views = FixOrderViews(node.views, clock, sim)


def _fix_order(nodes: Sequence[HonestNode]) -> dict[int, dict[int, int]] | None:
    """node -> board -> global fix sequence number, or None if some node was not recorded."""
    order: dict[int, dict[int, int]] = {}
    for node in nodes:
        views = node.views
        if not isinstance(views, FixOrderViews):
            return None
        order[node.me] = {b: seq for b, (seq, _) in views.fixed_at.items()}
    return order


# --------------------------------------------------------------------------- fixed views


@dataclass
class _View:
    node: HonestNode
    board: int  # the board whose completion fixed it
    view: tuple[int, ...]
    counts: IntMatrix  # counts[b, j]: cells of board b in column j within the view, b <= board
    cum: IntMatrix  # cum[b, j] = counts[1..b, j].sum()

    @property
    def me(self) -> int:
        return self.node.me


class _Boards:
    """Every honest fixed view with its cell counts, and which (board, column) pairs have
    values that disagree between honest stores (then cell differences are counted value by
    value; elsewhere every column is a prefix of one common column and counts suffice)."""

    def __init__(self, nodes: Sequence[HonestNode]) -> None:
        self.nodes = list(nodes)
        self.n = nodes[0].params.n if nodes else 0
        top = 0
        for node in nodes:
            if node.views:
                top = max(top, max(node.views))
        self.top = top
        self.views: list[_View] = []
        self.by_board: dict[int, list[_View]] = {}
        for node in nodes:
            store = node.know.store
            for b, view in sorted(node.views.items()):
                counts = np.zeros((top + 1, self.n), dtype=np.int64)
                for bb in range(1, b + 1):
                    row = counts[bb]
                    for j in range(self.n):
                        row[j] = store.cells_in_view(bb, j, view[j])[0]
                v = _View(node, b, tuple(view), counts, np.cumsum(counts, axis=0))
                self.views.append(v)
                self.by_board.setdefault(b, []).append(v)
        self.inconsistent: set[tuple[int, int]] = set()
        # union[b, j]: the longest column j of board b any honest node holds
        self.union = np.zeros((top + 1, self.n), dtype=np.int64)
        boards = sorted({b for node in nodes for b in node.know.store.boards()})
        for b in boards:
            for j in range(self.n):
                cols = [
                    list(c.values)
                    for node in nodes
                    if (c := node.know.store.column(b, j)) is not None
                ]
                if not cols:
                    continue
                longest = max(cols, key=len)
                if b <= top:
                    self.union[b, j] = len(longest)
                if any(c != longest[: len(c)] for c in cols):
                    self.inconsistent.add((b, j))

    def mismatches(self, a: _View, b: _View, boards: Iterable[int]) -> int:
        """Cells present in both views with different values (only where stores disagree)."""
        if not self.inconsistent:
            return 0
        total = 0
        for bb in boards:
            for j in range(self.n):
                if (bb, j) not in self.inconsistent:
                    continue
                ca = a.node.know.store.column(bb, j)
                cb = b.node.know.store.column(bb, j)
                if ca is None or cb is None:
                    continue
                k = min(int(a.counts[bb, j]), int(b.counts[bb, j]))
                total += sum(x != y for x, y in zip(ca.values[:k], cb.values[:k], strict=True))
        return total


def _boards(nodes: Sequence[HonestNode], boards: _Boards | None) -> _Boards:
    return boards if boards is not None else _Boards(nodes)


def check_board_cells(
    nodes: Sequence[HonestNode],
    *,
    seed: int | None = None,
    stats: CheckStats | None = None,
    boards: _Boards | None = None,
) -> list[str]:
    """HPZ Theorem 1.2 per board: any two honest views of board b (each fixed when its node
    completed b) differ in at most f cells of b."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    bd = _boards(nodes, boards)
    f = nodes[0].params.f
    out: list[str] = []
    for b, fixed in sorted(bd.by_board.items()):
        for p, q in itertools.combinations(fixed, 2):
            cells = int(np.abs(p.counts[b] - q.counts[b]).sum()) + bd.mismatches(p, q, (b,))
            st.checked["thm1.2-board"] += 1
            st.max_cells_board = max(st.max_cells_board, cells)
            if cells > f:
                out.append(
                    f"HPZ Theorem 1.2 (per board), {_seed(seed)}: board {b}: the views "
                    f"of nodes {p.me} and {q.me} differ in {cells} cells (> f = {f})"
                )
    return out


def check_history_cells(
    nodes: Sequence[HonestNode],
    *,
    seed: int | None = None,
    stats: CheckStats | None = None,
    boards: _Boards | None = None,
) -> list[str]:
    """HPZ Theorem 1.2 over history: two honest views fixed at the same board t differ in at
    most f cells in total over boards 1..t."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    bd = _boards(nodes, boards)
    f = nodes[0].params.f
    out: list[str] = []
    for t, fixed in sorted(bd.by_board.items()):
        for p, q in itertools.combinations(fixed, 2):
            cells = int(np.abs(p.counts[1 : t + 1] - q.counts[1 : t + 1]).sum()) + bd.mismatches(
                p, q, range(1, t + 1)
            )
            st.checked["thm1.2-history"] += 1
            st.max_cells_history = max(st.max_cells_history, cells)
            if cells > f:
                out.append(
                    f"HPZ Theorem 1.2 (over history), {_seed(seed)}: boards 1..{t}: the "
                    f"views nodes {p.me} and {q.me} fixed at board {t} differ in "
                    f"{cells} cells in total (> f = {f})"
                )
    return out


def check_cross_time_cells(
    nodes: Sequence[HonestNode],
    *,
    seed: int | None = None,
    stats: CheckStats | None = None,
    boards: _Boards | None = None,
) -> list[str]:
    """HPZ Theorem 1.2 across time (as Lemma 6.1 uses it): the view an honest node fixed at
    board b and every honest view fixed at a later board b' > b (any node, itself included),
    restricted to boards 1..b, differ in at most f cells.

    A column's cells in boards 1..b grow with the view's stream length, so per column the
    difference summed over boards is the difference of the cumulative counts; values that
    disagree between stores are reported by `check_blackboard` (consistency)."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    bd = _boards(nodes, boards)
    f = nodes[0].params.f
    out: list[str] = []
    ordered = sorted(bd.views, key=lambda v: v.board)
    for i, early in enumerate(ordered):
        later = [v for v in ordered[i + 1 :] if v.board > early.board]
        if not later:
            continue
        b = early.board
        rows = np.stack([v.cum[b] for v in later])
        gaps = np.abs(rows - early.cum[b]).sum(axis=1)
        st.checked["thm1.2-cross-time"] += len(later)
        worst = int(gaps.argmax())
        st.max_cells_cross_time = max(st.max_cells_cross_time, int(gaps[worst]))
        over = int((gaps > f).sum())
        if over:
            w = later[worst]
            out.append(
                f"HPZ Theorem 1.2 across time (Lemma 6.1), {_seed(seed)}: boards 1..{b}: "
                f"node {early.me}'s view fixed at board {b} and node {w.me}'s view fixed "
                f"at board {w.board} differ in {int(gaps[worst])} cells (> f = {f}); "
                f"{over} later view(s) exceed f"
            )
    return out


def measure_missing_vs_union(
    nodes: Sequence[HonestNode], *, stats: CheckStats | None = None, boards: _Boards | None = None
) -> int:
    """For information: the most cells of boards 1..t that a view fixed at board t lacks
    against the union of every honest node's final store. Theorem 1.2's literal statement
    bounds each view against the true board by f (which allows 2f between two views); the
    pairwise form checked above is what Lemmas 4, 6 and 12 use. Not a violation."""
    st = stats if stats is not None else CheckStats()
    bd = _boards(nodes, boards)
    worst = 0
    for v in bd.views:
        t = v.board
        worst = max(worst, int(np.clip(bd.union[1 : t + 1] - v.counts[1 : t + 1], 0, None).sum()))
    st.max_cells_missing_vs_union = max(st.max_cells_missing_vs_union, worst)
    return worst


# --------------------------------------------------------------------------- coin


def coin_total(
    store: BlackboardStore, view: tuple[int, ...], iteration: int, weights: Sequence[int]
) -> int:
    """bias + Sigma of a view in fixed point (units of 1 / WEIGHT_ONE), exactly as
    coin.hpz_coin sums it; coin.coin_terms gives the same in floats."""
    odd, even = 2 * iteration - 1, 2 * iteration
    xmax = store.params.xmax
    bias = sum(store.column_sums(odd, view))
    sigma = sum(
        weights[j] * clip(s, xmax) for j, s in enumerate(store.column_sums(even, view)) if s
    )
    return bias * WEIGHT_ONE + sigma


def _coin_totals(nodes: Sequence[HonestNode]) -> dict[int, dict[int, int]]:
    """iteration -> node -> bias + Sigma of the node's view fixed after BB_{2t}."""
    totals: dict[int, dict[int, int]] = {}
    for node in nodes:
        if node.protocol.name != "hpz":
            continue
        for b, view in node.views.items():
            if b % 2:
                continue
            t = b // 2
            weights = node.know.weights.weights_for_iteration(t)
            totals.setdefault(t, {})[node.me] = coin_total(node.know.store, view, t, weights)
    return totals


def _fmt(total: int) -> str:
    return f"{total / WEIGHT_ONE:.6g}"


def check_coin_totals(
    nodes: Sequence[HonestNode], *, seed: int | None = None, stats: CheckStats | None = None
) -> list[str]:
    """Lemma 4's proof step: in each iteration t the honest totals bias + Sigma (over the views
    fixed after BB_{2t}) are within f of each other."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    f = nodes[0].params.f
    out: list[str] = []
    for t, per_node in sorted(_coin_totals(nodes).items()):
        st.checked["coin-totals"] += 1
        hi = max(per_node, key=lambda k: per_node[k])
        lo = min(per_node, key=lambda k: per_node[k])
        gap = per_node[hi] - per_node[lo]
        st.max_coin_total_gap = max(st.max_coin_total_gap, gap / WEIGHT_ONE)
        if gap > f * WEIGHT_ONE:
            out.append(
                f"HPZ Lemma 4 (coin totals within f), {_seed(seed)}: iteration {t}: node "
                f"{hi} has bias + Sigma = {_fmt(per_node[hi])}, node {lo} has "
                f"{_fmt(per_node[lo])}; they differ by {_fmt(gap)} (> f = {f})"
            )
    return out


def check_coin_recompute(
    nodes: Sequence[HonestNode], *, seed: int | None = None, stats: CheckStats | None = None
) -> list[str]:
    """Every honest HPZ coin output is sgn(bias + Sigma) of the view fixed after BB_{2t}
    (Algorithm 2 line 10), recomputed here from the node's store and weights."""
    st = stats if stats is not None else CheckStats()
    totals = _coin_totals(nodes)
    out: list[str] = []
    for node in nodes:
        if node.protocol.name != "hpz":
            continue
        for t, coin in sorted(node.coin_outputs.items()):
            total = totals.get(t, {}).get(node.me)
            st.checked["coin-recompute"] += 1
            if total is None:
                out.append(
                    f"HPZ Algorithm 2, {_seed(seed)}: iteration {t}: node {node.me} "
                    f"output coin {coin} without a fixed view of board {2 * t}"
                )
            elif coin != (1 if total >= 0 else -1):
                out.append(
                    f"HPZ Algorithm 2, {_seed(seed)}: iteration {t}: node {node.me} "
                    f"output coin {coin} but its view gives bias + Sigma = "
                    f"{_fmt(total)}"
                )
    return out


def iteration_x(nodes: Sequence[HonestNode]) -> dict[int, dict[int, tuple[int, int]]]:
    """iteration -> honest node -> (x, v*) of its step 3, read from its own validated step-4
    vote (`know.shadows[me].x` / `.vstar`); iterations a node never voted in are absent."""
    table: dict[int, dict[int, tuple[int, int]]] = {}
    for node in nodes:
        shadow = node.know.shadows[node.me]
        xs: dict[int, int] = getattr(shadow, "x", {})
        vstars: dict[int, int] = getattr(shadow, "vstar", {})
        for t, x in xs.items():
            table.setdefault(t, {})[node.me] = (x, vstars.get(t, 0))
    return table


def _a_keep(xs: dict[int, tuple[int, int]], f: int) -> list[int]:
    return sorted(p for p, (x, _) in xs.items() if 1 <= x <= f)


def check_lemma4(
    nodes: Sequence[HonestNode], *, seed: int | None = None, stats: CheckStats | None = None
) -> list[str]:
    """HPZ Lemma 4: if |A_keep| <= f (honest nodes with x in [1, f]) and some honest view has
    bias + Sigma outside [-f, f], every honest coin output of that iteration is its sign."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    f = nodes[0].params.f
    xs = iteration_x(nodes)
    out: list[str] = []
    for t, per_node in sorted(_coin_totals(nodes).items()):
        keep = _a_keep(xs.get(t, {}), f)
        if len(keep) > f:
            continue
        outside = [(p, v) for p, v in sorted(per_node.items()) if abs(v) > f * WEIGHT_ONE]
        if not outside:
            continue
        st.lemma4_applied += 1
        st.checked["lemma4"] += 1
        p, total = outside[0]
        sign = 1 if total >= 0 else -1
        wrong = sorted(q.me for q in nodes if q.coin_outputs.get(t, sign) != sign)
        if wrong:
            st.lemma4_failures += 1
            out.append(
                f"HPZ Lemma 4, {_seed(seed)}: iteration {t}: |A_keep| = {len(keep)} <= "
                f"f = {f} and node {p} has bias + Sigma = {_fmt(total)} outside "
                f"[-f, f], but nodes {wrong} output coin {-sign}"
            )
    return out


def check_lemma3(
    nodes: Sequence[HonestNode], *, seed: int | None = None, stats: CheckStats | None = None
) -> list[str]:
    """HPZ Lemma 3 (w.h.p. in the regime): if |A_keep| >= f + 1, every honest coin output of
    the iteration is v*."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    f = nodes[0].params.f
    out: list[str] = []
    for t, per_node in sorted(iteration_x(nodes).items()):
        keep = _a_keep(per_node, f)
        if len(keep) < f + 1:
            continue
        vstar = per_node[keep[0]][1]
        st.lemma3_applied += 1
        st.checked["lemma3"] += 1
        wrong = sorted(
            q.me
            for q in nodes
            if q.protocol.name == "hpz" and q.coin_outputs.get(t, vstar) != vstar
        )
        if wrong:
            st.lemma3_failures += 1
            out.append(
                f"HPZ Lemma 3 (w.h.p.), {_seed(seed)}: iteration {t}: |A_keep| = "
                f"{len(keep)} >= f + 1 = {f + 1} but nodes {wrong} output coin "
                f"{-vstar}, not v* = {vstar}"
            )
    return out


def _bias(v: _View, board: int) -> int:
    return sum(v.node.know.store.column_sums(board, v.view))


def check_lemma6_1(
    nodes: Sequence[HonestNode],
    *,
    seed: int | None = None,
    stats: CheckStats | None = None,
    boards: _Boards | None = None,
) -> list[str]:
    """HPZ Lemma 6.1: |bias-bar(t) - bias^(q)| <= f for every honest view of BB_{2t-1} fixed
    at board 2t-1 or later, bias-bar(t) being the bias in the view of the first honest node
    to fix BB_{2t-1} (from `record_fix_order`); without a recorded order, every two such
    biases are within f (the same statement for every candidate first node)."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    bd = _boards(nodes, boards)
    f = nodes[0].params.f
    order = _fix_order(nodes)
    st.fix_order_known = order is not None
    out: list[str] = []
    for odd in range(1, bd.top + 1, 2):
        t = (odd + 1) // 2
        views = [v for v in bd.views if v.board >= odd]
        if not views:
            continue
        biases = [(_bias(v, odd), v) for v in views]
        spread = max(b for b, _ in biases) - min(b for b, _ in biases)
        st.max_bias_spread = max(st.max_bias_spread, spread)
        st.checked["lemma6.1"] += 1
        fixes = {
            v.me: order[v.me][odd]
            for v in bd.by_board.get(odd, [])
            if order is not None and odd in order.get(v.me, {})
        }
        firsts = [v for v in bd.by_board.get(odd, []) if v.me in fixes]
        if firsts:
            first = min(firsts, key=lambda v: fixes[v.me])
            bbar = _bias(first, odd)
            far = [(b, v) for b, v in biases if abs(b - bbar) > f]
            if far:
                b, v = max(far, key=lambda bv: abs(bv[0] - bbar))
                out.append(
                    f"HPZ Lemma 6.1, {_seed(seed)}: iteration {t}: bias-bar = {bbar} "
                    f"(node {first.me}, first to fix BB_{odd}) but node {v.me}'s view "
                    f"fixed at board {v.board} has bias {b} (differs by "
                    f"{abs(b - bbar)} > f = {f}); {len(far)} view(s) off"
                )
        elif spread > f:
            (lo, vlo), (hi, vhi) = (
                min(biases, key=lambda bv: bv[0]),
                max(biases, key=lambda bv: bv[0]),
            )
            out.append(
                f"HPZ Lemma 6.1 (pairwise), {_seed(seed)}: iteration {t}: biases of "
                f"BB_{odd} range from {lo} (node {vlo.me}, view fixed at board "
                f"{vlo.board}) to {hi} (node {vhi.me}, board {vhi.board}): "
                f"{spread} > f = {f}"
            )
    return out


# --------------------------------------------------------------------------- weights


def _epoch_x(node: HonestNode, view: tuple[int, ...], e: int) -> IntMatrix:
    """Clipped column sums X_i(t) of epoch e-1's even boards within `view` (as weights.py)."""
    p = node.params
    store = node.know.store
    first = (e - 1) * p.T + 1
    x = np.zeros((p.T, p.n), dtype=np.int64)
    for row, t in enumerate(range(first, first + p.T)):
        for i in range(p.n):
            s = store.cells_in_view(2 * t, i, view[i])[1]
            if s:
                x[row, i] = clip(s, p.xmax)
    return x


def _weight_epochs(
    nodes: Sequence[HonestNode], byzantine: set[int], stats: CheckStats
) -> list[tuple[int, npt.NDArray[np.float64], list[tuple[HonestNode, IntMatrix]]]]:
    """(e, w_{., e-1}, [(node, X of epoch e-1 in the node's end-of-epoch view)]) for every
    epoch e >= 1 whose update some honest node computed and whose previous consensus weights
    are known. The previous weights are the consensus ones (all honest nodes agree on them),
    so local vectors differ only through the views, as in Lemma 12's proof."""
    if not nodes:
        return []
    p = nodes[0].params
    last = max(
        (b // (2 * p.T) for node in nodes for b in node.views if b % (2 * p.T) == 0), default=0
    )
    if last < 1:
        return []
    table = epoch_weights(list(nodes), byzantine, last)
    out = []
    for e in range(1, last + 1):
        if e % (p.k_max + 1) == 0:
            continue  # weights restart at 1: no update is used
        prev = table[e - 1]
        if prev is None:
            stats.skipped.append(f"epoch {e}: previous weights unknown")
            continue
        views = [
            (node, _epoch_x(node, node.views[2 * e * p.T], e))
            for node in nodes
            if 2 * e * p.T in node.views
        ]
        if views:
            out.append((e, np.array(prev, dtype=np.float64), views))
    return out


def check_lemma12(
    nodes: Sequence[HonestNode],
    byzantine: set[int],
    *,
    seed: int | None = None,
    stats: CheckStats | None = None,
) -> list[str]:
    """HPZ Lemma 12's step (w.h.p. in the regime): the local weight vectors w^(p)_{., k+1}
    that honest nodes compute from their end-of-epoch views differ pointwise by at most
    w_min. Recomputed here from each node's view with the agreed previous weights."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    p = nodes[0].params
    out: list[str] = []
    for e, prev, views in _weight_epochs(nodes, byzantine, st):
        local = [
            (node, update_weights(x, prev, eps=p.eps, f=p.f, m=p.m, T=p.T, beta=p.beta))
            for node, x in views
        ]
        for (a, wa), (b, wb) in itertools.combinations(local, 2):
            st.checked["lemma12"] += 1
            gaps = np.abs(wa - wb)
            i = int(gaps.argmax())
            st.max_local_weight_gap = max(st.max_local_weight_gap, float(gaps[i]))
            if gaps[i] > p.w_min:
                out.append(
                    f"HPZ Lemma 12 (w.h.p.), {_seed(seed)}: weights for epoch {e + 1} "
                    f"(update after epoch {e}): nodes {a.me} and {b.me} compute local "
                    f"weights of node {i} {float(wa[i]):.6g} and {float(wb[i]):.6g}, "
                    f"{float(gaps[i]):.6g} apart (> w_min = {p.w_min:.6g})"
                )
    return out


def check_lemma5_1(
    nodes: Sequence[HonestNode],
    byzantine: set[int],
    *,
    seed: int | None = None,
    stats: CheckStats | None = None,
) -> list[str]:
    """HPZ Lemma 5(1) (w.h.p. in the regime): in no honest node's excess graph does an edge
    between two honest nodes have positive capacity c_E(i, j)."""
    if not nodes:
        return []
    st = stats if stats is not None else CheckStats()
    p = nodes[0].params
    honest = sorted({node.me for node in nodes})
    out: list[str] = []
    for e, prev, views in _weight_epochs(nodes, byzantine, st):
        for node, x in views:
            s = correlation_scores(x)
            cap = excess_capacities(s, prev, eps=p.eps, f=p.f, m=p.m, T=p.T, beta=p.beta)
            st.checked["lemma5.1"] += 1
            for i, j in itertools.combinations(honest, 2):
                c = float(cap[i, j])
                st.max_honest_edge_capacity = max(st.max_honest_edge_capacity, c)
                if c > 0:
                    corr = float(prev[i] * prev[j] * s[i, j])
                    out.append(
                        f"HPZ Lemma 5(1) (w.h.p.), {_seed(seed)}: epoch {e} (excess "
                        f"graph of node {node.me}): honest nodes {i} and {j} have "
                        f"-corr = {-corr:.6g} > w_i w_j beta = "
                        f"{float(prev[i] * prev[j]) * p.beta:.6g}, c_E = {c:.6g}"
                    )
    return out


# --------------------------------------------------------------------------- blackboard basics


@dataclass
class BlackboardReport:
    violations: list[str] = field(default_factory=list)
    views_checked: int = 0
    max_cells_differing: int = 0
    max_columns_differing_on_fixed_board: int = 0
    adoptions_checked: int = 0


def _columns(node: HonestNode, board: int) -> list[list[int]]:
    store = node.know.store
    return [
        list(c.values) if (c := store.column(board, j)) is not None else []
        for j in range(node.params.n)
    ]


def check_blackboard(nodes: list[HonestNode]) -> BlackboardReport:
    """The construction's own blackboard properties: (1) every fixed view shows n - f full
    columns and every column is a prefix; (2) honest views never disagree on a cell's value,
    and two honest views of board b differ in at most 2f of its columns; (3) a view fixed
    after q wrote to board b covers q's carried view of board b - 1 (when nodes record
    carried views). The f-cell bound of HPZ Theorem 1.2 is `check_board_cells` and friends."""
    report = BlackboardReport()
    if not nodes:
        return report
    params: Params = nodes[0].params
    n, f = params.n, params.f
    boards = sorted({b for node in nodes for b in node.know.store.boards()})
    # (2a) consistency: every honest node's column is a prefix of every other's.
    for b in boards:
        cols = [_columns(node, b) for node in nodes]
        for j in range(n):
            longest = max((c[j] for c in cols), key=len)
            for k, c in enumerate(cols):
                if c[j] != longest[: len(c[j])]:
                    report.violations.append(
                        f"board {b} column {j}: node {nodes[k].me} holds {c[j]}, "
                        f"another honest node holds {longest}"
                    )
            if len(longest) > params.rows(b):
                report.violations.append(f"board {b} column {j} longer than {params.rows(b)}")
    for node in nodes:
        store = node.know.store
        carried_views: list[dict[int, tuple[int, ...]]] | None = getattr(
            node.know, "carried_views", None
        )
        for b, view in node.views.items():
            report.views_checked += 1
            # (1) n - f full columns in the fixed view.
            if not store.view_complete(b, view):
                report.violations.append(f"node {node.me} fixed board {b} with < n-f full columns")
            # (3) adoption of every writer's carried view of the previous board.
            if carried_views is None:
                continue
            for q in range(n):
                carried = carried_views[q].get(b - 1)
                if carried is None or store.cells_in_view(b, q, view[q])[0] == 0:
                    continue
                report.adoptions_checked += 1
                if any(a < c for a, c in zip(view, carried, strict=True)):
                    report.violations.append(
                        f"node {node.me}'s view of board {b} misses part of node {q}'s view "
                        f"of board {b - 1}"
                    )
    # (2b) how far apart two honest views of the same board are.
    for b in boards:
        fixed = [(node, node.views[b]) for node in nodes if b in node.views]
        for i, (p, vp) in enumerate(fixed):
            for r, vq in fixed[i + 1 :]:
                cols_diff = 0
                cells_diff = 0
                for j in range(n):
                    for bb in range(1, b + 1):
                        a = p.know.store.cells_in_view(bb, j, vp[j])[0]
                        other = r.know.store.cells_in_view(bb, j, vq[j])[0]
                        cells_diff += abs(a - other)
                        if bb == b and a != other:
                            cols_diff += 1
                report.max_cells_differing = max(report.max_cells_differing, cells_diff)
                report.max_columns_differing_on_fixed_board = max(
                    report.max_columns_differing_on_fixed_board, cols_diff
                )
                if cols_diff > 2 * f:
                    report.violations.append(
                        f"views of board {b} at nodes {p.me} and {r.me} differ in {cols_diff} "
                        f"columns (> 2f = {2 * f})"
                    )
    return report


# --------------------------------------------------------------------------- Invariant 1


def epoch_weights(
    nodes: list[HonestNode], byzantine: set[int], epochs: int
) -> list[list[float] | None]:
    """Consensus weights w_{., e} for e = 0..epochs-1, each taken from an honest node that knows
    it (they all compute the same value). An epoch in which some honest node's weight is not
    known to any honest node (the run ended before its opening votes spread) is None. A
    Byzantine node nobody can weigh (it never opened the epoch) counts as weight 1, so the
    checks never credit blacklisting that did not happen."""
    n = nodes[0].params.n
    table: list[list[float] | None] = []
    for e in range(epochs):
        row: list[float] | None = []
        for j in range(n):
            knower = next((nd for nd in nodes if nd.know.weights.known(j, e)), None)
            if knower is not None:
                assert row is not None
                row.append(knower.know.weights.weight(j, e) / WEIGHT_ONE)
            elif j in byzantine:
                assert row is not None
                row.append(1.0)
            else:
                row = None
                break
        table.append(row)
    return table


def check_invariant1(
    nodes: list[HonestNode], byzantine: set[int], epochs: int, *, seed: int | None = None
) -> list[str]:
    """Invariant 1 for every epoch whose weights are known (see `epoch_weights`):
    sum over good (1 - w) <= sum over bad (1 - w) + eps^4 f (w.h.p. in the regime)."""
    params = nodes[0].params
    where = "" if seed is None else f" ({_seed(seed)})"
    violations = []
    for e, w in enumerate(epoch_weights(nodes, byzantine, epochs)):
        if w is not None and not invariant1_holds(
            np.array(w), frozenset(byzantine), params.eps, params.f
        ):
            violations.append(
                f"Invariant 1 fails in epoch {e}{where}: weights {w}, bad {byzantine}"
            )
    return violations


def check_invariant1_strict(
    nodes: list[HonestNode], byzantine: set[int], epochs: int, *, seed: int | None = None
) -> list[str]:
    """Invariant 1 without its eps^4 f slack: sum over good (1 - w) <= sum over bad (1 - w),
    i.e. blacklisting never took more weight from good nodes than from bad ones."""
    violations = []
    for e, w in enumerate(epoch_weights(nodes, byzantine, epochs)):
        if w is None:
            continue
        slack = invariant1_slack(np.array(w), frozenset(byzantine), 0.0, nodes[0].params.f)
        if slack < 0.0:
            violations.append(
                f"HPZ Invariant 1 (strict, no eps^4 f slack) (w.h.p.), "
                f"{_seed(seed)}: epoch {e}: good nodes lost {-slack:.6g} more "
                f"weight than bad ones; weights {w}, bad {sorted(byzantine)}"
            )
    return violations


# --------------------------------------------------------------------------- all of them


def check_nodes(
    nodes: Sequence[HonestNode],
    byzantine: Iterable[int],
    *,
    seed: int | None,
    epochs: int | None = None,
    whp: bool = True,
) -> InvariantReport:
    """Run every checker on a set of honest nodes (see `check_all`)."""
    honest = list(nodes)
    bad = set(byzantine)
    params = honest[0].params if honest else None
    report = InvariantReport(seed=seed, in_regime=params is not None and in_regime(params))
    if not honest:
        return report
    st = report.stats

    def add(name: str, found: list[str], *, certain: bool) -> None:
        report.counts[name] += len(found)
        (report.violations if certain else report.whp_violations).extend(found)

    basic = check_blackboard(honest)
    add(
        "blackboard",
        [f"HPZ Theorem 1.1/1.3 (construction), {_seed(seed)}: {v}" for v in basic.violations],
        certain=True,
    )
    st.checked["blackboard"] += basic.views_checked
    bd = _Boards(honest)
    add("thm1.2-board", check_board_cells(honest, seed=seed, stats=st, boards=bd), certain=True)
    add("thm1.2-history", check_history_cells(honest, seed=seed, stats=st, boards=bd), certain=True)
    add(
        "thm1.2-cross-time",
        check_cross_time_cells(honest, seed=seed, stats=st, boards=bd),
        certain=True,
    )
    add("coin-totals", check_coin_totals(honest, seed=seed, stats=st), certain=True)
    add("coin-recompute", check_coin_recompute(honest, seed=seed, stats=st), certain=True)
    add("lemma4", check_lemma4(honest, seed=seed, stats=st), certain=True)
    add("lemma6.1", check_lemma6_1(honest, seed=seed, stats=st, boards=bd), certain=True)
    measure_missing_vs_union(honest, stats=st, boards=bd)
    if not whp or honest[0].protocol.name != "hpz":
        return report
    add("lemma3", check_lemma3(honest, seed=seed, stats=st), certain=False)
    add("lemma5.1", check_lemma5_1(honest, bad, seed=seed, stats=st), certain=False)
    add("lemma12", check_lemma12(honest, bad, seed=seed, stats=st), certain=False)
    if epochs is None:
        epochs = max((node.iteration - 1) // honest[0].params.T + 1 for node in honest)
    add("invariant1", check_invariant1(honest, bad, epochs, seed=seed), certain=False)
    add("invariant1-strict", check_invariant1_strict(honest, bad, epochs, seed=seed), certain=False)
    st.checked["invariant1"] += epochs
    return report


def check_all(
    sim: Simulator, result: SimResult | None = None, *, whp: bool = True
) -> InvariantReport:
    """Every checker on a finished simulation: `violations` holds the certain properties
    (assert them on every run), `whp_violations` Lemma 3, 5(1), 12 and Invariant 1 (assert
    them only where `in_regime` is True). `whp=False` skips the latter (they run Rising-Tide
    per node and epoch). Lemma 6.1 uses the first-fixer order if `record_fix_order(sim)` ran
    before `sim.run()`, the pairwise form otherwise."""
    seed = result.seed if result is not None else sim.seed
    epochs = result.epochs if result is not None else None
    return check_nodes(sim.honest_nodes(), sim.byzantine_ids, seed=seed, epochs=epochs, whp=whp)
