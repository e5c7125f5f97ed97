"""Framing, msgpack batches and batching: sans-IO decoder, hostile bytes, real TCP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import struct
import tracemalloc

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.errors import BatcherClosedError
from byzlab.network.framing import (
    MAX_FRAME,
    Batcher,
    FrameDecoder,
    FrameError,
    FrameErrorKind,
    batch_length,
    encode_frame,
    pack_batch,
    read_frames,
    unpack_batch,
    write_frame,
)


def frames_of(items: list[bytes | FrameError]) -> list[bytes]:
    assert all(isinstance(i, bytes) for i in items), items
    return [i for i in items if isinstance(i, bytes)]


# --------------------------------------------------------------------------- decoder


def test_round_trip_several_frames_in_one_chunk() -> None:
    bodies = [b"a", b"bc" * 100, b"\x00" * 5000]
    stream = b"".join(encode_frame(b) for b in bodies)
    decoder = FrameDecoder()
    assert frames_of(decoder.feed(stream)) == bodies
    assert decoder.buffered == 0
    assert not decoder.mid_frame
    assert decoder.eof() is None


def test_byte_by_byte_feeding() -> None:
    bodies = [b"first", b"", b"x" * 300, b"last"]
    stream = b"".join(encode_frame(b) for b in bodies)
    decoder = FrameDecoder()
    out: list[bytes | FrameError] = []
    for i in range(len(stream)):
        out += decoder.feed(stream[i : i + 1])
        assert decoder.buffered <= 300 + 4
    assert frames_of(out) == bodies


def test_accepts_bytearray_and_memoryview() -> None:
    stream = encode_frame(b"hello") + encode_frame(b"world")
    assert frames_of(FrameDecoder().feed(bytearray(stream))) == [b"hello", b"world"]
    assert frames_of(FrameDecoder().feed(memoryview(stream))) == [b"hello", b"world"]


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(0, 10_000), max_size=30),
)
def test_any_chunking_gives_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(b, max_frame=300) for b in bodies)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    decoder = FrameDecoder(max_frame=300)
    out: list[bytes | FrameError] = []
    for a, b in itertools.pairwise(points):
        out += decoder.feed(stream[a:b])
        assert decoder.buffered <= 300 + 4
    assert frames_of(out) == bodies
    assert decoder.eof() is None


def test_frame_at_exactly_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(max_frame=1000)
    assert frames_of(decoder.feed(encode_frame(b"z" * 1000, max_frame=1000))) == [b"z" * 1000]


def test_oversized_length_prefix_is_fatal_and_nothing_is_buffered() -> None:
    decoder = FrameDecoder(max_frame=1000)
    out = decoder.feed(struct.pack("!I", 1001) + b"y" * 500)
    assert len(out) == 1
    error = out[0]
    assert isinstance(error, FrameError)
    assert error.kind is FrameErrorKind.OVERSIZED
    assert error.fatal
    assert decoder.failed
    assert decoder.error is error
    assert decoder.buffered == 0
    # The caller was told to close the stream; feeding more is a bug on our side.
    with pytest.raises(RuntimeError, match="after a fatal error"):
        decoder.feed(b"more")
    assert decoder.eof() is None


def test_frames_before_an_oversized_prefix_are_still_delivered() -> None:
    decoder = FrameDecoder(max_frame=10)
    out = decoder.feed(encode_frame(b"ok") + struct.pack("!I", 11) + encode_frame(b"never"))
    assert out[0] == b"ok"
    assert isinstance(out[1], FrameError)
    assert out[1].fatal
    assert len(out) == 2


def test_huge_length_prefix_allocates_nothing() -> None:
    decoder = FrameDecoder()  # 1 MiB limit
    tracemalloc.start()
    try:
        out = decoder.feed(b"\xff\xff\xff\xff" + b"\x00" * 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(out[0], FrameError)
    assert out[0].kind is FrameErrorKind.OVERSIZED
    assert peak < 16 * 1024  # a 4 GiB claim costs a few small objects, not a buffer
    assert decoder.buffered == 0


def test_eof_inside_a_frame_is_a_fatal_truncation() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(b"0123456789")[:7]) == []
    assert decoder.mid_frame
    error = decoder.eof()
    assert error is not None
    assert error.kind is FrameErrorKind.TRUNCATED
    assert error.fatal
    assert "3 bytes of a body of 10 bytes" in error.detail

    partial_prefix = FrameDecoder()
    assert partial_prefix.feed(b"\x00\x00") == []
    error = partial_prefix.eof()
    assert error is not None
    assert "length prefix" in error.detail


def test_encode_frame_refuses_oversized_body() -> None:
    with pytest.raises(ValueError, match="exceeds the limit"):
        encode_frame(b"x" * 11, max_frame=10)
    with pytest.raises(ValueError, match="u32"):
        FrameDecoder(max_frame=2**32)


SMALL_LIMIT = 64


@settings(max_examples=500, deadline=None)
@given(chunks=st.lists(st.binary(max_size=200), max_size=20))
def test_fuzz_decoder_never_raises_and_stays_bounded(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(max_frame=SMALL_LIMIT)
    for chunk in chunks:
        out = decoder.feed(chunk)
        assert decoder.buffered <= SMALL_LIMIT + 4
        for item in out:
            if isinstance(item, bytes):
                assert len(item) <= SMALL_LIMIT
        if decoder.failed:
            assert isinstance(out[-1], FrameError)
            assert out[-1].fatal
            break
    decoder.eof()


# --------------------------------------------------------------------------- batches

primitives = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(messages=st.lists(primitives, max_size=40))
def test_batch_round_trip(messages: list[object]) -> None:
    assert unpack_batch(pack_batch(messages)) == messages


def test_tuples_come_back_as_lists() -> None:
    batch = [(1, 2, 3, -1, 0, 7)] * 100
    assert unpack_batch(pack_batch(batch)) == [[1, 2, 3, -1, 0, 7]] * 100  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, 15, 16, 65535, 65536])
def test_every_array_header_size(count: int) -> None:
    messages: list[object] = list(range(count))
    packed = pack_batch(messages)
    assert packed == msgpack.packb(messages)
    assert unpack_batch(packed, max_items=count) == messages


def test_pack_batch_refuses_unencodable_objects() -> None:
    with pytest.raises(TypeError):
        pack_batch([object()])


def _err(data: bytes, **kwargs: int) -> FrameError:
    result = unpack_batch(data, **kwargs)
    assert isinstance(result, FrameError), result
    assert not result.fatal  # a bad payload spoils its frame, not the stream
    return result


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", FrameErrorKind.TRUNCATED),
        (b"\x01", FrameErrorKind.NOT_A_BATCH),
        (msgpack.packb({"a": 1}), FrameErrorKind.NOT_A_BATCH),
        (msgpack.packb("a string"), FrameErrorKind.NOT_A_BATCH),
        (b"\xdc\x00", FrameErrorKind.TRUNCATED),  # array16 header cut short
        (b"\x92\x01", FrameErrorKind.TRUNCATED),  # announces 2 items, holds 1
        (b"\x91\xa5ab", FrameErrorKind.TRUNCATED),  # string cut short
        (b"\x91\x01\x02", FrameErrorKind.MALFORMED),  # trailing bytes
        (b"\x91\xc1", FrameErrorKind.MALFORMED),  # 0xc1 is reserved in msgpack
        (b"\x91\xa1\xff", FrameErrorKind.MALFORMED),  # not UTF-8
        (b"\x91\x81\x01\x02", FrameErrorKind.MALFORMED),  # int map key
        (b"\x91\x81\x90\x02", FrameErrorKind.MALFORMED),  # list map key
        (b"\x91\xd4\x05\x00", FrameErrorKind.MALFORMED),  # ext type
        (b"\x91" + msgpack.packb(msgpack.Timestamp(1, 0)), FrameErrorKind.MALFORMED),
        (b"\x91\xdd\xff\xff\xff\xff", FrameErrorKind.MALFORMED),  # nested 4G-item array
        (b"\x91\xdf\xff\xff\xff\xff", FrameErrorKind.MALFORMED),  # nested 4G-entry map
        # A 4 GiB string / byte string: msgpack sees the data is missing before allocating.
        (b"\x91\xdb\xff\xff\xff\xff", FrameErrorKind.TRUNCATED),
        (b"\x91\xc6\xff\xff\xff\xff", FrameErrorKind.TRUNCATED),
        (b"\x91" * 3000 + b"\xc0", FrameErrorKind.MALFORMED),  # nesting beyond msgpack's stack
    ],
)
def test_hostile_payloads_give_typed_errors(data: bytes, kind: FrameErrorKind) -> None:
    error = _err(data, max_items=10_000)
    assert error.kind is kind, error
    assert error.detail


def test_too_many_items_is_decided_from_the_header() -> None:
    # Announces 4 billion messages in 5 bytes: refused before msgpack sees it.
    assert _err(b"\xdd\xff\xff\xff\xff").kind is FrameErrorKind.TOO_MANY_ITEMS
    assert _err(pack_batch([1, 2, 3]), max_items=2).kind is FrameErrorKind.TOO_MANY_ITEMS
    assert unpack_batch(pack_batch([1, 2]), max_items=2) == [1, 2]


def test_oversized_payload() -> None:
    assert _err(pack_batch([b"x" * 100]), max_size=50).kind is FrameErrorKind.OVERSIZED


@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=120))
def test_fuzz_unpack_never_raises(data: bytes) -> None:
    result = unpack_batch(data)
    assert isinstance(result, list | FrameError)


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(primitives, min_size=1, max_size=10),
    index=st.integers(0, 10_000),
    mask=st.integers(1, 255),
)
def test_fuzz_mutated_batches_never_raise(messages: list[object], index: int, mask: int) -> None:
    packed = bytearray(pack_batch(messages))
    packed[index % len(packed)] ^= mask
    result = unpack_batch(bytes(packed))
    if isinstance(result, list):
        # Whatever decodes is plain data: it packs again without error.
        pack_batch(result)
    else:
        assert isinstance(result, FrameError)
    truncated = unpack_batch(bytes(packed[: index % len(packed)]))
    assert isinstance(truncated, list | FrameError)


# --------------------------------------------------------------------------- header count


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(primitives, max_size=40), prefix=st.binary(max_size=20))
def test_batch_length_is_the_number_of_items_msgpack_decodes(
    messages: list[object], prefix: bytes
) -> None:
    packed = pack_batch(messages)
    assert batch_length(packed) == len(messages) == len(msgpack.unpackb(packed))
    # At an offset inside a larger buffer (the proxy reads it inside a frame body).
    assert batch_length(prefix + packed, len(prefix)) == len(messages)
    assert batch_length(memoryview(prefix + packed), len(prefix)) == len(messages)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 70_000) | st.sampled_from([15, 16, 65_535, 65_536]))
def test_batch_length_reads_every_array_header_size(count: int) -> None:
    packed = pack_batch([0] * count)
    assert batch_length(packed) == count == len(msgpack.unpackb(packed))


@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=60))
def test_batch_length_agrees_with_unpack_batch_on_any_bytes(data: bytes) -> None:
    count = batch_length(data)
    result = unpack_batch(data, max_items=1 << 32)
    if isinstance(result, list):
        assert count == len(result)
    elif isinstance(count, FrameError):
        # No array header: unpack_batch refuses the payload for the same reason.
        assert result.kind is count.kind


def test_batch_length_without_an_array_header() -> None:
    for data, kind in (
        (b"", FrameErrorKind.TRUNCATED),
        (b"\x01", FrameErrorKind.NOT_A_BATCH),
        (b"\xdc\x00", FrameErrorKind.TRUNCATED),
        (b"\xdd\x00\x00\x01", FrameErrorKind.TRUNCATED),
    ):
        result = batch_length(data)
        assert isinstance(result, FrameError) and result.kind is kind, (data, result)
    assert isinstance(batch_length(b"\x93", 1), FrameError)  # offset past the end


# --------------------------------------------------------------------------- asyncio IO


class TcpPair:
    """A real loopback TCP connection: the client's writer and the server's reader."""

    def __init__(self) -> None:
        self.accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        self.accepted = asyncio.Queue(maxsize=1)
        self.server: asyncio.Server | None = None
        self.client: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(
        self,
    ) -> tuple[asyncio.StreamWriter, asyncio.StreamReader]:
        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self.accepted.put((reader, writer))

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.client = await asyncio.open_connection("127.0.0.1", port)
        self.peer = await self.accepted.get()
        return self.client[1], self.peer[0]

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        assert self.client is not None
        for writer in (self.client[1], self.peer[1]):
            writer.close()
            with contextlib.suppress(ConnectionError):  # the peer may have reset first
                await writer.wait_closed()
        self.server.close()
        await self.server.wait_closed()


async def _collect(reader: asyncio.StreamReader, **kwargs: int) -> list[bytes | FrameError]:
    return [item async for item in read_frames(reader, FrameDecoder(**kwargs))]


@pytest.mark.asyncio
async def test_write_and_read_frames_over_tcp() -> None:
    bodies = [b"one", b"", b"three" * 1000, bytes(range(256)) * 300]
    async with asyncio.timeout(10), TcpPair() as (writer, reader):
        for body in bodies:
            await write_frame(writer, body)
        writer.write_eof()
        assert await _collect(reader) == bodies


@pytest.mark.asyncio
async def test_read_frames_stops_at_an_oversized_frame() -> None:
    async with asyncio.timeout(10), TcpPair() as (writer, reader):
        writer.write(encode_frame(b"fine") + struct.pack("!I", 2000) + b"\x00" * 100)
        writer.write_eof()
        items = await _collect(reader, max_frame=1000)
    assert items[0] == b"fine"
    assert isinstance(items[1], FrameError)
    assert items[1].kind is FrameErrorKind.OVERSIZED
    assert len(items) == 2


@pytest.mark.asyncio
async def test_read_frames_reports_a_stream_cut_mid_frame() -> None:
    async with asyncio.timeout(10), TcpPair() as (writer, reader):
        writer.write(encode_frame(b"fine") + encode_frame(b"cut short")[:6])
        writer.write_eof()
        items = await _collect(reader)
    assert items[0] == b"fine"
    assert isinstance(items[1], FrameError)
    assert items[1].kind is FrameErrorKind.TRUNCATED


@pytest.mark.asyncio
async def test_write_frame_refuses_oversized_body() -> None:
    async with asyncio.timeout(10), TcpPair() as (writer, _):
        with pytest.raises(ValueError, match="exceeds the limit"):
            await write_frame(writer, b"x" * 11, max_frame=10)


# --------------------------------------------------------------------------- Batcher


class Wire:
    """Where a Batcher's payloads go in tests that are about batching, not sockets."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, list[object]]] = []

    async def flush(self, dest: int, payload: bytes) -> None:
        batch = unpack_batch(payload, max_items=100_000)
        assert isinstance(batch, list)
        self.frames.append((dest, batch))


