"""The adversary proxy's event loop: the start and end of a run, and every frame's route.

The proxy is HPZ's adversary made concrete, with exactly the model's powers (see the
package's docstring). This module ties its parts together: it checks proxy.json, builds
the scheduler and the corrupted nodes with one adversary context (the full-information
view, shared as in the simulator), routes every frame read from a node (to the side
channel, or to ``delivery.py`` for the scheduler's delay), and runs the start barrier and
the end of the run.

*Full information.* Link frames are MAC'd, not encrypted, so the proxy can decode every
payload, and it does whenever someone may look at the messages: a scheduler that
inspects them, or corrupted nodes, whose strategies share the full-information view
(``byzlab.adversary.view``, fed with every message as in the simulator). Otherwise, with
honest nodes under a scheduler that does not inspect messages, a frame is relayed on its
header and its messages are only counted (``ProxyStats.census``: kinds, RBC instances, the
same statistics as decoding gives for honest frames) without being validated or built,
which is most of what relaying used to cost.

*No forgery.* The proxy holds no honest link key, so it relays honest frames byte for
byte; anything it changed would fail the receiver's MAC. ``tamper = "flip-byte"``
(test-only) demonstrates it: one honest frame is delivered twice, once with a byte
flipped and once intact. The receiver drops the tampered copy (``bad_mac``) and accepts
the original. A tampered frame is never delivered *instead of* the original, because
that would be a lost message, which the asynchronous model does not allow.

Start and end. When all honest nodes have said hello, the proxy sends each a ``start``
frame and starts the Byzantine strategies: a common start for latency measurements, and
nobody's first messages pile up for a node that is not connected yet. A node that crashed
before its hello (killed or stopped right after it was spawned) must not hold the run
forever, so there is a grace period: once no honest node has said hello for
``start_grace_s`` (default 10 s, counted from the later of the proxy's start and the last
hello, so a slow start-up of many processes, whose hellos keep arriving, is never cut
short), the run starts without the honest nodes still missing if they fit in the fault
budget: missing + corrupted nodes the proxy runs + nodes the adaptive-corruption rules may
still take over <= f. Otherwise it keeps waiting (and says so once): with more faults than f
the protocol promises nothing, not even that the run ends. The nodes left out are crash
faults: they are listed in the statistics (``started_without``, and ``never_connected``
while they stay away; they count toward f, and the local backend reports a node killed or
stopped this way as crashed through its exit status), and the end of the run does not wait
for them. One that connects later is simply slow: it gets ``start`` on its hello
and the end waits for it again. When every honest node's snapshot (except those that
never connected) says it halted, the proxy sends ``done``; the nodes write their results and
exit, and the proxy exits when their connections are gone (or on SIGTERM/SIGINT).

Restarts. Everything the proxy holds is soft state. After a restart (same port) nodes
reconnect and re-send their recent frames (receivers drop duplicates), the start barrier
runs again (nodes ignore a second ``start``), the previous statistics are loaded and
continued (``stats.py``), replayed hellos are refused (``sidechannel.py``), and the
Byzantine nodes start over (``corrupted.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from byzlab import plugins
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.proxy.clock import RunClock
from byzlab.adversary.proxy.config import TAMPER_MODES, ProxyConfig
from byzlab.adversary.proxy.connections import Conn, Connections
from byzlab.adversary.proxy.corrupted import Actor, CorruptedNodes
from byzlab.adversary.proxy.delivery import Delivery, Pending
from byzlab.adversary.proxy.inject import Injector
from byzlab.adversary.proxy.metrics import readings
from byzlab.adversary.proxy.recording import RelayLog
from byzlab.adversary.proxy.shadows import Shadows
from byzlab.adversary.proxy.sidechannel import SideChannel
from byzlab.adversary.proxy.stats import ProxyStats, StatsFile
from byzlab.adversary.schedulers import make_scheduler, scheduler_class
from byzlab.adversary.view import AdversaryView
from byzlab.atomicio import atomic_write_json
from byzlab.errors import NodeConfigError
from byzlab.network.auth import LinkReceiver, link_keys_for
from byzlab.network.control import CORRUPTED, DONE, START
from byzlab.network.framing import (
    FRAME_HEADER,
    HEADER_SIZE,
    MAC_SIZE,
    OVERHEAD,
    FrameError,
    encode_frame,
    unpack_batch,
)
from byzlab.network.keys import load_private_key, load_roster
from byzlab.network.metrics import MetricsServer
from byzlab.network.process import cpu_seconds, max_rss_kib
from byzlab.node.bracha import BrachaProtocol
from byzlab.node.messages import Message
from byzlab.node.params import Params, ParamsError
from byzlab.node.protocol import DecodeError
from byzlab.plugins import PluginError
from byzlab.seeds import derive_rng

__all__ = ["Proxy"]

log = logging.getLogger("byzlab.proxy")


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
        try:
            # a plugin loads in this process, built with the scenario's options
            protocol = plugins.protocol(config.protocol, config.protocol_options)
        except PluginError as exc:
            raise NodeConfigError(f"protocol: {exc}") from None
        self.protocol = protocol
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
        stats_path = Path(config.stats_file)
        self.record = ProxyStats.load(stats_path, protocol)
        self.stats_file = StatsFile(stats_path)
        # K(i -> proxy) for the side channel; the proxy's own control frames use K(proxy -> i).
        node_rx = LinkReceiver(receiver=me, keys={i: keys[i].recv_key for i in self.honest_ids})
        self.side = SideChannel(n, self.honest_ids, node_rx, self.record)
        # One full-information view shared by the scheduler and the corrupted nodes, fed
        # with every message the proxy decodes, as in the simulator (adversary/view.py).
        self.view = AdversaryView(params, self.byz_ids)
        adversary = AdversaryContext(
            params,
            self.view,
            derive_rng(config.seed, "scheduler"),
            1.0,
            self.side.oracle,
            protocol=protocol,
        )
        try:
            options = plugin_kwargs(scheduler_class(config.scheduler), config.scheduler_options)
            self.scheduler = make_scheduler(config.scheduler, adversary, **options)
        except (TypeError, ValueError) as exc:
            raise NodeConfigError(f"scheduler: {exc}") from exc
        # Decode every relayed message when someone may look at it: a scheduler that
        # inspects messages, or corrupted nodes (their strategies read the shared view).
        # Otherwise frames are relayed on their header alone and only counted.
        # Adaptive corruption's rules read the view too, and shadows compare what they see.
        self.inspect = bool(self.scheduler.inspects_messages or config.byzantine or config.corrupt)
        # Another family's messages cannot be counted on their header alone (the census
        # reads the Bracha family's), so they are always decoded, by the protocol's decoder.
        self.inspect = self.inspect or not isinstance(protocol, BrachaProtocol)
        self._decoder = plugins.decoder(protocol, n)
        self.clock = RunClock(config.delta_s)
        self.shadows: Shadows | None = None
        if config.corrupt:
            if self.record.incarnation > 1:
                raise NodeConfigError(
                    "corrupt: a restarted proxy cannot rebuild the shadow replicas of adaptive "
                    "corruption (they were fed deliveries it never made); the run cannot go on"
                )
            self.shadows = Shadows(
                config,
                params,
                adversary,
                keys=lambda i: link_keys_for(
                    i, load_private_key(key_dir, i, roster=roster), roster
                ),
                honest_ids=self.honest_ids,
                clock=self.clock,
                decode=self._decode_unobserved,
                take_over=self._take_over,
                on_error=self._on_delivery_error,
            )
        # The relayed frames for the message trace (recording.py), when the run records it.
        self.relay_log = (
            RelayLog(
                Path(config.messages_dir),
                self.record.incarnation,
                corrupted=lambda i: i in self.byzantine.actors,
                encode=protocol.encode,
            )
            if config.messages_dir
            else None
        )
        self.delivery = Delivery(
            config,
            self.scheduler,
            self.record,
            self.clock,
            self.honest_ids,
            to_corrupted=self._to_corrupted,
            gone=self._gone,
            on_error=self._on_delivery_error,
            to_honest=None if self.shadows is None else self.shadows.to_honest,
            log=self.relay_log,
        )
        self.byzantine = CorruptedNodes(
            config,
            params,
            adversary,
            key_dir=key_dir,
            roster=roster,
            honest_ids=self.honest_ids,
            clock=self.clock,
            schedule=self.delivery.schedule,
            view=self.view,
            decode=self._decode_unobserved,
            drops=self.record.drops,
        )
        self.connections = Connections(
            config,
            n=n,
            control_keys={i: keys[i].send_key for i in self.honest_ids},
            side=self.side,
            outboxes=self.delivery.outboxes,
            stats=self.record,
            stats_file=self.stats_file,
            stats_json=self.stats,
            spawn=self._spawn,
            on_frame=self._on_frame,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
        )
        self.injector = (
            None
            if config.inject is None
            else Injector(
                config.inject,
                seed=config.seed,
                n=n,
                honest_ids=self.honest_ids,
                connections=self.connections,
                byzantine=self.byzantine,
                stats=self.record,
                schedule=self.delivery.schedule,
                on_done=self._maybe_start,
            )
        )
        self.cpu_at_start: float | None = None
        self.done = False
        self._grace_over = False  # no hello for start_grace_s (re-armed by every hello)
        self._grace_timer: asyncio.TimerHandle | None = None
        self._over_budget_logged = False
        # nodes the adaptive-corruption rules may still take over (each counts toward f)
        self._to_corrupt = sum(rule.count for rule in config.corrupt)
        self._tampered_this_run = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.errors: list[BaseException] = []
        self.stop_reason = ""
        self.metrics = MetricsServer(
            config.metrics_host, config.metrics_port, lambda: readings(self)
        )

    @property
    def started(self) -> bool:
        return self.clock.started

    # ----------------------------------------------------------------- statistics

    def stats(self, *, final: bool = False) -> dict[str, Any]:
        """Everything proxy-stats.json holds: the counters and the run's state."""
        return {
            **self.record.to_json(),
            "final": final,
            "pid": os.getpid(),
            "cpu_s": round(cpu_seconds(), 4),
            "cpu_start_s": self.cpu_at_start,
            "max_rss_kib": max_rss_kib(),
            "honest": len(self.honest_ids),
            "connected": len(self.connections.conns),
            "started": self.started,
            "decided": self.side.decided(),
            "halted": self.side.halted_count(),
            "done": self.done,
            "start_grace_s": self.config.start_grace_s,
            "never_connected": self._never_connected(),
            "scheduler": self.scheduler.describe(),
            "delta_s": self.config.delta_s,
            "byzantine": {str(b): a.strategy.name for b, a in self.byzantine.actors.items()},
            "corrupted": []
            if self.shadows is None
            else [c.to_json() for c in self.shadows.corrupted],
            "shadows": None if self.shadows is None else self.shadows.stats(),
            "snapshots": {str(k): v for k, v in sorted(self.side.snapshots.items())},
        }

    def write_stats(self, *, final: bool = False) -> None:
        """Write the statistics now (and after any write still in progress)."""
        self.stats_file.write_now(self.stats(final=final))

    # ----------------------------------------------------------------- entry point

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        if self.injector is not None:
            loop.add_signal_handler(signal.SIGUSR1, self.injector.trigger.set)
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.stop, f"signal-{sig.name}")
        server: asyncio.Server | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                server = await asyncio.start_server(
                    self.connections.on_client, self.config.host, self.config.port
                )
                try:
                    port = server.sockets[0].getsockname()[1]
                    log.info(
                        "proxy (incarnation %d) listening on %s:%d",
                        self.record.incarnation,
                        self.config.host,
                        port,
                    )
                    atomic_write_json(
                        Path(self.config.ready_file),
                        {
                            "port": port,
                            "pid": os.getpid(),
                            "incarnation": self.record.incarnation,
                        },
                    )
                    self._spawn(self._stats_loop())
                    self.metrics.start()
                    self._arm_start_grace()
                    if self.injector is not None:
                        self._spawn(self.injector.run())
                    await self._stop.wait()
                finally:
                    server.close()
                    if self._grace_timer is not None:
                        self._grace_timer.cancel()
                    for task in list(self._tasks):
                        task.cancel()
                    self.delivery.cancel()
        except* Exception as group:
            for exc in group.exceptions:
                log.error("proxy: task failed", exc_info=exc)
            self.errors.extend(group.exceptions)
        finally:
            for sig in (*signals, signal.SIGUSR1):
                loop.remove_signal_handler(sig)
            self.metrics.stop()
            if server is not None:
                await server.wait_closed()
        self.write_stats(final=True)
        self.stats_file.close()
        if self.relay_log is not None:
            self.relay_log.close()
        log.info("proxy: stopped (%s)", self.stop_reason)
        return 1 if self.errors else 0

    def stop(self, reason: str) -> None:
        """Stop the proxy (idempotent; the first reason wins)."""
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self._tg.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _stats_loop(self) -> None:
        # The file is written (with an fsync) on a thread: relaying never waits for the disk.
        while True:
            await self.stats_file.write(self.stats())
            if self.relay_log is not None:
                self.relay_log.flush()  # a killed proxy loses one interval of its trace
            await asyncio.sleep(self.config.stats_interval_s)

    # ----------------------------------------------------------------- connections

    def _on_connected(self, conn: Conn) -> None:
        self._arm_start_grace()
        if self._taken(conn.node):
            self.connections.send_control(conn, CORRUPTED)
        elif self.done:
            self.connections.send_control(conn, DONE)
        elif self.started:
            self.connections.send_control(conn, START)
        else:
            self._maybe_start()
        self._check_done()

    def _on_disconnected(self) -> None:
        if self.done and not self.connections.conns and self.config.exit_when_done:
            self.stop("done")

    def _gone(self, node: int) -> bool:
        """Node halted and disconnected: frames for it are dropped (it processes nothing)."""
        return (
            node not in self.connections.conns and self.side.halted(node) and not self._taken(node)
        )

    def _taken(self, node: int) -> bool:
        """``node`` was honest and the adversary has taken it over (adaptive corruption)."""
        return self.shadows is not None and node in self.shadows.taken

    def _take_over(self, actor: Actor, backlog: dict[int, list[Message]]) -> None:
        """Adaptive corruption (``shadows.py``): the strategy runs the node from now on, and
        its process is told to stop (again when it reconnects, ``_on_connected``)."""
        self.byzantine.adopt(actor, backlog)
        conn = self.connections.conns.get(actor.node)
        if conn is not None:
            self.connections.send_control(conn, CORRUPTED)
        self._check_done()

    def _on_delivery_error(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.stop("error")

    def _to_corrupted(self, pending: Pending) -> None:
        self.byzantine.receive(pending)

    # ----------------------------------------------------------------- inbound frames

    def _on_frame(self, node: int, item: bytes | FrameError) -> bool:
        """Handle one frame from ``node``; False to close the connection."""
        if isinstance(item, FrameError):
            self.record.drops[f"framing-{item.kind.value}"] += 1
            return not item.fatal
        counts = self.record.counts
        counts["frames_in"] += 1
        if len(item) < OVERHEAD:
            self.record.drops["truncated"] += 1
            return True
        _, src, dst, _ = FRAME_HEADER.unpack_from(item)
        if src != node:
            # A node speaks only for itself on its connection (the MAC would fail anyway).
            self.record.drops["wrong-sender"] += 1
            return True
        if self._taken(node):
            # The adversary runs this node now; its old process's late frames are dropped.
            self.record.drops["from-corrupted-process"] += 1
            return True
        if dst == self.n:
            self.side.on_frame(item)
            self._check_done()
            return True
        if not 0 <= dst < self.n or dst == src:
            self.record.drops["bad-destination"] += 1
            return True
        self._relay(src, dst, item)
        return True

    def _decode_payload(
        self, src: int, payload: bytes | memoryview, *, observe: bool = True
    ) -> list[Message]:
        """Every valid message of a payload (fed to the full-information view)."""
        batch = unpack_batch(payload)
        if isinstance(batch, FrameError):
            self.record.counts["undecodable_frames"] += 1
            return []
        out = []
        decode = self._decoder
        view = self.view.observe if observe else None
        now = self.clock.now()
        for obj in batch:
            msg = decode(obj)
            if isinstance(msg, DecodeError):
                self.record.counts["undecodable_messages"] += 1
                continue
            if view is not None:
                view(src, msg, now)
            out.append(msg)
        return out

    def _decode_unobserved(self, src: int, payload: bytes) -> list[Message]:
        """A payload for a corrupted node: the view saw its messages when they were relayed."""
        return self._decode_payload(src, payload, observe=False)

    def _relay(self, src: int, dst: int, body: bytes) -> None:
        payload = memoryview(body)[HEADER_SIZE : len(body) - MAC_SIZE]
        if self.inspect:
            msgs: list[Message] | None = self._decode_payload(src, payload)
            assert msgs is not None
            count = len(msgs)
            if self.shadows is not None:
                self.shadows.relayed(src, body, msgs)
        else:
            msgs = None
            count = self.record.census(payload)
        frame = encode_frame(body)
        frames = [frame]
        if (
            self.config.tamper == "flip-byte"
            and self.started
            and dst in self.delivery.outboxes
            and not self._tampered_this_run
            and self.record.counts["tampered"] == 0
        ):
            copy = bytearray(frame)
            copy[4 + HEADER_SIZE] ^= 0xFF  # first payload byte: the MAC no longer matches
            frames.insert(0, bytes(copy))  # the tampered copy first, then the original
            self._tampered_this_run = True
            self.record.counts["tampered"] += 1
            log.info("proxy: tampered with a copy of a frame %d -> %d", src, dst)
        self.delivery.schedule(src, dst, frames, msgs, count)

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
        if not self.started and not self.record.started_without:
            return []
        return [i for i in self.honest_ids if i not in self.record.ever_connected]

    def _maybe_start(self) -> None:
        if self.started or (self.injector is not None and not self.injector.done):
            return
        conns = self.connections.conns
        missing = [i for i in self.honest_ids if i not in conns]
        if missing:
            # A node left out is a crash fault, and crash faults share f with the corrupted
            # nodes we run and the adaptive corruptions still to come: starting with more
            # faults than f would measure a run the protocol promises nothing about (it may
            # never end). Counting our corrupted nodes as "taking part" is not enough, they
            # need not help; so wait for the missing nodes while they would not fit.
            budget = self.params.f - len(self.byzantine.actors) - self._to_corrupt
            if not self._grace_over or len(missing) > budget:
                if self._grace_over and not self._over_budget_logged:
                    self._over_budget_logged = True
                    log.warning(
                        "proxy: no hello from node(s) %s for %.1f s, but leaving them out "
                        "would make %d faults with f = %d (%d corrupted, %d to corrupt); "
                        "still waiting",
                        missing,
                        self.config.start_grace_s,
                        len(missing) + self.params.f - budget,
                        self.params.f,
                        len(self.byzantine.actors),
                        self._to_corrupt,
                    )
                return
            log.warning(
                "proxy: no hello from node(s) %s for %.1f s; starting without them (crash faults)",
                missing,
                self.config.start_grace_s,
            )
            self.record.started_without = missing
            self.record.counts["started_without"] += len(missing)
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        self.cpu_at_start = round(cpu_seconds(), 4)
        self.clock.start()
        if self.record.first_start_wall is None:
            self.record.first_start_wall = time.time()
        log.info(
            "proxy: %d of %d honest nodes connected; start",
            len(conns),
            len(self.honest_ids),
        )
        # In node order, as the simulator starts its nodes: under FIFO, simultaneous
        # broadcasts then tend to reach every receiver in the same order as in `byzlab sim`.
        for i in sorted(conns):
            self.connections.send_control(conns[i], START)
        self.byzantine.start()
        if self.shadows is not None:
            self.shadows.start()
        if self.injector is not None and self.injector.spec.stall_frames:
            self.injector.stall_flood()

    def _check_done(self) -> None:
        if self.done or not self.started:
            return
        # Nodes that never connected are crash faults: nobody waits for them to halt.
        absent = self._never_connected()
        if all(
            self.side.halted(i) for i in self.honest_ids if i not in absent and not self._taken(i)
        ):
            self.done = True
            log.info("proxy: every honest node halted; done")
            for conn in self.connections.conns.values():
                self.connections.send_control(conn, DONE)
