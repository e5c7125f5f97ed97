"""The message trace of a run: what ``messages.parquet`` holds, how it is recorded and read.

One row per transmission (``event == "send"``) and one row per delivery (``"deliver"``), in
the order they happened, on every backend: the simulator records it exactly (virtual time,
in units of delta), a real run from what the proxy relayed and what each node did with it
(wall-clock seconds since the run started). docs/messages.md is the reader's guide.

Columns (ids and positions are -1 where they do not apply; `value` is null where the message
carries no value, since -1 is a value). A corrupted node's hand-built message may hold any
field: each is stored as it is when it is an integer in int64 (a vote's value 5, an origin of
2**40), and as "does not apply" (-1, or a null value) when it is not an integer or needs more
than 64 bits. Recording never raises on a message, so it never changes how a run ends:
``kind``, ``describe``, ``wire_size`` and ``encode`` that raise on one give "?", no fields,
size -1 and an empty payload.

==============  =========  ================================================================
column          type       meaning
==============  =========  ================================================================
event           string     "send" or "deliver"
time            float64    when it happened (unit: the metadata's ``time_unit``)
sent            float64    the transmission's send time (on a send row, ``time`` itself),
                           so an arrow is drawn from one row without a join
msg_id          int64      the transmission: a send row and its deliveries share it
src             int32      the sender
dst             int32      the receiver; -1 on a broadcast's send row
kind            string     the protocol's ``kind(msg)`` ("ECHO", "bval", ...)
origin          int64      reliable broadcast instance: its origin
rbc_seq         int64      ... and its sequence number in the origin's stream
iteration       int64      the iteration or round the message belongs to
step            int64      its step within the iteration (a protocol's own numbering)
board           int64      HPZ blackboard
row             int64      ... and row in it
value           int64      the value it carries (-1, +1, 0 for bottom), null if none
size            int64      its wire bytes (one copy), -1 if unknown
outcome         string     the receiver's verdict on a deliver row: "accepted",
                           "dropped" (duplicate, stale, out of bounds, halted receiver) or
                           "rejected" (failed validation); "" on send rows
reason          string     why dropped or rejected (the receiver's own reason names)
corrupt_src     bool       sent by a corrupted node
payload         binary     the message as the protocol encodes it on the wire (msgpack of
                           ``protocol.encode(msg)``): enough to replay a node from the trace
==============  =========  ================================================================

The fields origin .. value come from the protocol's optional `Describes` capability
(byzlab.node.protocol); a protocol without it still gets every row, with kind, size and
payload. The parquet schema's metadata (key ``byzlab.messages``) holds a JSON object: the
format version (`MESSAGES_FORMAT`), the run's n, f and protocol, the time unit ("delta" in
the simulator, "s" on real runs) and the backend.

The recorder is columnar: each transmission's fields are appended once to typed buffers,
each row appends a few ints (a delivery refers to its transmission by index), and the
columns are assembled only when the table is built, so recording costs O(1) per row and no
object per row. The receiver's verdict is read from its `Refusals` counters by
`VerdictWatch`: no protocol needs a hook of its own, and nothing about the run changes.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeGuard

import msgpack

from byzlab.errors import RunIOError
from byzlab.node.protocol import Describes, Protocol, Refusals

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ACCEPTED",
    "AUTO_MAX_N",
    "DROPPED",
    "FILE_NAME",
    "MESSAGES_FORMAT",
    "MESSAGES_SETTINGS",
    "METADATA_KEY",
    "REJECTED",
    "MessageRecorder",
    "MessagesMeta",
    "VerdictWatch",
    "decode_payload",
    "meta_json",
    "read_messages",
    "read_meta",
    "records_messages",
    "schema",
]

# 2: origin, step, row, value and size widened to int64, so that a hostile message's fields
# are stored as they are (format 1 cast them to int32 and int8)
MESSAGES_FORMAT: Final = 2
FILE_NAME: Final = "messages.parquet"
METADATA_KEY: Final = b"byzlab.messages"

# outcomes of a delivery, as the recorder stores them (a send row has none)
ACCEPTED: Final = 0
DROPPED: Final = 1
REJECTED: Final = 2
_OUTCOMES: Final = ("accepted", "dropped", "rejected", "")
_NO_OUTCOME: Final = 3
_EVENTS: Final = ("send", "deliver")

_NA: Final = -1
_INT64: Final = 1 << 63
_INT32: Final = 1 << 31
_NO_FIELDS: Final = (_NA, _NA, _NA, _NA, _NA, _NA, None)
_NO_KIND: Final = "?"  # a kind the protocol could not name (its `kind` raised)


def schema() -> pa.Schema:
    """The columns of ``messages.parquet`` (without the run's metadata)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("event", pa.string()),
            ("time", pa.float64()),
            ("sent", pa.float64()),
            ("msg_id", pa.int64()),
            ("src", pa.int32()),
            ("dst", pa.int32()),
            ("kind", pa.string()),
            ("origin", pa.int64()),
            ("rbc_seq", pa.int64()),
            ("iteration", pa.int64()),
            ("step", pa.int64()),
            ("board", pa.int64()),
            ("row", pa.int64()),
            ("value", pa.int64()),
            ("size", pa.int64()),
            ("outcome", pa.string()),
            ("reason", pa.string()),
            ("corrupt_src", pa.bool_()),
            ("payload", pa.binary()),
        ]
    )


