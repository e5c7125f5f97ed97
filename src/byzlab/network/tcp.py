"""One honest node as an OS process: the protocol core over TCP, through the adversary proxy.

Theory of operation
-------------------
Topology: a star. Every node holds exactly one TCP connection, to the adversary proxy
(``adversary/proxy.py``), and every frame between two nodes travels through it. That is the
asynchronous model made literal: the adversary sees every message and chooses when each one
is delivered, and nothing else in the system can deliver a message. A full mesh would need
the adversary to interpose on n(n-1) connections to get the same power; the star gives it
with n connections, one place to measure traffic, and no port per node.

What the proxy cannot do is forge or alter honest traffic. For each destination d != me a
node seals its frames with the per-direction link key K(me->d) (``auth.py``): the proxy
holds no honest link key, so a frame it invents or modifies fails the MAC at d. The proxy
*can* read every payload (MAC, not encryption: HPZ's adversary is full-information). Frames
addressed to the proxy's own id ``n`` carry the side channel: a hello when connecting and
``HonestNode.snapshot()`` dicts (periodically and whenever the phase, iteration, decision
or halted flag changes), MAC'd with K(me->n) so the proxy knows which node said what. The
proxy's own frames to a node (``start``, ``done``) are MAC'd with K(n->me).

Messages to self never touch the network: a ``Broadcast`` is sent to the n - 1 others and
handed back to the local state machine at once, as in the simulator.

Layers on the way in, each of which drops and counts what it cannot use, so that only
authentic, well-formed messages reach ``HonestNode.receive``::

    bytes --FrameDecoder--> frame bodies --LinkReceiver.open--> authentic payloads
          --unpack_batch--> msgpack lists --messages.Decoder--> Message --HonestNode

Every frame is MAC-checked and every message validated field by field; ``Decoder`` only
remembers the results for fields it has already validated (the n ECHOs and READYs of an RBC
instance are identical), so equal messages are built once and shared, as in the simulator.

A fatal framing error (a length prefix above the 1 MiB limit) leaves the stream without
frame boundaries: the node closes the connection and reconnects; everything else is dropped
frame by frame. Drops and invalid messages are counted per reason in the node's result and
logged to its trace (the first ``TRACE_CAP`` of each kind, so a flood cannot grow the trace
without bound).

Tasks, all in one ``asyncio.TaskGroup`` (an exception in any of them cancels the rest, is
logged with its traceback, and the process exits 1; nothing dies silently):

* ``connection``: connects to the proxy with capped exponential backoff and jitter, sends
  the hello, re-sends the resend buffer, then reads frames into the bounded ``inbox`` (the
  frames of one read go in together: one wake-up of the protocol task per read, not per
  frame). Frames from the proxy (control) are handled here. On EOF or error it reconnects,
  so the node survives the proxy restarting: at once if the session was established (an
  authenticated frame from the proxy arrived on it), else after the next backoff step. The
  backoff is reset only by an established session, never by a TCP connect alone, so an
  endpoint that accepts and closes gets a connection attempt per backoff step (about a
  dozen in 4 s), not a hot loop (10,000 attempts in 4 s before).
* ``protocol``: takes frames from the inbox, verifies and decodes them, runs the state
  machine, and queues its output in the ``Batcher`` (framing.py), which batches messages per
  destination per loop turn. A broadcast is encoded and packed once, and queued once for
  all its destinations (the batcher's broadcast log). The work of one frame never waits;
  if it filled a destination's queue, the task waits for space before the next frame.
* ``batcher``: seals one round of batches (a frame for each destination with pending
  messages), appends them to the resend buffer, and writes the whole round with one
  ``writelines`` (one system call) if connected.
* ``snapshots``: sends the state snapshot to the proxy every ``snapshot_interval_s``.
* ``lifecycle``: ends the run on the proxy's ``done`` (all honest nodes halted), on
  ``linger_s`` after halting, on ``timeout_s``, or on SIGTERM/SIGINT: flushes the batcher,
  cancels the other tasks, writes ``result.json`` and ``trace.jsonl`` atomically, exits 0.
  (``result.json`` is also written when the node halts, on the loop turn after the one that
  queued its last DECIDEs, so the disk never delays them.)

Surviving a proxy restart without losing messages. The asynchronous model allows delay,
never loss, and frames held inside a proxy that dies are lost. So every sealed frame also
goes into a per-destination *resend buffer* (the last ``resend_frames`` frames and at most
``resend_bytes`` in total), and after every reconnect the node re-sends the whole buffer in
sequence order. Receivers accept each sequence number once (the anti-replay window of
``auth.py``), so frames that had already arrived are dropped as ``replay`` and the ones
that had not are delivered. Frames sealed while disconnected wait in the same buffer; when a
destination's buffer is full and the node is disconnected, the batcher waits for the
connection instead of evicting an unsent frame, which pushes back on the protocol (the
batcher's queue is bounded too). ``resend_frames`` stays below the replay window, so a
re-sent frame is never too old to be accepted. Residual risk, stated: a frame is lost if the
proxy dies while still holding it after the node has sealed ``resend_frames`` newer frames
for the same destination; the proxy holds a frame for at most delta_s plus queueing.

The proxy's control direction uses a fresh ``LinkReceiver`` per connection: a restarted
proxy starts its sequence numbers again at 1, and replay protection on frames only the proxy
can produce would protect against nobody.

Deadlock freedom. The protocol task may block in ``Batcher.wait_for_space`` (destination
queue full), and the batcher in ``drain()`` (the proxy is slow to read). The proxy never
stops reading a node's connection (frames for a destination over its cap are dropped for
that destination, see ``adversary/proxy.py``), so the chain ends there. The connection
task never waits for the protocol task except to put frames in the inbox, and a broken
connection is detected by the writer as well, so a reconnect never waits on a blocked
protocol task.

CPU scheduling. With more processes than cores, the proxy (on the path of every hop) must
not lose its core to each node it wakes: nodes run under SCHED_BATCH where the OS offers it
(``batch_scheduling``; ``batch_scheduling: false`` in node.json turns it off), which keeps
their share of the CPU but stops them preempting on wake-up. The result records the policy.

Per-node randomness is ``derive_rng(seed, "node", i)`` and the ideal-coin seed is derived
from the run seed exactly as in the simulator, so every node starts in the same state and
draws the same random values as in ``byzlab sim``. A FIFO run with honest nodes therefore
reaches the simulator's decision whenever that decision does not hinge on the order of
*simultaneous* deliveries: the simulator breaks ties between messages due at the same
virtual time by send order, a global lockstep that real processes cannot reproduce. (With
split inputs and n = 4 the quorum a node waits for depends on exactly such ties; deferring
self-deliveries the way the simulator does was tried and only moved the outcome around.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import resource
import signal
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from byzlab.atomicio import atomic_write_bytes
from byzlab.network.auth import (
    HEADER_SIZE,
    OVERHEAD,
    REPLAY_WINDOW,
    LinkReceiver,
    LinkSender,
    Reject,
    link_keys_for,
)
from byzlab.network.framing import (
    MAX_FRAME,
    READ_CHUNK,
    Batcher,
    FrameDecoder,
    FrameError,
    encode_frame,
    pack_batch,
    unpack_batch,
)
from byzlab.network.keys import KeyFileError, load_private_key, load_roster
from byzlab.network.sim import derive_rng
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Decide, Effect, Event, Halt, Send
from byzlab.node.messages import DecodeError, Decoder, Message, encode
from byzlab.node.params import Params, ParamsError
from byzlab.orchestration.results import atomic_write_json

__all__ = [
    "DONE",
    "HELLO",
    "HELLO_MAX_FRAME",
    "SNAPSHOT",
    "START",
    "ConfigError",
    "NodeConfig",
    "NodeRuntime",
    "TraceWriter",
    "batch_scheduling",
    "clean_snapshot",
    "compact_json",
    "cpu_seconds",
    "ideal_seed_for",
    "load_config",
    "main",
    "max_rss_kib",
    "node_rng",
    "peak_rss_kib",
    "peek_route",
    "run_with_loop",
]

log = logging.getLogger("byzlab.node")

# Control vocabulary of the side channel (items of a msgpack batch, as dicts with key "t").
HELLO = "hello"  # node -> proxy, first frame on every connection
SNAPSHOT = "snap"  # node -> proxy, {"t": "snap", "s": HonestNode.snapshot()}
START = "start"  # proxy -> node: every honest node is connected, begin the protocol
DONE = "done"  # proxy -> node: every honest node has halted, the run is over
# The largest first frame (the hello) the proxy reads from a connection it has not
# authenticated yet. A hello is about 200 bytes; the largest snapshot ``clean_snapshot``
# accepts (64 keys, 64-character strings) packs to under 9 KiB.
HELLO_MAX_FRAME = 16 * 1024

PROFILE_ENV = "BYZLAB_PROFILE"  # a directory: profile this process with cProfile into it
TRACE_CAP = 200  # trace lines kept per event name; the rest are only counted
_HEADER = struct.Struct("!BIIQ")  # auth.py's frame header: version, sender, receiver, seq
_SENDER = struct.Struct("!I")  # the sender field alone, at offset 1
if _HEADER.size != HEADER_SIZE:  # pragma: no cover - guards against auth.py changing
    raise ImportError("network/tcp.py's header layout no longer matches network/auth.py")
_SNAPSHOT_MAX_KEYS = 64
_SNAPSHOT_MAX_STR = 64
_SNAPSHOT_INT_LIMIT = 1 << 63


def compact_json(obj: object) -> bytes:
    """JSON as ``atomic_write_json`` writes it, but compact: ``indent`` makes the json
    module fall back to its pure-Python encoder, ten times slower, which matters for files
    written while the run is going."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all threads), in seconds."""
    return time.process_time()


