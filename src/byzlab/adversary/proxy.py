"""The adversary as one process: a TCP relay that schedules frames and runs the corrupted nodes.

Theory of operation
-------------------
Every honest node keeps one TCP connection to this proxy (a star, see ``network/tcp.py``),
so every protocol message between two nodes passes through it. The proxy is HPZ's adversary
made concrete, with exactly the model's powers:

* *Scheduling.* A frame from s to d is held for a delay chosen by the same scheduler objects
  the simulator uses (``schedulers.py``), bound with delta = 1 virtual unit; the delay is
  then scaled by ``delta_s`` wall-clock seconds and realised with an event-loop timer
  (deliveries scheduled in the same loop turn with the same delay share one timer). A
  frame batches several messages; for a scheduler that inspects messages, its delay is the
  maximum of ``scheduler.delay`` over them (the frame arrives when its slowest message may
  arrive, so no message arrives earlier than the scheduler allowed; each message is still
  delayed at most delta). A scheduler that does not (``inspects_messages = False``: its
  delay depends only on sender, receiver and time) is asked once per frame. A frame due at
  once, with nothing of its direction in flight, goes straight to its destination's queue.
* *Full information.* Link frames are MAC'd, not encrypted, so the proxy can decode every
  payload, and it does whenever someone may look at the messages: a scheduler that
  inspects them, or corrupted nodes, whose strategies share the full-information view
  (``adversary/view.py``, fed with every message as in the simulator). Otherwise, with
  honest nodes under a scheduler that does not inspect messages, a frame is relayed on its
  header and its messages are only counted (``_census``: kinds, RBC instances, the same
  statistics as decoding gives for honest frames) without being validated or built, which
  is most of what relaying used to cost. Honest nodes also send the proxy their state
  snapshots (``HonestNode.snapshot()``) on the side channel. Strategies that have an
  ``oracle`` attribute get a read-only view of the latest snapshots.
* *Corruption.* The Byzantine nodes run *inside* the proxy: it loads their private keys,
  derives their link keys, and drives the same strategy objects as the simulator
  (``make_strategy``). One full-information adversary process sees every frame, owns the
  schedule and the corrupted nodes, with the same objects as the simulator and no IPC
  between a "network adversary" and "corrupted node" processes that would have to be
  kept consistent.
* *No forgery.* The proxy holds no honest link key, so it relays honest frames byte for
  byte; anything it changed would fail the receiver's MAC. ``tamper = "flip-byte"``
  (test-only) demonstrates it: one honest frame is delivered twice, once with a byte
  flipped and once intact. The receiver drops the tampered copy (``bad_mac``) and accepts
  the original. A tampered frame is never delivered *instead of* the original, because
  that would be a lost message, which the asynchronous model does not allow.

Ordering limits. Receivers accept a frame only within a 4096-frame anti-replay window per
direction (``auth.py``), so a frame held back behind 4096 later frames of the same
direction would be dropped as stale: a loss. The proxy therefore keeps, per direction, at
most ``max_reorder`` (1024) frames in flight; when one more arrives, the oldest is delivered
at once (counted as ``forced_in_order``). Every frame in flight is then among the last 1024
of its direction, well inside the window, whatever the scheduler asks for.

Start and end. When all honest nodes have said hello, the proxy sends each a ``start``
frame and starts the Byzantine strategies: a common start for latency measurements, and
nobody's first messages pile up for a node that is not connected yet. A node that crashed
before its hello (killed or stopped right after it was spawned) must not hold the run
forever, so there is a grace period: once no honest node has said hello for
``start_grace_s`` (default 10 s, counted from the later of the proxy's start and the last
hello, so a slow start-up of many processes, whose hellos keep arriving, is never cut
short), the run starts as soon as at least n - f nodes can take part: connected honest
nodes plus the corrupted nodes the proxy runs. The honest nodes still missing are crash
faults: they are listed in the statistics (``started_without``, and ``never_connected``
while they stay away; they count toward f, and the local backend reports a node killed or
stopped this way as crashed through its exit status), and the end of the run does not wait
for them. One that connects later is simply slow: it gets ``start`` on its hello
and the end waits for it again. When every honest node's snapshot (except those that
never connected) says it halted, the proxy sends ``done``; the nodes write their results and
exit, and the proxy exits when their connections are gone (or on SIGTERM/SIGINT). It
writes its statistics (messages and bytes by kind, frames, drops, decided/halted counts,
CPU time) to ``stats_file`` every ``stats_interval_s`` and on exit, atomically and from a
writer thread (an fsync must not stall relaying); the orchestrator polls that file for
progress.

Restarts. Everything the proxy holds is soft state. After a restart (same port) nodes
reconnect and re-send their recent frames (receivers drop duplicates), the start barrier
runs again (nodes ignore a second ``start``), the previous statistics are loaded from
``stats_file`` and continued (``incarnation`` counts restarts), and the Byzantine nodes start
over: their link senders continue from a sequence number derived from the wall clock, so
their new frames are not rejected as replays of the previous incarnation's. Replayed
hellos: the proxy's anti-replay window (``auth.LinkReceiver``) dies with the process, so a
hello recorded earlier in the run (same run id, so its MAC still verifies) used to be
accepted by a restarted proxy and took the node's place. Hellos are therefore ordered per
run: a node seals each hello with the next sequence number of its link to the proxy, which
only grows (a node process never restarts within a run: a second one rejoins as crashed,
``network/tcp.py``), and the proxy accepts a hello only if its sequence number is above
every hello it accepted from that node in the run and every side-channel frame from it in
this incarnation (else ``hello-replay``). The high-water marks (``hello_seqs``) are
written to ``stats_file`` *before* the hello takes effect, so a proxy killed right after
accepting a hello still refuses it when restarted. A challenge nonce would need no disk,
but a node could no longer speak first, which every client of the wire format does. A node
whose own connection broke gets the last frames written to it again (``redeliver_frames``,
``redeliver_bytes``).

Memory bounds. Per honest destination, frames scheduled or queued for it are capped at
``max_queue_bytes`` (256 MiB). A frame that would take a destination over its cap is dropped
*for that destination alone* and counted (``dropped_over_cap``, and per node in
``overflowed``, with a warning the first time); every other destination is served as
before, and the proxy never stops reading any node. Why drop rather than push back: one
connection carries a sender's frames for every destination, so stopping to read a sender
because one of its destinations is full stops its frames to everybody, and since every
honest node broadcasts, one receiver that stopped reading (SIGSTOP, a wedged host) stalled
the whole run: with a corrupted node sending it 320 frames of 1 MiB, nothing was relayed
and every honest node timed out (``tests/test_hostile_backpressure.py``). A node that has
256 MiB waiting for it has not read for a long time (a run relays a few MiB per second);
in the model that is a crash fault, counted toward f, and the frames it loses are the
messages a crashed node never processes. A node that is merely slow never gets there: the
cap is two orders of magnitude above what a live node has in flight. The proxy's memory
for relaying is thus at most, per honest destination, ``max_queue_bytes`` in scheduled
and queued frames, plus ``redeliver_bytes`` (32 MiB) and ``redeliver_frames`` (1024) in the
frames kept for redelivery, plus the socket's write buffer (the 64 KiB high-water mark and
one write of at most 256 KiB plus a frame); at most f destinations can be crashed, so in
practice f x 288 MiB on top of live traffic (measured: 320 frames of 1 MiB for a stopped
node at n = 7, proxy peak RSS 313 MiB, 64 frames dropped, the other five honest nodes
decided in 0.6 s; ``benchmarks/bench_attacks_infra.py``). Frames for a node that halted and
disconnected are dropped: a halted node processes nothing. Frame bodies are limited to
1 MiB by the framing layer.

Before authentication a connection costs next to nothing, because anyone who can reach the
port can open one. Its first frame (the hello, about 200 bytes) may be at most
``HELLO_MAX_FRAME`` (16 KiB): it is read with ``readexactly`` once its length prefix has
been checked, and a longer prefix closes the connection at once, counted as
``framing-oversized``, before any of the announced body is read. At most
``max_pending_hellos`` (256) connections wait for their hello at a time; one more closes
the one that has waited longest (``hello-evicted``): a slow-loris client holding slots is
pushed out by newer connections, so it cannot lock honest nodes out (they reconnect with
backoff if they were the ones evicted), whereas refusing the newest would let it hold the
port with 256 idle sockets. A hello must arrive within ``hello_timeout_s``
(``hello-timeout``). So unauthenticated connections hold at most 256 x 16 KiB of frame data
(4 MiB) plus their stream objects: 1,000 connections sending 1 MiB prefixes or trickling
8 KiB first frames raised the proxy's peak RSS by about 3 MiB
(``tests/test_hostile_preauth.py``; it used to buffer up to a whole 1 MiB frame per
connection: 1.2 GiB for 1,000 of them). Every refusal is counted once, under one reason.

Test-only injection (``inject``): before the start, when the proxy receives SIGUSR1, it
writes garbage frames, forged frames, frames with a valid Byzantine MAC but invalid
contents, and finally one oversized frame to the target node's connection, then writes
``done_file``; with ``hold_start`` the run starts on the next SIGUSR1, so a test can measure
the target between the flood and the run. With ``stall_frames``, when the run starts the
Byzantine node also sends the target that many frames of about 1 MiB through the relay
queues (the stalled-receiver flood of "Memory bounds").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgpack
from pydantic import BaseModel, ConfigDict, Field

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers import make_scheduler
from byzlab.adversary.strategies import ByzantineNode, NodeSpec, make_strategy
from byzlab.adversary.view import AdversaryView
from byzlab.atomicio import atomic_write_bytes, atomic_write_json, compact_json, read_json
from byzlab.errors import NodeConfigError
from byzlab.network.auth import REPLAY_WINDOW, LinkReceiver, LinkSender, Reject, link_keys_for
from byzlab.network.configfile import load_config
from byzlab.network.control import DONE, HELLO, HELLO_MAX_FRAME, SNAPSHOT, START, clean_snapshot
from byzlab.network.framing import (
    FRAME_HEADER,
    HEADER_SIZE,
    LENGTH_PREFIX,
    LENGTH_PREFIX_SIZE,
    MAC_SIZE,
    MAX_FRAME,
    OVERHEAD,
    READ_CHUNK,
    VERSION,
    FrameDecoder,
    FrameError,
    encode_frame,
    pack_batch,
    peek_route,
    unpack_batch,
)
from byzlab.network.keys import load_private_key, load_roster
from byzlab.network.process import cpu_seconds, max_rss_kib, run_with_loop, setup_logging
from byzlab.network.timeline import RelayTimeline
from byzlab.node.effects import Broadcast, Effect, Send
from byzlab.node.messages import (
    DecideMsg,
    DecodeError,
    Decoder,
    Kind,
    Message,
    RbcMsg,
    Vote,
    Write,
    encode,
    wire_size,
)
from byzlab.node.params import Params, ParamsError
from byzlab.seeds import derive_rng, ideal_coin_seed

__all__ = ["ByzantineSpec", "InjectSpec", "Proxy", "ProxyConfig", "main"]

log = logging.getLogger("byzlab.proxy")

TAMPER_MODES = ("none", "flip-byte")
_WRITE_CHUNK = 256 * 1024  # bytes handed to one writelines() before awaiting drain()
_BYZ_CHUNK = 128  # messages per frame sealed for a Byzantine node
_KIND_NAMES = ("INITIAL", "ECHO", "READY", "DECIDE")  # statistics keys, indexed by Kind
# What a scheduler that does not inspect messages is given for an undecoded frame (by its
# contract, `inspects_messages = False`, its delay does not depend on the message).
_UNINSPECTED: Message = DecideMsg(0)
# A payload's census: messages, counts and bytes per kind, bad items, undecodable batch.
_Tally = tuple[int, tuple[int, ...], tuple[int, ...], int, bool]


class ByzantineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    node: int = Field(ge=0)
    strategy: str
    options: dict[str, Any] = Field(default_factory=dict)


class InjectSpec(BaseModel):
    """Test-only: hostile frames written to one honest node before the run starts."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    target: int = Field(ge=0)
    from_node: int = Field(ge=0)  # a Byzantine node whose keys give the invalid frames a MAC
    done_file: str
    garbage_frames: int = Field(default=1000, ge=0)
    forged_frames: int = Field(default=200, ge=0)
    invalid_frames: int = Field(default=1000, ge=0)
    # well-formed, validly MACed protocol messages at full speed (benchmarks/bench_flood.py)
    flood_messages: int = Field(default=0, ge=0)
    flood_batch: int = Field(default=256, ge=1, le=4096)
    oversized: bool = True
    hold_start: bool = True  # after injecting, start only on a second SIGUSR1
    # At the start: frames of about 1 MiB, validly MACed, from from_node to target through
    # the relay queues like any other frame (the stalled-receiver flood; see Memory bounds).
    stall_frames: int = Field(default=0, ge=0)


