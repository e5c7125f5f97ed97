"""A spool of table rows on disk: batches of columns appended as msgpack records, readable up
to the last whole batch.

Real runs record the message trace in the proxy and in every node process while the run
goes (``byzlab.adversary.proxy.recording``, ``byzlab.network.tcp.verdicts``); the
orchestrator turns those spools into ``messages.parquet`` afterwards
(``byzlab.orchestration.realtrace``). The processes cannot write Parquet or Arrow
themselves: the container image carries no pyarrow (``byzlab.orchestration.image``), and a
node process should not pay pyarrow's import and memory for a few columns. msgpack, which
every process already uses for its frames, writes them instead.

Layout::

    spool   := MAGIC record(header) record(batch)* [record(end)]
    record  := length (u32, big-endian) || msgpack body
    header  := {"columns": [name, ...], "meta": {...}}
    batch   := [column, ...]      one list per column, all of the same length
    end     := {"end": rows}      written by ``close``: the spool is complete

Memory stays bounded however long the run: rows accumulate in memory and go to
disk every ``batch_rows`` rows or ``batch_bytes`` bytes of binary values, whichever comes
first, and whenever the process calls ``flush`` (the proxy and the nodes do on their
periodic timers, every quarter of a second, so a quiet process does not sit on a batch); a
record is written with one ``write`` and flushed to the operating system at once, so a
process killed mid-run loses at most the rows of its current batch: those since the last
timer. No fsync: the rows survive a killed process, only a crash of the machine loses them,
and a run stopped by one has no trace to speak of.

Reading (``read_spool``) goes a record at a time and never raises on what a spool holds: it
stops at the first record that is cut short, does not decode, is longer than any writer
makes (``MAX_RECORD``), or does not have the header's shape (a process killed half way
through a write, garbage at the end), keeps every batch before it, and says so
(``truncated``); a spool without its end record is ``complete = False``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgpack

__all__ = ["MAGIC", "MAX_RECORD", "Spool", "SpoolContents", "read_spool"]

MAGIC = b"byzlab-spool-1\n"
_LENGTH = struct.Struct("!I")
# A record longer than this is not one of ours: a batch holds at most batch_bytes (4 MiB
# by default) of binary values plus the row that crossed it (a frame: at most 1 MiB) and
# a few small columns of batch_rows rows.
MAX_RECORD = 64 << 20


class Spool:
    """Rows of ``columns`` appended to ``path`` in batches (see the module docstring).

    ``add(*values)`` appends one row, one value per column in order; values are msgpack
    primitives. ``binary`` names the column whose bytes count toward ``batch_bytes``."""

    def __init__(
        self,
        path: Path,
        columns: tuple[str, ...],
        *,
        meta: dict[str, Any] | None = None,
        batch_rows: int = 4096,
        batch_bytes: int = 4 << 20,
        binary: str | None = None,
    ) -> None:
        if batch_rows < 1 or batch_bytes < 1:
            raise ValueError("need batch_rows >= 1 and batch_bytes >= 1")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.columns = columns
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self._binary = columns.index(binary) if binary is not None else -1
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)
        # Rows as tuples, turned into columns when the batch is written (one C-level zip): an
        # append per row is the cheapest O(1) there is in Python.
        self._rows: list[tuple[Any, ...]] = []
        self._pending_bytes = 0
        self.rows = 0  # rows written to disk
        self.batches = 0
        self._fh: IO[bytes] | None = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(MAGIC)
        self._record({"columns": list(columns), "meta": meta or {}})

    @property
    def closed(self) -> bool:
        return self._fh is None

    def add(self, *values: Any) -> None:
        """Append one row; the batch goes to disk when it is full."""
        if self._fh is None:
            return
        if len(values) != len(self.columns):
            raise ValueError(f"a row of {len(values)} values for {len(self.columns)} columns")
        rows = self._rows
        rows.append(values)
        if self._binary >= 0:
            value = values[self._binary]
            if value is not None:
                self._pending_bytes += len(value)
        if len(rows) >= self.batch_rows or self._pending_bytes >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the rows held in memory as one batch (nothing if there are none)."""
        rows = self._rows
        if self._fh is None or not rows:
            return
        self._record([list(column) for column in zip(*rows, strict=True)])
        self.rows += len(rows)
        self.batches += 1
        self._rows = []
        self._pending_bytes = 0

    def close(self) -> None:
        """Write what is held and the end record; the spool is complete (idempotent)."""
        if self._fh is None:
            return
        self.flush()
        self._record({"end": self.rows})
        fh, self._fh = self._fh, None
        fh.close()

    def _record(self, body: object) -> None:
        assert self._fh is not None
        data = self._packer.pack(body)
        self._fh.write(_LENGTH.pack(len(data)) + data)
        self._fh.flush()


@dataclass
class SpoolContents:
    """What ``read_spool`` found: the columns of every whole batch, concatenated."""

    columns: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    data: dict[str, list[Any]] = field(default_factory=dict)
    rows: int = 0
    complete: bool = False  # the end record is there
    truncated: bool = False  # something after the last whole batch could not be read
    problem: str = ""  # what was wrong, in a few words ("" if nothing)


def read_spool(path: Path) -> SpoolContents:
    """The rows of the spool at ``path`` (see the module docstring; never raises on its
    contents, only ``OSError`` for a file that cannot be read; a missing one is
    ``FileNotFoundError``). Reads a record at a time: what it holds is the rows, not the
    file."""
    with open(path, "rb") as fh:
        return _read(fh, path.stat().st_size)


def _read(fh: IO[bytes], size: int) -> SpoolContents:
    out = SpoolContents()
    if fh.read(len(MAGIC)) != MAGIC:
        out.truncated = True
        out.problem = "not a spool (no magic line)"
        return out
    header = _next_record(fh)
    if header is None or not _is_header(header):
        out.truncated = True
        out.problem = "header unreadable"
        return out
    out.columns = tuple(header["columns"])
    out.meta = header["meta"]
    out.data = {c: [] for c in out.columns}
    width = len(out.columns)
    while (pos := fh.tell()) < size:
        body = _next_record(fh)
        if body is None:
            out.truncated = True
            out.problem = f"unreadable record at byte {pos} of {size}"
            return out
        if isinstance(body, dict) and set(body) == {"end"}:
            after = fh.tell()
            out.complete = after == size
            if not out.complete:
                out.truncated = True
                out.problem = f"{size - after} bytes after the end record"
            return out
        if (
            not isinstance(body, list)
            or len(body) != width
            or not all(isinstance(col, list) for col in body)
            or len({len(col) for col in body}) > 1
        ):
            out.truncated = True
            out.problem = f"a record at byte {pos} is not a batch of {width} columns"
            return out
        for name, col in zip(out.columns, body, strict=True):
            out.data[name].extend(col)
        out.rows += len(body[0]) if body else 0
    out.problem = "no end record (the process did not close it)"
    return out


def _next_record(fh: IO[bytes]) -> Any | None:
    """The record at the file's position (which is left after it), or None if it is not
    whole, too long or not msgpack."""
    prefix = fh.read(_LENGTH.size)
    if len(prefix) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(prefix)
    if length > MAX_RECORD:
        return None
    data = fh.read(length)
    if len(data) < length:
        return None
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception:  # msgpack raises several types on garbage; all mean "not a record"
        return None


def _is_header(body: object) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("columns"), list)
        and all(isinstance(c, str) for c in body["columns"])
        and isinstance(body.get("meta"), dict)
    )
