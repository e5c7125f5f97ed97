"""Invariant checkers. They sit outside the protocol and read nodes' state after the fact.

* Agreement and validity (HPZ §1) are also enforced live by the simulator on every decision.
* Blackboard properties (HPZ Theorem 1, as our construction guarantees them; see
  node/blackboard.py): (1) every fixed view shows n - f full columns and every column is a
  prefix; (2) honest views never disagree on a cell's value, and two honest views of board b
  differ in at most 2f of its columns; (3) a view fixed after q wrote to board b covers q's
  carried view of board b - 1.
* Invariant 1 (HPZ §3): sum over good (1 - w) <= sum over bad (1 - w) + eps^4 f, for the
  consensus weights of every epoch.

Each checker returns a list of human-readable violations (empty when the property holds),
so tests can print the seed next to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from byzlab.node.agreement import HonestNode
from byzlab.node.blacklist import WEIGHT_ONE, invariant1_holds
from byzlab.node.params import Params


@dataclass
class BlackboardReport:
    violations: list[str] = field(default_factory=list)
    views_checked: int = 0
    max_cells_differing: int = 0
    max_columns_differing_on_fixed_board: int = 0
    adoptions_checked: int = 0


def _columns(node: HonestNode, board: int) -> list[list[int]]:
    store = node.know.store
    return [list(c.values) if (c := store.column(board, j)) is not None else []
            for j in range(node.params.n)]


def check_blackboard(nodes: list[HonestNode]) -> BlackboardReport:
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
                        f"another honest node holds {longest}")
            if len(longest) > params.rows(b):
                report.violations.append(f"board {b} column {j} longer than {params.rows(b)}")
    for node in nodes:
        store = node.know.store
        for b, view in node.views.items():
            report.views_checked += 1
            # (1) n - f full columns in the fixed view.
            if not store.view_complete(b, view):
                report.violations.append(f"node {node.me} fixed board {b} with < n-f full columns")
            # (3) adoption of every writer's carried view of the previous board.
            for q in range(n):
                carried = node.know.carried_views[q].get(b - 1)
                if carried is None or store.cells_in_view(b, q, view[q])[0] == 0:
                    continue
                report.adoptions_checked += 1
                if any(a < c for a, c in zip(view, carried, strict=True)):
                    report.violations.append(
                        f"node {node.me}'s view of board {b} misses part of node {q}'s view "
                        f"of board {b - 1}")
    # (2b) how far apart two honest views of the same board are.
    for b in boards:
        fixed = [(node, node.views[b]) for node in nodes if b in node.views]
        for i, (p, vp) in enumerate(fixed):
            for r, vq in fixed[i + 1:]:
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
                    report.max_columns_differing_on_fixed_board, cols_diff)
                if cols_diff > 2 * f:
                    report.violations.append(
                        f"views of board {b} at nodes {p.me} and {r.me} differ in {cols_diff} "
                        f"columns (> 2f = {2 * f})")
    return report


def epoch_weights(nodes: list[HonestNode], byzantine: set[int],
                  epochs: int) -> list[list[float] | None]:
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


def check_invariant1(nodes: list[HonestNode], byzantine: set[int], epochs: int) -> list[str]:
    """Invariant 1 for every epoch whose weights are known (see `epoch_weights`)."""
    params = nodes[0].params
    violations = []
    for e, w in enumerate(epoch_weights(nodes, byzantine, epochs)):
        if w is not None and not invariant1_holds(np.array(w), frozenset(byzantine),
                                                  params.eps, params.f):
            violations.append(f"Invariant 1 fails in epoch {e}: weights {w}, bad {byzantine}")
    return violations