async def _run(batcher: Batcher, produce: asyncio.Task[None] | None = None) -> None:
    async with asyncio.timeout(10):
        runner = asyncio.create_task(batcher.run())
        if produce is not None:
            await produce
        batcher.close()
        await runner


@pytest.mark.asyncio
async def test_messages_of_one_loop_turn_share_a_frame() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush, max_items=100)
    runner = asyncio.create_task(batcher.run())
    for i in range(10):
        batcher.send_nowait(1, i)
    await asyncio.sleep(0)  # the loop turns: the flushing task takes the whole batch
    await asyncio.sleep(0)
    assert wire.frames == [(1, list(range(10)))]
    batcher.close()
    await runner


@pytest.mark.asyncio
async def test_separate_turns_give_separate_frames() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush)

    async def produce() -> None:
        for i in range(3):
            await batcher.send(2, i)
            await asyncio.sleep(0.001)

    await _run(batcher, asyncio.create_task(produce()))
    assert wire.frames == [(2, [0]), (2, [1]), (2, [2])]


@pytest.mark.asyncio
async def test_frames_are_cut_at_max_items() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush, max_items=100)

    async def produce() -> None:
        for i in range(250):
            await batcher.send(0, i)

    await _run(batcher, asyncio.create_task(produce()))
    assert [len(batch) for _, batch in wire.frames] == [100, 100, 50]
    assert [m for _, batch in wire.frames for m in batch] == list(range(250))
    assert (batcher.frames_sent, batcher.messages_sent) == (3, 250)


