"""Protocol messages, and the decoder that stands between untrusted bytes and `node/`.

Theory of operation
-------------------
Every node broadcasts one FIFO stream of *items* through Bracha reliable broadcast (HPZ §2,
"Reliable Broadcast"; FIFO as in HPZ22 Algorithm 1). The l-th item of node q travels in the
RBC instance keyed (origin=q, seq=l). The kinds of item:

* `Vote(iteration, step, value, support, view)`: steps 1-3 are the three RBC steps of Bracha
  agreement (HPZ Algorithm 1, lines 3-5); step 4 is stage 1 of Coin-Flip (Algorithm 2,
  line 3). `value` is -1, +1 or 0 for bottom.
* `Write(board, row, value, support, view)`: one cell of the iterated blackboard, column =
  origin (HPZ Theorem 1, Algorithm 2 lines 5 and 7).
* the blackboard's marks (blackboard.py explains why they exist): `Ack(board, view)` ("I have
  validated everything in `view`"), `Done(board)` ("my column is full") and
  `Complete(board, view)` ("I have validated n - f Dones"). Their value and support are 0.

`support` is a bitmask of the n - f senders whose previous-step items justify `value`, and
`view` (a tuple of n stream lengths) is the sender's fixed view of the blackboards, carried in
the first item after it fixes one (and in every Ack and Complete). Both exist for validation:
the receiver replays the sender's deterministic transition from the items it claims to have
used.

Wire messages are `RbcMsg(kind, origin, seq, item)` for INITIAL/ECHO/READY and `DecideMsg`
for the termination gadget. `decode` turns a msgpack-decoded object into a message or a
`DecodeError` naming the reason; it checks every type and range, so nothing malformed ever
reaches a state machine. Messages are frozen and slotted: the simulator shares one object
between all receivers of a broadcast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, Final

from byzlab.node.protocol import DecodeError

MAX_SEQ: Final = 1 << 40
MAX_ITERATION: Final = 1 << 31
MAX_ROWS: Final = 1 << 20


class Kind(IntEnum):
    """The kind of an `RbcMsg`: Bracha reliable broadcast's INITIAL (the origin's item), ECHO
    and READY (HPZ §2, "Reliable Broadcast"). DECIDE is `DecideMsg`'s tag on the wire."""

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


@dataclass(frozen=True, slots=True)
class Ack:
    """ "I have validated every item `view` covers": acknowledges blackboard cells so that their
    writers may go on (blackboard.py). `board` is the first board the sender has not yet
    declared complete; an honest node never acknowledges for a board it has completed."""

    board: int
    value: int = 0
    support: int = 0
    view: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """ "My column of `board` is full": valid only once n - f Acks cover its last cell."""

    board: int
    value: int = 0
    support: int = 0
    view: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    """ "I have validated n - f Dones of `board`" (`view` shows them): after n - f of these a
    node fixes its view of the board."""

    board: int
    value: int = 0
    support: int = 0
    view: tuple[int, ...] | None = None


Mark = Ack | Done | Complete
Item = Vote | Write | Ack | Done | Complete
"""What one reliable broadcast carries: the l-th item of a node's FIFO stream."""


@dataclass(frozen=True, slots=True)
class RbcMsg:
    """One message of the reliable broadcast of the `seq`-th item of node `origin`'s stream:
    `kind` is a `Kind` (INITIAL from the origin, ECHO and READY from everyone)."""

    kind: int
    origin: int
    seq: int
    item: Item


@dataclass(frozen=True, slots=True)
class DecideMsg:
    """Point-to-point "I decided `value`" used to halt (f+1 to decide, 2f+1 to halt)."""

    value: int


Message = RbcMsg | DecideMsg
"""A wire message of the Bracha engine's protocols (hpz, bracha-local, ideal-coin)."""

_ITEM_VOTE: Final = 0
_ITEM_WRITE: Final = 1
_ITEM_ACK: Final = 2
_ITEM_DONE: Final = 3
_ITEM_COMPLETE: Final = 4
# Marks (Ack, Done, Complete) have no row: the wire's second position field is always 1 for
# them, and their value and support are always 0, so each mark has exactly one encoding.
_MARK_TAGS: Final = {Ack: _ITEM_ACK, Done: _ITEM_DONE, Complete: _ITEM_COMPLETE}


def encode(msg: Message) -> list[object]:
    """Message -> a msgpack-ready list of primitives."""
    if isinstance(msg, DecideMsg):
        return [int(Kind.DECIDE), msg.value]
    item = msg.item
    if isinstance(item, Vote):
        tag, a, b = _ITEM_VOTE, item.iteration, item.step
    elif isinstance(item, Write):
        tag, a, b = _ITEM_WRITE, item.board, item.row
    else:
        tag, a, b = _MARK_TAGS[type(item)], item.board, 1
    view = list(item.view) if item.view is not None else None
    return [msg.kind, msg.origin, msg.seq, tag, a, b, item.value, _pack_support(item.support), view]