class ProxyConfig(BaseModel):
    """proxy.json, written by the orchestrator."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    params: dict[str, Any]
    protocol: str
    inputs: list[int]
    seed: int = Field(ge=0)
    run_id: str = ""
    key_dir: str
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    byzantine: list[ByzantineSpec] = Field(default_factory=list)
    scheduler: str = "fifo"
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    delta_s: float = Field(default=0.005, ge=0)
    tamper: str = "none"
    inject: InjectSpec | None = None
    stats_file: str
    ready_file: str
    stats_interval_s: float = Field(default=0.25, gt=0)
    hello_timeout_s: float = Field(default=10.0, gt=0)
    # Start without the honest nodes still missing once no hello has arrived for this long
    # and n - f nodes can take part (see "Start and end").
    start_grace_s: float = Field(default=10.0, gt=0)
    # connections waiting for their hello at once; one more closes the oldest
    max_pending_hellos: int = Field(default=256, ge=1)
    exit_when_done: bool = True
    redeliver_frames: int = Field(default=1024, ge=0, le=REPLAY_WINDOW // 2)
    max_reorder: int = Field(default=REPLAY_WINDOW // 4, ge=1, le=REPLAY_WINDOW // 2)
    max_queue_bytes: int = Field(default=256 << 20, ge=4 * MAX_FRAME)
    redeliver_bytes: int = Field(default=32 << 20, ge=2 * MAX_FRAME)


@dataclass(slots=True, eq=False)
class _Pending:
    """One scheduled delivery: frames (length-prefixed) or, between two Byzantine nodes,
    message objects that never leave the proxy."""

    src: int
    dst: int
    frames: list[bytes]
    msgs: list[Message] | None  # None: not decoded (nobody inspects them)
    count: int  # messages in the frames (or in msgs)
    held: int
    delivered: bool = False
    handle: asyncio.Handle | asyncio.TimerHandle | None = None


@dataclass(slots=True, eq=False)
class _Group:
    """Deliveries scheduled in one turn of the loop with the same delay: one timer."""

    seconds: float
    scheduled_at: float
    pendings: list[_Pending]
    handle: asyncio.Handle | asyncio.TimerHandle | None = None


@dataclass(slots=True, eq=False)
class _Outbox:
    """Frames due for one honest node, and the bytes held for it (scheduled + queued)."""

    frames: deque[bytes] = field(default_factory=deque)
    held: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    recent: deque[bytes] = field(default_factory=deque)  # the last frames written
    recent_bytes: int = 0


@dataclass(slots=True, eq=False)
class _Conn:
    node: int
    writer: asyncio.StreamWriter
    control: LinkSender
    writer_task: asyncio.Task[None] | None = None


@dataclass(slots=True, eq=False)
class _Actor:
    """A corrupted node: its strategy and its keys, held by the adversary."""

    node: int
    strategy: ByzantineNode
    senders: dict[int, LinkSender]
    receiver: LinkReceiver


class Proxy:
    """The adversary process. See the module docstring."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        try:
            params = Params(**config.params)
        except (ParamsError, TypeError) as exc:
            raise NodeConfigError(f"params: {exc}") from exc
        n, f = params.n, params.f
        self.params = params
        self.n = n
        if len(config.inputs) != n or any(v not in (-1, 1) for v in config.inputs):
            raise NodeConfigError(f"inputs: need {n} values of -1/+1, got {config.inputs}")
        if config.tamper not in TAMPER_MODES:
            raise NodeConfigError(
                f"tamper: {config.tamper!r} is not one of {', '.join(TAMPER_MODES)}"
            )
        byz_ids = [b.node for b in config.byzantine]
        if len(set(byz_ids)) != len(byz_ids) or any(not 0 <= b < n for b in byz_ids):
            raise NodeConfigError(f"byzantine: node ids {byz_ids} must be distinct, in 0..{n - 1}")
        if len(byz_ids) > f:
            raise NodeConfigError(f"byzantine: {len(byz_ids)} nodes exceed f={f}")
        self.byz_ids = sorted(byz_ids)
        self.honest_ids = [i for i in range(n) if i not in byz_ids]
        key_dir = Path(config.key_dir)
        roster = load_roster(key_dir, expected_n=n + 1)
        me = n
        keys = link_keys_for(me, load_private_key(key_dir, me, roster=roster), roster)
        # K(i -> proxy) for the side channel; the proxy's own control frames use K(proxy -> i).
        self.node_rx = LinkReceiver(
            receiver=me, keys={i: keys[i].recv_key for i in self.honest_ids}
        )
        self._control_keys = {i: keys[i].send_key for i in self.honest_ids}
        options = {
            k: frozenset(v) if isinstance(v, list) else v
            for k, v in config.scheduler_options.items()
        }
        # One full-information view shared by the scheduler and the corrupted nodes, fed
        # with every message the proxy decodes, as in the simulator (adversary/view.py).
        self.view = AdversaryView(params, self.byz_ids)
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.oracle = MappingProxyType(self.snapshots)
        adversary = AdversaryContext(
            params, self.view, derive_rng(config.seed, "scheduler"), 1.0, self.oracle
        )
        try:
            self.scheduler = make_scheduler(config.scheduler, adversary, **options)
        except (TypeError, ValueError) as exc:
            raise NodeConfigError(f"scheduler: {exc}") from exc
        # Decode every relayed message when someone may look at it: a scheduler that
        # inspects messages, or corrupted nodes (their strategies read the shared view).
        # Otherwise frames are relayed on their header alone and only counted.
        self.inspect = bool(self.scheduler.inspects_messages or config.byzantine)
        self._decoder = Decoder(n)
        self._snapshot_seq: dict[int, int] = {}
        # Byzantine link senders continue past any previous incarnation's sequence numbers.
        seq_base = time.time_ns() // 1000
        ideal = ideal_coin_seed(config.seed)
        self.actors: dict[int, _Actor] = {}
        for spec in config.byzantine:
            b = spec.node
            bkeys = link_keys_for(b, load_private_key(key_dir, b, roster=roster), roster)
            # the proxy may restart within a run (see above): start above any earlier seq
            senders = {
                d: LinkSender(sender=b, receiver=d, key=bkeys[d].send_key, first_seq=seq_base)
                for d in self.honest_ids
            }
            receiver = LinkReceiver(
                receiver=b, keys={s: bkeys[s].recv_key for s in range(n) if s != b}
            )
            node_spec = NodeSpec(
                b,
                params,
                config.protocol,
                config.inputs[b],
                derive_rng(config.seed, "node", b),
                ideal,
            )
            try:
                strategy = make_strategy(spec.strategy, node_spec, adversary, **spec.options)
            except (TypeError, ValueError) as exc:
                raise NodeConfigError(f"byzantine node {b}: {exc}") from exc
            self.actors[b] = _Actor(b, strategy, senders, receiver)
        self.outboxes: dict[int, _Outbox] = {}
        self._directions: dict[tuple[int, int], deque[_Pending]] = {}
        self._group: _Group | None = None  # the timer deliveries of this turn may join
        self.conns: dict[int, _Conn] = {}
        # Connections still waiting for their hello, oldest first (a dict keeps order).
        self._pending_hellos: dict[asyncio.Task[Any], None] = {}
        self.started = False
        self.cpu_at_start: float | None = None
        self.done = False
        self._t0 = 0.0
        self._inject_done = config.inject is None
        self._grace_over = False  # no hello for start_grace_s (re-armed by every hello)
        self._grace_timer: asyncio.TimerHandle | None = None
        self._tampered_this_run = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stats_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats")
        self.errors: list[BaseException] = []
        self.stop_reason = ""
        self._load_stats()

    # ----------------------------------------------------------------- statistics

    def _load_stats(self) -> None:
        prev = read_json(Path(self.config.stats_file))
        prev = prev if isinstance(prev, dict) else {}
        self.incarnation = int(prev.get("incarnation", 0)) + 1
        self.counts: Counter[str] = Counter(
            {k: int(v) for k, v in (prev.get("counts") or {}).items()}
        )
        # Indexed by Kind (INITIAL, ECHO, READY, DECIDE): lists are cheaper than Counters.
        by_kind = prev.get("messages_by_kind") or {}
        bytes_by_kind = prev.get("bytes_by_kind") or {}
        self._kind_counts = [int(by_kind.get(k, 0)) for k in _KIND_NAMES]
        self._last_census: tuple[bytes, _Tally] | None = None
        # Messages relayed over time in this incarnation (for the sustained rate).
        self.timeline = RelayTimeline()
        self._kind_bytes = [int(bytes_by_kind.get(k, 0)) for k in _KIND_NAMES]
        self.drops: Counter[str] = Counter(
            {k: int(v) for k, v in (prev.get("drops") or {}).items()}
        )
        self.initials: set[tuple[int, int]] = {
            (int(o), int(s)) for o, s in (prev.get("rbc_initials") or [])
        }
        self.first_start_wall: float | None = prev.get("start_wall")
        # Honest nodes that have said hello in this run (any incarnation); the others, once
        # the run started without them, are crash faults.
        self.ever_connected: set[int] = {int(i) for i in prev.get("ever_connected") or []}
        # Per node, the sequence number of the latest hello accepted in this run (any
        # incarnation), and of the latest side-channel frame in this incarnation.
        self.hello_seqs: dict[int, int] = {
            int(k): int(v) for k, v in (prev.get("hello_seqs") or {}).items()
        }
        self._side_top: dict[int, int] = {}
        self.started_without: list[int] = [int(i) for i in prev.get("started_without") or []]
        self.injected: dict[str, int] = dict(prev.get("injected") or {})
        self.overflowed: Counter[int] = Counter(
            {int(k): int(v) for k, v in (prev.get("overflowed") or {}).items()}
        )
        self.queue_peak: dict[int, int] = {
            int(k): int(v) for k, v in (prev.get("queue_peak_bytes") or {}).items()
        }

    def stats(self, *, final: bool = False) -> dict[str, Any]:
        decided = sum(
            1 for i in self.honest_ids if (self.snapshots.get(i) or {}).get("decision") is not None
        )
        halted = sum(1 for i in self.honest_ids if (self.snapshots.get(i) or {}).get("halted"))
        return {
            "final": final,
            "pid": os.getpid(),
            "cpu_s": round(cpu_seconds(), 4),
            "cpu_start_s": self.cpu_at_start,
            "max_rss_kib": max_rss_kib(),
            "incarnation": self.incarnation,
            "honest": len(self.honest_ids),
            "connected": len(self.conns),
            "started": self.started,
            "decided": decided,
            "halted": halted,
            "done": self.done,
            "start_wall": self.first_start_wall,
            "start_grace_s": self.config.start_grace_s,
            "started_without": self.started_without,
            "ever_connected": sorted(self.ever_connected),
            "hello_seqs": {str(k): v for k, v in sorted(self.hello_seqs.items())},
            "never_connected": self._never_connected(),
            "messages": self.counts["messages"],
            "messages_delivered": self.counts["messages_delivered"],
            "bytes": self.counts["bytes"],
            "frames_relayed": self.counts["frames_relayed"],
            "relay_timeline": self.timeline.to_json(),
            "tampered": self.counts["tampered"],
            "rbc_instances": len(self.initials),
            "messages_by_kind": {
                k: c for k, c in zip(_KIND_NAMES, self._kind_counts, strict=True) if c
            },
            "bytes_by_kind": {
                k: c for k, c in zip(_KIND_NAMES, self._kind_bytes, strict=True) if c
            },
            "drops": dict(self.drops),
            "counts": dict(self.counts),
            "injected": self.injected,
            "overflowed": {str(k): v for k, v in sorted(self.overflowed.items())},
            "queue_peak_bytes": {str(k): v for k, v in sorted(self.queue_peak.items())},
            "scheduler": self.scheduler.describe(),
            "delta_s": self.config.delta_s,
            "byzantine": {str(b): a.strategy.name for b, a in self.actors.items()},
            "snapshots": {str(k): v for k, v in sorted(self.snapshots.items())},
            "rbc_initials": sorted(self.initials),
        }

    def write_stats(self, *, final: bool = False) -> None:
        """Write the statistics now (and after any write still in progress)."""
        self._stats_writer.submit(
            atomic_write_json, Path(self.config.stats_file), self.stats(final=final)
        ).result()

    # ----------------------------------------------------------------- entry point

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._inject_trigger = asyncio.Event()
        self._conn_change = asyncio.Event()
        if self.config.inject is not None:
            loop.add_signal_handler(signal.SIGUSR1, self._inject_trigger.set)
        for i in self.honest_ids:
            self.outboxes[i] = _Outbox()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.stop, f"signal-{sig.name}")
        server: asyncio.Server | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                server = await asyncio.start_server(
                    self._on_client, self.config.host, self.config.port
                )
                try:
                    port = server.sockets[0].getsockname()[1]
                    log.info(
                        "proxy (incarnation %d) listening on %s:%d",
                        self.incarnation,
                        self.config.host,
                        port,
                    )
                    atomic_write_json(
                        Path(self.config.ready_file),
                        {"port": port, "pid": os.getpid(), "incarnation": self.incarnation},
                    )
                    self._spawn(self._stats_loop())
                    self._arm_start_grace()
                    if self.config.inject is not None:
                        self._spawn(self._inject())
                    await self._stop.wait()
                finally:
                    server.close()
                    if self._grace_timer is not None:
                        self._grace_timer.cancel()
                    for task in list(self._tasks):
                        task.cancel()
                    for pending in self._directions.values():
                        for p in pending:
                            if p.handle is not None:
                                p.handle.cancel()
        except* Exception as group:
            for exc in group.exceptions:
                log.error("proxy: task failed", exc_info=exc)
            self.errors.extend(group.exceptions)
        finally:
            for sig in (*signals, signal.SIGUSR1):
                loop.remove_signal_handler(sig)
            if server is not None:
                await server.wait_closed()
        self.write_stats(final=True)
        self._stats_writer.shutdown()
        log.info("proxy: stopped (%s)", self.stop_reason)
        return 1 if self.errors else 0

    def stop(self, reason: str) -> None:
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop.set()

    def _spawn(self, coro: Any) -> None:
        task = self._tg.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stats_loop(self) -> None:
        # The file is written (with an fsync) on a thread: relaying never waits for the disk.
        # One writer thread keeps the writes in order, so the final one is the last. The
        # JSON is encoded here, compact (C encoder): a thread encoding it would hold the GIL.
        loop = asyncio.get_running_loop()
        path = Path(self.config.stats_file)
        while True:
            data = compact_json(self.stats())
            await loop.run_in_executor(self._stats_writer, atomic_write_bytes, path, data)
            await asyncio.sleep(self.config.stats_interval_s)

    def _vnow(self) -> float:
        """Virtual time for the scheduler and strategies: units of delta since the start."""
        return self._virtual(self._elapsed())

    def _elapsed(self) -> float:
        """Seconds since the protocol started (0 before)."""
        return asyncio.get_running_loop().time() - self._t0 if self.started else 0.0

    def _virtual(self, elapsed: float) -> float:
        # With delta_s = 0 (as fast as possible) one virtual unit is a millisecond.
        return elapsed / self.config.delta_s if self.config.delta_s > 0 else elapsed * 1e3

    # ----------------------------------------------------------------- connections

    def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._spawn(self._client(reader, writer))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: _Conn | None = None
        try:
            first = await self._read_hello(reader)
            if first is None:
                return
            hello = self._check_hello(first)
            if hello is None:
                return
            node, seq = hello
            await self._persist_hello()
            if self.hello_seqs.get(node) != seq:
                self.drops["hello-replay"] += 1  # a newer hello overtook it meanwhile
                return
            conn = self._register(node, writer)
            decoder = FrameDecoder(MAX_FRAME)
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    error = decoder.eof()
                    if error is not None:
                        self.drops[f"framing-{error.kind.value}"] += 1
                    return
                # Every frame of one read is handled without yielding to the loop: the
                # proxy never stops reading a node (see "Memory bounds").
                for item in decoder.feed(data):
                    if not self._on_frame(node, item):
                        return
        except (ConnectionError, OSError) as exc:
            log.info("proxy: connection error: %s", exc)
        finally:
            if conn is not None:
                self._unregister(conn)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _read_hello(self, reader: asyncio.StreamReader) -> bytes | None:
        """The first frame of a connection, read under the pre-authentication limits (see
        "Memory bounds"); None, counted, if there is none to check."""
        task = asyncio.current_task()
        assert task is not None
        pending = self._pending_hellos
        pending[task] = None
        if len(pending) > self.config.max_pending_hellos:
            # Too many connections without a hello: close the one that has waited longest.
            oldest = next(iter(pending))
            del pending[oldest]
            self.drops["hello-evicted"] += 1
            oldest.cancel()
            if oldest is task:
                return None
        try:
            async with asyncio.timeout(self.config.hello_timeout_s):
                prefix = await reader.readexactly(LENGTH_PREFIX_SIZE)
                (length,) = LENGTH_PREFIX.unpack(prefix)
                if length > HELLO_MAX_FRAME:
                    # Decided on the prefix: nothing of the announced body is read.
                    self.drops["framing-oversized"] += 1
                    return None
                return await reader.readexactly(length)
        except TimeoutError:
            self.drops["hello-timeout"] += 1
        except asyncio.IncompleteReadError as exc:
            self.drops["framing-truncated" if exc.partial else "hello-missing"] += 1
        except asyncio.CancelledError:
            if task in pending:
                raise  # not an eviction: the proxy is stopping
            task.uncancel()
            return None  # evicted (and counted) by a newer connection
        finally:
            pending.pop(task, None)
        return None

    def _check_hello(self, item: bytes) -> tuple[int, int] | None:
        """(node, sequence number) of an authentic, fresh hello; None, counted, if not."""
        route = peek_route(item)
        if route is None or route[1] != self.n or route[0] not in self.outboxes:
            self.drops["hello-bad-route"] += 1
            return None
        frame = self.node_rx.open(item)
        if isinstance(frame, Reject):
            self.drops[f"hello-{frame.value}"] += 1
            return None
        items = unpack_batch(frame.payload)
        if (
            isinstance(items, FrameError)
            or not items
            or not isinstance(items[0], dict)
            or items[0].get("t") != HELLO
            or items[0].get("node") != frame.sender
        ):
            self.drops["hello-malformed"] += 1
            return None
        hello = items[0]
        node, seq = frame.sender, frame.seq
        if seq <= max(self.hello_seqs.get(node, 0), self._side_top.get(node, 0)):
            # Authentic but not fresh: a recorded hello played again, maybe to a restarted
            # proxy whose anti-replay window is empty (see "Restarts").
            self.drops["hello-replay"] += 1
            return None
        self.hello_seqs[node] = seq
        self._side_top[node] = seq
        if hello.get("snapshot") is not None:
            snap = clean_snapshot(hello["snapshot"])
            if snap is None:
                self.drops["hello-bad-snapshot"] += 1  # the hello stands; the snapshot not
            else:
                self._set_snapshot(frame.sender, frame.seq, snap)
        return node, seq

    async def _persist_hello(self) -> None:
        """Write the statistics, with the hellos' high-water marks, before a hello takes
        effect: a restarted proxy then refuses every hello this one accepted."""
        data = compact_json(self.stats())
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._stats_writer, atomic_write_bytes, Path(self.config.stats_file), data
            )
        except OSError as exc:  # availability first: the hello stands, the record did not
            log.error("proxy: cannot record a hello in %s: %s", self.config.stats_file, exc)
            self.drops["hello-unrecorded"] += 1

    def _register(self, node: int, writer: asyncio.StreamWriter) -> _Conn:
        old = self.conns.pop(node, None)
        if old is not None:
            self._close_conn(old)
        conn = _Conn(
            node, writer, LinkSender(sender=self.n, receiver=node, key=self._control_keys[node])
        )
        self.conns[node] = conn
        self.ever_connected.add(node)
        self._arm_start_grace()
        self._conn_change.set()
        self.counts["connections"] += 1
        log.info("proxy: node %d connected (%d/%d)", node, len(self.conns), len(self.honest_ids))
        conn.writer_task = self._tg.create_task(self._writer_loop(conn))
        self._tasks.add(conn.writer_task)
        conn.writer_task.add_done_callback(self._tasks.discard)
        if self.done:
            self._send_control(conn, DONE)
        elif self.started:
            self._send_control(conn, START)
        else:
            self._maybe_start()
        self._check_done()
        return conn

    def _close_conn(self, conn: _Conn) -> None:
        if conn.writer_task is not None:
            conn.writer_task.cancel()
        conn.writer.close()

    def _unregister(self, conn: _Conn) -> None:
        if self.conns.get(conn.node) is conn:
            del self.conns[conn.node]
            log.info("proxy: node %d disconnected", conn.node)
        self._close_conn(conn)
        if self.done and not self.conns and self.config.exit_when_done:
            self.stop("done")

    def _send_control(self, conn: _Conn, kind: str) -> None:
        body = conn.control.seal(pack_batch([{"t": kind}]))
        conn.writer.write(encode_frame(body))

    async def _writer_loop(self, conn: _Conn) -> None:
        box = self.outboxes[conn.node]
        writer = conn.writer
        try:
            # Frames written to this node's previous connection may have died with it.
            if box.recent:
                writer.writelines(list(box.recent))
                self.counts["redelivered"] += len(box.recent)
                await writer.drain()
            while True:
                while not box.frames:
                    box.ready.clear()
                    await box.ready.wait()
                frames = box.frames
                chunk: list[bytes] = []
                size = 0
                while frames and size < _WRITE_CHUNK:
                    frame = frames.popleft()
                    chunk.append(frame)
                    size += len(frame)
                self._remember(box, chunk)
                self._release(box, size)
                if writer.is_closing():
                    break
                writer.writelines(chunk)
                await writer.drain()
        except (ConnectionError, OSError, RuntimeError):
            # uvloop raises RuntimeError ("handler is closed") for a write to a connection
            # the peer already reset; a dead node must never take the proxy down with it.
            pass
        finally:
            writer.close()

    # ----------------------------------------------------------------- inbound frames

    def _on_frame(self, node: int, item: bytes | FrameError) -> bool:
        """Handle one frame from ``node``; False to close the connection."""
        if isinstance(item, FrameError):
            self.drops[f"framing-{item.kind.value}"] += 1
            return not item.fatal
        counts = self.counts
        counts["frames_in"] += 1
        if len(item) < OVERHEAD:
            self.drops["truncated"] += 1
            return True
        _, src, dst, _ = FRAME_HEADER.unpack_from(item)
        if src != node:
            # A node speaks only for itself on its connection (the MAC would fail anyway).
            self.drops["wrong-sender"] += 1
            return True
        if dst == self.n:
            self._on_side_channel(item)
            return True
        if not 0 <= dst < self.n or dst == src:
            self.drops["bad-destination"] += 1
            return True
        self._relay(src, dst, item)
        return True

    def _on_side_channel(self, body: bytes) -> None:
        frame = self.node_rx.open(body)
        if isinstance(frame, Reject):
            self.drops[f"side-{frame.value}"] += 1
            return
        if frame.seq > self._side_top.get(frame.sender, 0):
            self._side_top[frame.sender] = frame.seq
        items = unpack_batch(frame.payload)
        if isinstance(items, FrameError):
            self.drops["side-batch"] += 1
            return
        for item in items:
            if isinstance(item, dict) and item.get("t") == SNAPSHOT:
                snap = clean_snapshot(item.get("s"))
                if snap is None:
                    self.drops["side-bad-snapshot"] += 1
                else:
                    self._set_snapshot(frame.sender, frame.seq, snap)
                continue
            self.drops["side-unknown"] += 1
        self._check_done()

    def _halted(self, node: int) -> bool:
        return bool((self.snapshots.get(node) or {}).get("halted"))

    def _set_snapshot(self, node: int, seq: int, snap: dict[str, Any]) -> None:
        # Re-sent old frames may arrive after newer ones: keep the newest by sequence number.
        if seq >= self._snapshot_seq.get(node, -1):
            self._snapshot_seq[node] = seq
            self.snapshots[node] = snap

    def _decode_payload(
        self, src: int, payload: bytes | memoryview, *, observe: bool = True
    ) -> list[Message]:
        """Every valid message of a payload (fed to the full-information view)."""
        batch = unpack_batch(payload)
        if isinstance(batch, FrameError):
            self.counts["undecodable_frames"] += 1
            return []
        out = []
        decode = self._decoder.decode
        view = self.view.observe if observe else None
        now = self._vnow()
        for obj in batch:
            msg = decode(obj)
            if isinstance(msg, DecodeError):
                self.counts["undecodable_messages"] += 1
                continue
            if view is not None:
                view(src, msg, now)
            out.append(msg)
        return out

    def _census(self, payload: memoryview) -> int:
        """Count a payload's messages by kind without decoding them (nobody inspects them).

        The same statistics as decoding honest frames gives, about a tenth of the cost: the
        msgpack batch is unpacked (C) and each message is counted by the kind it announces,
        INITIALs by (origin, seq) for ``rbc_instances``, and bytes by the simulator's
        size estimate, like ``_count``; the other fields are not validated (receivers do
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
        kinds = self._kind_counts
        sizes = self._kind_bytes
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

    def _relay(self, src: int, dst: int, body: bytes) -> None:
        payload = memoryview(body)[HEADER_SIZE : len(body) - MAC_SIZE]
        if self.inspect:
            msgs: list[Message] | None = self._decode_payload(src, payload)
            assert msgs is not None
            count = len(msgs)
        else:
            msgs = None
            count = self._census(payload)
        frame = encode_frame(body)
        frames = [frame]
        if (
            self.config.tamper == "flip-byte"
            and self.started
            and dst in self.outboxes
            and not self._tampered_this_run
            and self.counts["tampered"] == 0
        ):
            copy = bytearray(frame)
            copy[4 + HEADER_SIZE] ^= 0xFF  # first payload byte: the MAC no longer matches
            frames.insert(0, bytes(copy))  # the tampered copy first, then the original
            self._tampered_this_run = True
            self.counts["tampered"] += 1
            log.info("proxy: tampered with a copy of a frame %d -> %d", src, dst)
        self._schedule(src, dst, frames, msgs, count)

    # ----------------------------------------------------------------- scheduling

    def _schedule(
        self, src: int, dst: int, frames: list[bytes], msgs: list[Message] | None, count: int
    ) -> None:
        """Hold a delivery for the scheduler's delay. ``msgs`` None: the frames were not
        decoded (the scheduler does not inspect messages), so the delay is drawn once for
        the frame; otherwise it is the largest of the delays of its messages."""
        scheduler = self.scheduler
        elapsed = self._elapsed()
        now = self._virtual(elapsed)
        if not count:
            virtual = scheduler.delta
        elif msgs is None:
            virtual = scheduler.delay(src, dst, _UNINSPECTED, now)
        else:
            delay = scheduler.delay
            virtual = max(delay(src, dst, m, now) for m in msgs)
        virtual = min(max(virtual, 0.0), 1.0)  # the model's bound, whatever a scheduler says
        counts = self.counts
        box = self.outboxes.get(dst)
        held = len(frames[0]) if len(frames) == 1 else sum(len(f) for f in frames)
        if box is not None and box.held + held > self.config.max_queue_bytes:
            self._over_cap(dst, box, held)
            return
        counts["messages"] += count
        self.timeline.add(elapsed, count)
        if frames:
            counts["bytes"] += len(frames[-1])
        counts["frames_relayed"] += 1
        if msgs is not None:
            self._count(msgs)
        if box is not None and dst not in self.conns and self._halted(dst):
            counts["dropped_for_halted"] += 1
            return
        if box is not None:
            box.held += held
            if box.held > self.queue_peak.get(dst, 0):
                self.queue_peak[dst] = box.held
        pending = _Pending(src, dst, frames, msgs, count, held)
        queue = self._directions.get((src, dst))
        if queue is None:
            queue = self._directions[(src, dst)] = deque()
        while queue and queue[0].delivered:
            queue.popleft()
        seconds = virtual * self.config.delta_s
        if seconds <= 0 and not queue and box is not None:
            # Due now, nothing of this direction in flight: straight into the outbox, no
            # timer (the order is the same as with call_soon; a corrupted destination still
            # goes through the loop, so its strategy never runs inside this call).
            self._deliver(pending)
            return
        while len(queue) >= self.config.max_reorder:
            oldest = queue.popleft()
            if not oldest.delivered:
                # Its timer may serve other deliveries too: it skips this one when it fires.
                counts["forced_in_order"] += 1
                self._deliver_now(oldest)
            while queue and queue[0].delivered:
                queue.popleft()
        loop = asyncio.get_running_loop()
        now_s = loop.time()
        group = self._group
        if group is not None and group.seconds == seconds and group.scheduled_at == now_s:
            # Same delay, scheduled in the same turn of the loop (uvloop's clock only moves
            # between turns): one more delivery for the same timer, in order.
            group.pendings.append(pending)
        else:
            group = self._group = _Group(seconds, now_s, [pending])
            if seconds <= 0:
                group.handle = loop.call_soon(self._deliver_group, group)  # keeps FIFO order
            else:
                group.handle = loop.call_later(seconds, self._deliver_group, group)
        pending.handle = group.handle
        queue.append(pending)

    def _over_cap(self, dst: int, box: _Outbox, size: int) -> None:
        """A frame for a node that has ``max_queue_bytes`` waiting already: dropped for that
        node alone and counted (see "Memory bounds"); nobody else waits for it."""
        if not self.overflowed[dst]:
            log.warning(
                "proxy: node %d is not reading (%d bytes waiting for it); frames "
                "over the cap are dropped for it: a crash fault",
                dst,
                box.held,
            )
        self.overflowed[dst] += 1
        self.counts["dropped_over_cap"] += 1
        self.counts["dropped_over_cap_bytes"] += size

    def _count(self, msgs: list[Message]) -> None:
        kinds = self._kind_counts
        sizes = self._kind_bytes
        for m in msgs:
            if isinstance(m, DecideMsg):
                kinds[3] += 1
                sizes[3] += wire_size(m)
                continue
            kinds[m.kind] += 1
            # Per kind, the simulator's size estimate (re-encoding every message to measure
            # it would double the proxy's work); the total above is exact frame bytes.
            sizes[m.kind] += wire_size(m)
            if m.kind == Kind.INITIAL:
                self.initials.add((m.origin, m.seq))

    def _deliver_group(self, group: _Group) -> None:
        if self._group is group:
            self._group = None
        for pending in group.pendings:
            self._deliver(pending)

    def _deliver(self, pending: _Pending) -> None:
        """Timer callback. An exception here is a bug (in a strategy, say): stop loudly,
        rather than leave it to the loop's handler and run on in a broken state."""
        try:
            self._deliver_now(pending)
        except Exception as exc:
            log.error("proxy: delivery %d -> %d failed", pending.src, pending.dst, exc_info=exc)
            self.errors.append(exc)
            self.stop("error")

    def _deliver_now(self, pending: _Pending) -> None:
        if pending.delivered:
            return
        pending.delivered = True
        self.counts["messages_delivered"] += pending.count
        box = self.outboxes.get(pending.dst)
        if box is not None:
            box.frames.extend(pending.frames)
            box.ready.set()
            return
        self._byz_receive(pending)

    def _release(self, box: _Outbox, size: int) -> None:
        box.held -= size

    def _remember(self, box: _Outbox, chunk: list[bytes]) -> None:
        """Keep the last frames written to a node (at most ``redeliver_frames`` and
        ``redeliver_bytes``) to write them again if its connection breaks."""
        recent = box.recent
        recent.extend(chunk)
        box.recent_bytes += sum(len(f) for f in chunk)
        limit_frames = self.config.redeliver_frames
        limit_bytes = self.config.redeliver_bytes
        while recent and (len(recent) > limit_frames or box.recent_bytes > limit_bytes):
            box.recent_bytes -= len(recent.popleft())

    # ----------------------------------------------------------------- start / done

    def _arm_start_grace(self) -> None:
        """(Re)start the grace period: called when listening and on every hello."""
        if self.started:
            return
        self._grace_over = False
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        self._grace_timer = asyncio.get_running_loop().call_later(
            self.config.start_grace_s, self._start_grace_expired
        )

    def _start_grace_expired(self) -> None:
        self._grace_timer = None
        self._grace_over = True
        self._maybe_start()

    def _never_connected(self) -> list[int]:
        if not self.started and not self.started_without:
            return []
        return [i for i in self.honest_ids if i not in self.ever_connected]

    def _maybe_start(self) -> None:
        if self.started or not self._inject_done:
            return
        missing = [i for i in self.honest_ids if i not in self.conns]
        if missing:
            # Everyone who can take part: connected honest nodes and our corrupted ones.
            quorum = self.n - self.params.f
            if not self._grace_over or len(self.conns) + len(self.actors) < quorum:
                return
            log.warning(
                "proxy: no hello from node(s) %s for %.1f s; starting without them (crash faults)",
                missing,
                self.config.start_grace_s,
            )
            self.started_without = missing
            self.counts["started_without"] += len(missing)
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        self.started = True
        self.cpu_at_start = round(cpu_seconds(), 4)
        self._t0 = asyncio.get_running_loop().time()
        if self.first_start_wall is None:
            self.first_start_wall = time.time()
        log.info(
            "proxy: %d of %d honest nodes connected; start", len(self.conns), len(self.honest_ids)
        )
        # In node order, as the simulator starts its nodes: under FIFO, simultaneous
        # broadcasts then tend to reach every receiver in the same order as in `byzlab sim`.
        for i in sorted(self.conns):
            self._send_control(self.conns[i], START)
        now = self._vnow()
        for actor in self.actors.values():
            self._byz_effects(actor, actor.strategy.start(now))
        spec = self.config.inject
        if spec is not None and spec.stall_frames:
            self._stall_flood(spec)

    def _check_done(self) -> None:
        if self.done or not self.started:
            return
        # Nodes that never connected are crash faults: nobody waits for them to halt.
        absent = self._never_connected()
        if all(
            (self.snapshots.get(i) or {}).get("halted") for i in self.honest_ids if i not in absent
        ):
            self.done = True
            log.info("proxy: every honest node halted; done")
            for conn in self.conns.values():
                self._send_control(conn, DONE)

    # ----------------------------------------------------------------- Byzantine nodes

    def _byz_receive(self, pending: _Pending) -> None:
        actor = self.actors[pending.dst]
        msgs = pending.msgs or []
        if pending.frames:
            # From an honest node: check the MAC like any receiver would (the adversary
            # holds this node's keys), then use what the frame really says.
            msgs = []
            for frame in pending.frames:
                opened = actor.receiver.open(frame[4:])
                if isinstance(opened, Reject):
                    self.drops[f"byzantine-{opened.value}"] += 1
                    continue
                msgs.extend(self._decode_payload(pending.src, opened.payload, observe=False))
        now = self._vnow()
        for msg in msgs:
            self._byz_effects(actor, actor.strategy.receive(pending.src, msg, now))

    def _byz_effects(self, actor: _Actor, effects: list[Effect]) -> None:
        b = actor.node
        out: dict[int, list[Message]] = {}
        local: deque[Message] = deque()
        observe = self.view.observe
        while True:
            now = self._vnow()
            for effect in effects:
                if isinstance(effect, Broadcast | Send):
                    observe(b, effect.msg, now)
                if isinstance(effect, Broadcast):
                    for d in range(self.n):
                        if d == b:
                            local.append(effect.msg)
                        else:
                            out.setdefault(d, []).append(effect.msg)
                elif isinstance(effect, Send):
                    if effect.dst == b:
                        local.append(effect.msg)
                    elif 0 <= effect.dst < self.n:
                        out.setdefault(effect.dst, []).append(effect.msg)
            if not local:
                break
            effects = actor.strategy.receive(b, local.popleft(), self._vnow())
        for d, msgs in out.items():
            if d in self.actors:
                self._schedule(b, d, [], msgs, len(msgs))
                continue
            for k in range(0, len(msgs), _BYZ_CHUNK):
                chunk = msgs[k : k + _BYZ_CHUNK]
                body = actor.senders[d].seal(pack_batch([encode(m) for m in chunk]))
                self._schedule(b, d, [encode_frame(body)], chunk, len(chunk))

    # ----------------------------------------------------------------- test-only injection

    async def _inject(self) -> None:
        spec = self.config.inject
        assert spec is not None
        if spec.target not in self.outboxes or spec.from_node not in self.actors:
            raise NodeConfigError("inject: target must be honest and from_node Byzantine")
        await self._inject_trigger.wait()
        while spec.target not in self.conns:
            self._conn_change.clear()
            await self._conn_change.wait()
        conn = self.conns[spec.target]
        writer = conn.writer
        rng = random.Random(f"inject:{self.config.seed}")
        counts: Counter[str] = Counter()
        log.info("proxy: injecting hostile frames into node %d", spec.target)

        async def put(data: bytes, kind: str) -> None:
            writer.write(data)
            counts[kind] += 1
            if counts.total() % 64 == 0:
                await writer.drain()

        for _ in range(spec.garbage_frames):
            await put(encode_frame(rng.randbytes(rng.randrange(0, 600))), "garbage")
        other = next(i for i in self.honest_ids if i != spec.target)
        for _ in range(spec.forged_frames):
            # A well-formed header claiming an honest sender, with a MAC we cannot compute.
            header = FRAME_HEADER.pack(VERSION, other, spec.target, rng.randrange(1, 1 << 40))
            body = header + rng.randbytes(rng.randrange(1, 200)) + rng.randbytes(MAC_SIZE)
            await put(encode_frame(body), "forged")
        payloads = _invalid_payloads(self.n, spec.from_node, other)
        sender = self.actors[spec.from_node].senders[spec.target]
        for k in range(spec.invalid_frames):
            await put(encode_frame(sender.seal(payloads[k % len(payloads)])), "invalid")
        flood = _flood_messages(self.n, spec.from_node, rng)
        left = spec.flood_messages
        while left > 0:
            batch: list[object] = [next(flood) for _ in range(min(left, spec.flood_batch))]
            left -= len(batch)
            await put(encode_frame(sender.seal(pack_batch(batch))), "flood-frames")
            counts["flood"] += len(batch)
        await writer.drain()
        if spec.oversized:
            # The length prefix alone is over the limit: the node must close the stream.
            writer.write(LENGTH_PREFIX.pack(MAX_FRAME + 1) + bytes(4096))
            counts["oversized"] += 1
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
        self.injected = dict(counts)
        self._inject_trigger.clear()
        atomic_write_json(Path(spec.done_file), dict(counts))
        log.info("proxy: injection done: %s", dict(counts))
        if spec.hold_start:
            # Lets a test measure the target after the flood and before the run.
            await self._inject_trigger.wait()
        self._inject_done = True
        self._maybe_start()

    def _stall_flood(self, spec: InjectSpec) -> None:
        """Test-only: ``stall_frames`` frames of about 1 MiB from a corrupted node to
        ``target``, scheduled like any relayed frame (the receiver drops them: one item
        that is not a message)."""
        sender = self.actors[spec.from_node].senders[spec.target]
        payload = pack_batch([bytes(MAX_FRAME - OVERHEAD - 16)])
        for _ in range(spec.stall_frames):
            self._schedule(spec.from_node, spec.target, [encode_frame(sender.seal(payload))], [], 0)
        self.injected = {**self.injected, "stall_frames": spec.stall_frames}
        log.info(
            "proxy: %d frames of %d bytes for node %d",
            spec.stall_frames,
            len(payload) + OVERHEAD,
            spec.target,
        )


