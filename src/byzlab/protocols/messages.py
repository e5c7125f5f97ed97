"""The messages of round-based binary protocols, and their codec that validates hostile input.

Every message of `mmr` and `ben-or` is a triple (kind, round, value): the protocol's step
(`kind`), the round it belongs to and a value in {-1, +1} (byzlab's binary inputs) or, where
a protocol allows it, 0 for "no value" (Ben-Or's "?"). Kind 0 is the termination gadget's
DECIDE(value) in every protocol (termination.py); it belongs to no round, so its round is 0.
On the wire a message is the msgpack list ``[kind, round, value]``.

`RoundCodec` is the message half of a protocol object: it encodes, decodes (every field
type- and range-checked, so hostile input becomes a `DecodeError` naming the reason and
never an exception), sizes and names messages, folds them into the simulator's trace hash,
and exposes the binary value a message carries (`value_of`) and its opposite (`equivocal`),
which is what lets value-based attacks (the `equivocate` strategy, the `split-vote`
scheduler) act on these protocols without knowing them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from byzlab.api import DecodeError

DECIDE: Final = 0
MAX_ROUND: Final = 1 << 31
BINARY: Final = frozenset((-1, 1))
WITH_BOTTOM: Final = frozenset((-1, 0, 1))


@dataclass(frozen=True, slots=True)
class RoundMsg:
    """One message: step `kind` of round `round` carrying `value` (DECIDE: round 0)."""

    kind: int
    round: int
    value: int


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What a kind of message may carry: its name (for metrics) and its allowed values."""

    name: str
    values: frozenset[int]


def _int_size(x: int) -> int:
    """Bytes msgpack uses for the integer `x` (positive fixint, negative fixint, int8..64)."""
    if -32 <= x <= 127:
        return 1
    if -(1 << 7) <= x <= 255:
        return 2
    if -(1 << 15) <= x <= 0xFFFF:
        return 3
    if -(1 << 31) <= x <= 0xFFFF_FFFF:
        return 5
    return 9


class RoundCodec:
    """The message side of a round-based protocol, given its kinds (kind 0 is DECIDE)."""

    def __init__(self, kinds: Mapping[int, KindSpec]) -> None:
        if DECIDE in kinds:
            raise ValueError("kind 0 is the termination gadget's DECIDE in every protocol")
        self.kinds: dict[int, KindSpec] = {DECIDE: KindSpec("decide", BINARY), **kinds}

    def check(self, msg: object) -> str | None:
        """Why `msg` is not a well-formed message of this protocol, or None if it is. The
        node runs it on every input too: an in-process adversary bypasses the decoder."""
        if type(msg) is not RoundMsg:
            return "foreign-message"
        spec = self.kinds.get(msg.kind)
        if spec is None:
            return "bad-kind"
        if msg.kind == DECIDE:
            if msg.round != 0:
                return "bad-round"
        elif not 1 <= msg.round < MAX_ROUND:
            return "bad-round"
        if msg.value not in spec.values:
            return "bad-value"
        return None

    def encode(self, msg: RoundMsg) -> list[object]:
        """A message -> the msgpack-ready list ``[kind, round, value]``."""
        return [msg.kind, msg.round, msg.value]

    def decode(self, obj: object) -> RoundMsg | DecodeError:
        """An untrusted msgpack-decoded object -> a message or the reason it is not one.
        Never raises: only exact ints are accepted (no bools, floats or big containers)."""
        if not isinstance(obj, list | tuple):
            return DecodeError("not-a-list")
        if len(obj) != 3:
            return DecodeError("bad-length")
        kind, rnd, value = obj
        if type(kind) is not int or type(rnd) is not int or type(value) is not int:
            return DecodeError("non-integer-field")
        msg = RoundMsg(kind, rnd, value)
        reason = self.check(msg)
        return msg if reason is None else DecodeError(reason)

    def decoder(self, n: int) -> Callable[[object], RoundMsg | DecodeError]:
        """The decoder for a run of `n` nodes (these messages carry no node ids, so it is the
        same for every n)."""
        return self.decode

    def wire_size(self, msg: RoundMsg) -> int:
        """The exact msgpack size of the encoded message: a fixarray header and three ints."""
        return 1 + _int_size(msg.kind) + _int_size(msg.round) + _int_size(msg.value)

    def kind(self, msg: object) -> str:
        """The name of the message's kind, for per-kind counts ("?" for anything that is not
        a well-formed message of this protocol: a corrupted node may send such things)."""
        if self.check(msg) is not None:
            return "?"
        assert isinstance(msg, RoundMsg)
        return self.kinds[msg.kind].name

    def trace_fields(self, msg: RoundMsg) -> tuple[int, int]:
        """(key, value) of a message for the simulator's trace hash: which step of which
        round, and what it carried."""
        return msg.kind | msg.round << 4, msg.value + 1

    def describe(self, msg: object) -> tuple[int, int, int, int, int, int, int | None]:
        """The message's fields for the trace: no broadcast instance, no blackboard; its
        round as the iteration and its kind as the step (a DECIDE has neither)."""
        if self.check(msg) is not None:
            return -1, -1, -1, -1, -1, -1, None
        assert isinstance(msg, RoundMsg)
        if msg.kind == DECIDE:
            return -1, -1, -1, -1, -1, -1, msg.value
        return -1, -1, msg.round, msg.kind, -1, -1, msg.value

    def value_of(self, msg: object) -> int | None:
        """The value `msg` votes for: -1 or +1, 0 for "?", None if it is not one of these
        messages."""
        if self.check(msg) is not None:
            return None
        assert isinstance(msg, RoundMsg)
        return msg.value

    def equivocal(self, msg: object) -> RoundMsg | None:
        """The same message carrying the opposite value (for "?", the value +1), as its
        sender could have sent it instead, or None when `msg` is not one of these messages.
        Every message here carries its sender's own choice (a relayed BVAL is a BVAL like any
        other), so every one has an equivocal form, DECIDE included."""
        if self.check(msg) is not None:
            return None
        assert isinstance(msg, RoundMsg)
        return RoundMsg(msg.kind, msg.round, -msg.value if msg.value else 1)
