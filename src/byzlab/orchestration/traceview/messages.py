"""A run's ``messages.parquet`` read for the viewer: checked, its deliveries as columns, and
every payload decoded into named fields.

The file's format is ``network/messagelog.py``'s (docs/messages.md). The viewer draws one arrow
per *delivery* row (from ``(sent, src)`` to ``(time, dst)``, so no join with the send rows is
needed) and counts the send rows. Everything in the file is untrusted: the schema must be the
recorder's (names and types), the metadata a JSON object of the right shape, node ids within
the run's n and times finite; otherwise one line names the file and the problem.

Payloads are decoded here, in Python, once per distinct payload (every ECHO of one instance
carries the same bytes), with the run's protocol's own decoder: a built-in protocol or an
installed ``byzlab.protocols`` entry point. A ``package.module:Name`` reference read from a
file is not imported (a run directory must not run code); its payloads are shown as the
msgpack structure they encode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack
import numpy as np

from byzlab import plugins
from byzlab.errors import ConfigError, RunIOError
from byzlab.network.messagelog import METADATA_KEY, decode_payload, meta_json, schema
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.messages import Kind, RbcMsg
from byzlab.node.protocol import DecodeError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FIELDS", "MessageTable", "read_messages"]

# the delivery columns the viewer carries, in the file's names (payload becomes an index)
FIELDS = (
    "time",
    "sent",
    "msg_id",
    "src",
    "dst",
    "kind",
    "origin",
    "rbc_seq",
    "iteration",
    "step",
    "board",
    "row",
    "value",
    "size",
    "outcome",
    "reason",
    "corrupt_src",
)
_STRINGS = ("kind", "outcome", "reason")  # dictionary-encoded in the page
_DIGITS = 6  # times are kept to 1e-6 of their unit (delta or seconds)
MAX_FIELD_TEXT = 200  # a decoded string longer than this is cut (a hostile payload)


@dataclass(frozen=True)
class MessageTable:
    """The delivery rows as numpy columns (``columns[name][i]`` is row i's value; string
    columns hold codes into ``labels[name]``, ``payload`` codes into ``payloads``, ``value``
    holds 0 where the message carries none, and ``valued`` is false there: -1 and 0 are
    values, and a hostile message's value may be any int64), the send rows' count per kind,
    and the file's metadata."""

    meta: dict[str, Any]
    columns: dict[str, np.ndarray[Any, Any]]
    valued: np.ndarray[Any, Any]
    labels: dict[str, list[str]]
    payloads: list[dict[str, Any]]
    sends_by_kind: dict[str, int]

    @property
    def deliveries(self) -> int:
        return len(self.columns["time"])

    @property
    def sends(self) -> int:
        return sum(self.sends_by_kind.values())

    def rows_in(self, window: tuple[float, float] | None) -> np.ndarray[Any, Any]:
        """The rows that overlap `window` (arrive at or after its start, were sent at or before
        its end): all of them without one."""
        if window is None:
            return np.arange(self.deliveries)
        cols = self.columns
        return np.flatnonzero((cols["time"] >= window[0]) & (cols["sent"] <= window[1]))

    def rows_json(self, rows: np.ndarray[Any, Any]) -> tuple[dict[str, list[Any]], list[Any]]:
        """The columns of `rows` as JSON-ready lists (a null value as None), with the payloads
        they use renumbered from 0."""
        out: dict[str, list[Any]] = {}
        for name, column in self.columns.items():
            if name != "payload":
                out[name] = column[rows].tolist()
        valued = self.valued[rows].tolist()
        out["value"] = [v if ok else None for v, ok in zip(out["value"], valued, strict=True)]
        used, codes = np.unique(self.columns["payload"][rows], return_inverse=True)
        out["payload"] = codes.tolist()
        return out, [self.payloads[int(i)] for i in used]


def _meta(raw: bytes | None, path: Path, n: int) -> dict[str, Any]:
    try:
        data = meta_json(raw)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for key, kind in (("n", int), ("f", int), ("protocol", str), ("time_unit", str)):
        if type(data.get(key)) is not kind:
            raise ConfigError(f"{path}: metadata {key} must be {kind.__name__}")
    if data["n"] != n:
        raise ConfigError(f"{path}: n = {data['n']}, but summary.json has {n} inputs")
    return data


def read_messages(path: Path, n: int) -> MessageTable:
    """Read and check ``path`` (a run of `n` nodes); one line naming it when it is unusable."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except OSError as exc:  # unreadable, or not Parquet (pyarrow raises ArrowInvalid, an OSError)
        raise RunIOError(f"{path}: cannot be read as Parquet ({exc})") from exc
    except pa.ArrowException as exc:
        raise ConfigError(f"{path}: cannot be read as Parquet ({exc})") from exc
    meta = _meta((table.schema.metadata or {}).get(METADATA_KEY), path, n)
    expected = schema()
    if not table.schema.remove_metadata().equals(expected):
        have = ", ".join(f"{f.name}: {f.type}" for f in table.schema)
        raise ConfigError(f"{path}: not the message trace's columns (it has {have})")
    delivered = table.filter(pc.equal(table["event"], "deliver"))
    sends = table.filter(pc.equal(table["event"], "send"))
    bad_event = table.num_rows - delivered.num_rows - sends.num_rows
    if bad_event:
        raise ConfigError(f"{path}: {bad_event} rows whose event is neither send nor deliver")
    for name in ("time", "sent"):
        column = delivered[name].fill_null(float("nan")).to_numpy()
        if not np.isfinite(column).all():
            raise ConfigError(f"{path}: a delivery's {name} is not a finite number")
    _check_causal(table, path)
    for name in ("src", "dst"):
        ids = delivered[name].fill_null(-1).to_numpy()
        if len(ids) and (ids.min() < 0 or ids.max() >= n):
            bad = int(ids[(ids < 0) | (ids >= n)][0])
            raise ConfigError(f"{path}: a delivery's {name} {bad} is out of range for n = {n}")
    columns: dict[str, np.ndarray[Any, Any]] = {}
    labels: dict[str, list[str]] = {}
    for name in FIELDS:
        array = delivered[name]
        if name in _STRINGS:
            encoded = pc.dictionary_encode(array.fill_null("")).combine_chunks()
            labels[name] = [str(x)[:MAX_FIELD_TEXT] for x in encoded.dictionary.to_pylist()]
            columns[name] = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        elif name in ("time", "sent"):
            columns[name] = np.round(array.to_numpy(), _DIGITS)
        elif name == "corrupt_src":
            columns[name] = array.fill_null(False).to_numpy(zero_copy_only=False).astype(np.int8)
        else:
            fill = 0 if name == "value" else -1
            columns[name] = array.fill_null(fill).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(delivered["payload"].fill_null(b"")).combine_chunks()
    decoder = _decoder(meta["protocol"], n)
    payloads = [decode_fields(raw or b"", decoder) for raw in encoded.dictionary.to_pylist()]
    columns["payload"] = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    kinds = pc.value_counts(sends["kind"].fill_null("")).to_pylist()
    sends_by_kind = {str(k["values"])[:MAX_FIELD_TEXT]: int(k["counts"]) for k in kinds}
    valued = delivered["value"].is_valid().to_numpy(zero_copy_only=False)
    sends_by_kind = dict(sorted(sends_by_kind.items()))
    return MessageTable(meta, columns, valued, labels, payloads, sends_by_kind)


def _check_causal(table: pa.Table, path: Path) -> None:
    """Refuse a delivery before its send (an arrow drawn backwards), naming its row (from 0)
    in the file: the recorder never writes one, so the file was edited or merged wrongly."""
    import pyarrow.compute as pc

    early = pc.and_(pc.equal(table["event"], "deliver"), pc.less(table["time"], table["sent"]))
    rows = np.flatnonzero(early.fill_null(False).to_numpy(zero_copy_only=False))
    if len(rows):
        row = int(rows[0])
        time, sent = table["time"][row].as_py(), table["sent"][row].as_py()
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        raise ConfigError(
            f"{path}: row {row} is a delivery at time {time} before its send at {sent}{more}"
        )


def _decoder(protocol: str, n: int) -> Callable[[object], Any] | None:
    """The run's protocol's decoder, if it is built in or an installed entry point (never a
    module reference read from a file: that would import code named by user data)."""
    if protocol in BUILTIN_PROTOCOLS:
        return BUILTIN_PROTOCOLS[protocol].decoder(n)
    if plugins.is_reference(protocol) or not plugins.is_known("protocol", protocol):
        return None
    try:  # guarded (plugins.decoder): the payloads are a run's data, some a Byzantine peer's
        return plugins.decoder(plugins.protocol(protocol), n)
    except Exception:  # a plugin that cannot be built without options: show the raw structure
        return None


def decode_fields(payload: bytes, decoder: Callable[[object], Any] | None) -> dict[str, Any]:
    """A payload as named fields: the decoded message's (nested items flattened as
    ``item.field``), or the msgpack structure when there is no decoder, or why it does not
    decode."""
    if not payload:
        return {"payload": "none (the sender's object has no wire encoding)"}
    if decoder is None:
        try:
            obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as exc:
            return {"payload": f"not msgpack ({exc})"[:MAX_FIELD_TEXT]}
        return {"msgpack": _plain(obj)}
    msg = decode_payload(payload, decoder)
    if isinstance(msg, DecodeError):
        return {"undecodable": str(msg.reason)[:MAX_FIELD_TEXT]}
    out: dict[str, Any] = {"message": type(msg).__name__}
    _flatten(msg, "", out)
    if isinstance(msg, RbcMsg) and 0 <= msg.kind < len(Kind):
        out["kind"] = Kind(msg.kind).name  # the wire's number, named
    return out


def _flatten(obj: object, prefix: str, out: dict[str, Any]) -> None:
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        out[prefix or "value"] = _plain(obj)
        return
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        name = prefix + field.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[name] = type(value).__name__
            _flatten(value, name + ".", out)
        else:
            out[name] = _plain(value)


def _plain(x: object, depth: int = 0) -> Any:
    """JSON-ready, bounded: a hostile payload may nest deeply or hold long strings."""
    if isinstance(x, IntEnum):
        return x.name
    if x is None or isinstance(x, bool | int | float):
        return x
    if isinstance(x, str):
        return x[:MAX_FIELD_TEXT]
    if isinstance(x, bytes):
        return x[: MAX_FIELD_TEXT // 2].hex()
    if depth < 4 and isinstance(x, list | tuple):
        return [_plain(v, depth + 1) for v in x[:MAX_FIELD_TEXT]]
    if depth < 4 and isinstance(x, dict):
        return {str(k)[:MAX_FIELD_TEXT]: _plain(v, depth + 1) for k, v in list(x.items())[:50]}
    return repr(x)[:MAX_FIELD_TEXT]