@pytest.mark.asyncio
async def test_frames_are_cut_at_max_payload() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush, max_items=1000, max_payload=1000)
    for _ in range(10):
        batcher.send_nowait(0, b"x" * 300)  # ~303 bytes packed: three per frame
    await _run(batcher)
    assert [len(batch) for _, batch in wire.frames] == [3, 3, 3, 1]


@pytest.mark.asyncio
async def test_destinations_are_served_round_robin() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush, max_items=2, max_pending=10)
    for i in range(4):
        for dest in (7, 8, 9):
            batcher.send_nowait(dest, i)
    await _run(batcher)
    assert [dest for dest, _ in wire.frames] == [7, 8, 9, 7, 8, 9]
    assert wire.frames[0] == (7, [0, 1])


@pytest.mark.asyncio
async def test_queue_bounds() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush, max_items=2, max_pending=4, max_payload=100)
    for i in range(4):
        batcher.send_nowait(0, i)
    with pytest.raises(asyncio.QueueFull):
        batcher.send_nowait(0, 4)
    batcher.send_nowait(1, "other destinations have their own bound")
    with pytest.raises(ValueError, match="cannot fit"):
        batcher.send_nowait(0, b"x" * 100)
    by_bytes = Batcher(
        wire.flush, max_items=2, max_pending=100, max_payload=100, max_pending_bytes=100
    )
    by_bytes.send_nowait(0, b"x" * 60)
    by_bytes.send_nowait(0, b"x" * 60)  # the first message that crosses the byte bound is let in
    with pytest.raises(asyncio.QueueFull):
        by_bytes.send_nowait(0, b"x")
    await _run(batcher)
    await _run(by_bytes)
    assert len(wire.frames) == 5