def peak_rss_kib(pid: int | str = "self") -> int | None:
    """The kernel's high-water mark of a process's resident set (``VmHWM``), in KiB;
    None where there is no /proc (or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None  # a zombie has no memory lines left


def max_rss_kib() -> int:
    """This process's peak resident set size so far, in KiB.

    ``VmHWM`` of this address space where Linux has it. Not ``getrusage``'s ``ru_maxrss``:
    Linux carries it across ``exec`` from the address space the process was forked with, so
    a node started by a 60 MiB orchestrator reports at least 60 MiB whatever it used itself.
    Elsewhere ``ru_maxrss`` is the best there is (bytes on macOS, hence the conversion).
    """
    own = peak_rss_kib()
    if own is not None:
        return own
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak // 1024 if sys.platform == "darwin" else peak


def peek_route(body: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """(sender, receiver) from a frame body's header, *unauthenticated*: routing only."""
    if len(body) < OVERHEAD:
        return None
    _, sender, receiver, _ = _HEADER.unpack_from(body)
    return sender, receiver


def ideal_seed_for(seed: int) -> bytes:
    """The shared ideal-coin seed of a run: the same derivation as ``Simulator``."""
    return hashlib.blake2b(f"ideal-coin:{seed}".encode(), digest_size=16).digest()


