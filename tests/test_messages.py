"""The decoder between untrusted wire objects and node/: round trips and hostile input.

``decode`` has a fast path and ``Decoder`` a memory of recent results; both must give
exactly what ``decode_reference`` (every check, in order) gives, on valid messages, on
every kind of corruption of one, and on arbitrary objects.
"""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.node.messages import (
    MAX_ITERATION,
    MAX_ROWS,
    MAX_SEQ,
    Ack,
    Complete,
    DecideMsg,
    DecodeError,
    Decoder,
    Done,
    Kind,
    Message,
    RbcMsg,
    Vote,
    Write,
    decode,
    decode_reference,
    encode,
)

N = 7


def test_round_trip() -> None:
    for msg in [
        RbcMsg(int(Kind.INITIAL), 3, 1, Vote(1, 1, -1)),
        RbcMsg(int(Kind.ECHO), 0, 9, Vote(4, 3, 0, support=0b1111100)),
        RbcMsg(int(Kind.READY), 6, 12, Write(7, 3, 1)),
        RbcMsg(int(Kind.READY), 6, 13, Write(8, 1, -1, view=(1, 2, 3, 4, 5, 6, 7))),
        RbcMsg(int(Kind.ECHO), 2, 14, Ack(3, view=(1, 2, 3, 4, 5, 6, 7))),
        RbcMsg(int(Kind.ECHO), 2, 15, Done(3)),
        RbcMsg(int(Kind.INITIAL), 2, 16, Complete(3, view=(1, 2, 3, 4, 5, 6, 7))),
        DecideMsg(1),
    ]:
        assert decode(encode(msg), N) == msg


@settings(max_examples=300, deadline=None)
@given(st.integers(65, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, (1 << n) - 1))))
def test_supports_wider_than_64_bits_survive_msgpack(n_support: tuple[int, int]) -> None:
    # msgpack's integers stop at 64 bits; a support bitmask has n bits.
    n, support = n_support
    msg = RbcMsg(int(Kind.ECHO), n - 1, 3, Vote(2, 1, 1, support=support))
    wire = msgpack.unpackb(msgpack.packb(encode(msg)))
    assert decode(wire, n) == msg == decode_reference(wire, n)
    assert Decoder(n).decode(wire) == msg


def test_wide_support_rejections() -> None:
    n = 70
    base = [0, 1, 1, 0, 1, 1, 1]
    for raw in [
        (1 << 70).to_bytes(9, "little"),  # a bit beyond n
        (5).to_bytes(9, "little"),  # small values travel as ints only
        (1 << 66).to_bytes(10, "little"),  # not minimal length
        b"\x01" * 20,
    ]:
        result = decode([*base, raw, None], n)
        assert isinstance(result, DecodeError) and result.reason == "bad-support", raw
        assert Decoder(n).decode([*base, raw, None]) == result, raw


def test_decoder_remembers_wide_supports_and_shares_their_items() -> None:
    """At n > 64 most supports travel as bytes: the decoder's memory must serve them too
    (the same object back, one item for the instance's ECHO and READY)."""
    n = 100
    decoder = Decoder(n)
    item = Vote(2, 1, 1, (1 << 99) | 7)
    echo = msgpack.unpackb(msgpack.packb(encode(RbcMsg(int(Kind.ECHO), 5, 3, item))))
    ready = msgpack.unpackb(msgpack.packb(encode(RbcMsg(int(Kind.READY), 5, 3, item))))
    assert type(echo[7]) is bytes
    first = decoder.decode(echo)
    assert isinstance(first, RbcMsg) and first.item == item
    assert decoder.decode(list(echo)) is first
    second = decoder.decode(ready)
    assert isinstance(second, RbcMsg) and second.item is first.item


@settings(max_examples=2000, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=5)
        | st.binary(max_size=5),
        lambda inner: st.lists(inner, max_size=10),
        max_leaves=30,
    )
)
def test_decoder_never_raises(obj: object) -> None:
    result = decode(obj, N)
    assert isinstance(result, RbcMsg | DecideMsg | DecodeError)
    _same(obj)  # and the fast path gives exactly the reference's result


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.integers(-(2**70), 2**70) | st.none(), min_size=9, max_size=9))
def test_out_of_range_fields_are_rejected_with_a_reason(fields: list[int | None]) -> None:
    result = decode(fields, N)
    if isinstance(result, DecodeError):
        assert result.reason
    else:
        assert isinstance(result, RbcMsg)
        assert 0 <= result.origin < N and result.seq >= 1 and result.item.value in (-1, 0, 1)


