"""Authenticated links: real X25519 keys, real BLAKE2b MACs, real TCP on loopback."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import uvloop
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey

from byzlab.network.auth import (
    LinkFrame,
    LinkKeys,
    LinkReceiver,
    LinkSender,
    Reject,
    derive_link_key,
    link_keys_for,
    shared_secret,
)
from byzlab.network.framing import (
    HEADER_SIZE,
    MAC_SIZE,
    OVERHEAD,
    Batcher,
    FrameDecoder,
    FrameError,
    pack_batch,
    read_frames,
    unpack_batch,
    write_frame,
)
from byzlab.network.keys import Roster, generate_keys

N = 4
RUN = "test-run"

# Key generation is the slow part; one set of keys for the whole module is enough
# because no test mutates them.
_PRIVATE = [PrivateKey.generate() for _ in range(N)]
ROSTER = Roster(run_id=RUN, public_keys=tuple(k.public_key for k in _PRIVATE))
KEYS = [link_keys_for(i, _PRIVATE[i], ROSTER) for i in range(N)]


def sender(s: int, r: int) -> LinkSender:
    return LinkSender(sender=s, receiver=r, key=KEYS[s][r].send_key)


def receiver(r: int, *, window: int = 4096) -> LinkReceiver:
    """Node r's receiver for frames from every node (as over one proxy connection)."""
    return LinkReceiver(receiver=r, keys={s: KEYS[r][s].recv_key for s in range(N)}, window=window)


def accepted(result: LinkFrame | Reject) -> LinkFrame:
    assert isinstance(result, LinkFrame), result
    return result


# --------------------------------------------------------------------------- keys


def test_both_ends_derive_the_same_direction_keys() -> None:
    for i in range(N):
        for j in range(N):
            assert KEYS[i][j].send_key == KEYS[j][i].recv_key
            assert KEYS[i][j].recv_key == KEYS[j][i].send_key


def test_direction_keys_differ() -> None:
    keys = {KEYS[i][j].send_key for i in range(N) for j in range(N)}
    # i->j for all ordered pairs, including i->i, are pairwise distinct.
    assert len(keys) == N * N
    assert all(len(k) == 32 for k in keys)


def test_run_id_changes_every_key() -> None:
    other = Roster(run_id="other-run", public_keys=ROSTER.public_keys)
    keys = link_keys_for(0, _PRIVATE[0], other)
    assert all(keys[j].send_key != KEYS[0][j].send_key for j in range(N))


def test_keys_from_files(tmp_path: Path) -> None:
    key_dir = generate_keys(3, tmp_path, run_id="files")
    k0 = link_keys_for(0, key_dir.private_key(0), key_dir.roster)
    k2 = link_keys_for(2, key_dir.private_key(2), key_dir.roster)
    assert k0[2].send_key == k2[0].recv_key


def test_wrong_private_key_for_node_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match the roster's public key for node 1"):
        link_keys_for(1, _PRIVATE[0], ROSTER)
    with pytest.raises(ValueError, match="not in the roster"):
        link_keys_for(N, _PRIVATE[0], ROSTER)


def test_low_order_peer_key_is_refused() -> None:
    from nacl.public import PublicKey

    with pytest.raises(ValueError, match="low-order"):
        shared_secret(_PRIVATE[0], PublicKey(bytes(32)))


def test_derive_validates_arguments() -> None:
    pk = ROSTER.public_keys[0]
    with pytest.raises(ValueError, match="shared secret"):
        derive_link_key(
            b"x", run_id=RUN, sender=0, receiver=1, sender_public=pk, receiver_public=pk
        )
    with pytest.raises(ValueError, match="sender id"):
        derive_link_key(
            bytes(32), run_id=RUN, sender=-1, receiver=1, sender_public=pk, receiver_public=pk
        )


# --------------------------------------------------------------------------- frames


def test_valid_frame_accepted() -> None:
    s, r = sender(0, 1), receiver(1)
    body = s.seal(b"hello")
    assert len(body) == len(b"hello") + OVERHEAD
    frame = accepted(r.open(body))
    assert (frame.sender, frame.receiver, frame.seq, frame.payload) == (0, 1, 1, b"hello")
    assert r.accepted == 1
    assert r.rejected_total == 0


