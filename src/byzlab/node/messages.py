"""Protocol messages, and the decoder that stands between untrusted bytes and `node/`.

Theory of operation
-------------------
Every node broadcasts one FIFO stream of *items* through Bracha reliable broadcast (HPZ §2,
"Reliable Broadcast"; FIFO as in HPZ22 Algorithm 1). The l-th item of node q travels in the
RBC instance keyed (origin=q, seq=l). There are two kinds of item:

* `Vote(iteration, step, value, support, view)`: steps 1-3 are the three RBC steps of Bracha
  agreement (HPZ Algorithm 1, lines 3-5); step 4 is stage 1 of Coin-Flip (Algorithm 2,
  line 3). `value` is -1, +1 or 0 for bottom.
* `Write(board, row, value, support, view)`: one cell of the iterated blackboard, column =
  origin (HPZ Theorem 1, Algorithm 2 lines 5 and 7).

`support` is a bitmask of the n - f senders whose previous-step items justify `value`, and
`view` (a tuple of n stream lengths) is the sender's fixed view of the blackboards, carried in
the first item after it fixes one. Both exist for validation (ARCHITECTURE.md §2): the
receiver replays the sender's deterministic transition from the items it claims to have used.

Wire messages are `RbcMsg(kind, origin, seq, item)` for INITIAL/ECHO/READY and `DecideMsg`
for the termination gadget. `decode` turns a msgpack-decoded object into a message or a
`DecodeError` naming the reason; it checks every type and range, so nothing malformed ever
reaches a state machine. Messages are frozen and slotted: the simulator shares one object
between all receivers of a broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

MAX_SEQ: Final = 1 << 40
MAX_ITERATION: Final = 1 << 31
MAX_ROWS: Final = 1 << 20


class Kind(IntEnum):
    INITIAL = 0
    ECHO = 1
    READY = 2
    DECIDE = 3


@dataclass(frozen=True, slots=True)
class Vote:
    """A Bracha step (1-3) or coin stage-1 (4) value of one iteration."""

    iteration: int
    step: int
    value: int
    support: int = 0
    view: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """One blackboard cell: row `row` of column `origin` in blackboard `board`."""

    board: int
    row: int
    value: int
    support: int = 0
    view: tuple[int, ...] | None = None


Item = Vote | Write


@dataclass(frozen=True, slots=True)
class RbcMsg:
    kind: int
    origin: int
    seq: int
    item: Item


@dataclass(frozen=True, slots=True)
class DecideMsg:
    """Point-to-point "I decided `value`" used to halt (f+1 to decide, 2f+1 to halt)."""

    value: int


Message = RbcMsg | DecideMsg

_ITEM_VOTE: Final = 0
_ITEM_WRITE: Final = 1


@dataclass(frozen=True, slots=True)
class DecodeError:
    reason: str


def encode(msg: Message) -> list[object]:
    """Message -> a msgpack-ready list of primitives."""
    if isinstance(msg, DecideMsg):
        return [int(Kind.DECIDE), msg.value]
    item = msg.item
    tag = _ITEM_VOTE if isinstance(item, Vote) else _ITEM_WRITE
    a, b = (item.iteration, item.step) if isinstance(item, Vote) else (item.board, item.row)
    view = list(item.view) if item.view is not None else None
    return [msg.kind, msg.origin, msg.seq, tag, a, b, item.value, item.support, view]


def _is_int(x: object) -> bool:
    return type(x) is int


def decode(obj: object, n: int) -> Message | DecodeError:
    """Validate types and ranges of a decoded wire object; never raises on hostile input."""
    if not isinstance(obj, list | tuple) or not obj:
        return DecodeError("not-a-list")
    kind = obj[0]
    if not _is_int(kind) or not 0 <= kind <= int(Kind.DECIDE):
        return DecodeError("bad-kind")
    if kind == Kind.DECIDE:
        if len(obj) != 2 or not _is_int(obj[1]) or obj[1] not in (-1, 1):
            return DecodeError("bad-decide")
        return DecideMsg(obj[1])
    if len(obj) != 9:
        return DecodeError("bad-length")
    _, origin, seq, tag, a, b, value, support, view = obj
    if not all(_is_int(x) for x in (origin, seq, tag, a, b, value, support)):
        return DecodeError("non-integer-field")
    if not 0 <= origin < n:
        return DecodeError("bad-origin")
    if not 1 <= seq < MAX_SEQ:
        return DecodeError("bad-seq")
    if value not in (-1, 0, 1):
        return DecodeError("bad-value")
    if not 0 <= support < (1 << n):
        return DecodeError("bad-support")
    view_t: tuple[int, ...] | None = None
    if view is not None:
        if not isinstance(view, list | tuple) or len(view) != n:
            return DecodeError("bad-view")
        if not all(_is_int(x) and 0 <= x < MAX_SEQ for x in view):
            return DecodeError("bad-view")
        view_t = tuple(view)
    item: Item
    if tag == _ITEM_VOTE:
        if not 1 <= a < MAX_ITERATION or not 1 <= b <= 4:
            return DecodeError("bad-vote-position")
        item = Vote(a, b, value, support, view_t)
    elif tag == _ITEM_WRITE:
        if not 1 <= a < 2 * MAX_ITERATION or not 1 <= b <= MAX_ROWS:
            return DecodeError("bad-write-position")
        item = Write(a, b, value, support, view_t)
    else:
        return DecodeError("bad-item-tag")
    return RbcMsg(kind, origin, seq, item)


def wire_size(msg: Message) -> int:
    """Approximate encoded size in bytes (msgpack of small ints), for the simulator's metrics."""
    if isinstance(msg, DecideMsg):
        return 3
    view = msg.item.view
    return 14 + (0 if view is None else 1 + 3 * len(view))