def test_specific_rejections() -> None:
    good = encode(RbcMsg(0, 1, 1, Vote(1, 1, 1)))
    cases = {
        "bad-origin": [0, N, 1, 0, 1, 1, 1, 0, None],
        "bad-seq": [0, 1, 0, 0, 1, 1, 1, 0, None],
        "bad-value": [0, 1, 1, 0, 1, 1, 5, 0, None],
        "bad-support": [0, 1, 1, 0, 1, 1, 1, 1 << N, None],
        "bad-view": [0, 1, 1, 0, 1, 1, 1, 0, [1, 2]],
        "bad-vote-position": [0, 1, 1, 0, 1, 9, 1, 0, None],
        "bad-item-tag": [0, 1, 1, 7, 1, 1, 1, 0, None],
        "non-integer-field": [0, 1, 1, 0, 1.5, 1, 1, 0, None],
        "bad-kind": [9, *good[1:]],
    }
    for reason, obj in cases.items():
        result = decode(obj, N)
        assert isinstance(result, DecodeError) and result.reason == reason, (reason, result)
    assert isinstance(decode([True, *good[1:]], N), DecodeError)  # bools are not ints here


# --------------------------------------------------------------------------- fast paths

views = st.none() | st.lists(st.integers(0, MAX_SEQ - 1), min_size=N, max_size=N).map(tuple)
votes = st.builds(
    Vote,
    st.integers(1, MAX_ITERATION - 1),
    st.integers(1, 4),
    st.integers(-1, 1),
    st.integers(0, (1 << N) - 1),
    views,
)
writes = st.builds(
    Write,
    st.integers(1, 2 * MAX_ITERATION - 1),
    st.integers(1, MAX_ROWS),
    st.integers(-1, 1),
    st.integers(0, (1 << N) - 1),
    views,
)
full_views = st.lists(st.integers(0, MAX_SEQ - 1), min_size=N, max_size=N).map(tuple)
boards = st.integers(1, 2 * MAX_ITERATION - 1)
marks = (
    st.builds(lambda b, v: Ack(b, 0, 0, v), boards, full_views)
    | st.builds(Done, boards)
    | st.builds(lambda b, v: Complete(b, 0, 0, v), boards, full_views)
)
valid_messages: st.SearchStrategy[Message] = st.builds(
    RbcMsg,
    st.integers(0, 2),
    st.integers(0, N - 1),
    st.integers(1, MAX_SEQ - 1),
    votes | writes | marks,
) | st.builds(DecideMsg, st.sampled_from([-1, 1]))
# Values a hostile sender might put in any field: boundaries, wrong types, look-alikes of
# ints (True == 1 == 1.0), containers.
nasty = (
    st.integers(-3, 6)
    | st.sampled_from(
        [
            N - 1,
            N,
            1 << N,
            (1 << N) - 1,
            MAX_SEQ,
            MAX_SEQ - 1,
            MAX_ITERATION,
            MAX_ROWS,
            MAX_ROWS + 1,
            1 << 64,
            -(1 << 63),
        ]
    )
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.none()
    | st.text(max_size=3)
    | st.binary(max_size=3)
    | st.lists(st.integers(0, 3), max_size=N + 1)
)


def _same(obj: object) -> None:
    expected = decode_reference(obj, N)
    got = decode(obj, N)
    assert type(got) is type(expected) and got == expected, (obj, got, expected)


@settings(max_examples=1500, deadline=None)
@given(valid_messages)
def test_decode_fast_path_round_trips_valid_messages(msg: Message) -> None:
    wire = encode(msg)
    assert decode(wire, N) == msg == decode_reference(wire, N)
    assert Decoder(N).decode(wire) == msg
    _same(tuple(wire))  # tuples take the reference path, with the same result


