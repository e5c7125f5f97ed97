"""Length-prefixed frames on a byte stream, msgpack batches inside them, and batching.

Theory of operation
-------------------
A TCP connection is a byte stream; the protocol exchanges messages. Three layers sit in
between, outermost first::

    stream   := frame*
    frame    := length (u32, big-endian) || body          length <= max_frame
    body     := authenticated link frame (auth.py): header || payload || MAC
    header   := version (u8) || sender (u32) || receiver (u32) || seq (u64), big-endian
    payload  := msgpack array of protocol messages ("a batch")

The body's layout (``FRAME_HEADER``, ``OVERHEAD``) is defined here, once: ``auth.py`` seals
and opens bodies with it, and the node process and the proxy read the route of a body
(``peek_route``, ``peek_sender``) without opening it, to decide where it goes.

*Framing* (``FrameDecoder``, ``encode_frame``) is sans-IO in the style of h11: bytes go in
through ``feed``, whole frame bodies (or typed ``FrameError`` values) come out, and the
decoder never touches a socket. Whatever arrives, its buffer holds at most
``max_frame + 4`` bytes: a length prefix above the limit is rejected *as soon as its four
bytes are read*, before any of the announced body is buffered, and the error is *fatal*
(``FrameError.fatal``), because once a length is distrusted the stream has no frame
boundaries left and the connection must be closed. Every other frame error is confined
to its own frame.

*Batches* (``pack_batch``, ``unpack_batch``) turn a list of messages into one payload and
back. Unpacking is the first place peer-controlled bytes become Python objects, so it
runs msgpack with every limit set (no string, byte string, array or map can claim more
elements than the payload has bytes, so a 5-byte "array of 4 billion items" header
cannot make msgpack pre-allocate gigabytes), extension types refused (``max_ext_len=0``:
the vocabulary is None, bool, int, float, str, bytes, list and dict with str/bytes keys),
and every exception msgpack can raise translated into a ``FrameError``. The number of
messages in a batch is read from the array header and checked against ``max_items``
before anything is decoded. Whether each item is a valid protocol message is decided
elsewhere (``node/messages.py``); this layer only guarantees "bytes in, list of
primitives or typed error out". msgpack limits nesting to 1024 levels (``StackError``);
consumers should validate items iteratively, not by unbounded recursion.

*IO helpers* (``read_frames``, ``write_frame``) are thin asyncio wrappers. Reading is
bounded by the StreamReader's own buffer limit (it pauses the transport) plus the
decoder's ``max_frame + 4``. ``write_frame`` always awaits ``writer.drain()``, so a
writer whose peer stops reading is suspended instead of growing the transport buffer.

*Batching* (``Batcher``) collects outgoing messages per destination and turns them into
as few frames as possible. Messages sent during one turn of the event loop go out
together: ``send`` only appends and sets an event; setting it resolves the flushing
task's future, which asyncio schedules with ``call_soon``, so the flush runs on the next
turn of the loop, after the producer yields, and takes everything that has accumulated.
A frame is cut at ``max_items`` messages or ``max_payload`` bytes, whichever comes
first, and when a destination reaches ``max_items`` pending messages ``send`` yields
once so that a full frame leaves without waiting for the producer to finish its turn.
With ``flush_round`` the flushing task hands over one payload per destination at a time
(a *round*), so that the caller can write them all with one system call. While the
flushing task waits in ``drain()`` (the peer or the proxy is slow), messages keep
accumulating, so batches grow exactly when the link is the bottleneck.

Bounds (every queue here is bounded): per destination at most ``max_pending`` messages
(default 4096) wait in a Batcher, holding at most ``max_pending_bytes`` (default 4 MiB)
plus one message (the bound is checked before appending, so the last message let in may
cross it); ``send`` suspends the producer while its destination is at the bound, and
``send_nowait`` raises ``asyncio.QueueFull``. ``put_packed``, the fast path (a message
packed once and queued for many destinations), never waits: it reports the bound, and the
producer waits (``wait_for_space``) as soon as it has finished the input in hand, so a
destination holds at most what one input adds on top of the bound. Above the transport's
high-water mark ``drain()`` holds the flushing task back. So one outgoing connection holds
at most, per destination, ``max_pending_bytes + max_payload`` plus one input's output,
plus one round being written and the transport's high-water mark.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from bisect import bisect_right
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

import msgpack

from byzlab.errors import BatcherClosedError

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "FRAME_HEADER",
    "HEADER_SIZE",
    "LENGTH_PREFIX",
    "LENGTH_PREFIX_SIZE",
    "MAC_SIZE",
    "MAX_FRAME",
    "OVERHEAD",
    "VERSION",
    "Batcher",
    "FrameDecoder",
    "FrameError",
    "FrameErrorKind",
    "batch_length",
    "encode_frame",
    "pack_batch",
    "peek_route",
    "peek_sender",
    "read_frames",
    "unpack_batch",
    "write_frame",
]

MAX_FRAME = 1 << 20  # 1 MiB: the largest frame body accepted or sent
LENGTH_PREFIX = struct.Struct("!I")
LENGTH_PREFIX_SIZE = LENGTH_PREFIX.size
# The body's header: version, sender, receiver, sequence number (see auth.py for the MAC).
FRAME_HEADER = struct.Struct("!BIIQ")
HEADER_SIZE = FRAME_HEADER.size  # 17
VERSION = 1
MAC_SIZE = 16
OVERHEAD = HEADER_SIZE + MAC_SIZE  # bytes a frame body adds to its payload
_SENDER = struct.Struct("!I")  # the sender field alone, at offset 1 (one per frame read)
DEFAULT_MAX_ITEMS = 1024  # messages per batch accepted by unpack_batch
# Largest msgpack array header (0xdd + u32); reserved when sizing a batch.
_ARRAY_HEADER_MAX = 5
READ_CHUNK = 64 * 1024


class FrameErrorKind(enum.Enum):
    OVERSIZED = "oversized"  # length prefix or payload above the limit
    TRUNCATED = "truncated"  # stream or payload ended inside a frame / value
    MALFORMED = "malformed"  # not msgpack, trailing bytes, refused type, limits, nesting
    NOT_A_BATCH = "not_a_batch"  # valid msgpack, but the top level is not an array
    TOO_MANY_ITEMS = "too_many_items"  # more messages in one batch than allowed


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameError:
    """A peer sent bytes we cannot use. Data to record, not an exception to raise.

    ``fatal`` means the stream can no longer be parsed and must be closed.
    """

    kind: FrameErrorKind
    detail: str
    fatal: bool = False


# --------------------------------------------------------------------------- framing


def encode_frame(body: bytes, *, max_frame: int = MAX_FRAME) -> bytes:
    """``body`` with its length prefix. Raises ``ValueError`` if it exceeds ``max_frame``."""
    if len(body) > max_frame:
        raise ValueError(f"frame body of {len(body)} bytes exceeds the limit of {max_frame}")
    return LENGTH_PREFIX.pack(len(body)) + body


def peek_route(body: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """(sender, receiver) from a frame body's header, *unauthenticated*: routing only."""
    if len(body) < OVERHEAD:
        return None
    _, sender, receiver, _ = FRAME_HEADER.unpack_from(body)
    return sender, receiver


