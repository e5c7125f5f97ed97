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
          --unpack_batch--> msgpack lists --messages.decode--> Message --HonestNode

A fatal framing error (a length prefix above the 1 MiB limit) leaves the stream without
frame boundaries: the node closes the connection and reconnects; everything else is dropped
frame by frame. Drops and invalid messages are counted per reason in the node's result and
logged to its trace (the first ``TRACE_CAP`` of each kind, so a flood cannot grow the trace
without bound).

Tasks, all in one ``asyncio.TaskGroup`` (an exception in any of them cancels the rest, is
logged with its traceback, and the process exits 1; nothing dies silently):

* ``connection``: connects to the proxy with capped exponential backoff and jitter, sends
  the hello, re-sends the resend buffer, then reads frames into the bounded ``inbox``.
  Frames from the proxy (control) are handled here. On EOF or error it reconnects, so the
  node survives the proxy restarting.
* ``protocol``: takes frames from the inbox, verifies and decodes them, runs the state
  machine, and queues its output in the ``Batcher`` (framing.py), which batches messages per
  destination per loop turn.
* ``batcher``: seals one frame per destination batch, appends it to the resend buffer, and
  writes it if connected.
* ``snapshots``: sends the state snapshot to the proxy every ``snapshot_interval_s``.
* ``lifecycle``: ends the run on the proxy's ``done`` (all honest nodes halted), on
  ``linger_s`` after halting, on ``timeout_s``, or on SIGTERM/SIGINT: flushes the batcher,
  cancels the other tasks, writes ``result.json`` and ``trace.jsonl`` atomically, exits 0.

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

Deadlock freedom. The protocol task may block in ``Batcher.send`` (destination queue full),
and the batcher in ``drain()`` (the proxy is slow to read). The proxy never stops reading
a node's connection while it has memory below its hard cap, so the chain ends there. The
connection task never waits for the protocol task except to put a frame in the inbox, and a
broken connection is detected by the writer as well, so a reconnect never waits on a
blocked protocol task.

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
import os
import random
import signal
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    Batcher,
    FrameDecoder,
    FrameError,
    encode_frame,
    pack_batch,
    read_frames,
    unpack_batch,
)
from byzlab.network.keys import KeyFileError, load_private_key, load_roster
from byzlab.network.sim import derive_rng
from byzlab.node.agreement import HonestNode
from byzlab.node.effects import Broadcast, Decide, Effect, Event, Halt, Send
from byzlab.node.messages import DecodeError, Message, decode, encode
from byzlab.node.params import Params, ParamsError
from byzlab.orchestration.results import atomic_write_json

__all__ = [
    "DONE",
    "HELLO",
    "SNAPSHOT",
    "START",
    "ConfigError",
    "NodeConfig",
    "NodeRuntime",
    "TraceWriter",
    "clean_snapshot",
    "ideal_seed_for",
    "load_config",
    "main",
    "node_rng",
    "peek_route",
    "run_with_loop",
]

log = logging.getLogger("byzlab.node")

# Control vocabulary of the side channel (items of a msgpack batch, as dicts with key "t").
HELLO = "hello"  # node -> proxy, first frame on every connection
SNAPSHOT = "snap"  # node -> proxy, {"t": "snap", "s": HonestNode.snapshot()}
START = "start"  # proxy -> node: every honest node is connected, begin the protocol
DONE = "done"  # proxy -> node: every honest node has halted, the run is over

TRACE_CAP = 200  # trace lines kept per event name; the rest are only counted
_HEADER = struct.Struct("!BIIQ")  # auth.py's frame header: version, sender, receiver, seq
if _HEADER.size != HEADER_SIZE:  # pragma: no cover - guards against auth.py changing
    raise ImportError("network/tcp.py's header layout no longer matches network/auth.py")