@pytest.mark.asyncio
async def test_unencodable_message_is_our_bug_and_leaves_the_batcher_usable() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush)
    batcher.send_nowait(0, [1, 2])
    with pytest.raises(TypeError):
        batcher.send_nowait(0, [3, object()])  # fails half-way through packing
    batcher.send_nowait(0, [4, 5])
    await _run(batcher)
    assert wire.frames == [(0, [[1, 2], [4, 5]])]


@pytest.mark.asyncio
async def test_closed_batcher_refuses_messages() -> None:
    wire = Wire()
    batcher = Batcher(wire.flush)
    batcher.send_nowait(0, "flushed on close")
    await _run(batcher)
    assert wire.frames == [(0, ["flushed on close"])]
    with pytest.raises(BatcherClosedError):
        batcher.send_nowait(0, "late")
    with pytest.raises(BatcherClosedError):
        await batcher.send(0, "late")


@pytest.mark.asyncio
async def test_failed_flush_releases_waiting_producers() -> None:
    async def broken(dest: int, payload: bytes) -> None:
        raise ConnectionResetError("peer went away")

    batcher = Batcher(broken, max_items=1, max_pending=1)
    batcher.send_nowait(0, "first")
    waiting = asyncio.create_task(batcher.send(0, "second"))
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionResetError):
            await batcher.run()
        with pytest.raises(BatcherClosedError):
            await waiting


