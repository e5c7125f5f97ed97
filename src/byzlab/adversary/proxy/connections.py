"""The proxy's TCP connections with the honest nodes: accept, hello, register, write.

Every honest node keeps one connection to the proxy (a star, see ``byzlab.network.tcp``).
A connection counts once its hello has been checked (``sidechannel.py``) and recorded;
from then on the proxy reads every frame of it without ever stopping (frames for a full
destination are dropped for that destination, see ``delivery.py``, "Memory bounds"), and
a writer task per connection drains the node's ``Outbox``. A node whose own connection
broke gets the last frames written to it again (``redeliver_frames``,
``redeliver_bytes``): they may have died with the connection.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from byzlab.adversary.proxy.config import ProxyConfig
from byzlab.adversary.proxy.delivery import Outbox
from byzlab.adversary.proxy.sidechannel import SideChannel
from byzlab.adversary.proxy.stats import ProxyStats, StatsFile
from byzlab.network.auth import LinkSender
from byzlab.network.control import HELLO_MAX_FRAME
from byzlab.network.framing import (
    LENGTH_PREFIX,
    LENGTH_PREFIX_SIZE,
    MAX_FRAME,
    READ_CHUNK,
    FrameDecoder,
    FrameError,
    encode_frame,
    pack_batch,
)

__all__ = ["Conn", "Connections"]

log = logging.getLogger("byzlab.proxy")

_WRITE_CHUNK = 256 * 1024  # bytes handed to one writelines() before awaiting drain()


@dataclass(slots=True, eq=False)
class Conn:
    """A registered connection of honest node ``node``."""

    node: int
    writer: asyncio.StreamWriter
    control: LinkSender
    writer_task: asyncio.Task[None] | None = None


class Connections:
    """The registered connection of every honest node, and the ones waiting for a hello.

    ``on_frame(node, frame)`` handles a frame read from a registered connection (False
    closes it); ``on_connected`` is told about each registration, ``on_disconnected`` about
    each unregistration. ``stats_json()`` is what a hello's record writes to ``stats_file``;
    ``spawn`` starts a task in the proxy's task group."""

    def __init__(
        self,
        config: ProxyConfig,
        *,
        n: int,
        control_keys: dict[int, bytes],
        side: SideChannel,
        outboxes: dict[int, Outbox],
        stats: ProxyStats,
        stats_file: StatsFile,
        stats_json: Callable[[], dict[str, Any]],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        on_frame: Callable[[int, bytes | FrameError], bool],
        on_connected: Callable[[Conn], None],
        on_disconnected: Callable[[], None],
    ) -> None:
        self.config = config
        self.n = n
        self._control_keys = control_keys
        self._honest = len(control_keys)
        self.side = side
        self.outboxes = outboxes
        self.stats = stats
        self.stats_file = stats_file
        self._stats_json = stats_json
        self._spawn = spawn
        self._on_frame = on_frame
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.conns: dict[int, Conn] = {}
        self.changed = asyncio.Event()  # set on every registration
        # Connections still waiting for their hello, oldest first (a dict keeps order).
        self._pending_hellos: dict[asyncio.Task[Any], None] = {}

    def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """``asyncio.start_server``'s callback: serve the connection in a task."""
        self._spawn(self._client(reader, writer))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: Conn | None = None
        try:
            first = await self._read_hello(reader)
            if first is None:
                return
            hello = self.side.check_hello(first)
            if hello is None:
                return
            node, seq = hello
            await self._persist_hello()
            if self.stats.hello_seqs.get(node) != seq:
                self.stats.drops["hello-replay"] += 1  # a newer hello overtook it meanwhile
                return
            conn = self._register(node, writer)
            decoder = FrameDecoder(MAX_FRAME)
            on_frame = self._on_frame
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    error = decoder.eof()
                    if error is not None:
                        self.stats.drops[f"framing-{error.kind.value}"] += 1
                    return
                # Every frame of one read is handled without yielding to the loop: the
                # proxy never stops reading a node (see delivery.py, "Memory bounds").
                for item in decoder.feed(data):
                    if not on_frame(node, item):
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
        """The first frame of a connection, read under the pre-authentication limits (see the
        module's docstring); None, counted, if there is none to check."""
        task = asyncio.current_task()
        assert task is not None
        pending = self._pending_hellos
        pending[task] = None
        if len(pending) > self.config.max_pending_hellos:
            # Too many connections without a hello: close the one that has waited longest.
            oldest = next(iter(pending))
            del pending[oldest]
            self.stats.drops["hello-evicted"] += 1
            oldest.cancel()
            if oldest is task:
                return None
        try:
            async with asyncio.timeout(self.config.hello_timeout_s):
                prefix = await reader.readexactly(LENGTH_PREFIX_SIZE)
                (length,) = LENGTH_PREFIX.unpack(prefix)
                if length > HELLO_MAX_FRAME:
                    # Decided on the prefix: nothing of the announced body is read.
                    self.stats.drops["framing-oversized"] += 1
                    return None
                return await reader.readexactly(length)
        except TimeoutError:
            self.stats.drops["hello-timeout"] += 1
        except asyncio.IncompleteReadError as exc:
            self.stats.drops["framing-truncated" if exc.partial else "hello-missing"] += 1
        except asyncio.CancelledError:
            if task in pending:
                raise  # not an eviction: the proxy is stopping
            task.uncancel()
            return None  # evicted (and counted) by a newer connection
        finally:
            pending.pop(task, None)
        return None

    async def _persist_hello(self) -> None:
        """Write the statistics, with the hellos' high-water marks, before a hello takes
        effect: a restarted proxy then refuses every hello this one accepted."""
        try:
            await self.stats_file.write(self._stats_json())
        except OSError as exc:  # availability first: the hello stands, the record did not
            log.error("proxy: cannot record a hello in %s: %s", self.config.stats_file, exc)
            self.stats.drops["hello-unrecorded"] += 1

    def _register(self, node: int, writer: asyncio.StreamWriter) -> Conn:
        old = self.conns.pop(node, None)
        if old is not None:
            self._close_conn(old)
        conn = Conn(
            node,
            writer,
            LinkSender(sender=self.n, receiver=node, key=self._control_keys[node]),
        )
        self.conns[node] = conn
        self.stats.ever_connected.add(node)
        self.changed.set()
        self.stats.counts["connections"] += 1
        log.info("proxy: node %d connected (%d/%d)", node, len(self.conns), self._honest)
        conn.writer_task = self._spawn(self._writer_loop(conn))
        self._on_connected(conn)
        return conn

    def _close_conn(self, conn: Conn) -> None:
        if conn.writer_task is not None:
            conn.writer_task.cancel()
        conn.writer.close()

    def _unregister(self, conn: Conn) -> None:
        if self.conns.get(conn.node) is conn:
            del self.conns[conn.node]
            log.info("proxy: node %d disconnected", conn.node)
        self._close_conn(conn)
        self._on_disconnected()

    def send_control(self, conn: Conn, kind: str) -> None:
        """Write a control item (``START``, ``DONE``) to a node, MAC'd with K(n->node)."""
        body = conn.control.seal(pack_batch([{"t": kind}]))
        conn.writer.write(encode_frame(body))

    async def _writer_loop(self, conn: Conn) -> None:
        box = self.outboxes[conn.node]
        writer = conn.writer
        redeliver_frames = self.config.redeliver_frames
        redeliver_bytes = self.config.redeliver_bytes
        try:
            # Frames written to this node's previous connection may have died with it.
            if box.recent:
                writer.writelines(list(box.recent))
                self.stats.counts["redelivered"] += len(box.recent)
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
                box.remember(chunk, max_frames=redeliver_frames, max_bytes=redeliver_bytes)
                box.held -= size
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
