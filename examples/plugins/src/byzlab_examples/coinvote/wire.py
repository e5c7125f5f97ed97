"""coin-vote's messages and their wire format, and the decoder that stands between the network
and the node: a Byzantine peer may send anything, so the decoder checks every type and range
and answers anything else with a DecodeError, never an exception."""

from __future__ import annotations

from typing import NamedTuple

from byzlab.api import DecodeError

KINDS = ("EST", "PROP", "DONE")
MAX_ROUND = 1 << 31


class Msg(NamedTuple):
    kind: str  # one of KINDS
    round: int  # from 1
    value: int  # -1 or +1; a PROP's 0 is "no value"


def encode(msg: Msg) -> list[object]:
    """The message as msgpack-ready integers: [kind's index, round, value]."""
    return [KINDS.index(msg.kind), msg.round, msg.value]


def decode(obj: object) -> Msg | DecodeError:
    """What a peer sent (msgpack-decoded) -> the message `encode` made of it, or a DecodeError."""
    if type(obj) is not list or len(obj) != 3 or any(type(x) is not int for x in obj):
        return DecodeError("not three integers")
    kind, rnd, value = obj
    if not (0 <= kind < len(KINDS) and 0 < rnd < MAX_ROUND):
        return DecodeError("kind or round out of range")
    if value not in ((-1, 0, 1) if KINDS[kind] == "PROP" else (-1, 1)):
        return DecodeError("value out of range")
    return Msg(KINDS[kind], rnd, value)