@pytest.mark.asyncio
async def test_backpressure_over_tcp() -> None:
    """A peer that stops reading suspends the producer at the bound, then everything flows."""
    max_pending = 32
    message = b"m" * 10_000
    total = 2000  # 20 MB: more than loopback socket buffers hold
    async with asyncio.timeout(20), TcpPair() as (writer, reader):

        async def flush(dest: int, payload: bytes) -> None:
            await write_frame(writer, payload)

        batcher = Batcher(flush, max_items=8, max_pending=max_pending)
        sent = 0

        async def produce() -> None:
            nonlocal sent
            for i in range(total):
                await batcher.send(5, (i, message))
                sent += 1
            batcher.close()

        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(batcher.run())
            producer = tg.create_task(produce())
            # Nobody reads yet: the kernel buffers fill, drain() blocks, the queue fills.
            # Polling is the honest way to watch for this: the condition is the kernel's
            # socket buffers filling up, which nothing signals.
            while batcher.pending(5) < max_pending:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            stalled_at = sent
            await asyncio.sleep(0.05)
            assert sent == stalled_at < total
            assert not producer.done()
            assert batcher.pending(5) == max_pending
            # Now read: the producer resumes and every message arrives once, in order.
            got = 0
            async for item in read_frames(reader, FrameDecoder()):
                assert isinstance(item, bytes)
                batch = unpack_batch(item)
                assert isinstance(batch, list)
                for entry in batch:
                    assert entry == [got, message]
                    got += 1
                    assert batcher.pending(5) <= max_pending
                if got == total:
                    break
            await runner
        assert got == total
        assert batcher.messages_sent == total