def peek_sender(body: bytes | bytearray | memoryview) -> int | None:
    """The sender field of a frame body's header, *unauthenticated*: routing only."""
    if len(body) < OVERHEAD:
        return None
    sender: int = _SENDER.unpack_from(body, 1)[0]
    return sender


class FrameDecoder:
    """Splits a byte stream into frame bodies. Sans-IO; holds at most max_frame + 4 bytes.

    After a fatal error the decoder is finished: calling ``feed`` again is a bug in the
    caller (it was told to close the stream) and raises ``RuntimeError``.
    """

    __slots__ = ("_buf", "_error", "_need", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if not 0 <= max_frame <= 0xFFFFFFFF:
            raise ValueError(f"max_frame must fit the u32 length prefix, got {max_frame}")
        self.max_frame = max_frame
        self._buf = bytearray()  # a partial length prefix or a partial body, never both
        self._need: int | None = None  # body length once the prefix is known
        self._error: FrameError | None = None  # the fatal error, once there is one

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete prefix or body (always <= max_frame + 4)."""
        return len(self._buf)

    @property
    def failed(self) -> bool:
        return self._error is not None

    @property
    def error(self) -> FrameError | None:
        """The fatal error that ended this stream, if any (kept for the run's evidence)."""
        return self._error

    @property
    def mid_frame(self) -> bool:
        """True if the stream stopped inside a frame (data would be lost at EOF)."""
        return self._need is not None or bool(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes | FrameError]:
        """Consume ``data``; return the frame bodies completed by it, in order.

        A fatal ``FrameError`` is always the last item; the rest of ``data`` is ignored.
        """
        if self._error is not None:
            raise RuntimeError("FrameDecoder.feed() after a fatal error; close the stream")
        out: list[bytes | FrameError] = []
        view = memoryview(data).cast("B")
        end = len(view)
        pos = 0
        buf = self._buf
        while pos < end:
            need = self._need
            if need is None:
                take = min(LENGTH_PREFIX_SIZE - len(buf), end - pos)
                buf += view[pos : pos + take]
                pos += take
                if len(buf) < LENGTH_PREFIX_SIZE:
                    break
                (length,) = LENGTH_PREFIX.unpack(buf)
                buf.clear()
                if length > self.max_frame:
                    # Decided on the prefix alone: nothing of the body is ever buffered.
                    self._error = FrameError(
                        kind=FrameErrorKind.OVERSIZED,
                        detail=f"length prefix {length} exceeds the limit of {self.max_frame}",
                        fatal=True,
                    )
                    out.append(self._error)
                    return out
                if length == 0:
                    out.append(b"")  # framing is content-agnostic; auth rejects it
                    continue
                self._need = length
            elif not buf and end - pos >= need:
                # Fast path, the common case: the whole body is in this chunk, copy once.
                out.append(bytes(view[pos : pos + need]))
                pos += need
                self._need = None
            else:
                take = min(need - len(buf), end - pos)
                buf += view[pos : pos + take]
                pos += take
                if len(buf) == need:
                    out.append(bytes(buf))
                    buf.clear()
                    self._need = None
        return out

    def eof(self) -> FrameError | None:
        """Call when the stream ends: an error if it ended inside a frame, else None."""
        if self._error is not None or not self.mid_frame:
            return None
        got = len(self._buf)
        what = "length prefix" if self._need is None else f"body of {self._need} bytes"
        self._buf.clear()
        self._need = None
        self._error = FrameError(
            kind=FrameErrorKind.TRUNCATED,
            detail=f"stream ended inside a frame ({got} bytes of a {what})",
            fatal=True,
        )
        return self._error


# --------------------------------------------------------------------------- batches


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x90 | count,))
    if count <= 0xFFFF:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _packer() -> msgpack.Packer:
    # use_bin_type keeps bytes and str distinct on the wire; tuples pack as arrays
    # (messages are often tuples) and come back as lists. A Packer is reused because
    # msgpack.packb builds a new one per call, which dominates for small messages.
    return msgpack.Packer(use_bin_type=True, autoreset=True)


