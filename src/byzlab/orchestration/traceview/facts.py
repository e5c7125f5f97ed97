"""The facts of one run that both the viewer's page and ``byzlab trace --summary`` show:
message counts per kind and verdict, per node deliveries and refusals with their reasons, the
coins (outcome, bias and Sigma per node), the weights per epoch, decisions and times, and the
blackboards as each node came to hold them.

When a node holds a cell
------------------------
The message trace has no row for "node p now has cell (b, r) of column q"; it is derived from
the rows that cause it, by the rule of reliable broadcast (node/rbc.py, HPZ §2): p accepts the
item of instance (q, l) when the 2f+1-th READY for one item of that instance is accepted by p,
and hands items of q's stream over in FIFO order, so item l is p's at the later of that time
and the time item l-1 was. A cell is the item of a ``Write`` (its ``board`` and ``row``
columns). Validation may keep a delivered cell back a little longer (until the items it
depends on are validated): what the panel shows is when the cell *reached* p.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from byzlab.orchestration.traceview.messages import MessageTable
from byzlab.orchestration.traceview.rundir import RunDir

__all__ = ["BoardFill", "NodeCounts", "board_fill", "message_counts", "node_counts"]


def message_counts(table: MessageTable) -> dict[str, Counter[str]]:
    """kind -> outcome -> deliveries, plus "sent" (the send rows of that kind)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    kinds, outcomes = table.columns["kind"], table.columns["outcome"]
    kind_labels, outcome_labels = table.labels["kind"], table.labels["outcome"]
    for (k, o), count in Counter(zip(kinds, outcomes, strict=True)).items():
        counts[kind_labels[k]][outcome_labels[o]] = count
    for kind, sent in table.sends_by_kind.items():
        counts[kind]["sent"] = sent
    return dict(sorted(counts.items()))


@dataclass
class NodeCounts:
    """What one node received and what it did with it."""

    received: int = 0
    accepted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    sent: int = 0  # deliveries of its messages (to anyone, itself included)


def node_counts(table: MessageTable, n: int) -> list[NodeCounts]:
    nodes = [NodeCounts() for _ in range(n)]
    cols = table.columns
    outcome_labels, reason_labels = table.labels["outcome"], table.labels["reason"]
    for src, dst, o, r in zip(
        cols["src"], cols["dst"], cols["outcome"], cols["reason"], strict=True
    ):
        nodes[src].sent += 1
        node = nodes[dst]
        node.received += 1
        verdict = outcome_labels[o]
        if verdict == "dropped":
            node.dropped[reason_labels[r] or "unnamed"] += 1
        elif verdict == "rejected":
            node.rejected[reason_labels[r] or "unnamed"] += 1
        else:
            node.accepted += 1
    return nodes


@dataclass(frozen=True)
class BoardFill:
    """Every cell each node came to hold: ``cells[p]`` lists (board, row, column, value, time),
    in time order; ``rows[b]`` is the number of rows of board b."""

    rows: dict[int, int]
    cells: dict[int, list[tuple[int, int, int, int, float]]]

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": {str(b): r for b, r in sorted(self.rows.items())},
            "cells": {str(p): [list(c) for c in cs] for p, cs in sorted(self.cells.items())},
        }


def board_fill(run: RunDir) -> BoardFill | None:
    """When each honest node came to hold each blackboard cell (the module docstring's rule);
    None without a message trace or when the protocol wrote no cells. A corrupted node's
    "view" is whatever its strategy pretends, so it is left out."""
    table = run.messages
    if table is None:
        return None
    honest = set(run.honest)
    f = int(table.meta["f"])
    cols = table.columns
    ready = table.labels["kind"].index("READY") if "READY" in table.labels["kind"] else -1
    accepted = table.labels["outcome"].index("accepted") if table.labels["outcome"] else -1
    readies: Counter[tuple[int, int, int, int]] = Counter()
    # (p, q, l) -> (time p accepted the item, board, row, value); board -1 for a non-cell
    accepted_at: dict[tuple[int, int, int], tuple[float, int, int, int]] = {}
    for i, kind in enumerate(cols["kind"]):
        if kind != ready or cols["outcome"][i] != accepted:
            continue
        p, q, seq = cols["dst"][i], cols["origin"][i], cols["rbc_seq"][i]
        if p not in honest or q < 0 or seq < 0 or (p, q, seq) in accepted_at:
            continue
        key = (p, q, seq, cols["payload"][i])
        readies[key] += 1
        if readies[key] == 2 * f + 1:
            row = cols["row"][i]
            board = cols["board"][i] if row >= 1 else -1
            value = cols["value"][i]
            accepted_at[(p, q, seq)] = (cols["time"][i], board, row, 0 if value is None else value)
    streams: dict[tuple[int, int], dict[int, tuple[float, int, int, int]]] = defaultdict(dict)
    for (p, q, seq), item in accepted_at.items():
        streams[(p, q)][seq] = item
    cells: dict[int, list[tuple[int, int, int, int, float]]] = defaultdict(list)
    rows: dict[int, int] = {}
    for (p, q), items in streams.items():
        held = 0.0
        seq = 1  # streams are numbered from 1 (node/rbc.py)
        while seq in items:
            at, board, row, value = items[seq]
            held = max(held, at)
            if board >= 1:
                cells[p].append((board, row, q, value, held))
                rows[board] = max(rows.get(board, 0), row)
            seq += 1
    if not cells:
        return None
    for p in cells:
        cells[p].sort(key=lambda c: (c[4], c[0], c[1], c[2]))
    return BoardFill(rows, dict(cells))