@dataclass(frozen=True)
class MessagesMeta:
    """What the file says about its run (the schema metadata's JSON object)."""

    n: int
    f: int
    protocol: str
    time_unit: str  # "delta" (the simulator) or "s" (wall clock on real runs)
    backend: str
    format: int = MESSAGES_FORMAT

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()


def _fits(x: object) -> TypeGuard[int]:
    """Whether `x` can be stored as it is in an int64 column (a corrupted node's hand-built
    message may hold anything: a string, a bool, an integer of any size)."""
    return type(x) is int and -_INT64 <= x < _INT64


def _fit(x: object) -> int:
    """`x` as an int64 column value: itself when it `_fits`, else -1 ("does not apply")."""
    return x if _fits(x) else _NA


def _kind_of(protocol: Protocol, msg: object) -> str:
    """The protocol's name of `msg`'s kind, `_NO_KIND` when `kind` raises on it or names it
    with something other than a string (a hand-built message, a plugin's bug)."""
    try:
        kind = protocol.kind(msg)
    except Exception:  # hostile objects may fail anywhere in a protocol's code
        return _NO_KIND
    return kind if type(kind) is str else _NO_KIND


def _fields_of(describe: Callable[[object], object], msg: object) -> tuple[object, ...]:
    """`describe(msg)`'s seven fields, or none when it raises or returns something else."""
    try:
        fields = describe(msg)
    except Exception:  # hostile objects may fail anywhere in a protocol's code
        return _NO_FIELDS
    return fields if type(fields) is tuple and len(fields) == len(_NO_FIELDS) else _NO_FIELDS


def _size_of(protocol: Protocol, msg: object) -> int:
    """The protocol's ``wire_size`` of `msg`, -1 when it raises or is not an int64."""
    try:
        return _fit(protocol.wire_size(msg))
    except Exception:  # hostile objects may fail anywhere in a protocol's code
        return _NA


def _int32(column: pa.Array) -> pa.Array:
    """An int64 id column as int32, -1 where an id is out of int32's range (ids come from
    the simulator, or from a real run's spools through the merge, which checks them)."""
    import pyarrow.compute as pc

    inside = pc.and_(pc.greater_equal(column, -_INT32), pc.less(column, _INT32))
    return pc.if_else(inside, column, _NA).cast("int32")


_packer: Final = msgpack.Packer(use_bin_type=True, autoreset=True)


