"""The decoder between untrusted wire objects and node/: round trips and hostile input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.node.messages import DecideMsg, DecodeError, Kind, RbcMsg, Vote, Write, decode, encode

N = 7


def test_round_trip() -> None:
    for msg in [
        RbcMsg(int(Kind.INITIAL), 3, 1, Vote(1, 1, -1)),
        RbcMsg(int(Kind.ECHO), 0, 9, Vote(4, 3, 0, support=0b1111100)),
        RbcMsg(int(Kind.READY), 6, 12, Write(7, 3, 1)),
        RbcMsg(int(Kind.READY), 6, 13, Write(8, 1, -1, view=(1, 2, 3, 4, 5, 6, 7))),
        DecideMsg(1),
    ]:
        assert decode(encode(msg), N) == msg


@settings(max_examples=2000, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
                    | st.binary(max_size=5),
                    lambda inner: st.lists(inner, max_size=10), max_leaves=30))
def test_decoder_never_raises(obj: object) -> None:
    result = decode(obj, N)
    assert isinstance(result, RbcMsg | DecideMsg | DecodeError)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.integers(-2**70, 2**70) | st.none(), min_size=9, max_size=9))
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