def pack_batch(messages: list[object]) -> bytes:
    """One payload holding ``messages`` as a msgpack array.

    Raises ``TypeError`` for objects msgpack cannot encode (our bug, not the peer's).
    """
    return _packer().pack(messages)  # type: ignore[no-any-return]


def batch_length(data: bytes | bytearray | memoryview, offset: int = 0) -> int | FrameError:
    """Number of items announced by the msgpack array header at ``data[offset:]``.

    Reads at most five bytes and decodes nothing: O(1) whatever the payload. For a payload
    that ``unpack_batch`` accepts, this is exactly ``len(unpack_batch(payload))``; for any
    other payload it is only what the header claims (or a ``FrameError`` if there is no
    array header). The proxy counts messages this way when nobody needs their contents.
    """
    if len(data) <= offset:
        return FrameError(kind=FrameErrorKind.TRUNCATED, detail="empty payload")
    first = data[offset]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first == 0xDC:
        size = 2
    elif first == 0xDD:
        size = 4
    else:
        return FrameError(
            kind=FrameErrorKind.NOT_A_BATCH,
            detail=f"payload starts with 0x{first:02x}, not a msgpack array",
        )
    if len(data) < offset + 1 + size:
        return FrameError(kind=FrameErrorKind.TRUNCATED, detail="array header cut short")
    return int.from_bytes(data[offset + 1 : offset + 1 + size], "big")