def _invalid_payloads(n: int, byz: int, other: int) -> list[bytes]:
    """Payloads with a valid Byzantine MAC whose contents every honest node must reject."""
    bad_items: list[object] = [
        ["x"],
        [9],
        [],
        {"a": 1},
        [3, 5],
        [3],
        [0, n + 5, 1, 0, 1, 1, 1, 0, None],  # origin out of range
        [0, byz, 0, 0, 1, 1, 1, 0, None],  # seq 0
        [0, byz, 1, 7, 1, 1, 1, 0, None],  # unknown item tag
        [0, byz, 1, 0, 1, 9, 1, 0, None],  # vote step 9
        [0, byz, 1, 0, 1, 1, 5, 0, None],  # value 5
        [0, byz, 1, 0, 1, 1, 1, 1 << (n + 1), None],  # support beyond n bits
        [0, byz, 1, 0, 1, 1, 1, 0, [1] * (n + 1)],  # view of the wrong length
        [0, byz, 1, 0, 1, 1, 1, 0, "view"],
        [1.5, byz, 1, 0, 1, 1, 1, 0, None],
    ]
    return [
        b"\xc1",  # a reserved msgpack type byte
        msgpack.packb({"not": "a batch"}),
        b"\xdd\xff\xff\xff\xff",  # an array header announcing 4 billion messages
        b"\x91" * 3000 + b"\x90",  # nesting deeper than msgpack allows
        pack_batch(bad_items * 40),  # 600 invalid messages in one frame
        # Well-formed messages the protocol must ignore:
        pack_batch([encode(RbcMsg(int(Kind.INITIAL), other, 1, Vote(1, 1, 1)))]),  # not origin
        pack_batch([encode(RbcMsg(int(Kind.ECHO), byz, 1 << 30, Vote(1, 1, 1)))]),  # far ahead
        pack_batch([encode(DecideMsg(1)), encode(DecideMsg(-1))]),  # a duplicate DECIDE
    ]