def node_rng(seed: int, i: int) -> random.Random:
    """Node i's private randomness: the same stream the simulator gives node i."""
    return derive_rng(seed, "node", i)


def clean_snapshot(obj: object) -> dict[str, Any] | None:
    """A snapshot dict with small primitive values, or None if ``obj`` is not one.

    Snapshots come from whoever holds a node's key and end up in JSON files (the proxy's
    statistics, ``proxy-stats.json``), so only what JSON can carry is let through: at most
    64 string keys of at most 64 characters, values None, bool, 64-bit integers, *finite*
    floats (NaN and Infinity are not JSON) and strings of at most 64 characters.
    """
    if not isinstance(obj, dict) or len(obj) > _SNAPSHOT_MAX_KEYS:
        return None
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if not isinstance(k, str) or len(k) > _SNAPSHOT_MAX_STR:
            return None
        if isinstance(v, str):
            if len(v) > _SNAPSHOT_MAX_STR:
                return None
        elif isinstance(v, float):
            if not math.isfinite(v):
                return None
        elif isinstance(v, int) and not isinstance(v, bool):
            if not -_SNAPSHOT_INT_LIMIT <= v < _SNAPSHOT_INT_LIMIT:
                return None
        elif v is not None and not isinstance(v, bool):
            return None
        out[k] = v
    return out


# --------------------------------------------------------------------------- config


_M = TypeVar("_M", bound=BaseModel)


class ConfigError(ValueError):
    """A node or proxy config file that cannot be used; the message names file and field."""


class NodeConfig(BaseModel):
    """node.json, written by the orchestrator (or by hand) for one honest node."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    node: int = Field(ge=0)
    params: dict[str, Any]
    protocol: str
    input: int
    seed: int = Field(ge=0)
    run_id: str = ""
    key_dir: str
    proxy_host: str = "127.0.0.1"
    proxy_port: int = Field(ge=1, le=65535)
    out_dir: str
    timeout_s: float = Field(default=120.0, gt=0)
    linger_s: float = Field(default=10.0, ge=0)
    snapshot_interval_s: float = Field(default=0.25, gt=0)
    backoff_initial_s: float = Field(default=0.02, gt=0)
    backoff_max_s: float = Field(default=1.0, gt=0)
    resend_frames: int = Field(default=1024, ge=1, le=REPLAY_WINDOW // 2)
    resend_bytes: int = Field(default=64 << 20, ge=2 * MAX_FRAME)
    inbox_frames: int = Field(default=256, ge=1)
    # Run under SCHED_BATCH where the OS has it (see ``batch_scheduling``).
    batch_scheduling: bool = True


def batch_scheduling() -> bool:
    """Put this process under Linux's SCHED_BATCH policy; True if it took effect.

    Why: on a machine with fewer cores than processes, every frame the proxy writes wakes a
    node, and a woken node of the normal policy may preempt the task on the core at once,
    which is usually the proxy itself, in the middle of relaying a read's worth of frames to
    everybody else. The proxy is on the path of every hop; nodes are not. SCHED_BATCH
    tasks get the same share of CPU but never preempt on wake-up, so the proxy finishes
    its turn and the node runs when a core frees up. Measured (honest n = 7, FIFO,
    delta_s = 0, two cores): about 16 % more messages per second and less CPU per message
    (fewer context switches). Unprivileged processes may choose it; elsewhere (macOS, a
    seccomp profile that forbids it) the node runs under the normal policy.
    """
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_BATCH"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        return False
    return True


def load_config(path: Path, model: type[_M]) -> _M:
    """Read a JSON config file into ``model``; every problem is a ``ConfigError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        from byzlab.orchestration.scenario import format_validation_error

        lines = "; ".join(format_validation_error(exc, model))
        raise ConfigError(f"{path}: {lines}") from None


# --------------------------------------------------------------------------- trace


class TraceWriter:
    """Per-node trace as JSON lines, written to a temporary file and renamed at ``close``.

    Lines go to disk as they happen (memory stays flat however long the run), and the
    final rename makes ``trace.jsonl`` appear complete or not at all. At most ``cap`` lines
    are kept per event name; suppressed ones are counted in a last ``trace-summary`` line.
    """

    def __init__(self, path: Path, *, cap: int = TRACE_CAP) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._fh: IO[str] | None = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115
        self.cap = cap
        self.counts: Counter[str] = Counter()

    def event(self, name: str, **data: Any) -> None:
        self.counts[name] += 1
        if self._fh is None or self.counts[name] > self.cap:
            return
        record = {"t": time.time(), "event": name, **data}
        self._fh.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        suppressed = {k: v - self.cap for k, v in self.counts.items() if v > self.cap}
        record = {
            "t": time.time(),
            "event": "trace-summary",
            "counts": dict(self.counts),
            "suppressed": suppressed,
        }
        fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(self._tmp, self.path)