def test_empty_payload_is_fine() -> None:
    assert accepted(receiver(2).open(sender(3, 2).seal(b""))).payload == b""


def test_sequence_numbers_increase_per_direction() -> None:
    s, r = sender(0, 1), receiver(1)
    assert [accepted(r.open(s.seal(b"x"))).seq for _ in range(5)] == [1, 2, 3, 4, 5]
    assert s.next_seq == 6


def test_frame_to_self_link() -> None:
    assert accepted(receiver(2).open(sender(2, 2).seal(b"me"))).sender == 2


@pytest.mark.parametrize("region", ["header", "payload", "mac"])
def test_flipped_byte_in_every_position_is_rejected(region: str) -> None:
    body = sender(0, 1).seal(b"some protocol payload")
    start, stop = {
        "header": (0, HEADER_SIZE),
        "payload": (HEADER_SIZE, len(body) - MAC_SIZE),
        "mac": (len(body) - MAC_SIZE, len(body)),
    }[region]
    for i in range(start, stop):
        for bit in range(8):
            mutated = bytearray(body)
            mutated[i] ^= 1 << bit
            r = receiver(1)  # a fresh receiver: a rejection cannot be a mere replay
            result = r.open(bytes(mutated))
            assert isinstance(result, Reject), (i, bit)
            assert result in {
                Reject.BAD_MAC,
                Reject.MALFORMED,
                Reject.WRONG_SENDER,
                Reject.WRONG_RECEIVER,
            }
            if region != "header":
                assert result is Reject.BAD_MAC
            assert r.rejected[result] == 1
            assert r.accepted == 0


def test_rejected_frame_does_not_disturb_the_link() -> None:
    s, r = sender(0, 1), receiver(1)
    first = s.seal(b"a")
    second = s.seal(b"b")
    mutated = bytearray(first)
    mutated[-1] ^= 0xFF
    assert r.open(bytes(mutated)) is Reject.BAD_MAC
    # The genuine frame with the same sequence number still gets through.
    assert accepted(r.open(first)).payload == b"a"
    assert accepted(r.open(second)).payload == b"b"


def test_replayed_frame_rejected() -> None:
    s, r = sender(0, 1), receiver(1)
    body = s.seal(b"once")
    accepted(r.open(body))
    assert r.open(body) is Reject.REPLAY
    assert r.open(body) is Reject.REPLAY
    assert r.rejected[Reject.REPLAY] == 2
    assert r.accepted == 1


def test_reordered_frames_within_window_accepted_exactly_once() -> None:
    s, r = sender(0, 1), receiver(1, window=64)
    bodies = [s.seal(i.to_bytes(2, "big")) for i in range(1, 401)]
    # Shuffle in blocks of 64, so no frame falls 64 or more behind the newest one seen.
    rng = random.Random(7)
    order: list[bytes] = []
    for start in range(0, len(bodies), 64):
        block = bodies[start : start + 64]
        rng.shuffle(block)
        order += block
    got = [accepted(r.open(b)).seq for b in order]
    assert sorted(got) == list(range(1, 401))
    # Replays are refused: as REPLAY inside the window, as STALE behind it.
    recent, old = bodies[-64:], bodies[:-64]
    rng.shuffle(recent)
    assert {r.open(b) for b in recent} == {Reject.REPLAY}
    assert {r.open(b) for b in old} == {Reject.STALE}
    assert r.accepted == 400


def test_frame_older_than_window_rejected_as_stale() -> None:
    s, r = sender(0, 1), receiver(1, window=16)
    held = s.seal(b"held back")  # seq 1
    for _ in range(16):
        accepted(r.open(s.seal(b"x")))  # seqs 2..17: top - window = 1
    assert r.open(held) is Reject.STALE
    # One frame less and it would have made it:
    s2, r2 = sender(0, 1), receiver(1, window=16)
    held2 = s2.seal(b"held back")
    for _ in range(15):
        accepted(r2.open(s2.seal(b"x")))
    assert accepted(r2.open(held2)).seq == 1