def unpack_batch(
    data: bytes | bytearray | memoryview,
    max_items: int = DEFAULT_MAX_ITEMS,
    *,
    max_size: int = MAX_FRAME,
) -> list[object] | FrameError:
    """Decode one payload into a list of messages made of msgpack primitives.

    Never raises on hostile input: anything but a well-formed array of at most
    ``max_items`` primitive values, with no trailing bytes, is a ``FrameError``.
    """
    size = len(data)
    if size > max_size:
        return FrameError(
            kind=FrameErrorKind.OVERSIZED,
            detail=f"payload of {size} bytes exceeds the limit of {max_size}",
        )
    count = batch_length(data)
    if isinstance(count, FrameError):
        return count
    if count > max_items:
        return FrameError(
            kind=FrameErrorKind.TOO_MANY_ITEMS,
            detail=f"batch announces {count} messages, the limit is {max_items}",
        )
    try:
        # Every container element and every string byte costs at least one payload
        # byte, so len(data) bounds each length honestly; a map entry costs two.
        result = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            timestamp=0,
            max_str_len=size,
            max_bin_len=size,
            max_array_len=size,
            max_map_len=size // 2,
            max_ext_len=0,
        )
    except msgpack.ExtraData as exc:
        return FrameError(
            kind=FrameErrorKind.MALFORMED,
            detail=f"{len(exc.extra)} trailing bytes after the batch",
        )
    except msgpack.OutOfData:
        return FrameError(kind=FrameErrorKind.TRUNCATED, detail="payload ends inside a value")
    except msgpack.StackError:
        return FrameError(
            kind=FrameErrorKind.MALFORMED, detail="nesting deeper than msgpack allows"
        )
    except msgpack.FormatError as exc:
        why = str(exc) or "a reserved or unknown type byte"
        return FrameError(kind=FrameErrorKind.MALFORMED, detail=f"invalid msgpack: {why}")
    except UnicodeDecodeError as exc:
        return FrameError(
            kind=FrameErrorKind.MALFORMED, detail=f"string is not UTF-8: {exc.reason}"
        )
    except ValueError as exc:
        # msgpack reports "incomplete input" and every exceeded max_*_len as ValueError.
        text = str(exc)
        kind = (
            FrameErrorKind.TRUNCATED if "incomplete" in text.lower() else FrameErrorKind.MALFORMED
        )
        return FrameError(kind=kind, detail=f"msgpack: {text}")
    except (msgpack.UnpackException, TypeError, OverflowError, RecursionError) as exc:
        # TypeError: an unhashable map key; OverflowError: an integer out of range. Kept
        # explicit rather than `except Exception` so our own bugs still surface.
        return FrameError(
            kind=FrameErrorKind.MALFORMED, detail=f"msgpack: {type(exc).__name__}: {exc}"
        )
    if not isinstance(result, list) or len(result) != count:  # pragma: no cover - defensive
        return FrameError(kind=FrameErrorKind.MALFORMED, detail="batch header mismatch")
    return result


# --------------------------------------------------------------------------- asyncio IO


async def read_frames(
    reader: asyncio.StreamReader,
    decoder: FrameDecoder,
    *,
    chunk_size: int = READ_CHUNK,
) -> AsyncIterator[bytes | FrameError]:
    """Yield frame bodies (and non-fatal errors) from ``reader`` until EOF.

    A fatal ``FrameError`` is yielded last; the caller must then close the connection.
    A stream that ends inside a frame yields a fatal ``TRUNCATED`` error.
    """
    while True:
        data = await reader.read(chunk_size)
        if not data:
            error = decoder.eof()
            if error is not None:
                yield error
            return
        for item in decoder.feed(data):
            yield item
            if isinstance(item, FrameError) and item.fatal:
                return


async def write_frame(
    writer: asyncio.StreamWriter, body: bytes, *, max_frame: int = MAX_FRAME
) -> None:
    """Write one length-prefixed frame and wait until the transport can take more."""
    if len(body) > max_frame:
        raise ValueError(f"frame body of {len(body)} bytes exceeds the limit of {max_frame}")
    writer.writelines((LENGTH_PREFIX.pack(len(body)), body))
    await writer.drain()


# --------------------------------------------------------------------------- batching


@dataclass(slots=True)
class _Pending:
    items: deque[bytes]  # this destination's own messages (and broadcasts taken early)
    nbytes: int = 0  # bytes in ``items``
    space: asyncio.Event | None = None  # created when a producer first has to wait
    member: bool = False  # a broadcast destination: also takes the broadcast log
    cursor: int = 0  # members: the first broadcast in the log it has not taken yet


Payloads = list[tuple[int, bytes]]


