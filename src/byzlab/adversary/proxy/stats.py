"""What the proxy counts, and how it writes it down: proxy-stats.json, kept across restarts.

Everything here is soft state that a restarted proxy continues: the previous incarnation's
file is read at start-up (``ProxyStats.load``) and the counts go on from there
(``incarnation`` counts restarts). The file is written every ``stats_interval_s``, on every
accepted hello (its high-water mark must be on disk first, see ``sidechannel.py``) and on
exit, atomically and from one writer thread (``StatsFile``): an fsync must not stall
relaying, and one thread keeps the writes in order, so the final one is the last. The
orchestrator polls the file for progress.

Messages are counted by kind whether or not they were decoded: ``count`` for decoded
messages, by the run's protocol's ``kind``, ``wire_size`` and ``instance``
(byzlab.node.protocol), ``census`` for payloads of the Bracha family's messages relayed on
their header alone, with the same figures; and by node (``relayed``: messages and frame
bytes from each sender and to each receiver). The live metrics (``metrics.py``) read these
same counters at scrape time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from byzlab.atomicio import (
    atomic_write_bytes,
    atomic_write_json,
    compact_json,
    read_json,
)
from byzlab.network.framing import FrameError, unpack_batch
from byzlab.network.timeline import RelayTimeline
from byzlab.node.protocol import Instances, Protocol

__all__ = ["KIND_NAMES", "NODE_TRAFFIC", "ProxyStats", "StatsFile"]

# The Bracha family's kinds, indexed by Kind: the first statistics keys of every run (the
# census counts by them); another protocol's kinds follow as they are first counted.
KIND_NAMES = ("INITIAL", "ECHO", "READY", "DECIDE")
# Statistics keys of the per-node traffic: node -> messages or frame bytes relayed.
NODE_TRAFFIC = ("messages_from", "bytes_from", "messages_to", "bytes_to")
# A payload's census: messages, counts and bytes per kind, bad items, undecodable batch.
_Tally = tuple[int, tuple[int, ...], tuple[int, ...], int, bool]


class ProxyStats:
    """The proxy's counters, continued from ``prev`` (the previous incarnation's file), for
    a run of ``protocol``."""

    def __init__(self, prev: dict[str, Any], protocol: Protocol) -> None:
        self._kind = protocol.kind
        self._wire_size = protocol.wire_size
        self._instance = protocol.instance if isinstance(protocol, Instances) else None
        self.incarnation = int(prev.get("incarnation", 0)) + 1
        self.counts: Counter[str] = Counter(
            {k: int(v) for k, v in (prev.get("counts") or {}).items()}
        )
        # Indexed like kind_names, whose first four are Kind's: lists are cheaper than
        # Counters.
        by_kind = prev.get("messages_by_kind") or {}
        bytes_by_kind = prev.get("bytes_by_kind") or {}
        self.kind_names = [*KIND_NAMES, *(str(k) for k in by_kind if k not in KIND_NAMES)]
        self._kind_index = {k: i for i, k in enumerate(self.kind_names)}
        self.kind_counts = [int(by_kind.get(k, 0)) for k in self.kind_names]
        self._last_census: tuple[bytes, _Tally] | None = None
        # Messages relayed over time in this incarnation (for the sustained rate).
        self.timeline = RelayTimeline()
        self.kind_bytes = [int(bytes_by_kind.get(k, 0)) for k in self.kind_names]
        self.drops: Counter[str] = Counter(
            {k: int(v) for k, v in (prev.get("drops") or {}).items()}
        )
        self.initials: set[tuple[int, ...]] = {
            tuple(int(x) for x in key) for key in (prev.get("rbc_initials") or [])
        }
        self.first_start_wall: float | None = prev.get("start_wall")
        # Honest nodes that have said hello in this run (any incarnation); the others, once
        # the run started without them, are crash faults.
        self.ever_connected: set[int] = {int(i) for i in prev.get("ever_connected") or []}
        # Per node, the sequence number of the latest hello accepted in this run (any
        # incarnation); see sidechannel.py.
        self.hello_seqs: dict[int, int] = {
            int(k): int(v) for k, v in (prev.get("hello_seqs") or {}).items()
        }
        self.started_without: list[int] = [int(i) for i in prev.get("started_without") or []]
        self.injected: dict[str, int] = dict(prev.get("injected") or {})
        self.overflowed: Counter[int] = Counter(
            {int(k): int(v) for k, v in (prev.get("overflowed") or {}).items()}
        )
        self.queue_peak: dict[int, int] = {
            int(k): int(v) for k, v in (prev.get("queue_peak_bytes") or {}).items()
        }
        self.messages_from, self.bytes_from, self.messages_to, self.bytes_to = (
            Counter({int(k): int(v) for k, v in (prev.get(key) or {}).items()})
            for key in NODE_TRAFFIC
        )

    @classmethod
    def load(cls, path: Path, protocol: Protocol) -> ProxyStats:
        """Continue the statistics in ``path`` if an earlier incarnation wrote them."""
        prev = read_json(path)
        return cls(prev if isinstance(prev, dict) else {}, protocol)

    def to_json(self) -> dict[str, Any]:
        """The counters, as the statistics file holds them (and ``__init__`` reads them)."""
        counts = self.counts
        return {
            "incarnation": self.incarnation,
            "start_wall": self.first_start_wall,
            "started_without": self.started_without,
            "ever_connected": sorted(self.ever_connected),
            "hello_seqs": {str(k): v for k, v in sorted(self.hello_seqs.items())},
            "messages": counts["messages"],
            "messages_delivered": counts["messages_delivered"],
            "bytes": counts["bytes"],
            "frames_relayed": counts["frames_relayed"],
            "relay_timeline": self.timeline.to_json(),
            "tampered": counts["tampered"],
            "rbc_instances": len(self.initials),
            "messages_by_kind": {
                k: c for k, c in zip(self.kind_names, self.kind_counts, strict=True) if c
            },
            "bytes_by_kind": {
                k: c for k, c in zip(self.kind_names, self.kind_bytes, strict=True) if c
            },
            "drops": dict(self.drops),
            "counts": dict(counts),
            "injected": self.injected,
            "overflowed": {str(k): v for k, v in sorted(self.overflowed.items())},
            "queue_peak_bytes": {str(k): v for k, v in sorted(self.queue_peak.items())},
            "rbc_initials": sorted(self.initials),
            **{
                key: {str(k): v for k, v in sorted(c.items())}
                for key, c in zip(NODE_TRAFFIC, self.node_traffic(), strict=True)
            },
        }

    def node_traffic(self) -> tuple[Counter[int], ...]:
        """Per node: messages from it, bytes from it, messages to it, bytes to it."""
        return self.messages_from, self.bytes_from, self.messages_to, self.bytes_to

    def relayed(self, src: int, dst: int, count: int, size: int) -> None:
        """Count one relayed frame by node: ``count`` messages, ``size`` frame bytes."""
        self.messages_from[src] += count
        self.bytes_from[src] += size
        self.messages_to[dst] += count
        self.bytes_to[dst] += size

    def count(self, msgs: list[Any]) -> None:
        """Count decoded messages by kind (and the broadcast instances they open)."""
        kinds = self.kind_counts
        sizes = self.kind_bytes
        index = self._kind_index
        kind, wire_size, instance = self._kind, self._wire_size, self._instance
        for m in msgs:
            name = kind(m)
            i = index.get(name)
            if i is None:
                i = index[name] = len(self.kind_names)
                self.kind_names.append(name)
                kinds.append(0)
                sizes.append(0)
            kinds[i] += 1
            # Per kind, the simulator's size estimate (re-encoding every message to measure
            # it would double the proxy's work); the total above is exact frame bytes.
            sizes[i] += wire_size(m)
            if instance is not None:
                opened = instance(m)
                if opened is not None:
                    self.initials.add(opened)

    def census(self, payload: memoryview) -> int:
        """Count a payload's messages by kind without decoding them (nobody inspects them;
        the Bracha family's messages only, see ``Proxy.inspect``).

        The same statistics as decoding honest frames gives, about a tenth of the cost: the
        msgpack batch is unpacked (C) and each message is counted by the kind it announces,
        INITIALs by (origin, seq) for ``rbc_instances``, and bytes by the simulator's
        size estimate, like ``count``; the other fields are not validated (receivers do
        that). Items that do not even look like a message count as undecodable.

        A node's round of broadcasts is one payload sealed for each of its n - 1 peers, so
        the proxy sees the same payload bytes n - 1 times in a row: the tally of the last
        payload is kept and added again when the next one is equal (a byte comparison),
        instead of unpacking it again. Every relayed copy is still counted.
        """
        key = bytes(payload)  # bytes == bytes is a memcmp; memoryview == goes item by item
        last = self._last_census
        if last is not None and last[0] == key:
            tally = last[1]
        else:
            tally = self._tally(payload)
            self._last_census = (key, tally)
        count, kinds_delta, sizes_delta, bad, undecodable = tally
        if undecodable:
            self.counts["undecodable_frames"] += 1
            return 0
        kinds = self.kind_counts
        sizes = self.kind_bytes
        for k in range(4):
            kinds[k] += kinds_delta[k]
            sizes[k] += sizes_delta[k]
        if bad:
            self.counts["undecodable_messages"] += bad
        return count

    def _tally(self, payload: memoryview) -> _Tally:
        """(messages, per-kind counts, per-kind bytes, bad items, undecodable) of a payload;
        the INITIALs' (origin, seq) go straight into ``initials`` (a set: idempotent)."""
        batch = unpack_batch(payload)
        if isinstance(batch, FrameError):
            return 0, (0, 0, 0, 0), (0, 0, 0, 0), 0, True
        kinds = [0, 0, 0, 0]
        sizes = [0, 0, 0, 0]
        bad = 0
        for m in batch:
            if type(m) is list:
                size = len(m)
                k = m[0] if size else None
                if type(k) is int:
                    if size == 9 and 0 <= k <= 2:
                        kinds[k] += 1
                        v = m[8]
                        sizes[k] += (
                            14 if v is None else (15 + 3 * len(v) if type(v) is list else 14)
                        )
                        if k == 0 and type(m[1]) is int and type(m[2]) is int:
                            self.initials.add((m[1], m[2]))
                        continue
                    if size == 2 and k == 3:
                        kinds[3] += 1
                        sizes[3] += 3
                        continue
            bad += 1
        return len(batch) - bad, tuple(kinds), tuple(sizes), bad, False


class StatsFile:
    """proxy-stats.json, written atomically from one writer thread, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats")

    async def write(self, stats: dict[str, Any]) -> None:
        """Write ``stats`` without blocking the loop. The JSON is encoded here, compact
        (C encoder): a thread encoding it would hold the GIL."""
        data = compact_json(stats)
        await asyncio.get_running_loop().run_in_executor(
            self._writer, atomic_write_bytes, self.path, data
        )

    def write_now(self, stats: dict[str, Any]) -> None:
        """Write ``stats`` now (and after any write still in progress), indented."""
        self._writer.submit(atomic_write_json, self.path, stats).result()

    def close(self) -> None:
        self._writer.shutdown()