def encode_payload(protocol: Protocol, msg: object) -> bytes:
    """`msg` as its protocol puts it on the wire (one msgpack object), or b"" when it has no
    encoding: a corrupted node in the simulator hands over objects directly, and one that
    its protocol cannot encode (an arbitrary object, an integer past 64 bits) is still
    traced, with an empty payload."""
    try:
        return _packer.pack(protocol.encode(msg))  # type: ignore[no-any-return]
    except Exception:  # hostile objects may fail anywhere in encode
        return b""


def decode_payload(payload: bytes, decoder: Callable[[object], Any]) -> Any:
    """A payload back to a message through the protocol's decoder (``byzlab.plugins.decoder``):
    the message, or the decoder's `DecodeError` (an empty or garbled payload gives one too)."""
    try:
        obj = msgpack.unpackb(payload, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, msgpack.UnpackException):
        obj = None
    return decoder(obj)


class VerdictWatch:
    """The verdict of each input a node takes, read from its `Refusals` counters.

    `verdict()` after a ``receive`` says what that receive did: "rejected" if it raised a
    count of `rejected` (the reasons whose counts grew), else "dropped" if it raised one of
    `dropped`, else "accepted". Exact for a node whose counters change only inside its
    ``receive``, which is every protocol's node (its input is its only cause of change); a
    node without the capability accepts whatever it takes. Cost: the two counters' totals
    per input, and a diff only when one grew."""

    __slots__ = (
        "_dropped",
        "_dropped_total",
        "_refusals",
        "_rejected",
        "_rejected_total",
        "node",
    )

    def __init__(self, node: object) -> None:
        self.node = node
        # checked once: isinstance against a runtime-checkable protocol looks up each of
        # its members, about 30 µs, which per input cost more than the node's own work
        self._refusals = node if isinstance(node, Refusals) else None
        self._rejected: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._rejected_total = self._dropped_total = 0
        if isinstance(node, Refusals):
            self._rejected = dict(node.rejected)
            self._dropped = dict(node.dropped)
            self._rejected_total = sum(self._rejected.values())
            self._dropped_total = sum(self._dropped.values())

    def verdict(self) -> tuple[int, str]:
        """(outcome, reason) of the inputs since the last call: `ACCEPTED`, `DROPPED` or
        `REJECTED`, and the reasons (comma-separated, sorted) whose counts grew."""
        node = self._refusals
        if node is None:
            return ACCEPTED, ""
        rejected = node.rejected
        total = sum(rejected.values())
        if total != self._rejected_total:
            self._rejected_total = total
            return REJECTED, _grown(self._rejected, rejected)
        dropped = node.dropped
        total = sum(dropped.values())
        if total != self._dropped_total:
            self._dropped_total = total
            return DROPPED, _grown(self._dropped, dropped)
        return ACCEPTED, ""


def _grown(seen: dict[str, int], now: Mapping[str, int]) -> str:
    """The keys whose counts grew since `seen`, which is brought up to date."""
    grown = sorted(k for k, v in now.items() if v != seen.get(k, 0))
    for k in grown:
        seen[k] = now[k]
    return ",".join(grown)