def test_forged_sender_id_rejected() -> None:
    # Node 0 (perhaps corrupted) MACs with its own key to node 1 but claims to be node 2.
    forger = LinkSender(sender=2, receiver=1, key=KEYS[0][1].send_key)
    assert receiver(1).open(forger.seal(b"I am node 2")) is Reject.BAD_MAC


def test_unknown_sender_rejected() -> None:
    only_from_0 = LinkReceiver(receiver=1, keys={0: KEYS[1][0].recv_key})
    assert only_from_0.open(sender(2, 1).seal(b"hi")) is Reject.WRONG_SENDER
    stranger = LinkSender(sender=99, receiver=1, key=bytes(32))
    assert receiver(1).open(stranger.seal(b"hi")) is Reject.WRONG_SENDER


def test_frame_addressed_to_another_receiver_rejected() -> None:
    body = sender(0, 2).seal(b"for node 2")
    r1 = receiver(1)
    assert r1.open(body) is Reject.WRONG_RECEIVER
    assert r1.rejected[Reject.WRONG_RECEIVER] == 1
    accepted(receiver(2).open(body))


def test_frame_reflected_to_its_sender_rejected() -> None:
    # The proxy rewrites a 0->1 frame as 1->0 and sends it back to node 0.
    body = bytearray(sender(0, 1).seal(b"reflect me"))
    body[1:5], body[5:9] = body[5:9], body[1:5]
    assert receiver(0).open(bytes(body)) is Reject.BAD_MAC


def test_key_from_another_run_rejected() -> None:
    other = Roster(run_id="another-run", public_keys=ROSTER.public_keys)
    old = link_keys_for(0, _PRIVATE[0], other)
    body = LinkSender(sender=0, receiver=1, key=old[1].send_key).seal(b"from the past")
    assert receiver(1).open(body) is Reject.BAD_MAC


def test_truncated_frames_rejected() -> None:
    body = sender(0, 1).seal(b"a payload longer than the MAC")
    r = receiver(1)
    assert r.open(body[:-1]) is Reject.BAD_MAC  # MAC cut short by one byte
    assert r.open(body[:-MAC_SIZE]) is Reject.BAD_MAC  # MAC gone, payload read as MAC
    assert r.open(body[: OVERHEAD - 1]) is Reject.TRUNCATED
    assert r.open(b"") is Reject.TRUNCATED
    assert r.open(body + b"\x00") is Reject.BAD_MAC
    assert r.rejected[Reject.TRUNCATED] == 2
    accepted(r.open(body))


def test_unknown_version_is_malformed() -> None:
    body = bytearray(sender(0, 1).seal(b"v2?"))
    body[0] = 2
    assert receiver(1).open(bytes(body)) is Reject.MALFORMED


def test_forged_huge_sequence_number_does_not_slide_the_window() -> None:
    s, r = sender(0, 1), receiver(1, window=16)
    forged = bytearray(s.seal(b"x"))
    forged[9:17] = (2**63).to_bytes(8, "big")
    assert r.open(bytes(forged)) is Reject.BAD_MAC
    # Had the window moved to 2^63, this honest frame would be STALE.
    honest = sender(0, 1).seal(b"y")
    assert accepted(r.open(honest)).seq == 1


def test_senders_have_independent_windows() -> None:
    r = receiver(3, window=4)
    for s in range(3):
        link = sender(s, 3)
        for _ in range(10):
            accepted(r.open(link.seal(b".")))
    assert r.accepted == 30


def test_constructor_misuse_raises() -> None:
    with pytest.raises(ValueError, match="link key must be 32 bytes"):
        LinkSender(sender=0, receiver=1, key=b"short")
    with pytest.raises(ValueError, match="receiver id"):
        LinkReceiver(receiver=2**32, keys={})
    with pytest.raises(ValueError, match="replay window"):
        LinkReceiver(receiver=0, keys={}, window=0)


def test_link_keys_derive_matches_roster_helper() -> None:
    direct = LinkKeys.derive(
        me=1,
        peer=3,
        private_key=_PRIVATE[1],
        my_public=ROSTER.public_keys[1],
        peer_public=ROSTER.public_keys[3],
        run_id=RUN,
    )
    assert direct == KEYS[1][3]


