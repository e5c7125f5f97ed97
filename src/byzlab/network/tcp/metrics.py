"""What a node's ``/metrics`` shows: its counters and its protocol state, read at scrape time.

``readings`` runs on the node's event loop when Prometheus scrapes
(``byzlab.network.metrics`` serves it): it copies the counters the node keeps anyway
(frames and messages in and out, drops by reason), its queues (frames in the inbox, messages
waiting in the batcher) and its state: started, decided, halted, its iteration, and, for a
node that weighs the others (``byzlab.node.protocol.Weighted``: HPZ's), its epoch and the
consensus weights w_{j,e} it uses in its current iteration (HPZ §3.3, Algorithm 3 line 6;
``byzlab.node.weights``), as fractions of 1. Nothing here runs per message. The
metric names are listed in docs/metrics.md.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from byzlab.network.framing import Batcher
from byzlab.network.metrics import Reading, by_label, single
from byzlab.node.params import Params
from byzlab.node.protocol import ProtocolNode, Weighted

__all__ = ["Watched", "readings"]

# Node counters shown as metrics: counter key -> (metric name, help).
_COUNTERS = {
    "frames_in": ("node_frames_received", "Frames received from the proxy."),
    "bytes_in": ("node_bytes_received", "Frame bytes received from the proxy."),
    "messages_in": ("node_messages_received", "Valid messages received."),
    "messages_invalid": ("node_messages_invalid", "Messages that failed validation."),
    "messages_out": ("node_messages_sent", "Messages sent (one per destination)."),
    "frames_dropped": ("node_frames_dropped", "Frames dropped (any reason)."),
}


class Watched(Protocol):
    """What the metrics read of the node process (``runtime.NodeRuntime``)."""

    node: ProtocolNode
    params: Params
    counters: Counter[str]
    drops: Counter[str]
    batcher: Batcher
    peers: list[int]
    started: bool


def readings(rt: Watched, inbox_frames: int) -> list[Reading]:
    """The node's metrics now, ``inbox_frames`` frames waiting in its inbox (see the
    module docs)."""
    node = rt.node
    counters = rt.counters
    out = [
        Reading(name, "counter", doc, single(counters[key]))
        for key, (name, doc) in _COUNTERS.items()
    ]
    iteration = node.iteration
    batcher = rt.batcher
    out += [
        Reading(
            "node_drops", "counter", "Frames dropped, by reason.", by_label("reason", rt.drops)
        ),
        Reading("node_inbox_frames", "gauge", "Frames waiting in the inbox.", single(inbox_frames)),
        Reading(
            "node_batcher_messages",
            "gauge",
            "Messages waiting in the batcher, per destination.",
            by_label("dst", {d: batcher.pending(d) for d in rt.peers}),
        ),
        Reading("node_started", "gauge", "1 once the run has started.", single(int(rt.started))),
        Reading(
            "node_decided",
            "gauge",
            "1 once this node decided.",
            single(int(node.decision is not None)),
        ),
        Reading(
            "node_decision",
            "gauge",
            "The decision (-1 or 1; 0 before deciding).",
            single(node.decision or 0),
        ),
        Reading("node_halted", "gauge", "1 once this node halted.", single(int(node.halted))),
        Reading("node_iteration", "gauge", "The current iteration.", single(iteration)),
    ]
    if isinstance(node, Weighted):
        out += [
            Reading(
                "node_epoch",
                "gauge",
                "The current epoch (1..K_max+1 in the restart cycle, HPZ Thm 15).",
                single(rt.params.epoch_of(iteration)),
            ),
            Reading(
                "node_weight",
                "gauge",
                "Consensus weight w_{j,e} of each node j in the current epoch, as this node "
                "uses it (0 where it does not know j's view yet).",
                by_label("node", list(node.consensus_weights())),
            ),
        ]
    return out