def _flood_messages(n: int, byz: int, rng: random.Random) -> Iterator[list[object]]:
    """Endless well-formed messages a Byzantine peer may send, aimed at an honest node's memory.

    Every one passes the wire decoder; what keeps the node bounded is node/: RBC instances
    are opened for every origin up to the window with a different value each time, others
    far beyond it, the peer's own stream claims far-future iterations and boards (items that
    wait for a validation that never comes), and DECIDEs repeat.
    """
    own_seq = 0
    while True:
        roll = rng.random()
        kind = rng.choice((int(Kind.ECHO), int(Kind.READY)))
        support = rng.getrandbits(n)
        if roll < 0.4:  # open instances of every origin, inside the window
            item = Vote(rng.randrange(1, 50), rng.randrange(1, 4), rng.choice((-1, 1)), support)
            yield encode(RbcMsg(kind, rng.randrange(n), rng.randrange(1, 5000), item))
        elif roll < 0.6:  # far beyond the window
            yield encode(
                RbcMsg(
                    kind, rng.randrange(n), rng.randrange(1 << 20, 1 << 39), Vote(1, 1, 1, support)
                )
            )
        elif roll < 0.8:  # its own stream, iterations far ahead
            own_seq += 1
            yield encode(
                RbcMsg(
                    int(Kind.INITIAL),
                    byz,
                    own_seq,
                    Vote(rng.randrange(1000, 1 << 20), 1, 1, support),
                )
            )
        elif roll < 0.9:
            yield encode(
                RbcMsg(
                    kind,
                    byz,
                    rng.randrange(1, 5000),
                    Write(
                        rng.randrange(1000, 1 << 20),
                        rng.randrange(1, 9),
                        1,
                        support,
                        tuple(rng.randrange(1 << 30) for _ in range(n)),
                    ),
                )
            )
        else:
            yield encode(DecideMsg(rng.choice((-1, 1))))


def main(argv: Sequence[str] | None = None) -> int:
    """``byzlab proxy --config proxy.json`` (also ``python -m byzlab.adversary.proxy``)."""
    parser = argparse.ArgumentParser(
        prog="byzlab proxy",
        description="Run the adversary proxy: relay, schedule, and run the Byzantine nodes.",
    )
    parser.add_argument("--config", required=True, type=Path, help="proxy.json")
    args = parser.parse_args(argv)
    return run_proxy(args.config)


def run_proxy(config_path: Path) -> int:
    setup_logging("proxy")
    try:
        config = load_config(config_path, ProxyConfig)
        proxy = Proxy(config)
    except ValueError as exc:  # NodeConfigError, KeyFileError and ParamsError included
        print(f"byzlab proxy: {exc}", file=sys.stderr)
        return 2
    return run_with_loop(proxy.run, name="proxy")


if __name__ == "__main__":
    sys.exit(main())
