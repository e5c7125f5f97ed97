"""The node process's event loop around one honest node: protocol, side channel, outputs.

The node is its protocol's (``config.protocol`` names it, built in or a plugin, resolved in
this process; byzlab.node.protocol): the protocol object builds the node, encodes what it
sends and decodes what it receives. Layers on the way in, each of which drops and counts
what it cannot use, so that only authentic, well-formed messages reach the node::

    bytes --FrameDecoder--> frame bodies --LinkReceiver.open--> authentic payloads
          --unpack_batch--> msgpack lists --protocol's decoder--> message --node.receive

Every frame is MAC-checked and every message validated field by field by the protocol's
decoder (HPZ's, ``messages.Decoder``, only remembers the results for fields it has already
validated: the n ECHOs and READYs of an RBC instance are identical, so equal messages are
built once and shared, as in the simulator).

A fatal framing error (a length prefix above the 1 MiB limit) leaves the stream without
frame boundaries: the node closes the connection and reconnects; everything else is dropped
frame by frame. Drops and invalid messages are counted per reason in the node's result and
logged to its trace (the first ``TRACE_CAP`` of each kind, so a flood cannot grow the trace
without bound).

Tasks, all in one ``asyncio.TaskGroup`` (an exception in any of them cancels the rest, is
logged with its traceback, and the process exits 1; nothing dies silently):

* ``connection``: the connection to the proxy (``connection.py``), which reads frames into
  the bounded ``inbox`` and re-establishes itself when it breaks.
* ``protocol``: takes frames from the inbox, verifies and decodes them, runs the state
  machine, and queues its output in the ``Batcher`` (framing.py), which batches messages per
  destination per loop turn. A broadcast is encoded and packed once, and queued once for
  all its destinations (the batcher's broadcast log). The work of one frame never waits;
  if it filled a destination's queue, the task waits for space before the next frame.
* ``batcher``: hands one round of batches at a time to the connection, which seals them
  and writes the round with one system call.
* ``snapshots``: sends the state snapshot to the proxy every ``snapshot_interval_s``.
* ``lifecycle``: ends the run on the proxy's ``done`` (all honest nodes halted) or
  ``corrupted`` (the adversary took this node over mid-run), on
  ``linger_s`` after halting, on ``timeout_s``, or on SIGTERM/SIGINT: flushes the batcher,
  cancels the other tasks, writes ``result.json`` and ``trace.jsonl`` atomically, exits 0.
  (``result.json`` is also written when the node halts, on the loop turn after the one that
  queued its last DECIDEs, so the disk never delays them.)

Deadlock freedom. The protocol task may block in ``Batcher.wait_for_space`` (destination
queue full), and the batcher in ``drain()`` (the proxy is slow to read). The proxy never
stops reading a node's connection (frames for a destination over its cap are dropped for
that destination, see ``byzlab.adversary.proxy``), so the chain ends there. The connection
task never waits for the protocol task except to put frames in the inbox, and a broken
connection is detected by the writer as well, so a reconnect never waits on a blocked
protocol task.

Per-node randomness is ``derive_rng(seed, "node", i)`` and the ideal-coin seed is
``ideal_coin_seed(seed)`` (``byzlab.seeds``), exactly as in the simulator, so every node
starts in the same state and draws the same random values as in ``byzlab sim``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from byzlab import plugins
from byzlab.atomicio import atomic_write_bytes, atomic_write_json, compact_json
from byzlab.errors import NodeConfigError
from byzlab.network.auth import LinkReceiver, LinkSender, Reject, link_keys_for
from byzlab.network.control import SNAPSHOT, START
from byzlab.network.framing import FRAME_HEADER, OVERHEAD, Batcher, FrameError, unpack_batch
from byzlab.network.keys import load_private_key, load_roster
from byzlab.network.messagelog import DROPPED, REJECTED, encode_payload
from byzlab.network.metrics import MetricsServer
from byzlab.network.process import cpu_seconds, max_rss_kib
from byzlab.network.tcp.buffers import Inbox
from byzlab.network.tcp.config import NodeConfig
from byzlab.network.tcp.connection import ProxyConnection
from byzlab.network.tcp.incarnation import mark_incarnation
from byzlab.network.tcp.metrics import readings
from byzlab.network.tcp.verdicts import FRAME, VerdictLog
from byzlab.network.trace import TraceWriter
from byzlab.node.effects import Decide, Effect, Event, Halt
from byzlab.node.params import Params, ParamsError
from byzlab.node.protocol import CoinFlips, DecodeError, ProtocolNode, Refusals
from byzlab.plugins import PluginError
from byzlab.runtime.interpreter import EffectInterpreter
from byzlab.seeds import derive_rng, ideal_coin_seed

__all__ = ["NodeRuntime"]

log = logging.getLogger("byzlab.node")


class NodeRuntime:
    """Runs one honest node over one TCP connection to the proxy. See the module docs."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        try:
            params = Params(**config.params)
        except (ParamsError, TypeError) as exc:
            raise NodeConfigError(f"params: {exc}") from exc
        n = params.n
        me = config.node
        if not 0 <= me < n:
            raise NodeConfigError(f"node: {me} is out of range 0..{n - 1}")
        if config.input not in (-1, 1):
            raise NodeConfigError(f"input: must be -1 or 1, got {config.input}")
        self.params = params
        self.n = n
        self.me = me
        self.proxy_id = n
        key_dir = Path(config.key_dir)
        roster = load_roster(key_dir, expected_n=n + 1)  # n nodes plus the proxy
        private = load_private_key(key_dir, me, roster=roster)
        keys = link_keys_for(me, private, roster)
        self.peers = [d for d in range(n) if d != me]
        self.link = LinkReceiver(receiver=me, keys={s: keys[s].recv_key for s in self.peers})
        try:
            # a plugin loads in this process, built with the scenario's options
            protocol = plugins.protocol(config.protocol, config.protocol_options)
        except PluginError as exc:
            raise NodeConfigError(f"protocol: {exc}") from None
        self.protocol = protocol
        self.node: ProtocolNode = protocol.node(
            me,
            params,
            input_value=config.input,
            rng=derive_rng(config.seed, "node", me),
            ideal_seed=ideal_coin_seed(config.seed),
        )
        self._encode = protocol.encode
        self.out_dir = Path(config.out_dir)
        self.trace = TraceWriter(self.out_dir / "trace.jsonl")
        # The node's half of the message trace (verdicts.py), when the run records one.
        self.verdicts = VerdictLog(self.out_dir, me, self.node) if config.messages else None
        self.counters: Counter[str] = Counter()
        self.decoder = plugins.decoder(protocol, n)
        self.drops: Counter[str] = Counter()
        self.decode_errors: Counter[str] = Counter()
        self.started = False
        self.start_wall: float | None = None
        self.cpu_at_start: float | None = None
        self._start_loop = 0.0
        self.decision_time: float | None = None
        self.decided_iteration: int | None = None
        self.halt_reason: str | None = None
        self._halted_at: float | None = None
        self.stop_reason: str | None = None
        self.errors: list[BaseException] = []
        self._last_snap_key: tuple[object, ...] | None = None
        self._result_written = False  # the write at halting
        self.scheduling = "normal"  # the OS scheduling policy run_node chose
        self._inbox = Inbox(config.inbox_frames)
        self._wake = asyncio.Event()
        self.connection = ProxyConnection(
            config,
            senders={
                d: LinkSender(sender=me, receiver=d, key=keys[d].send_key)
                for d in [*self.peers, self.proxy_id]
            },
            proxy_recv_key=keys[self.proxy_id].recv_key,
            inbox=self._inbox,
            hello=self._hello,
            on_stop=self.finish,
            drop=self._drop,
            counters=self.counters,
            trace=self.trace,
        )
        self.batcher = Batcher(flush_round=self.connection.flush_round, broadcast=self.peers)
        self._interpreter = EffectInterpreter(n, self)
        self._local: deque[Any] = deque()  # this node's own copies, in order
        self._full = False  # a destination reached the batcher's bound (see _apply)
        self._sent = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.metrics = MetricsServer(
            config.metrics_host, config.metrics_port, lambda: readings(self, len(self._inbox))
        )

    # ----------------------------------------------------------------- entry point

    async def run(self) -> int:
        """Run until done/timeout/signal; write the outputs; 0 on a clean stop, 1 on a bug."""
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.config.timeout_s
        # Durable before the first frame is sealed: a later process of this node for this
        # run must know that this one may have sent something (see rejoin_as_crashed).
        mark_incarnation(self.config)
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
        self.metrics.start()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tasks = [
                    tg.create_task(self.batcher.run(), name="batcher"),
                    tg.create_task(self.connection.run(), name="connection"),
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
            self.metrics.stop()
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
        # A stopping node takes no more inputs: a node still running the protocol (taken
        # over by the adversary, or out of time) would otherwise send into the closed batcher.
        self._tasks[2].cancel()
        # Let the batcher write what is queued (the last DECIDE, the halted snapshot), but
        # do not hang on a dead proxy: its frames would be lost anyway.
        self.batcher.close()
        await asyncio.wait([self._tasks[0]], timeout=2.0)
        for task in self._tasks:
            task.cancel()

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
        if self.verdicts is not None:
            self.verdicts.started(self.start_wall)
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
        verdicts = self.verdicts
        if isinstance(frame, Reject):
            self._drop(f"link-{frame.value}", size=len(body))
            if verdicts is not None:
                self._refused_frame(body, f"link-{frame.value}")
            return False
        batch = unpack_batch(frame.payload)
        if isinstance(batch, FrameError):
            reason = f"batch-{batch.kind.value}"
            self._drop(reason, sender=frame.sender, detail=batch.detail)
            if verdicts is not None:
                verdicts.refused(self._now(), frame.sender, frame.seq, FRAME, REJECTED, reason)
            return False
        counters["frames_accepted"] += 1
        sender = frame.sender
        node = self.node
        receive = node.receive
        apply = self._apply
        decode = self.decoder
        now = self._now()
        full = False
        invalid = 0
        for index, obj in enumerate(batch):
            msg = decode(obj)
            if isinstance(msg, DecodeError):
                invalid += 1
                self.decode_errors[msg.reason] += 1
                self.trace.event("invalid-message", sender=sender, reason=msg.reason)
                if verdicts is not None:
                    verdicts.refused(now, sender, frame.seq, index, REJECTED, msg.reason)
                continue
            if node.halted:
                if verdicts is not None:
                    verdicts.refused(now, sender, frame.seq, index, DROPPED, "halted")
                continue
            effects = receive(sender, msg, now)
            if verdicts is not None:
                verdicts.received(now, sender, frame.seq, index)
            if effects and apply(effects, now):
                full = True
        if invalid:
            counters["messages_invalid"] += invalid
        counters["messages_in"] += len(batch) - invalid
        self._maybe_snapshot()
        return full

    def _apply(self, effects: list[Effect], now: float) -> bool:
        """Perform effects through the one interpreter (byzlab.runtime.interpreter): sends
        go to the batcher, the copies for this node back to the state machine, in the order
        byzlab.node.effects documents.

        Never waits: returns True if a destination reached the batcher's bound, and the
        caller then waits for space before it takes the next input.
        """
        self._full = False
        self._sent = 0
        local = self._local
        node = self.node
        me = self.me
        perform = self._interpreter.perform
        verdicts = self.verdicts
        try:
            perform(me, effects, now)
            while local and not node.halted:
                msg = local.popleft()
                effects = node.receive(me, msg, now)
                if verdicts is not None:
                    verdicts.own(now, encode_payload(self.protocol, msg))
                perform(me, effects, now)
        finally:
            local.clear()  # a node that halted takes no more inputs, its own included
            self.counters["messages_out"] += self._sent
        return self._full

    # ----------------------------------------------------------------- effects (EffectSink)

    def transmit(self, src: int, msg: Any, dsts: Sequence[int], now: float) -> None:
        """Queue ``msg`` for each of ``dsts`` in the batcher; this node's own copy goes back
        to its state machine (``_apply``), without touching the network. A message for
        everyone (a broadcast) is encoded and packed once and queued once for all peers."""
        batcher = self.batcher
        encode = self._encode
        if len(dsts) == self.n:
            if batcher.put_broadcast(batcher.pack(encode(msg))):
                self._full = True
            self._sent += self.n - 1
            self._local.append(msg)
            return
        me = self.me
        for dst in dsts:
            if dst == me:
                self._local.append(msg)
            else:
                if batcher.put_packed((dst,), batcher.pack(encode(msg))):
                    self._full = True
                self._sent += 1

    def decide(self, src: int, decision: Decide, now: float) -> None:
        self.decision_time = time.time()
        self.decided_iteration = decision.iteration
        self.trace.event(
            "decide", value=decision.value, iteration=decision.iteration, after_s=self._now()
        )
        log.info("node %d: decided %d in iteration %d", self.me, decision.value, decision.iteration)

    def halt(self, src: int, halt: Halt, now: float) -> None:
        self.halt_reason = halt.reason
        self._halted_at = asyncio.get_running_loop().time()
        self.trace.event("halt", reason=halt.reason, after_s=self._now())
        log.info("node %d: halted (%s)", self.me, halt.reason)
        # The result exists from the moment of halting, even if the linger is cut short. It
        # is written (with an fsync) on the next turn of the loop, once the batcher has sent
        # the DECIDEs queued in this one: they must not wait for the disk, and a halted
        # node has nothing else to do.
        asyncio.get_running_loop().call_soon(self._write_result_at_halt)
        self._wake.set()

    def event(self, src: int, event: Event, now: float) -> None:
        self.trace.event(f"node-{event.name}", **event.data)

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

    def _hello(self) -> dict[str, Any]:
        """What the hello on every new connection says (beside its kind)."""
        return {"node": self.me, "started": self.started, "snapshot": self._snapshot()}

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
            if self.verdicts is not None:
                self.verdicts.flush()  # a killed node loses one interval of its trace
            if self.started and not self.batcher.closed:
                self._send_snapshot()

    # ----------------------------------------------------------------- outputs

    def _refused_frame(self, body: bytes, reason: str) -> None:
        """A frame the link layer dropped whole, in the message trace, if its header names
        a peer (its sequence number is read unauthenticated: the proxy's row of the same
        frame, if any, has the same)."""
        assert self.verdicts is not None
        if len(body) < OVERHEAD:
            return
        _, sender, _, seq = FRAME_HEADER.unpack_from(body)
        if sender not in self.peers:
            return
        self.verdicts.refused(self._now(), sender, seq, FRAME, DROPPED, reason)

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
            "decided_iteration": self.decided_iteration if node.decision is not None else None,
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
            "rejected": dict(node.rejected) if isinstance(node, Refusals) else {},
            "rbc_dropped": dict(node.dropped) if isinstance(node, Refusals) else {},
            "coin_outputs": (
                {str(t): v for t, v in sorted(node.coin_outputs.items())}
                if isinstance(node, CoinFlips)
                else {}
            ),
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
        if self.verdicts is not None:
            self.verdicts.close()