class MessageRecorder:
    """The rows of one run's message trace, in typed buffers (see the module docstring).

    `send` records a transmission and returns its index; `deliver` records a delivery of
    transmission `index` and returns its row, whose verdict `settle` sets once it is known
    (until then it reads "accepted"). `table` assembles the columns, `write` the file."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._describe = protocol.describe if isinstance(protocol, Describes) else None
        # one entry per transmission
        self._m_id = array("q")
        self._m_time = array("d")
        self._m_src = array("q")
        self._m_kind = array("q")
        self._m_fields = [array("q") for _ in range(6)]  # origin .. row
        self._m_value = array("q")
        self._m_valued = array("b")  # 0 where the value is null (no value, or not an int64)
        self._m_size = array("q")
        self._m_corrupt = array("b")
        self._m_payload: list[bytes] = []
        # one entry per row
        self._r_event = array("b")
        self._r_time = array("d")
        self._r_msg = array("q")
        self._r_dst = array("q")
        self._r_outcome = array("b")
        self._r_reason = array("q")
        self._kinds: dict[str, int] = {}
        self._reasons: dict[str, int] = {"": 0}

    def __len__(self) -> int:
        return len(self._r_event)

    @property
    def transmissions(self) -> int:
        return len(self._m_id)

    def send(
        self,
        time: float,
        src: int,
        dst: int,
        msg: object,
        *,
        corrupt: bool,
        msg_id: int | None = None,
        payload: bytes | None = None,
        size: int | None = None,
    ) -> int:
        """Record a transmission of `msg` by `src` at `time` (`dst` -1 for a broadcast).
        `msg_id` defaults to the transmission's index; `payload` and `size` to the
        protocol's encoding and ``wire_size``. Returns the transmission's index."""
        protocol = self.protocol
        index = len(self._m_id)
        self._m_id.append(index if msg_id is None else msg_id)
        self._m_time.append(time)
        self._m_src.append(src)
        kind = _kind_of(protocol, msg)
        code = self._kinds.get(kind)
        if code is None:
            code = self._kinds[kind] = len(self._kinds)
        self._m_kind.append(code)
        fields = _NO_FIELDS if self._describe is None else _fields_of(self._describe, msg)
        for column, x in zip(self._m_fields, fields, strict=False):
            column.append(_fit(x))
        value = fields[6]
        if _fits(value):
            self._m_value.append(value)
            self._m_valued.append(1)
        else:
            self._m_value.append(0)
            self._m_valued.append(0)
        self._m_size.append(_size_of(protocol, msg) if size is None else _fit(size))
        self._m_corrupt.append(corrupt)
        self._m_payload.append(encode_payload(protocol, msg) if payload is None else payload)
        self._row(0, time, index, dst, _NO_OUTCOME)
        return index

    def deliver(self, time: float, index: int, dst: int) -> int:
        """Record the delivery of transmission `index` to `dst` at `time`; returns its row."""
        return self._row(1, time, index, dst, ACCEPTED)

    def _row(self, event: int, time: float, index: int, dst: int, outcome: int) -> int:
        row = len(self._r_event)
        self._r_event.append(event)
        self._r_time.append(time)
        self._r_msg.append(index)
        self._r_dst.append(dst)
        self._r_outcome.append(outcome)
        self._r_reason.append(0)
        return row

    def settle(self, row: int, outcome: int, reason: str = "") -> None:
        """Set the verdict of delivery `row`."""
        self._r_outcome[row] = outcome
        code = self._reasons.get(reason)
        if code is None:
            code = self._reasons[reason] = len(self._reasons)
        self._r_reason[row] = code

    def drop_last(self) -> None:
        """Forget the last row (a delivery taken from the queue but never made)."""
        for column in (
            self._r_event,
            self._r_time,
            self._r_msg,
            self._r_dst,
            self._r_outcome,
            self._r_reason,
        ):
            column.pop()

    def table(self, meta: MessagesMeta) -> pa.Table:
        """The rows as a table with `meta` in its schema."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        msg = np.frombuffer(self._r_msg, dtype=np.int64) if self._r_msg else np.zeros(0, int)
        take = pa.array(msg, pa.int64())

        def per_msg(buffer: array[int] | array[float], kind: pa.DataType) -> pa.Array:
            return pa.array(np.asarray(buffer), kind).take(take)

        def labels(codes: pa.Array, names: Mapping[str, int] | tuple[str, ...]) -> pa.Array:
            return pa.DictionaryArray.from_arrays(codes, pa.array(list(names), pa.string())).cast(
                pa.string()
            )

        event = pa.array(np.asarray(self._r_event), pa.int8())
        valued = per_msg(self._m_valued, pa.int8()).cast(pa.bool_())
        value = pc.if_else(valued, per_msg(self._m_value, pa.int64()), pa.scalar(None, pa.int64()))
        fields = [per_msg(column, pa.int64()) for column in self._m_fields]
        columns = {
            "event": labels(event, _EVENTS),
            "time": pa.array(np.asarray(self._r_time), pa.float64()),
            "sent": per_msg(self._m_time, pa.float64()),
            "msg_id": per_msg(self._m_id, pa.int64()),
            "src": _int32(per_msg(self._m_src, pa.int64())),
            "dst": _int32(pa.array(np.asarray(self._r_dst), pa.int64())),
            "kind": labels(per_msg(self._m_kind, pa.int64()), self._kinds),
            "origin": fields[0],
            "rbc_seq": fields[1],
            "iteration": fields[2],
            "step": fields[3],
            "board": fields[4],
            "row": fields[5],
            "value": value,
            "size": per_msg(self._m_size, pa.int64()),
            "outcome": labels(pa.array(np.asarray(self._r_outcome), pa.int8()), _OUTCOMES),
            "reason": labels(pa.array(np.asarray(self._r_reason), pa.int64()), self._reasons),
            "corrupt_src": per_msg(self._m_corrupt, pa.int8()).cast(pa.bool_()),
            "payload": pa.array(self._m_payload, pa.binary()).take(take),
        }
        target = schema().with_metadata({METADATA_KEY: meta.to_bytes()})
        return pa.Table.from_arrays(list(columns.values()), schema=target)

    def write(self, path: Path, meta: MessagesMeta) -> None:
        """Write the rows to `path` (parquet, zstd), atomically: a reader never sees half a
        file."""
        import pyarrow.parquet as pq

        table = self.table(meta)
        tmp = path.with_name(path.name + ".tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(path)
        except OSError as exc:
            raise RunIOError(f"{path}: cannot write the message trace ({exc.strerror})") from exc


def read_messages(path: Path) -> pa.Table:
    """``messages.parquet`` as a pyarrow table, one row per send and delivery in the order
    they happened (`value` null where a message carries none); `read_meta` gives the run's
    metadata. A file of another format version is refused in one line. For pandas,
    ``read_messages(path).to_pandas()``."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    _meta_of(table.schema, path)
    return table


def read_meta(path: Path) -> MessagesMeta:
    """The run's metadata of a ``messages.parquet``."""
    import pyarrow.parquet as pq

    return _meta_of(pq.read_schema(path), path)


def _meta_of(target: pa.Schema, path: Path) -> MessagesMeta:
    try:
        data = meta_json((target.metadata or {}).get(METADATA_KEY))
    except ValueError as exc:
        raise RunIOError(f"{path}: {exc}") from exc
    try:
        return MessagesMeta(**data)
    except TypeError as exc:  # keys missing or unknown
        raise RunIOError(f"{path}: its metadata is not a message trace's ({exc})") from exc


def meta_json(raw: bytes | None) -> dict[str, Any]:
    """The JSON object of a file's metadata (`METADATA_KEY`'s value), checked to be of this
    byzlab's format; ValueError saying in one line why it is not (the file is untrusted)."""
    if raw is None:
        raise ValueError(f"not a byzlab message trace (no {METADATA_KEY.decode()})")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"its metadata is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError("its metadata is not a JSON object")
    found = data.get("format")
    if found != MESSAGES_FORMAT:
        raise ValueError(
            f"message trace format {found!r}; this byzlab reads format {MESSAGES_FORMAT} only "
            "(record the run again to read it here)"
        )
    return data


MESSAGES_SETTINGS: Final = ("auto", "on", "off")
AUTO_MAX_N: Final = 16


def records_messages(setting: str, n: int) -> bool:
    """Whether a run of `n` nodes records its message trace: ``on``, ``off``, or ``auto``
    (up to `AUTO_MAX_N` nodes; above that the trace of a run grows as n^2 per broadcast
    and a long run's would be gigabytes, so it is recorded only when asked for)."""
    if setting not in MESSAGES_SETTINGS:
        raise ValueError(f"messages must be one of {', '.join(MESSAGES_SETTINGS)}, got {setting!r}")
    return setting == "on" or (setting == "auto" and n <= AUTO_MAX_N)