@pytest.mark.asyncio
async def test_max_frame_sized_payloads_fit_the_default_frame() -> None:
    from byzlab.network.auth import LinkSender
    from byzlab.network.framing import OVERHEAD

    link = LinkSender(sender=0, receiver=1, key=bytes(32))
    bodies: list[bytes] = []

    async def flush(dest: int, payload: bytes) -> None:
        bodies.append(encode_frame(link.seal(payload)))  # raises if it would not fit

    batcher = Batcher(flush, max_items=10_000, max_pending=10_000)
    for _ in range(40):
        batcher.send_nowait(0, b"y" * 100_000)
    await _run(batcher)
    sizes = [len(b) - 4 for b in bodies]
    assert max(sizes) <= MAX_FRAME
    assert len(bodies) == math.ceil(40 / ((MAX_FRAME - OVERHEAD - 5) // 100_005))


# --------------------------------------------------------------------------- fast producer path


class Rounds:
    """A ``flush_round`` that records each round: [(dest, messages), ...]."""

    def __init__(self) -> None:
        self.rounds: list[list[tuple[int, list[object]]]] = []

    async def flush_round(self, payloads: list[tuple[int, bytes]]) -> None:
        batches = []
        for dest, payload in payloads:
            batch = unpack_batch(payload, max_items=100_000)
            assert isinstance(batch, list)
            batches.append((dest, batch))
        self.rounds.append(batches)


def test_batcher_needs_exactly_one_flush() -> None:
    async def flush(dest: int, payload: bytes) -> None:
        pass

    with pytest.raises(ValueError, match="exactly one"):
        Batcher()
    with pytest.raises(ValueError, match="exactly one"):
        Batcher(flush, flush_round=Rounds().flush_round)


@pytest.mark.asyncio
async def test_put_packed_queues_one_packing_for_many_destinations_in_order() -> None:
    wire = Rounds()
    batcher = Batcher(flush_round=wire.flush_round, max_items=100)
    runner = asyncio.create_task(batcher.run())
    batcher.send_nowait(2, "first, for 2 only")
    assert batcher.put_packed([1, 2, 3], batcher.pack([7, "broadcast"])) is False
    batcher.send_nowait(3, "last, for 3 only")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # One round: a payload per destination, in the order destinations became ready.
    assert wire.rounds == [
        [
            (2, ["first, for 2 only", [7, "broadcast"]]),
            (1, [[7, "broadcast"]]),
            (3, [[7, "broadcast"], "last, for 3 only"]),
        ]
    ]
    assert (batcher.frames_sent, batcher.messages_sent) == (3, 5)
    batcher.close()
    await runner


@pytest.mark.asyncio
async def test_rounds_are_cut_at_max_items_and_continue_round_robin() -> None:
    wire = Rounds()
    batcher = Batcher(flush_round=wire.flush_round, max_items=2, max_pending=10)
    for i in range(5):
        batcher.put_packed([7, 8], batcher.pack(i))
    batcher.put_packed([9], batcher.pack("nine"))
    await _run(batcher)
    assert wire.rounds == [
        [(7, [0, 1]), (8, [0, 1]), (9, ["nine"])],
        [(7, [2, 3]), (8, [2, 3])],
        [(7, [4]), (8, [4])],
    ]


@pytest.mark.asyncio
async def test_put_packed_reports_the_bound_and_the_producer_waits_for_space() -> None:
    wire = Rounds()
    batcher = Batcher(
        flush_round=wire.flush_round,
        max_items=2,
        max_pending=4,
        max_payload=100,
        max_pending_bytes=100,
    )
    item = batcher.pack(b"x" * 10)
    assert [batcher.put_packed([0, 1], item) for _ in range(4)] == [False, False, False, True]
    # The fast path never refuses: one input's worth may cross the bound.
    assert batcher.put_packed([0], item) is True
    assert batcher.pending(0) == 5
    waiter = asyncio.create_task(batcher.wait_for_space())
    await asyncio.sleep(0)
    assert not waiter.done()
    runner = asyncio.create_task(batcher.run())
    async with asyncio.timeout(10):
        await waiter
    assert batcher.pending(0) < 4 and batcher.pending(1) < 4
    big = Batcher(
        flush_round=wire.flush_round,
        max_items=100,
        max_pending=100,
        max_payload=100,
        max_pending_bytes=100,
    )
    assert big.put_packed([0], big.pack(b"y" * 60)) is False
    assert big.put_packed([0], big.pack(b"y" * 60)) is True  # the byte bound counts too
    with pytest.raises(ValueError, match="cannot fit"):
        big.pack(b"z" * 100)
    batcher.close()
    await runner
    with pytest.raises(BatcherClosedError):
        batcher.put_packed([0], item)
    with pytest.raises(BatcherClosedError):
        batcher.pack("late")


@pytest.mark.asyncio
async def test_a_failed_round_releases_producers_waiting_for_space() -> None:
    async def broken(payloads: list[tuple[int, bytes]]) -> None:
        raise ConnectionResetError("peer went away")

    batcher = Batcher(flush_round=broken, max_items=1, max_pending=1)
    assert batcher.put_packed([0], batcher.pack("first")) is True
    waiting = asyncio.create_task(batcher.wait_for_space())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionResetError):
            await batcher.run()
        with pytest.raises(BatcherClosedError):
            await waiting


# --------------------------------------------------------------------------- broadcast log


@pytest.mark.asyncio
async def test_a_broadcast_is_queued_once_and_shares_its_payload() -> None:
    payloads: list[list[tuple[int, bytes]]] = []

    async def flush_round(round_: list[tuple[int, bytes]]) -> None:
        payloads.append(round_)

    batcher = Batcher(flush_round=flush_round, broadcast=[1, 2, 3])
    for i in range(5):
        assert batcher.put_broadcast(batcher.pack(i)) is False
    assert [batcher.pending(d) for d in (1, 2, 3, 4)] == [5, 5, 5, 0]
    assert batcher.pending_bytes(1) == len(b"".join(batcher.pack(i) for i in range(5)))
    await _run(batcher)
    (round_,) = payloads
    assert [d for d, _ in round_] == [1, 2, 3]
    assert round_[0][1] is round_[1][1] is round_[2][1]  # packed once, for everyone
    assert unpack_batch(round_[0][1]) == [0, 1, 2, 3, 4]
    assert batcher.pending(1) == 0 and not batcher._log


@pytest.mark.asyncio
async def test_broadcasts_and_own_messages_keep_their_order_per_destination() -> None:
    wire = Rounds()
    batcher = Batcher(flush_round=wire.flush_round, broadcast=[1, 2], max_items=3)
    batcher.put_broadcast(batcher.pack("b0"))
    batcher.put_packed([2], batcher.pack("to 2"))
    batcher.put_broadcast(batcher.pack("b1"))
    batcher.send_nowait(5, "to 5, not a member")
    batcher.put_broadcast(batcher.pack("b2"))
    batcher.put_broadcast(batcher.pack("b3"))
    await _run(batcher)
    assert wire.rounds == [
        [(1, ["b0", "b1", "b2"]), (2, ["b0", "to 2", "b1"]), (5, ["to 5, not a member"])],
        [(1, ["b3"]), (2, ["b2", "b3"])],
    ]


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["broadcast", "own", "round"]),
            st.integers(0, 4),
            st.binary(max_size=40),
        ),
        max_size=60,
    ),
    max_items=st.integers(1, 5),
    max_payload=st.integers(50, 200),
)
def test_the_broadcast_log_delivers_what_per_destination_queues_would(
    ops: list[tuple[str, int, bytes]], max_items: int, max_payload: int
) -> None:
    """Model: every destination receives, in order, exactly the messages queued for it
    (broadcasts to members 0..2, own messages to anyone), in frames within the limits."""
    members = [0, 1, 2]
    expected: dict[int, list[object]] = {d: [] for d in range(5)}
    got: dict[int, list[object]] = {d: [] for d in range(5)}

    async def flush_round(round_: list[tuple[int, bytes]]) -> None:
        assert len({d for d, _ in round_}) == len(round_)  # one payload per destination
        for dest, payload in round_:
            assert len(payload) <= max_payload
            batch = unpack_batch(payload, max_items=max_items)
            assert isinstance(batch, list) and batch
            got[dest].extend(batch)

    async def scenario() -> None:
        batcher = Batcher(
            flush_round=flush_round,
            broadcast=members,
            max_items=max_items,
            max_payload=max_payload,
            max_pending=1000,
            max_pending_bytes=100_000,
        )
        runner = asyncio.create_task(batcher.run())
        for op, dest, data in ops:
            if op == "broadcast":
                batcher.put_broadcast(batcher.pack(data))
                for d in members:
                    expected[d].append(data)
            elif op == "own":
                batcher.put_packed([dest], batcher.pack(data))
                expected[dest].append(data)
            else:
                await asyncio.sleep(0)  # let a round go
                await asyncio.sleep(0)
            for d in range(5):
                assert batcher.pending(d) == len(expected[d]) - len(got[d])
        batcher.close()
        async with asyncio.timeout(10):
            await runner
        assert not batcher._log

    asyncio.run(scenario())
    assert got == expected


@pytest.mark.asyncio
async def test_the_broadcast_log_counts_toward_every_members_bound() -> None:
    wire = Rounds()
    batcher = Batcher(
        flush_round=wire.flush_round,
        broadcast=[0, 1],
        max_items=2,
        max_pending=4,
        max_payload=100,
        max_pending_bytes=100,
    )
    assert batcher.put_packed([1], batcher.pack("own")) is False
    assert [batcher.put_broadcast(batcher.pack(i)) for i in range(3)] == [False, False, True]
    assert (batcher.pending(0), batcher.pending(1)) == (3, 4)
    with pytest.raises(asyncio.QueueFull):
        batcher.send_nowait(1, "one too many")
    waiter = asyncio.create_task(batcher.wait_for_space())
    await asyncio.sleep(0)
    assert not waiter.done()
    runner = asyncio.create_task(batcher.run())
    async with asyncio.timeout(10):
        await waiter
    batcher.close()
    await runner
    assert [m for r in wire.rounds for d, b in r if d == 1 for m in b] == ["own", 0, 1, 2]
    assert Batcher(flush_round=wire.flush_round).put_broadcast(b"\x01") is False  # no members