_SNAPSHOT_MAX_KEYS = 64
_SNAPSHOT_MAX_STR = 64


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
    """A snapshot dict with small primitive values, or None if ``obj`` is not one."""
    if not isinstance(obj, dict) or len(obj) > _SNAPSHOT_MAX_KEYS:
        return None
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if not isinstance(k, str) or len(k) > _SNAPSHOT_MAX_STR:
            return None
        if isinstance(v, str) and len(v) > _SNAPSHOT_MAX_STR:
            return None
        if v is not None and not isinstance(v, bool | int | float | str):
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
        record = {"t": time.time(), "event": "trace-summary", "counts": dict(self.counts),
                  "suppressed": suppressed}
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
        return (len(self._frames[dest]) >= self.max_frames
                or self._bytes[dest] + MAX_FRAME + 4 > self.max_bytes)

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
        self.node = HonestNode(me, params, protocol=config.protocol, input_value=config.input,
                               rng=node_rng(config.seed, me),
                               ideal_seed=ideal_seed_for(config.seed))
        self.out_dir = Path(config.out_dir)
        self.trace = TraceWriter(self.out_dir / "trace.jsonl")
        self.resend = ResendBuffer([*self.peers, self.proxy_id],
                                   max_frames=config.resend_frames,
                                   max_bytes=config.resend_bytes)
        self.batcher = Batcher(self._flush)
        self.counters: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self.decode_errors: Counter[str] = Counter()
        self.started = False
        self.start_wall: float | None = None
        self._start_loop = 0.0
        self.decision_time: float | None = None
        self.halt_reason: str | None = None
        self._halted_at: float | None = None
        self.stop_reason: str | None = None
        self.errors: list[BaseException] = []
        self._jitter = random.Random()  # backoff jitter only; never touches protocol state
        self._last_snap_key: tuple[object, ...] | None = None
        # Created inside run(): asyncio primitives bind to the running loop.
        self._inbox: asyncio.Queue[bytes | str]
        self._connected: asyncio.Event
        self._wake: asyncio.Event
        self._write_lock: asyncio.Lock
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------- entry point

    async def run(self) -> int:
        """Run until done/timeout/signal; write the outputs; 0 on a clean stop, 1 on a bug."""
        loop = asyncio.get_running_loop()
        self._inbox = asyncio.Queue(maxsize=self.config.inbox_frames)
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._deadline = loop.time() + self.config.timeout_s
        self.trace.event("boot", node=self.me, pid=os.getpid(), loop=type(loop).__module__)
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
        cfg = self.config
        delay = cfg.backoff_initial_s
        attempts = 0
        while True:
            try:
                reader, writer = await asyncio.open_connection(cfg.proxy_host, cfg.proxy_port)
            except OSError as exc:
                attempts += 1
                if attempts == 1 or attempts % 25 == 0:
                    log.info("node %d: proxy %s:%d not reachable (%s); retrying", self.me,
                             cfg.proxy_host, cfg.proxy_port, exc.strerror or exc)
                # Jitter keeps n nodes from reconnecting in lockstep after a proxy restart.
                await asyncio.sleep(delay * (0.5 + self._jitter.random()))
                delay = min(delay * 2, cfg.backoff_max_s)
                continue
            delay = cfg.backoff_initial_s
            attempts = 0
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
            self.trace.event("disconnected")
            log.info("node %d: disconnected from the proxy; reconnecting", self.me)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        control = LinkReceiver(receiver=self.me, keys={self.proxy_id: self._proxy_recv_key})
        try:
            async with self._write_lock:
                hello = {"t": HELLO, "node": self.me, "started": self.started,
                         "snapshot": self._snapshot()}
                writer.write(encode_frame(self.senders[self.proxy_id].seal(pack_batch([hello]))))
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
            async for item in read_frames(reader, FrameDecoder(MAX_FRAME)):
                if isinstance(item, FrameError):
                    self._drop(f"framing-{item.kind.value}", detail=item.detail)
                    if item.fatal:
                        return
                    continue
                route = peek_route(item)
                if route is not None and route[0] == self.proxy_id:
                    await self._on_control(item, control)
                else:
                    await self._inbox.put(item)
        except (ConnectionError, OSError) as exc:
            log.info("node %d: connection error: %s", self.me, exc)

    async def _on_control(self, body: bytes, control: LinkReceiver) -> None:
        self.counters["frames_in"] += 1
        frame = control.open(body)
        if isinstance(frame, Reject):
            self._drop(f"control-{frame.value}")
            return
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

    async def _flush(self, dest: int, payload: bytes) -> None:
        """Seal and write one batch (called by the Batcher, one at a time)."""
        while True:
            await self._write_lock.acquire()
            if self._connected.is_set() or not self.resend.full(dest):
                break
            # Disconnected and the buffer is full: evicting now could lose an unsent frame.
            self._write_lock.release()
            await self._connected.wait()
        try:
            frame = encode_frame(self.senders[dest].seal(payload))
            self.resend.append(dest, frame)
            self.counters["frames_out"] += 1
            self.counters["bytes_out"] += len(frame)
            writer = self._writer
            if writer is None:
                return
            try:
                writer.write(frame)
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
        while True:
            item = await self._inbox.get()
            if isinstance(item, str):
                if item == START and not self.started:
                    await self._start()
                continue
            await self._on_peer_frame(item)

    async def _start(self) -> None:
        self.started = True
        self.start_wall = time.time()
        self._start_loop = asyncio.get_running_loop().time()
        self.trace.event("start", input=self.config.input)
        log.info("node %d: start", self.me)
        await self._apply(self.node.start(0.0))
        self._maybe_snapshot()

    async def _on_peer_frame(self, body: bytes) -> None:
        self.counters["frames_in"] += 1
        self.counters["bytes_in"] += len(body)
        frame = self.link.open(body)
        if isinstance(frame, Reject):
            self._drop(f"link-{frame.value}", size=len(body))
            return
        batch = unpack_batch(frame.payload)
        if isinstance(batch, FrameError):
            self._drop(f"batch-{batch.kind.value}", sender=frame.sender, detail=batch.detail)
            return
        self.counters["frames_accepted"] += 1
        sender = frame.sender
        node = self.node
        for obj in batch:
            msg = decode(obj, self.n)
            if isinstance(msg, DecodeError):
                self.counters["messages_invalid"] += 1
                self.decode_errors[msg.reason] += 1
                self.trace.event("invalid-message", sender=sender, reason=msg.reason)
                continue
            self.counters["messages_in"] += 1
            if node.halted:
                continue
            effects = node.receive(sender, msg, self._now())
            if effects:
                await self._apply(effects)
        self._maybe_snapshot()

    async def _apply(self, effects: list[Effect]) -> None:
        """Perform effects: network sends via the batcher, self-deliveries locally."""
        local: deque[Message] = deque()
        node = self.node
        while True:
            for effect in effects:
                if isinstance(effect, Broadcast):
                    wire = encode(effect.msg)
                    for d in self.peers:
                        await self.batcher.send(d, wire)
                    self.counters["messages_out"] += len(self.peers)
                    local.append(effect.msg)
                elif isinstance(effect, Send):
                    if effect.dst == self.me:
                        local.append(effect.msg)
                    elif 0 <= effect.dst < self.n:
                        await self.batcher.send(effect.dst, encode(effect.msg))
                        self.counters["messages_out"] += 1
                elif isinstance(effect, Decide):
                    self._on_decide(effect)
                elif isinstance(effect, Halt):
                    self._on_halt(effect)
                elif isinstance(effect, Event):
                    self.trace.event(f"node-{effect.name}", **effect.data)
            if not local or node.halted:
                return
            effects = node.receive(self.me, local.popleft(), self._now())

    def _on_decide(self, effect: Decide) -> None:
        self.decision_time = time.time()
        self.trace.event("decide", value=effect.value, iteration=effect.iteration,
                         after_s=self._now())
        log.info("node %d: decided %d in iteration %d", self.me, effect.value, effect.iteration)

    def _on_halt(self, effect: Halt) -> None:
        self.halt_reason = effect.reason
        self._halted_at = asyncio.get_running_loop().time()
        self.trace.event("halt", reason=effect.reason, after_s=self._now())
        log.info("node %d: halted (%s)", self.me, effect.reason)
        # The result exists from the moment of halting, even if the linger is cut short.
        self.write_result()
        self._wake.set()

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
        }

    def write_result(self) -> None:
        atomic_write_json(self.out_dir / "result.json", self.result())

    def write_outputs(self) -> None:
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
        log.error("%s: unhandled error in the event loop: %s", name, context.get("message"),
                  exc_info=exc if isinstance(exc, BaseException) else None)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.get_loop().set_exception_handler(on_error)
        status = runner.run(make())
    return 1 if failures and status == 0 else status


def setup_logging(prefix: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {prefix} %(levelname)s %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """``byzlab node --config node.json`` (also ``python -m byzlab.network.tcp``)."""
    parser = argparse.ArgumentParser(
        prog="byzlab node",
        description="Run one honest node over TCP through the adversary proxy.")
    parser.add_argument("--config", required=True, type=Path, help="node.json")
    args = parser.parse_args(argv)
    return run_node(args.config)


def run_node(config_path: Path) -> int:
    try:
        config = load_config(config_path, NodeConfig)
        setup_logging(f"node {config.node}")
        runtime = NodeRuntime(config)
    except (ConfigError, KeyFileError, ValueError) as exc:
        print(f"byzlab node: {exc}", file=sys.stderr)
        return 2
    return run_with_loop(runtime.run, name=f"node {config.node}")


if __name__ == "__main__":
    sys.exit(main())