# --------------------------------------------------------------------------- resend buffer


class ResendBuffer:
    """The last sealed frames per destination, oldest first, bounded by count and bytes."""

    def __init__(self, destinations: Sequence[int], *, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        # One maximal frame must always fit, or a large batch could never be buffered.
        self.max_bytes = max(max_bytes // max(1, len(destinations)), MAX_FRAME + 4)
        self._frames: dict[int, deque[bytes]] = {d: deque() for d in destinations}
        self._bytes: dict[int, int] = dict.fromkeys(destinations, 0)

    def full(self, dest: int) -> bool:
        return (
            len(self._frames[dest]) >= self.max_frames
            or self._bytes[dest] + MAX_FRAME + 4 > self.max_bytes
        )

    def append(self, dest: int, frame: bytes) -> None:
        frames = self._frames[dest]
        frames.append(frame)
        self._bytes[dest] += len(frame)
        while len(frames) > self.max_frames or self._bytes[dest] > self.max_bytes:
            self._bytes[dest] -= len(frames.popleft())

    def frames(self) -> Iterator[bytes]:
        for frames in self._frames.values():
            yield from frames

    def __len__(self) -> int:
        return sum(len(f) for f in self._frames.values())


class _Inbox:
    """Frames from peers waiting for the protocol task, one list per socket read, and
    ``START``. Bounded by frames: ``put`` waits while ``max_frames`` or more are queued (so
    one read's worth may cross the bound, like the last message a Batcher lets in)."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self._items: deque[list[bytes] | str] = deque()
        self._frames = 0
        self._nonempty = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def __len__(self) -> int:
        return self._frames

    async def put(self, item: list[bytes] | str) -> None:
        while self._frames >= self.max_frames:
            self._space.clear()
            await self._space.wait()
        self._items.append(item)
        if not isinstance(item, str):
            self._frames += len(item)
        self._nonempty.set()

    async def get(self) -> list[bytes] | str:
        while not self._items:
            self._nonempty.clear()
            await self._nonempty.wait()
        item = self._items.popleft()
        if not isinstance(item, str):
            self._frames -= len(item)
            if self._frames < self.max_frames:
                self._space.set()
        return item


# --------------------------------------------------------------------------- the runtime


class NodeRuntime:
    """Runs one ``HonestNode`` over one TCP connection to the proxy. See the module docs."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        try:
            params = Params(**config.params)
        except (ParamsError, TypeError) as exc:
            raise ConfigError(f"params: {exc}") from None
        n = params.n
        me = config.node
        if not 0 <= me < n:
            raise ConfigError(f"node: {me} is out of range 0..{n - 1}")
        if config.input not in (-1, 1):
            raise ConfigError(f"input: must be -1 or 1, got {config.input}")
        self.params = params
        self.n = n
        self.me = me
        self.proxy_id = n
        key_dir = Path(config.key_dir)
        roster = load_roster(key_dir, expected_n=n + 1)  # n nodes plus the proxy
        private = load_private_key(key_dir, me, roster=roster)
        keys = link_keys_for(me, private, roster)
        self.peers = [d for d in range(n) if d != me]
        self.senders = {
            d: LinkSender(sender=me, receiver=d, key=keys[d].send_key)
            for d in [*self.peers, self.proxy_id]
        }
        self.link = LinkReceiver(receiver=me, keys={s: keys[s].recv_key for s in self.peers})
        self._proxy_recv_key = keys[self.proxy_id].recv_key
        self.node = HonestNode(
            me,
            params,
            protocol=config.protocol,
            input_value=config.input,
            rng=node_rng(config.seed, me),
            ideal_seed=ideal_seed_for(config.seed),
        )
        self.out_dir = Path(config.out_dir)
        self.trace = TraceWriter(self.out_dir / "trace.jsonl")
        self.resend = ResendBuffer(
            [*self.peers, self.proxy_id],
            max_frames=config.resend_frames,
            max_bytes=config.resend_bytes,
        )
        self.batcher = Batcher(flush_round=self._flush_round, broadcast=self.peers)
        self.decoder = Decoder(n)
        self.counters: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self.decode_errors: Counter[str] = Counter()
        self.started = False
        self.start_wall: float | None = None
        self.cpu_at_start: float | None = None
        self._start_loop = 0.0
        self.decision_time: float | None = None
        self.halt_reason: str | None = None
        self._halted_at: float | None = None
        self.stop_reason: str | None = None
        self.errors: list[BaseException] = []
        self._jitter = random.Random()  # backoff jitter only; never touches protocol state
        self._last_snap_key: tuple[object, ...] | None = None
        self._result_written = False  # the write at halting
        self.scheduling = "normal"  # the OS scheduling policy run_node chose
        # Created inside run(): asyncio primitives bind to the running loop.
        self._inbox: _Inbox
        self._connected: asyncio.Event
        self._wake: asyncio.Event
        self._write_lock: asyncio.Lock
        self._writer: asyncio.StreamWriter | None = None
        self._session_up = False  # an authenticated frame from the proxy on this connection
        self._tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------- entry point

    async def run(self) -> int:
        """Run until done/timeout/signal; write the outputs; 0 on a clean stop, 1 on a bug."""
        loop = asyncio.get_running_loop()
        self._inbox = _Inbox(self.config.inbox_frames)
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._deadline = loop.time() + self.config.timeout_s
        # Durable before the first frame is sealed: a later process of this node for this
        # run must know that this one may have sent something (see rejoin_as_crashed).
        atomic_write_json(
            self.out_dir / INCARNATION_FILE,
            {"run_id": self.config.run_id, "pid": os.getpid(), "boot_time": time.time()},
        )
        self.trace.event(
            "boot",
            node=self.me,
            pid=os.getpid(),
            loop=type(loop).__module__,
            scheduling=self.scheduling,
        )
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.finish, f"signal-{sig.name}")
        try:
            async with asyncio.TaskGroup() as tg:
                self._tasks = [
                    tg.create_task(self.batcher.run(), name="batcher"),
                    tg.create_task(self._connection_loop(), name="connection"),
                    tg.create_task(self._protocol_loop(), name="protocol"),
                    tg.create_task(self._snapshot_loop(), name="snapshots"),
                ]
                tg.create_task(self._lifecycle(), name="lifecycle")
        except* Exception as group:
            for exc in group.exceptions:
                log.error("node %d: task failed", self.me, exc_info=exc)
                self.trace.event("error", error=f"{type(exc).__name__}: {exc}")
            self.errors.extend(group.exceptions)
            self.stop_reason = self.stop_reason or "error"
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
        self.write_outputs()
        return 1 if self.errors else 0

    def finish(self, reason: str) -> None:
        """Ask the node to stop (idempotent; the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._wake.set()

    async def _lifecycle(self) -> None:
        loop = asyncio.get_running_loop()
        while self.stop_reason is None:
            limit = self._deadline
            if self._halted_at is not None:
                limit = min(limit, self._halted_at + self.config.linger_s)
            remaining = limit - loop.time()
            if remaining <= 0:
                self.stop_reason = "linger-expired" if self._halted_at is not None else "timeout"
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
        self.trace.event("stop", reason=self.stop_reason)
        log.info("node %d: stopping (%s)", self.me, self.stop_reason)
        # Let the batcher write what is queued (the last DECIDE, the halted snapshot), but
        # do not hang on a dead proxy: its frames would be lost anyway.
        self.batcher.close()
        await asyncio.wait([self._tasks[0]], timeout=2.0)
        for task in self._tasks:
            task.cancel()

    # ----------------------------------------------------------------- connection

    async def _connection_loop(self) -> None:
        """Connect, serve, reconnect. The backoff (capped exponential with jitter) grows
        with every attempt that did not give a session: a refused connect, and a
        connection that ended before an authenticated frame from the proxy arrived on it
        (``_session_up``). It is reset only by an established session, so an endpoint that
        accepts and closes cannot make the node reconnect (and re-send its resend buffer)
        in a hot loop; after a session that was up the node reconnects at once."""
        cfg = self.config
        delay = cfg.backoff_initial_s
        attempts = 0
        while True:
            try:
                reader, writer = await asyncio.open_connection(cfg.proxy_host, cfg.proxy_port)
            except OSError as exc:
                attempts += 1
                if attempts == 1 or attempts % 25 == 0:
                    log.info(
                        "node %d: proxy %s:%d not reachable (%s); retrying",
                        self.me,
                        cfg.proxy_host,
                        cfg.proxy_port,
                        exc.strerror or exc,
                    )
                delay = await self._backoff(delay)
                continue
            self._session_up = False
            try:
                await self._serve(reader, writer)
            finally:
                self._connected.clear()
                if self._writer is writer:
                    self._writer = None
                writer.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await writer.wait_closed()
            self.counters["reconnects"] += 1
            self.trace.event("disconnected", session=self._session_up)
            if self._session_up:
                log.info("node %d: disconnected from the proxy; reconnecting", self.me)
                delay = cfg.backoff_initial_s
                attempts = 0
                continue
            attempts += 1
            self.counters["sessions_failed"] += 1
            if attempts == 1 or attempts % 25 == 0:
                log.info(
                    "node %d: the connection to %s:%d ended before a session was "
                    "established (%d in a row); backing off",
                    self.me,
                    cfg.proxy_host,
                    cfg.proxy_port,
                    attempts,
                )
            delay = await self._backoff(delay)

    async def _backoff(self, delay: float) -> float:
        """Sleep ``delay`` with jitter; the next delay. Jitter keeps n nodes from
        reconnecting in lockstep after a proxy restart."""
        await asyncio.sleep(delay * (0.5 + self._jitter.random()))
        return min(delay * 2, self.config.backoff_max_s)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        control = LinkReceiver(receiver=self.me, keys={self.proxy_id: self._proxy_recv_key})
        try:
            async with self._write_lock:
                hello = {
                    "t": HELLO,
                    "node": self.me,
                    "started": self.started,
                    "snapshot": self._snapshot(),
                }
                payload = pack_batch([hello])
                if len(payload) + OVERHEAD > HELLO_MAX_FRAME:
                    # The proxy refuses a longer first frame; the snapshot is optional.
                    payload = pack_batch([{**hello, "snapshot": None}])
                writer.write(encode_frame(self.senders[self.proxy_id].seal(payload)))
                resent = 0
                for frame in self.resend.frames():
                    writer.write(frame)
                    resent += 1
                    if resent % 64 == 0:
                        await writer.drain()
                await writer.drain()
                self.counters["resent_frames"] += resent
                self._writer = writer
                self._connected.set()
            self.trace.event("connected", resent=resent)
            decoder = FrameDecoder(MAX_FRAME)
            proxy_id = self.proxy_id
            inbox = self._inbox
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    error = decoder.eof()
                    if error is not None:
                        self._drop(f"framing-{error.kind.value}", detail=error.detail)
                    return
                # Peer frames go to the protocol task one read at a time (one wake-up per
                # read, not per frame); a control frame first passes on the frames before it.
                peer: list[bytes] = []
                for item in decoder.feed(data):
                    if isinstance(item, FrameError):
                        self._drop(f"framing-{item.kind.value}", detail=item.detail)
                        if item.fatal:
                            if peer:
                                await inbox.put(peer)
                            return
                        continue
                    if len(item) >= OVERHEAD and _SENDER.unpack_from(item, 1)[0] == proxy_id:
                        if peer:
                            await inbox.put(peer)
                            peer = []
                        await self._on_control(item, control)
                    else:
                        peer.append(item)
                if peer:
                    await inbox.put(peer)
        except (ConnectionError, OSError) as exc:
            log.info("node %d: connection error: %s", self.me, exc)

    async def _on_control(self, body: bytes, control: LinkReceiver) -> None:
        self.counters["frames_in"] += 1
        frame = control.open(body)
        if isinstance(frame, Reject):
            self._drop(f"control-{frame.value}")
            return
        self._session_up = True  # only the proxy can seal this: the session is real
        items = unpack_batch(frame.payload)
        if isinstance(items, FrameError):
            self._drop(f"control-batch-{items.kind.value}")
            return
        for item in items:
            kind = item.get("t") if isinstance(item, dict) else None
            if kind == START:
                await self._inbox.put(START)
            elif kind == DONE:
                self.trace.event("done")
                self.finish("done")
            else:
                self._drop("control-unknown")

    def _on_write_failure(self, writer: asyncio.StreamWriter, exc: BaseException) -> None:
        # The frame is in the resend buffer; closing the writer makes the reader see EOF,
        # and the connection task reconnects and re-sends.
        log.info("node %d: write failed (%s); will reconnect", self.me, exc)
        self._connected.clear()
        if self._writer is writer:
            self._writer = None
        writer.close()

    async def _flush_round(self, payloads: list[tuple[int, bytes]]) -> None:
        """Seal one round of batches (one per destination) and write them all at once
        (called by the Batcher, one round at a time)."""
        resend = self.resend
        while True:
            await self._write_lock.acquire()
            if self._connected.is_set() or not any(resend.full(d) for d, _ in payloads):
                break
            # Disconnected and a buffer is full: evicting now could lose an unsent frame.
            self._write_lock.release()
            await self._connected.wait()
        try:
            senders = self.senders
            frames: list[bytes] = []
            size = 0
            for dest, payload in payloads:
                frame = encode_frame(senders[dest].seal(payload))
                resend.append(dest, frame)
                frames.append(frame)
                size += len(frame)
            counters = self.counters
            counters["frames_out"] += len(frames)
            counters["bytes_out"] += size
            writer = self._writer
            if writer is None:
                return
            try:
                writer.writelines(frames)  # one system call for the whole round
                await writer.drain()
            except (ConnectionError, OSError) as exc:
                self._on_write_failure(writer, exc)
        finally:
            self._write_lock.release()

    # ----------------------------------------------------------------- protocol

    def _now(self) -> float:
        """Seconds since this node started the protocol (the state machine's clock)."""
        return asyncio.get_running_loop().time() - self._start_loop if self.started else 0.0

    async def _protocol_loop(self) -> None:
        batcher = self.batcher
        on_frame = self._on_peer_frame
        while True:
            item = await self._inbox.get()
            if isinstance(item, str):
                if item == START and not self.started:
                    await self._start()
                continue
            for body in item:
                if on_frame(body):
                    # A destination reached its bound: push back before the next frame.
                    await batcher.wait_for_space()

    async def _start(self) -> None:
        self.started = True
        self.cpu_at_start = round(cpu_seconds(), 4)
        self.start_wall = time.time()
        self._start_loop = asyncio.get_running_loop().time()
        self.trace.event("start", input=self.config.input)
        log.info("node %d: start", self.me)
        if self._apply(self.node.start(0.0), 0.0):
            await self.batcher.wait_for_space()
        self._maybe_snapshot()

    def _on_peer_frame(self, body: bytes) -> bool:
        """Verify, decode and run one frame from a peer; True if the batcher is full."""
        counters = self.counters
        counters["frames_in"] += 1
        counters["bytes_in"] += len(body)
        frame = self.link.open(body)
        if isinstance(frame, Reject):
            self._drop(f"link-{frame.value}", size=len(body))
            return False
        batch = unpack_batch(frame.payload)
        if isinstance(batch, FrameError):
            self._drop(f"batch-{batch.kind.value}", sender=frame.sender, detail=batch.detail)
            return False
        counters["frames_accepted"] += 1
        sender = frame.sender
        node = self.node
        receive = node.receive
        apply = self._apply
        decode = self.decoder.decode
        now = self._now()
        full = False
        invalid = 0
        for obj in batch:
            msg = decode(obj)
            if isinstance(msg, DecodeError):
                invalid += 1
                self.decode_errors[msg.reason] += 1
                self.trace.event("invalid-message", sender=sender, reason=msg.reason)
                continue
            if node.halted:
                continue
            effects = receive(sender, msg, now)
            if effects and apply(effects, now):
                full = True
        if invalid:
            counters["messages_invalid"] += invalid
        counters["messages_in"] += len(batch) - invalid
        self._maybe_snapshot()
        return full

    def _apply(self, effects: list[Effect], now: float) -> bool:
        """Perform effects: network sends via the batcher, self-deliveries locally.

        A broadcast is encoded and packed once and queued for every peer. Never waits:
        returns True if a destination reached the batcher's bound, and the caller then
        waits for space before it takes the next input.
        """
        local: deque[Message] = deque()
        node = self.node
        batcher = self.batcher
        npeers = len(self.peers)
        me = self.me
        full = False
        sent = 0
        try:
            while True:
                for effect in effects:
                    if isinstance(effect, Broadcast):
                        if batcher.put_broadcast(batcher.pack(encode(effect.msg))):
                            full = True
                        sent += npeers
                        local.append(effect.msg)
                    elif isinstance(effect, Send):
                        dst = effect.dst
                        if dst == me:
                            local.append(effect.msg)
                        elif 0 <= dst < self.n:
                            if batcher.put_packed((dst,), batcher.pack(encode(effect.msg))):
                                full = True
                            sent += 1
                    elif isinstance(effect, Decide):
                        self._on_decide(effect)
                    elif isinstance(effect, Halt):
                        self._on_halt(effect)
                    elif isinstance(effect, Event):
                        self.trace.event(f"node-{effect.name}", **effect.data)
                if not local or node.halted:
                    return full
                effects = node.receive(me, local.popleft(), now)
        finally:
            self.counters["messages_out"] += sent

    def _on_decide(self, effect: Decide) -> None:
        self.decision_time = time.time()
        self.trace.event(
            "decide", value=effect.value, iteration=effect.iteration, after_s=self._now()
        )
        log.info("node %d: decided %d in iteration %d", self.me, effect.value, effect.iteration)

    def _on_halt(self, effect: Halt) -> None:
        self.halt_reason = effect.reason
        self._halted_at = asyncio.get_running_loop().time()
        self.trace.event("halt", reason=effect.reason, after_s=self._now())
        log.info("node %d: halted (%s)", self.me, effect.reason)
        # The result exists from the moment of halting, even if the linger is cut short. It
        # is written (with an fsync) on the next turn of the loop, once the batcher has sent
        # the DECIDEs queued in this one: they must not wait for the disk, and a halted
        # node has nothing else to do.
        asyncio.get_running_loop().call_soon(self._write_result_at_halt)
        self._wake.set()

    def _write_result_at_halt(self) -> None:
        if not self._result_written:
            self._result_written = True
            # Compact JSON (the C encoder): the file is rewritten, indented, at the end.
            atomic_write_bytes(self.out_dir / "result.json", compact_json(self.result()))

    # ----------------------------------------------------------------- side channel

    def _snapshot(self) -> dict[str, Any]:
        snap = dict(self.node.snapshot())
        snap["started"] = self.started
        return snap

    def _send_snapshot(self) -> None:
        node = self.node
        self._last_snap_key = (node.phase, node.iteration, node.decision, node.halted)
        try:
            self.batcher.send_nowait(self.proxy_id, {"t": SNAPSHOT, "s": self._snapshot()})
        except asyncio.QueueFull:
            # Best effort: a later snapshot (or the next hello) carries the same state.
            self.counters["snapshots_skipped"] += 1

    def _maybe_snapshot(self) -> None:
        node = self.node
        if (node.phase, node.iteration, node.decision, node.halted) != self._last_snap_key:
            self._send_snapshot()

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.snapshot_interval_s)
            if self.started and not self.batcher.closed:
                self._send_snapshot()

    # ----------------------------------------------------------------- outputs

    def _drop(self, reason: str, **data: Any) -> None:
        self.counters["frames_dropped"] += 1
        self.drops[reason] += 1
        self.trace.event("drop", reason=reason, **data)

    def result(self) -> dict[str, Any]:
        node = self.node
        return {
            "node": self.me,
            "role": "honest",
            "run_id": self.config.run_id,
            "seed": self.config.seed,
            "input": self.config.input,
            "decision": node.decision,
            "decision_time": self.decision_time,
            "decided_iteration": node.decided_iteration if node.decision is not None else None,
            "iteration": node.iteration,
            "halted": node.halted,
            "halt_reason": self.halt_reason,
            "start_time": self.start_wall,
            "end_time": time.time(),
            "stop_reason": self.stop_reason,
            "counters": dict(self.counters),
            "drops": dict(self.drops),
            "link_rejected": {r.value: c for r, c in self.link.rejected.items()},
            "decode_errors": dict(self.decode_errors),
            "rejected": dict(node.rejected),
            "rbc_dropped": dict(node.rbc.dropped),
            "coin_outputs": {str(t): v for t, v in sorted(node.coin_outputs.items())},
            "snapshot": node.snapshot(),
            "errors": [f"{type(e).__name__}: {e}" for e in self.errors],
            "pid": os.getpid(),
            # CPU seconds of this process: in total, and before the protocol started
            # (imports, keys, connecting), so the protocol's own share is the difference.
            "cpu_s": round(cpu_seconds(), 4),
            "cpu_start_s": self.cpu_at_start,
            "max_rss_kib": max_rss_kib(),
            "scheduling": self.scheduling,
        }

    def write_result(self) -> None:
        atomic_write_json(self.out_dir / "result.json", self.result())

    def write_outputs(self) -> None:
        self._result_written = True  # a write at halting still pending must not follow
        self.write_result()
        self.trace.close()


# --------------------------------------------------------------------------- process entry


def run_with_loop(make: Callable[[], Coroutine[Any, Any, int]], *, name: str) -> int:
    """Run ``make()`` on uvloop when importable, else the stock loop; exit status.

    Anything that reaches the loop's exception handler (a callback that raised, a task that
    died unobserved) is logged and turns the exit status into 1: a lost exception is a bug.
    """
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        pass
    failures: list[str] = []

    def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        failures.append(str(context.get("message")))
        exc = context.get("exception")
        log.error(
            "%s: unhandled error in the event loop: %s",
            name,
            context.get("message"),
            exc_info=exc if isinstance(exc, BaseException) else None,
        )

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.get_loop().set_exception_handler(on_error)
        profile_dir = os.environ.get(PROFILE_ENV)
        if profile_dir:
            status = _run_profiled(runner, make, Path(profile_dir), name)
        else:
            status = runner.run(make())
    return 1 if failures and status == 0 else status


def _run_profiled(
    runner: asyncio.Runner,
    make: Callable[[], Coroutine[Any, Any, int]],
    profile_dir: Path,
    name: str,
) -> int:
    """``runner.run(make())`` under cProfile; the stats go to ``profile_dir`` on exit.

    Development aid (``BYZLAB_PROFILE=DIR byzlab run ...``):
    one ``<name>-<pid>.prof`` per process, readable with ``python -m pstats``.
    """
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return runner.run(make())
    finally:
        profiler.disable()
        profile_dir.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile_dir / f"{name.replace(' ', '-')}-{os.getpid()}.prof")


