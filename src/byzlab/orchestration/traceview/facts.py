"""What the viewer derives from the message trace: message counts per kind and verdict, per
node deliveries and refusals with their reasons (both for the page and ``--summary``), and the
blackboards as each honest node came to hold them (for the page). The coins, weights and
decisions need no deriving: ``trace.json`` holds them (rundir.py reads it).

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

import numpy as np

from byzlab.orchestration.traceview.messages import MessageTable
from byzlab.orchestration.traceview.rundir import RunDir

__all__ = ["BoardFill", "NodeCounts", "board_fill", "message_counts", "node_counts"]


def message_counts(table: MessageTable) -> dict[str, Counter[str]]:
    """kind -> outcome -> deliveries, plus "sent" (the send rows of that kind)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    kinds, outcomes = table.columns["kind"], table.columns["outcome"]
    width = max(len(table.labels["outcome"]), 1)
    pairs, numbers = np.unique(kinds.astype(np.int64) * width + outcomes, return_counts=True)
    for pair, count in zip(pairs.tolist(), numbers.tolist(), strict=True):
        kind, outcome = divmod(pair, width)
        counts[table.labels["kind"][kind]][table.labels["outcome"][outcome]] = count
    for kind_name, sent in table.sends_by_kind.items():
        counts[kind_name]["sent"] = sent
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
    cols = table.columns
    received = np.bincount(cols["dst"], minlength=n).tolist()
    sent = np.bincount(cols["src"], minlength=n).tolist()
    nodes = [NodeCounts(received=received[i], sent=sent[i]) for i in range(n)]
    outcome_labels, reason_labels = table.labels["outcome"], table.labels["reason"]
    refused = np.flatnonzero(
        ~np.isin(
            cols["outcome"], [outcome_labels.index(o) for o in ("accepted",) if o in outcome_labels]
        )
    )
    for dst, o, r in zip(
        cols["dst"][refused].tolist(),
        cols["outcome"][refused].tolist(),
        cols["reason"][refused].tolist(),
        strict=True,
    ):
        verdict = outcome_labels[o]
        reason = reason_labels[r] or "unnamed"
        if verdict == "rejected":
            nodes[dst].rejected[reason] += 1
        else:  # dropped (or a verdict this byzlab does not name: not accepted either)
            nodes[dst].dropped[reason] += 1
    for node in nodes:
        node.accepted = node.received - node.dropped.total() - node.rejected.total()
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
    labels = table.labels
    if "READY" not in labels["kind"] or "accepted" not in labels["outcome"]:
        return None
    picked = np.flatnonzero(
        (cols["kind"] == labels["kind"].index("READY"))
        & (cols["outcome"] == labels["outcome"].index("accepted"))
        & np.isin(cols["dst"], sorted(honest))
        & (cols["origin"] >= 0)
        & (cols["rbc_seq"] >= 0)
    )
    readies: Counter[tuple[int, int, int, int]] = Counter()
    # (p, q, l) -> (time p accepted the item, board, row, value); board -1 for a non-cell
    accepted_at: dict[tuple[int, int, int], tuple[float, int, int, int]] = {}
    readies_in_order = zip(
        *(cols[name][picked].tolist() for name in ("dst", "origin", "rbc_seq", "payload")),
        *(cols[name][picked].tolist() for name in ("time", "board", "row", "value")),
        strict=True,
    )
    for p, q, seq, payload, at, board, row, value in readies_in_order:
        if (p, q, seq) in accepted_at:
            continue
        key = (p, q, seq, payload)
        readies[key] += 1
        if readies[key] == 2 * f + 1:
            cell = board if row >= 1 else -1
            accepted_at[(p, q, seq)] = (at, cell, row, value)  # a mark's null value reads 0
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
