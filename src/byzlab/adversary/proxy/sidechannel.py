"""What honest nodes tell the proxy: hellos (ordered per run) and state snapshots.

Frames a node addresses to the proxy's id n are MAC'd with K(node->n)
(``network/control.py``), so the proxy knows which node said what. Every connection
starts with a hello; later frames carry ``HonestNode.snapshot()`` dicts, of which the
proxy keeps the newest per node: they tell it when every honest node has halted, and
strategies with an ``oracle`` read them through a read-only view (``oracle``).

Replayed hellos. The proxy's anti-replay window (``auth.LinkReceiver``) dies with the
process, so a hello recorded earlier in the run (same run id, so its MAC still verifies)
used to be accepted by a restarted proxy and took the node's place. Hellos are therefore
ordered per run: a node seals each hello with the next sequence number of its link to the
proxy, which only grows (a node process never restarts within a run: a second one rejoins
as crashed, ``network/tcp/incarnation.py``), and the proxy accepts a hello only if its
sequence number is above every hello it accepted from that node in the run and every
side-channel frame from it in this incarnation (else ``hello-replay``). The high-water
marks (``hello_seqs``, in ``stats.py``) are written to the statistics file *before* the
hello takes effect (``connections.py``), so a proxy killed right after accepting a hello
still refuses it when restarted. A challenge nonce would need no disk, but a node could no
longer speak first, which every client of the wire format does.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

from byzlab.adversary.proxy.stats import ProxyStats
from byzlab.network.auth import LinkReceiver, Reject
from byzlab.network.control import HELLO, SNAPSHOT, clean_snapshot
from byzlab.network.framing import FrameError, peek_route, unpack_batch

__all__ = ["SideChannel"]


class SideChannel:
    """Checks hellos and keeps the newest snapshot of every honest node.

    ``node_rx`` opens frames from the honest nodes to the proxy (id ``n``); refusals are
    counted in ``stats.drops``."""

    def __init__(
        self, n: int, honest: Iterable[int], node_rx: LinkReceiver, stats: ProxyStats
    ) -> None:
        self.n = n
        self._honest = frozenset(honest)
        self.node_rx = node_rx
        self.stats = stats
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.oracle = MappingProxyType(self.snapshots)  # what strategies may read
        self._snapshot_seq: dict[int, int] = {}
        # Per node, the sequence number of the latest side-channel frame in this incarnation.
        self._side_top: dict[int, int] = {}

    def decided(self) -> int:
        """Honest nodes whose latest snapshot holds a decision."""
        snaps = self.snapshots
        return sum(1 for i in self._honest if (snaps.get(i) or {}).get("decision") is not None)

    def halted_count(self) -> int:
        """Honest nodes whose latest snapshot says they halted."""
        return sum(1 for i in self._honest if self.halted(i))

    def check_hello(self, item: bytes) -> tuple[int, int] | None:
        """(node, sequence number) of an authentic, fresh hello; None, counted, if not."""
        route = peek_route(item)
        if route is None or route[1] != self.n or route[0] not in self._honest:
            self.stats.drops["hello-bad-route"] += 1
            return None
        frame = self.node_rx.open(item)
        if isinstance(frame, Reject):
            self.stats.drops[f"hello-{frame.value}"] += 1
            return None
        items = unpack_batch(frame.payload)
        if (
            isinstance(items, FrameError)
            or not items
            or not isinstance(items[0], dict)
            or items[0].get("t") != HELLO
            or items[0].get("node") != frame.sender
        ):
            self.stats.drops["hello-malformed"] += 1
            return None
        hello = items[0]
        node, seq = frame.sender, frame.seq
        if seq <= max(self.stats.hello_seqs.get(node, 0), self._side_top.get(node, 0)):
            # Authentic but not fresh: a recorded hello played again, maybe to a restarted
            # proxy whose anti-replay window is empty (see "Restarts").
            self.stats.drops["hello-replay"] += 1
            return None
        self.stats.hello_seqs[node] = seq
        self._side_top[node] = seq
        if hello.get("snapshot") is not None:
            snap = clean_snapshot(hello["snapshot"])
            if snap is None:
                self.stats.drops["hello-bad-snapshot"] += 1  # the hello stands; the snapshot not
            else:
                self.set_snapshot(frame.sender, frame.seq, snap)
        return node, seq

    def on_frame(self, body: bytes) -> None:
        """A side-channel frame after the hello: snapshots (MAC'd by the node)."""
        frame = self.node_rx.open(body)
        if isinstance(frame, Reject):
            self.stats.drops[f"side-{frame.value}"] += 1
            return
        if frame.seq > self._side_top.get(frame.sender, 0):
            self._side_top[frame.sender] = frame.seq
        items = unpack_batch(frame.payload)
        if isinstance(items, FrameError):
            self.stats.drops["side-batch"] += 1
            return
        for item in items:
            if isinstance(item, dict) and item.get("t") == SNAPSHOT:
                snap = clean_snapshot(item.get("s"))
                if snap is None:
                    self.stats.drops["side-bad-snapshot"] += 1
                else:
                    self.set_snapshot(frame.sender, frame.seq, snap)
                continue
            self.stats.drops["side-unknown"] += 1

    def halted(self, node: int) -> bool:
        """The latest snapshot of ``node`` says it halted."""
        return bool((self.snapshots.get(node) or {}).get("halted"))

    def set_snapshot(self, node: int, seq: int, snap: dict[str, Any]) -> None:
        """Record a snapshot ``node`` sealed with sequence number ``seq``."""
        # Re-sent old frames may arrive after newer ones: keep the newest by sequence number.
        if seq >= self._snapshot_seq.get(node, -1):
            self._snapshot_seq[node] = seq
            self.snapshots[node] = snap