def setup_logging(prefix: str) -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {prefix} %(levelname)s %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``byzlab node --config node.json`` (also ``python -m byzlab.network.tcp``)."""
    parser = argparse.ArgumentParser(
        prog="byzlab node", description="Run one honest node over TCP through the adversary proxy."
    )
    parser.add_argument("--config", required=True, type=Path, help="node.json")
    args = parser.parse_args(argv)
    return run_node(args.config)


INCARNATION_FILE = "incarnation.json"


def previous_incarnation(config: NodeConfig) -> dict[str, Any] | None:
    """The marker an earlier process of this node left for this run, if any."""
    try:
        marker = json.loads((Path(config.out_dir) / INCARNATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(marker, dict) and marker.get("run_id") == config.run_id:
        return marker
    return None


def rejoin_as_crashed(config: NodeConfig, previous: dict[str, Any]) -> int:
    """A restarted node stays a crashed node: it sends nothing and says so in its result.

    Why not resume: what an honest node sends depends on the order in which it received
    its peers' messages (the n - f support of each step, the blackboard views it carries),
    and that order died with the process. Started again from its input, it would send other
    contents under the same RBC sequence numbers, which is equivocation by an honest node.
    Persisting every sent item before sending it would put a disk write on the hot path of
    every broadcast. The model already has the right name for a node that stopped: a crash
    fault, counted toward f. The earlier process's ``result.json``, if it wrote one (it
    halted before it died), is kept as it is.
    """
    out_dir = Path(config.out_dir)
    log.warning(
        "node %d: an earlier process (pid %s) of run %s started here; this restart "
        "rejoins as crashed and sends nothing",
        config.node,
        previous.get("pid"),
        config.run_id,
    )
    if not (out_dir / "result.json").exists():
        atomic_write_json(
            out_dir / "result.json",
            {
                "node": config.node,
                "role": "crashed",
                "run_id": config.run_id,
                "seed": config.seed,
                "input": config.input,
                "decision": None,
                "stop_reason": "restarted-after-crash",
                "previous_pid": previous.get("pid"),
                "pid": os.getpid(),
                "end_time": time.time(),
            },
        )
    return 0


def run_node(config_path: Path) -> int:
    try:
        config = load_config(config_path, NodeConfig)
        setup_logging(f"node {config.node}")
        previous = previous_incarnation(config)
        if previous is not None:
            return rejoin_as_crashed(config, previous)
        runtime = NodeRuntime(config)
    except (ConfigError, KeyFileError, ValueError) as exc:
        print(f"byzlab node: {exc}", file=sys.stderr)
        return 2
    runtime.scheduling = "batch" if config.batch_scheduling and batch_scheduling() else "normal"
    return run_with_loop(runtime.run, name=f"node {config.node}")


if __name__ == "__main__":
    sys.exit(main())
