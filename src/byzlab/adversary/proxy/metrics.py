"""What the proxy's ``/metrics`` shows: its counters and the run's state, read at scrape time.

``readings`` runs on the proxy's event loop when Prometheus scrapes (``byzlab.network.metrics``
serves it): it copies what ``ProxyStats`` counts anyway (messages and bytes relayed by kind
and by node, drops), the delivery queues (bytes waiting per destination, messages held for
their delay) and the run's state (nodes connected, decided, halted; each honest node's
iteration and epoch from its latest snapshot). Nothing here runs per message. The metric
names are listed in docs/metrics.md.

Consensus weights are not here: the proxy never computes them (it holds no honest node's
view). Each node's ``/metrics`` has the weights it uses (``byzlab_node_weight``).
"""

from __future__ import annotations

from typing import Protocol

from byzlab.adversary.proxy.connections import Connections
from byzlab.adversary.proxy.delivery import Delivery
from byzlab.adversary.proxy.sidechannel import SideChannel
from byzlab.adversary.proxy.stats import ProxyStats
from byzlab.network.metrics import Reading, by_label, single
from byzlab.node.params import Params

__all__ = ["Watched", "readings"]

# ProxyStats.node_traffic(), in its order: metric name and help.
_NODE_TRAFFIC = (
    ("proxy_node_messages_sent", "Messages relayed from each node."),
    ("proxy_node_bytes_sent", "Frame bytes relayed from each node."),
    ("proxy_node_messages_received", "Messages relayed to each node."),
    ("proxy_node_bytes_received", "Frame bytes relayed to each node."),
)


class Watched(Protocol):
    """What the metrics read of the proxy (``runtime.Proxy``)."""

    record: ProxyStats
    side: SideChannel
    delivery: Delivery
    connections: Connections
    params: Params
    honest_ids: list[int]
    done: bool

    @property
    def started(self) -> bool: ...


def readings(proxy: Watched) -> list[Reading]:
    """The proxy's metrics now (see the module docs)."""
    stats = proxy.record
    counts = stats.counts
    side = proxy.side
    boxes = proxy.delivery.outboxes
    snapshots = dict(side.snapshots)
    iterations = {i: int(s.get("iteration", 0)) for i, s in snapshots.items()}
    epoch_of = proxy.params.epoch_of
    return [
        Reading(
            "proxy_incarnation",
            "gauge",
            "Proxy restarts in this run, plus one.",
            single(stats.incarnation),
        ),
        Reading(
            "proxy_messages_relayed",
            "counter",
            "Messages relayed, by kind.",
            by_label("kind", dict(zip(stats.kind_names, stats.kind_counts, strict=True))),
        ),
        Reading(
            "proxy_bytes_relayed",
            "counter",
            "Bytes of messages relayed, by kind (the simulator's size estimate).",
            by_label("kind", dict(zip(stats.kind_names, stats.kind_bytes, strict=True))),
        ),
        Reading(
            "proxy_frames_relayed", "counter", "Frames relayed.", single(counts["frames_relayed"])
        ),
        Reading(
            "proxy_frame_bytes_relayed", "counter", "Frame bytes relayed.", single(counts["bytes"])
        ),
        Reading(
            "proxy_messages_delivered",
            "counter",
            "Messages delivered after their delay.",
            single(counts["messages_delivered"]),
        ),
        *(
            Reading(name, "counter", doc, by_label("node", traffic))
            for (name, doc), traffic in zip(_NODE_TRAFFIC, stats.node_traffic(), strict=True)
        ),
        Reading(
            "proxy_drops", "counter", "Frames dropped, by reason.", by_label("reason", stats.drops)
        ),
        Reading(
            "proxy_held_messages",
            "gauge",
            "Messages held for their delay (scheduled, not yet delivered).",
            single(proxy.delivery.held_messages()),
        ),
        Reading(
            "proxy_queue_bytes",
            "gauge",
            "Bytes held for each honest node (scheduled or waiting to be written).",
            by_label("node", {i: box.held for i, box in boxes.items()}),
        ),
        Reading(
            "proxy_queue_frames",
            "gauge",
            "Frames delivered and waiting to be written to each honest node.",
            by_label("node", {i: len(box.frames) for i, box in boxes.items()}),
        ),
        Reading(
            "proxy_honest_nodes", "gauge", "Honest nodes in the run.", single(len(proxy.honest_ids))
        ),
        Reading(
            "proxy_nodes_connected",
            "gauge",
            "Honest nodes connected now.",
            single(len(proxy.connections.conns)),
        ),
        Reading(
            "proxy_nodes_decided", "gauge", "Honest nodes that decided.", single(side.decided())
        ),
        Reading(
            "proxy_nodes_halted", "gauge", "Honest nodes that halted.", single(side.halted_count())
        ),
        Reading(
            "proxy_started", "gauge", "1 once the run has started.", single(int(proxy.started))
        ),
        Reading(
            "proxy_done", "gauge", "1 once every honest node has halted.", single(int(proxy.done))
        ),
        Reading(
            "proxy_node_iteration",
            "gauge",
            "Each honest node's iteration, from its latest snapshot.",
            by_label("node", iterations),
        ),
        Reading(
            "proxy_node_epoch",
            "gauge",
            "Each honest node's epoch (1..K_max+1 in the restart cycle, HPZ Thm 15).",
            by_label("node", {i: epoch_of(t) for i, t in iterations.items() if t >= 1}),
        ),
    ]