_WIRE_INT_LIMIT: Final = 1 << 64


def _pack_support(support: int) -> int | bytes:
    # msgpack integers stop at 64 bits, and a support bitmask has n bits: for n > 64 the
    # high ids' bits go on the wire as little-endian bytes, and only then (one encoding
    # per value, so equal messages stay equal on the wire).
    if support < _WIRE_INT_LIMIT:
        return support
    return support.to_bytes((support.bit_length() + 7) // 8, "little")


def _unpack_support(raw: object, n: int) -> int | None:
    if type(raw) is int:
        return raw if 0 <= raw < (1 << n) else None
    if type(raw) is bytes and len(raw) <= (n + 7) // 8:
        value = int.from_bytes(raw, "little")
        if _WIRE_INT_LIMIT <= value < (1 << n) and len(raw) == (value.bit_length() + 7) // 8:
            return value
    return None


def _is_int(x: object) -> bool:
    return type(x) is int


def _construct(cls: type[Any]) -> Callable[..., Any]:
    """A positional constructor for a frozen slotted dataclass that stores each field through
    its slot descriptor: the same object ``cls(...)`` builds, but without the frozen
    ``__init__``'s ``object.__setattr__`` per field, which costs as much as decoding."""
    names = tuple(f.name for f in fields(cls))
    if tuple(getattr(cls, "__slots__", ())) != names:  # pragma: no cover - a changed class
        raise ImportError(f"{cls.__name__}: expected a slotted dataclass")
    setters = tuple(getattr(cls, name).__set__ for name in names)
    new = object.__new__

    if len(names) == 4:
        s0, s1, s2, s3 = setters

        def make4(a: object, b: object, c: object, d: object) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            return obj

        return make4
    if len(names) == 5:
        t0, t1, t2, t3, t4 = setters

        def make5(a: object, b: object, c: object, d: object, e: object) -> Any:
            obj: Any = new(cls)
            t0(obj, a)
            t1(obj, b)
            t2(obj, c)
            t3(obj, d)
            t4(obj, e)
            return obj

        return make5
    raise ImportError(f"{cls.__name__}: no fast constructor for {len(names)} fields")


_new_vote: Final[Callable[[int, int, int, int, tuple[int, ...] | None], Vote]] = _construct(Vote)
_new_write: Final[Callable[[int, int, int, int, tuple[int, ...] | None], Write]] = _construct(Write)
_new_rbc: Final[Callable[[int, int, int, Item], RbcMsg]] = _construct(RbcMsg)
_MARK_CLASSES: Final[dict[int, type[Ack | Done | Complete]]] = {
    _ITEM_ACK: Ack,
    _ITEM_DONE: Done,
    _ITEM_COMPLETE: Complete,
}
_NEW_MARK: Final[dict[int, Callable[[int, int, int, tuple[int, ...] | None], Item]]] = {
    tag: _construct(cls) for tag, cls in _MARK_CLASSES.items()
}
_INT_ONLY: Final = frozenset((int,))
_MAX_WRITE_BOARD: Final = 2 * MAX_ITERATION


def decode(obj: object, n: int) -> Message | DecodeError:
    """Validate types and ranges of a decoded wire object; never raises on hostile input.

    The result is exactly ``decode_reference(obj, n)``. The common case, a well-formed RBC
    message as msgpack produces it (a list of 9), is checked here in one pass with every
    check of the reference; anything that fails any check, and every other shape, goes
    through ``decode_reference``, which finds the reason. ``tests/test_messages.py``
    checks the equivalence on random valid and invalid inputs.
    """
    if type(obj) is list and len(obj) == 9:
        kind, origin, seq, tag, a, b, value, support, view = obj
        if type(support) is bytes:
            support = _unpack_support(support, n)  # the wide form (n > 64); None if bad
        if (
            type(kind) is int
            and type(origin) is int
            and type(seq) is int
            and type(tag) is int
            and type(a) is int
            and type(b) is int
            and type(value) is int
            and type(support) is int
            and 0 <= kind <= 2
            and 0 <= origin < n
            and 1 <= seq < MAX_SEQ
            and -1 <= value <= 1
            and 0 <= support < (1 << n)
            and a >= 1
            and b >= 1
        ):
            if view is None:
                view_t = None
            elif (
                type(view) is list
                and len(view) == n
                and set(map(type, view)) == _INT_ONLY
                and min(view) >= 0
                and max(view) < MAX_SEQ
            ):
                view_t = tuple(view)
            else:
                return decode_reference(obj, n)
            if tag == _ITEM_VOTE:
                if a < MAX_ITERATION and b <= 4:
                    return _new_rbc(kind, origin, seq, _new_vote(a, b, value, support, view_t))
            elif tag == _ITEM_WRITE and a < _MAX_WRITE_BOARD and b <= MAX_ROWS:
                return _new_rbc(kind, origin, seq, _new_write(a, b, value, support, view_t))
            elif (
                tag in _NEW_MARK
                and a < _MAX_WRITE_BOARD
                and b == 1
                and value == 0
                and support == 0
                and (view_t is None) == (tag == _ITEM_DONE)
            ):
                return _new_rbc(kind, origin, seq, _NEW_MARK[tag](a, 0, 0, view_t))
    return decode_reference(obj, n)


class Decoder:
    """``decode`` for one ``n``, remembering recent results.

    Every ECHO and READY of an RBC instance carries the same fields from each of the n
    senders, so most messages a node receives equal one it decoded moments ago. A message
    whose fields are all exact ints (the support may be its wide bytes form, the view a list
    of exact ints) is looked up by those fields; only a new
    one is range-checked and built (``decode``). The types are checked *before* the lookup,
    so a float or bool that compares equal to an int (``1.0 == True == 1``) never finds an
    entry: the result is always the result of ``decode``, and equal messages come back as
    one shared (frozen) object, as the simulator shares them.

    Items are shared too: the INITIAL, ECHOs and READYs of an instance are different
    messages about one item, and the simulator hands all of them the sender's item object.
    A new message whose item equals one seen recently is rebuilt around that item, so that
    ``rbc.py`` recognises it by identity (``is``) instead of comparing dataclasses field by
    field, once per sender.

    At most ``max_entries`` results (and as many items) are kept; each memory is cleared
    when full, so a flood of distinct messages costs what ``decode`` costs and no more
    memory.
    """

    __slots__ = ("_cache", "_items", "max_entries", "n")

    def __init__(self, n: int, *, max_entries: int = 4096) -> None:
        self.n = n
        self.max_entries = max_entries
        self._cache: dict[tuple[object, ...], Message] = {}
        self._items: dict[tuple[object, ...], Item] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def decode(self, obj: object) -> Message | DecodeError:
        if type(obj) is list and len(obj) == 9:
            kind, origin, seq, tag, a, b, value, support, view = obj
            # a view (Acks, Completes, fixed views) is part of the key once it is known to
            # be a list of exact ints, so that hashing it cannot fail on hostile input
            vkey: tuple[int, ...] | None = None
            if view is not None and type(view) is list and set(map(type, view)) == _INT_ONLY:
                vkey = tuple(view)
            if (
                (view is None or vkey is not None)
                and type(kind) is int
                and type(origin) is int
                and type(seq) is int
                and type(tag) is int
                and type(a) is int
                and type(b) is int
                and type(value) is int
                and (type(support) is int or type(support) is bytes)
            ):
                key = (kind, origin, seq, tag, a, b, value, support, vkey)
                cache = self._cache
                msg = cache.get(key)
                if msg is not None:
                    return msg
                result = decode(obj, self.n)
                if isinstance(result, RbcMsg):
                    items = self._items
                    item_key = (tag, a, b, value, result.item.support, vkey)
                    item = items.get(item_key)
                    if item is None:
                        if len(items) >= self.max_entries:
                            items.clear()
                        items[item_key] = result.item
                    else:
                        result = _new_rbc(kind, origin, seq, item)
                if not isinstance(result, DecodeError):
                    if len(cache) >= self.max_entries:
                        cache.clear()
                    cache[key] = result
                return result
        return decode(obj, self.n)

    __call__ = decode


def decode_reference(obj: object, n: int) -> Message | DecodeError:
    """The specification of ``decode``: every check in order, with the reason for the first
    that fails. Slower than ``decode``, which gives the same result."""
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
    _, origin, seq, tag, a, b, value, raw_support, view = obj
    if not all(_is_int(x) for x in (origin, seq, tag, a, b, value)) or not (
        _is_int(raw_support) or type(raw_support) is bytes
    ):
        return DecodeError("non-integer-field")
    if not 0 <= origin < n:
        return DecodeError("bad-origin")
    if not 1 <= seq < MAX_SEQ:
        return DecodeError("bad-seq")
    if value not in (-1, 0, 1):
        return DecodeError("bad-value")
    support = _unpack_support(raw_support, n)
    if support is None:
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
    elif tag in _MARK_CLASSES:
        if not 1 <= a < 2 * MAX_ITERATION or b != 1 or value != 0 or support != 0:
            return DecodeError("bad-mark")
        if (view_t is None) != (tag == _ITEM_DONE):
            return DecodeError("bad-mark-view")
        item = _MARK_CLASSES[tag](a, 0, 0, view_t)
    else:
        return DecodeError("bad-item-tag")
    return RbcMsg(kind, origin, seq, item)


def wire_size(msg: Message) -> int:
    """Approximate encoded size in bytes (msgpack of small ints), for the simulator's metrics."""
    if isinstance(msg, DecideMsg):
        return 3
    view = msg.item.view
    return 14 + (0 if view is None else 1 + 3 * len(view))