@settings(max_examples=3000, deadline=None)
@given(valid_messages, st.integers(0, 8), nasty, st.integers(0, N))
def test_decode_fast_path_equals_the_reference_on_mutated_messages(
    msg: Message, index: int, value: object, view_index: int
) -> None:
    wire = encode(msg)
    mutated = list(wire)
    mutated[index % len(mutated)] = value
    _same(mutated)
    _same(mutated[:-1])
    _same([*wire, None])
    if isinstance(msg, RbcMsg):
        # One bad entry in a view.
        with_view = list(wire)
        view = list(range(N))
        view[view_index % N] = value
        with_view[8] = view
        _same(with_view)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(valid_messages, min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), st.integers(0, 8), nasty), max_size=30),
    st.integers(1, 8),
)
def test_decoder_with_memory_equals_the_reference(
    msgs: list[Message], mutations: list[tuple[int, int, object]], max_entries: int
) -> None:
    """Valid messages, repeats and hostile look-alikes, through a small memory that fills
    and clears: always the reference's result."""
    decoder = Decoder(N, max_entries=max_entries)
    wires: list[object] = [encode(m) for m in msgs]
    for k, index, value in mutations:
        mutated = list(encode(msgs[k % len(msgs)]))
        mutated[index % len(mutated)] = value
        wires.append(mutated)
    for obj in [*wires, *wires, *reversed(wires)]:
        expected = decode_reference(obj, N)
        got = decoder.decode(obj)
        assert type(got) is type(expected) and got == expected, (obj, got, expected)
        assert len(decoder) <= max_entries


def test_decoder_memory_never_confuses_ints_with_look_alikes() -> None:
    decoder = Decoder(N)
    wire = encode(RbcMsg(int(Kind.ECHO), 1, 1, Vote(1, 1, 1, 3)))
    first = decoder.decode(wire)
    assert isinstance(first, RbcMsg)
    assert decoder.decode(list(wire)) is first  # equal fields: the same (frozen) object
    for index in range(8):
        for look_alike in (True, 1.0, float(wire[index])):  # type: ignore[arg-type]
            if look_alike != wire[index]:
                continue
            mutated = list(wire)
            mutated[index] = look_alike
            result = decoder.decode(mutated)
            assert isinstance(result, DecodeError), (index, look_alike, result)
            assert result == decode_reference(mutated, N)


def test_decoder_shares_one_item_between_the_messages_of_an_instance() -> None:
    """INITIAL, ECHO and READY about one item come back holding the same item object (the
    simulator shares it too), so RBC recognises them by identity; other items do not."""
    decoder = Decoder(N)
    item = Vote(2, 1, -1, 5)
    got = [
        decoder.decode(encode(RbcMsg(int(kind), 3, 7, item)))
        for kind in (Kind.INITIAL, Kind.ECHO, Kind.READY)
    ]
    assert all(isinstance(m, RbcMsg) and m.item == item for m in got)
    first = got[0]
    assert isinstance(first, RbcMsg)
    assert all(m.item is first.item for m in got if isinstance(m, RbcMsg))
    write = decoder.decode(encode(RbcMsg(int(Kind.ECHO), 3, 7, Write(2, 1, -1, 5))))
    assert isinstance(write, RbcMsg) and isinstance(write.item, Write)
    assert write.item is not first.item


def test_marks_have_one_encoding() -> None:
    """A mark's unused fields are fixed (row 1, value 0, support 0, a view exactly for Ack and
    Complete), so no two wires decode to the same mark."""
    view = [1, 2, 3, 4, 5, 6, 7]
    good = encode(RbcMsg(int(Kind.ECHO), 2, 5, Ack(3, view=tuple(view))))
    assert decode(good, N) == decode_reference(good, N)
    for index, value, reason in [
        (5, 2, "bad-mark"),
        (6, 1, "bad-mark"),
        (7, 1, "bad-mark"),
        (8, None, "bad-mark-view"),
    ]:
        wire = list(good)
        wire[index] = value
        for result in (decode(wire, N), decode_reference(wire, N), Decoder(N).decode(wire)):
            assert isinstance(result, DecodeError) and result.reason == reason, (wire, result)
    done = encode(RbcMsg(int(Kind.ECHO), 2, 5, Done(3)))
    done[8] = view
    assert decode(done, N) == DecodeError("bad-mark-view")


def test_decoder_memory_with_views_never_raises_on_unhashable_entries() -> None:
    decoder = Decoder(N)
    wire = encode(RbcMsg(int(Kind.ECHO), 2, 5, Ack(3, view=(1, 2, 3, 4, 5, 6, 7))))
    assert decoder.decode(wire) == decoder.decode(list(wire))
    hostile = list(wire)
    hostile[8] = [1, 2, {}, 4, 5, 6, [7]]
    assert decoder.decode(hostile) == DecodeError("bad-view")