# --------------------------------------------------------------------------- properties

_PROTO_BODY = sender(0, 1).seal(pack_batch([(0, 1, 2, 3, 4, 5), "x" * 20, b"\x00" * 7]))


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(_PROTO_BODY) - 1), mask=st.integers(1, 255))
def test_any_single_byte_mutation_is_rejected(index: int, mask: int) -> None:
    mutated = bytearray(_PROTO_BODY)
    mutated[index] ^= mask
    r = receiver(1)
    assert isinstance(r.open(bytes(mutated)), Reject)
    assert r.accepted == 0
    assert r.rejected_total == 1


@settings(max_examples=200, deadline=None)
@given(
    cut=st.integers(0, len(_PROTO_BODY) - 1),
    extra=st.binary(max_size=8),
)
def test_any_truncation_or_extension_is_rejected(cut: int, extra: bytes) -> None:
    r = receiver(1)
    assert isinstance(r.open(_PROTO_BODY[:cut] + extra), Reject)
    if extra:
        assert isinstance(r.open(_PROTO_BODY + extra), Reject)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    r = receiver(1)
    assert isinstance(r.open(data), Reject)


@settings(max_examples=200, deadline=None)
@given(
    window=st.integers(1, 32),
    deliveries=st.lists(st.integers(1, 120), max_size=300),
)
def test_window_matches_reference_model(window: int, deliveries: list[int]) -> None:
    """Any delivery schedule (reordering, duplicates): accept iff new and within window."""
    s = sender(0, 1)
    bodies = {seq: s.seal(seq.to_bytes(1, "big")) for seq in range(1, 121)}
    r = receiver(1, window=window)
    seen: set[int] = set()
    top = 0
    for seq in deliveries:
        result = r.open(bodies[seq])
        if seq <= top - window:
            assert result is Reject.STALE
        elif seq in seen:
            assert result is Reject.REPLAY
        else:
            assert accepted(result).seq == seq
            seen.add(seq)
            top = max(top, seq)
    assert r.accepted == len(seen)


# --------------------------------------------------------------------------- real TCP

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}
MESSAGES = 10_000
CORRUPTED_FRAME = 5  # the relay flips one byte in the 5th frame from node 0 to node 1


