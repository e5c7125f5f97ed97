"""A node's one TCP connection to the proxy: connect, say hello, re-send, read, write rounds.

Connecting. The node connects with capped exponential backoff and jitter, sends the hello,
re-sends its resend buffer, then reads frames into the bounded inbox (the frames of one read
go in together: one wake-up of the protocol task per read, not per frame). Frames from the
proxy itself (control) are handled here. On EOF or error it reconnects, so the node survives
the proxy restarting: at once if the session was established (an authenticated frame from
the proxy arrived on it), else after the next backoff step. The backoff is reset only by an
established session, never by a TCP connect alone, so an endpoint that accepts and closes
gets a connection attempt per backoff step (about a dozen in 4 s), not a hot loop (10,000
attempts in 4 s before).

Writing. The Batcher hands over one round of batches (a payload for each destination with
pending messages); ``flush_round`` seals them, appends them to the resend buffer, and writes
the whole round with one ``writelines`` (one system call) if connected. Frames sealed while
disconnected wait in the resend buffer; when a destination's buffer is full and the node is
disconnected, the round waits for the connection instead of evicting an unsent frame, which
pushes back on the protocol (the batcher's queue is bounded too).

Surviving a proxy restart without losing messages. The asynchronous model allows delay,
never loss, and frames held inside a proxy that dies are lost. So after every reconnect the
node re-sends the whole resend buffer in sequence order. Receivers accept each sequence
number once (the anti-replay window of ``auth.py``), so frames that had already arrived are
dropped as ``replay`` and the ones that had not are delivered. ``resend_frames`` stays below
the replay window, so a re-sent frame is never too old to be accepted. Residual risk,
stated: a frame is lost if the proxy dies while still holding it after the node has sealed
``resend_frames`` newer frames for the same destination; the proxy holds a frame for at
most delta_s plus queueing.

The proxy's control direction uses a fresh ``LinkReceiver`` per connection: a restarted
proxy starts its sequence numbers again at 1, and replay protection on frames only the proxy
can produce would protect against nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from byzlab.network.auth import LinkReceiver, LinkSender, Reject
from byzlab.network.control import CORRUPTED, DONE, HELLO, HELLO_MAX_FRAME, START
from byzlab.network.framing import (
    MAX_FRAME,
    OVERHEAD,
    READ_CHUNK,
    FrameDecoder,
    FrameError,
    encode_frame,
    pack_batch,
    peek_sender,
    unpack_batch,
)
from byzlab.network.tcp.buffers import Inbox, ResendBuffer
from byzlab.network.tcp.config import NodeConfig
from byzlab.network.trace import TraceWriter

__all__ = ["ProxyConnection"]

log = logging.getLogger("byzlab.node")


class ProxyConnection:
    """The connection of node ``config.node`` to the proxy, re-established whenever it breaks.

    ``senders`` seal frames for every peer and for the proxy (id n); ``hello`` gives the
    hello item to send first on each connection; peer frames go to ``inbox``, ``START`` too,
    and ``on_stop(kind)`` is called on the proxy's ``done`` or ``corrupted``.
    ``drop(reason, **data)`` records a frame that could not be used; ``counters`` and
    ``trace`` are the node's.
    """

    def __init__(
        self,
        config: NodeConfig,
        *,
        senders: dict[int, LinkSender],
        proxy_recv_key: bytes,
        inbox: Inbox,
        hello: Callable[[], dict[str, Any]],
        on_stop: Callable[[str], None],
        drop: Callable[..., None],
        counters: Counter[str],
        trace: TraceWriter,
    ) -> None:
        self.config = config
        self.me = config.node
        self.proxy_id = len(senders)  # the peers 0..n-1 but me, and the proxy n
        self.senders = senders
        self._proxy_recv_key = proxy_recv_key
        self._inbox = inbox
        self._hello = hello
        self._on_stop = on_stop
        self._drop = drop
        self.counters = counters
        self.trace = trace
        self.resend = ResendBuffer(
            list(senders), max_frames=config.resend_frames, max_bytes=config.resend_bytes
        )
        self._jitter = random.Random()  # backoff jitter only; never touches protocol state
        self._connected = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._writer: asyncio.StreamWriter | None = None
        self._session_up = False  # an authenticated frame from the proxy on this connection

    async def run(self) -> None:
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
                hello = {"t": HELLO, **self._hello()}
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
                    if peek_sender(item) == proxy_id:
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
            elif kind in (DONE, CORRUPTED):
                self.trace.event(kind)
                self._on_stop(kind)
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

    async def flush_round(self, payloads: list[tuple[int, bytes]]) -> None:
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