class Batcher:
    """Collects messages per destination and flushes them as batched payloads.

    ``flush(dest, payload)`` is the coroutine that seals and writes one payload (usually
    ``LinkSender.seal`` then ``write_frame``); it is awaited by ``run``, one payload at a
    time, so its ``drain()`` is what pushes back on producers. Use one Batcher per
    connection: with a single connection to the proxy, one Batcher serves all
    destinations; destinations are served round-robin, one frame each per round.

    Alternatively ``flush_round(payloads)`` receives a whole round at once, one payload
    per destination with pending messages, in round-robin order: the caller can then seal
    them all and hand the socket a single write per round instead of one per destination.

    Fast producer path: ``pack`` a message once, then ``put_broadcast`` it for every
    destination in ``broadcast`` (the node's peers), or ``put_packed`` it for any list of
    destinations. A broadcast costs O(1): it is appended to one shared *log*, which each
    broadcast destination reads from its own cursor, and destinations that take the same
    stretch of the log in a round share one payload (packed once, sealed per destination
    by the caller). Order per destination is kept: a message of a destination's own is
    queued after the broadcasts before it. Neither method waits: they report whether a
    destination reached its bound, and the producer then awaits ``wait_for_space()`` at
    its next convenient point (after the input it is working on), so a destination may
    exceed ``max_pending`` by what one such step produces.

    Run ``run()`` as a task (in the connection's TaskGroup). ``close()`` stops new
    messages; ``run()`` then flushes what is pending and returns.
    """

    def __init__(
        self,
        flush: Callable[[int, bytes], Awaitable[None]] | None = None,
        *,
        flush_round: Callable[[Payloads], Awaitable[None]] | None = None,
        broadcast: Iterable[int] = (),
        max_items: int = 256,
        max_payload: int = MAX_FRAME - OVERHEAD,
        max_pending: int = 4096,
        max_pending_bytes: int = 4 * MAX_FRAME,
    ) -> None:
        if (flush is None) == (flush_round is None):
            raise ValueError("give exactly one of flush and flush_round")
        if max_items < 1 or max_pending < max_items:
            raise ValueError("need 1 <= max_items <= max_pending")
        if max_payload <= _ARRAY_HEADER_MAX or max_pending_bytes < max_payload:
            raise ValueError("need a positive max_payload <= max_pending_bytes")
        self._flush = flush
        self._flush_round = flush_round
        self.max_items = max_items
        self.max_payload = max_payload
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._packer = _packer()
        self._queues: dict[int, _Pending] = {}
        # Destinations with pending messages, in the order they will be served.
        self._ready: dict[int, None] = {}
        # The broadcast log: messages for every member, not yet taken by all of them, and
        # cumulative sizes (_log_bytes[i] = bytes of _log[:i]).
        self._members = tuple(dict.fromkeys(broadcast))
        for dest in self._members:
            self._queues[dest] = _Pending(items=deque(), member=True)
        self._log: list[bytes] = []
        self._log_bytes: list[int] = [0]
        self._members_ready = False  # every member is in _ready
        # Upper bounds, over members, of the pending messages and bytes beyond the log's.
        self._extra_items = 0
        self._extra_bytes = 0
        self._payloads: dict[tuple[int, int], bytes] = {}  # log stretches packed this round
        self._wakeup = asyncio.Event()
        self._closed = False
        self._running = False
        self.frames_sent = 0
        self.messages_sent = 0

    # ----------------------------------------------------------------- producer side

    def pending(self, dest: int) -> int:
        queue = self._queues.get(dest)
        if queue is None:
            return 0
        return len(queue.items) + (len(self._log) - queue.cursor if queue.member else 0)

    def pending_bytes(self, dest: int) -> int:
        queue = self._queues.get(dest)
        if queue is None:
            return 0
        shared = self._log_bytes[-1] - self._log_bytes[queue.cursor] if queue.member else 0
        return queue.nbytes + shared

    @property
    def closed(self) -> bool:
        return self._closed

    def _full(self, queue: _Pending) -> bool:
        if not queue.member:
            return len(queue.items) >= self.max_pending or (
                bool(queue.items) and queue.nbytes >= self.max_pending_bytes
            )
        items = len(queue.items) + len(self._log) - queue.cursor
        size = queue.nbytes + self._log_bytes[-1] - self._log_bytes[queue.cursor]
        return items >= self.max_pending or (items > 0 and size >= self.max_pending_bytes)

    def pack(self, message: object) -> bytes:
        """``message`` as msgpack bytes for ``put_packed``.

        Raises ``TypeError`` for what msgpack cannot encode and ``ValueError`` for a
        message too large for any payload (both bugs in the caller, not the peer's doing),
        and ``BatcherClosedError`` once closed.
        """
        if self._closed:
            raise BatcherClosedError("Batcher is closed")
        item: bytes = self._packer.pack(message)
        if len(item) > self.max_payload - _ARRAY_HEADER_MAX:
            raise ValueError(
                f"message of {len(item)} bytes cannot fit in a payload of {self.max_payload}"
            )
        return item

    def _own(self, dest: int) -> _Pending:
        """``dest``'s queue, ready for a message of its own: a member first takes the
        broadcasts queued before it, so that the order is kept."""
        queue = self._queues.get(dest)
        if queue is None:
            queue = self._queues[dest] = _Pending(items=deque())
        elif queue.member and queue.cursor < len(self._log):
            log_bytes = self._log_bytes
            queue.items.extend(self._log[queue.cursor :])
            queue.nbytes += log_bytes[-1] - log_bytes[queue.cursor]
            queue.cursor = len(self._log)
        return queue

    def _append(self, dest: int, queue: _Pending, item: bytes) -> None:
        queue.items.append(item)
        queue.nbytes += len(item)
        if queue.member:
            self._extra_items = max(self._extra_items, len(queue.items) - queue.cursor)
            self._extra_bytes = max(self._extra_bytes, queue.nbytes - self._log_bytes[queue.cursor])
        if dest not in self._ready:
            self._ready[dest] = None
            self._wakeup.set()  # the flushing task runs when the loop next turns

    def send_nowait(self, dest: int, message: object) -> None:
        """Queue ``message`` for ``dest``; ``asyncio.QueueFull`` if its queue is full."""
        item = self.pack(message)
        queue = self._own(dest)
        if self._full(queue):
            raise asyncio.QueueFull(f"{self.pending(dest)} messages pending for {dest}")
        self._append(dest, queue, item)

    async def send(self, dest: int, message: object) -> None:
        """Queue ``message`` for ``dest``, waiting while that destination is at its bound."""
        item = self.pack(message)
        queue = self._own(dest)
        while self._full(queue):
            await self._wait(queue)
            queue = self._own(dest)  # broadcasts may have been queued meanwhile
        self._append(dest, queue, item)
        if self.pending(dest) % self.max_items == 0:
            # A full frame's worth is waiting: let the flushing task take it now rather
            # than at the end of the producer's turn.
            await asyncio.sleep(0)

    def put_packed(self, dests: Iterable[int], item: bytes) -> bool:
        """Queue the packed message ``item`` (from ``pack``) for every destination in
        ``dests``, without waiting. True if some destination is now at its bound: the
        producer should ``await wait_for_space()`` before it produces much more."""
        if self._closed:
            raise BatcherClosedError("Batcher is closed")
        full = False
        for dest in dests:
            queue = self._own(dest)
            self._append(dest, queue, item)
            if self._full(queue):
                full = True
        return full

    def put_broadcast(self, item: bytes) -> bool:
        """Queue the packed message ``item`` for every ``broadcast`` destination, in O(1).
        True if some destination is now at its bound (see ``put_packed``)."""
        if self._closed:
            raise BatcherClosedError("Batcher is closed")
        if not self._members:
            return False
        log = self._log
        log.append(item)
        total = self._log_bytes[-1] + len(item)
        self._log_bytes.append(total)
        if not self._members_ready:
            self._members_ready = True
            ready = self._ready
            for dest in self._members:
                if dest not in ready:
                    ready[dest] = None
            self._wakeup.set()
        return (
            len(log) + self._extra_items >= self.max_pending
            or total + self._extra_bytes >= self.max_pending_bytes
        )

    async def wait_for_space(self) -> None:
        """Wait until no destination is at its bound (see ``put_packed``)."""
        for queue in self._queues.values():
            while self._full(queue):
                await self._wait(queue)

    async def _wait(self, queue: _Pending) -> None:
        if queue.space is None:
            queue.space = asyncio.Event()
        queue.space.clear()
        await queue.space.wait()
        if self._closed:
            raise BatcherClosedError("Batcher closed while waiting to send")

    def close(self) -> None:
        """Accept no more messages; ``run()`` flushes what is pending, then returns."""
        self._closed = True
        self._wakeup.set()
        self._wake_producers()

    def _wake_producers(self) -> None:
        for queue in self._queues.values():
            if queue.space is not None:
                queue.space.set()

    # ----------------------------------------------------------------- flushing side

    def _cut(self, dest: int) -> tuple[bytes, int]:
        queue = self._queues[dest]
        items = queue.items
        budget = self.max_payload - _ARRAY_HEADER_MAX
        log = self._log
        if not items and queue.member:
            # Only broadcasts: a stretch of the log, packed once for every member that
            # takes the same stretch in this round.
            start = queue.cursor
            log_bytes = self._log_bytes
            end = min(len(log), start + self.max_items)
            if log_bytes[end] - log_bytes[start] > budget:
                end = bisect_right(log_bytes, log_bytes[start] + budget, start, end) - 1
            key = (start, end)
            payload = self._payloads.get(key)
            if payload is None:
                payload = self._payloads[key] = _array_header(end - start) + b"".join(
                    log[start:end]
                )
            queue.cursor = end
            count = end - start
        elif (
            len(items) <= self.max_items
            and queue.nbytes <= budget
            and (not queue.member or queue.cursor == len(log))
        ):
            # The common case otherwise: everything pending fits in one payload.
            count = len(items)
            payload = _array_header(count) + b"".join(items)
            items.clear()
            queue.nbytes = 0
        else:
            parts: list[bytes] = []
            used = 0
            while items and len(parts) < self.max_items and used + len(items[0]) <= budget:
                item = items.popleft()
                parts.append(item)
                used += len(item)
            queue.nbytes -= used
            if not items and queue.member:
                while (
                    queue.cursor < len(log)
                    and len(parts) < self.max_items
                    and used + len(log[queue.cursor]) <= budget
                ):
                    parts.append(log[queue.cursor])
                    used += len(log[queue.cursor])
                    queue.cursor += 1
            count = len(parts)
            payload = _array_header(count) + b"".join(parts)
        if queue.space is not None:
            queue.space.set()
        return payload, count

    def _after_cuts(self) -> None:
        """Forget the broadcasts every member has taken; recompute the bounds."""
        self._payloads.clear()
        self._members_ready = False
        members = [self._queues[d] for d in self._members]
        if not members:
            return
        taken = min(q.cursor for q in members)
        if taken:
            del self._log[:taken]
            base = self._log_bytes[taken]
            self._log_bytes = [b - base for b in self._log_bytes[taken:]]
            for q in members:
                q.cursor -= taken
        log_bytes = self._log_bytes
        self._extra_items = max(len(q.items) - q.cursor for q in members)
        self._extra_bytes = max(q.nbytes - log_bytes[q.cursor] for q in members)

    async def run(self) -> None:
        """Flush pending messages until ``close()`` and everything is written."""
        if self._running:
            raise RuntimeError("Batcher.run() is already running")
        self._running = True
        try:
            while True:
                if not self._ready:
                    if self._closed:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                if self._flush_round is not None:
                    await self._flush_one_round(self._flush_round)
                    continue
                assert self._flush is not None
                dest = next(iter(self._ready))
                del self._ready[dest]
                payload, count = self._cut(dest)
                self._after_cuts()
                if self.pending(dest):
                    self._ready[dest] = None  # back of the line: round-robin
                await self._flush(dest, payload)
                self.frames_sent += 1
                self.messages_sent += count
        finally:
            # Whether we finished or the connection failed, nobody will flush any more:
            # release producers waiting for space instead of leaving them stuck.
            self._closed = True
            self._wake_producers()

    async def _flush_one_round(self, flush_round: Callable[[Payloads], Awaitable[None]]) -> None:
        """One payload for each destination that has messages, in round-robin order."""
        dests = list(self._ready)
        self._ready.clear()
        payloads: Payloads = []
        messages = 0
        for dest in dests:
            payload, count = self._cut(dest)
            payloads.append((dest, payload))
            messages += count
        self._after_cuts()
        for dest in dests:
            if self.pending(dest):
                self._ready[dest] = None  # more than one frame's worth: next round
        await flush_round(payloads)
        self.frames_sent += len(payloads)
        self.messages_sent += messages