class Endpoint:
    """One node's end of a link: batches, seals and writes; reads, verifies and unpacks."""

    def __init__(self, me: int, peer: int) -> None:
        self.me, self.peer = me, peer
        self.link_tx = sender(me, peer)
        self.link_rx = LinkReceiver(receiver=me, keys={peer: KEYS[me][peer].recv_key})
        self.received: list[list[int]] = []
        self.batcher: Batcher | None = None

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def flush(dest: int, payload: bytes) -> None:
            assert dest == self.peer
            await write_frame(writer, self.link_tx.seal(payload))

        batcher = self.batcher = Batcher(flush, max_items=100)

        async def produce() -> None:
            for i in range(MESSAGES):
                # A protocol-like message: (type tag, sender, instance, round, value, i)
                await batcher.send(self.peer, (3, self.me, i // 7, i % 5, (-1) ** i, i))
            batcher.close()

        async def send_side() -> None:
            await batcher.run()
            writer.write_eof()  # half-close: we are done sending, still receiving

        async def receive_side() -> None:
            async for item in read_frames(reader, FrameDecoder()):
                assert not isinstance(item, FrameError), item
                frame = self.link_rx.open(item)
                if isinstance(frame, Reject):
                    continue  # dropped and counted; the connection carries on
                batch = unpack_batch(frame.payload, max_items=1024)
                assert isinstance(batch, list), batch
                self.received.extend(batch)  # type: ignore[arg-type]

        async with asyncio.TaskGroup() as tg:
            tg.create_task(produce())
            tg.create_task(send_side())
            tg.create_task(receive_side())


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def _relay_exchange(flip_at: Callable[[bytes], int]) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))

    node0, node1 = Endpoint(0, 1), Endpoint(1, 0)
    node1_done: asyncio.Future[None] = loop.create_future()

    async def on_node1_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await node1.run(reader, writer)
            node1_done.set_result(None)
        except BaseException as exc:
            node1_done.set_exception(exc)
            raise
        finally:
            await _close(writer)

    node1_server = await asyncio.start_server(on_node1_conn, "127.0.0.1", 0)
    node1_port = node1_server.sockets[0].getsockname()[1]

    # The relay plays the proxy: it forwards every frame in both directions and corrupts
    # one byte of one frame from node 0 to node 1 on the way.
    corrupted: list[bytes] = []
    relayed: dict[str, int] = {}
    relay_done: asyncio.Future[None] = loop.create_future()

    async def pump(
        name: str, src: asyncio.StreamReader, dst: asyncio.StreamWriter, corrupt: int | None
    ) -> None:
        count = 0
        async for item in read_frames(src, FrameDecoder()):
            assert not isinstance(item, FrameError), item
            count += 1
            if count == corrupt:
                corrupted.append(item)
                mutated = bytearray(item)
                mutated[flip_at(item)] ^= 0x40
                item = bytes(mutated)
            await write_frame(dst, item)
        dst.write_eof()
        relayed[name] = count

    async def on_relay_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", node1_port)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(pump("0->1", reader, up_writer, CORRUPTED_FRAME))
                tg.create_task(pump("1->0", up_reader, writer, None))
            relay_done.set_result(None)
        except BaseException as exc:
            relay_done.set_exception(exc)
            raise
        finally:
            await _close(up_writer)
            await _close(writer)

    relay_server = await asyncio.start_server(on_relay_conn, "127.0.0.1", 0)
    relay_port = relay_server.sockets[0].getsockname()[1]

    async with node1_server, relay_server, asyncio.timeout(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", relay_port)
        try:
            await node0.run(reader, writer)
        finally:
            await _close(writer)
        await relay_done
        await node1_done

    assert loop_errors == []
    for node in (node0, node1):
        assert node.batcher is not None
        assert node.batcher.messages_sent == MESSAGES
        assert node.batcher.frames_sent > 50  # the messages really were spread over frames
    assert relayed == {
        "0->1": node0.batcher.frames_sent,  # type: ignore[union-attr]
        "1->0": node1.batcher.frames_sent,  # type: ignore[union-attr]
    }

    # 1 -> 0 was left alone: everything accepted, once, in order.
    assert node0.link_rx.rejected_total == 0
    assert [m[5] for m in node0.received] == list(range(MESSAGES))
    assert node0.received[1] == [3, 1, 0, 1, -1, 1]

    # 0 -> 1: exactly the corrupted frame was dropped; every other one accepted once.
    assert node1.link_rx.rejected_total == node1.link_rx.rejected[Reject.BAD_MAC] == 1
    assert node1.link_rx.accepted == relayed["0->1"] - 1
    lost = unpack_batch(corrupted[0][HEADER_SIZE:-MAC_SIZE], max_items=1024)
    assert isinstance(lost, list)
    assert len(lost) > 0
    lost_ids = {m[5] for m in lost}  # type: ignore[index]
    assert [m[5] for m in node1.received] == [i for i in range(MESSAGES) if i not in lost_ids]


FLIPS: dict[str, Callable[[bytes], int]] = {
    "seq": lambda body: HEADER_SIZE - 1,
    "payload": lambda body: len(body) // 2,
    "mac": lambda body: len(body) - 1,
}


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
@pytest.mark.parametrize("flip", sorted(FLIPS))
def test_tcp_relay_flipping_one_byte_drops_exactly_that_frame(loop_name: str, flip: str) -> None:
    # Run under both loops: tcp.py uses uvloop in production. asyncio.Runner rather than
    # pytest-asyncio, because choosing the loop per test needs a conftest hook
    # (pytest_asyncio_loop_factories).
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        runner.run(_relay_exchange(FLIPS[flip]))


@pytest.mark.asyncio
async def test_tcp_relay_under_pytest_asyncio() -> None:
    await _relay_exchange(FLIPS["payload"])
