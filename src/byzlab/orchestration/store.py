"""The result store of a sweep: one typed table of runs, plus each run's raw files.

Theory of operation
-------------------
A store is a directory::

    DIR/runs.jsonl          the journal: one JSON row per finished run (source of truth)
    DIR/runs.parquet        the table: the journal as typed Parquet, for pandas/pyarrow/duckdb
    DIR/runs/<run_id>/      the raw files of one run: summary.json, scenario.toml, and
                            trace.json (simulator) or nodes.csv and traces/ (real runs)
    DIR/sweep.toml          the sweep file that last wrote to the store
    DIR/sweeps/<hash>.toml  every distinct sweep file that wrote to it (first line: its path)
    DIR/matrix.parquet      `byzlab matrix --store DIR`: one row per attack-matrix run
    DIR/plots/, report.html written by `byzlab report`

*A run is done once its row is in the journal, and only then.* The per-run files are
written first, each one atomically (atomicio), and the row last: ``append`` writes the whole
line with a single ``write`` on a file opened with ``O_APPEND`` and then ``fsync``s it. A
crash (power loss, SIGKILL, Ctrl-C) at any point leaves either no row (the run is redone on
the next attempt, over whatever partial files it left) or a complete row. The one torn case
is a partial last line, when the crash hits during the write: readers ignore an unterminated
last line, and the next ``append`` cuts it off before writing. A row that does not parse
anywhere else means the file was damaged by something other than a crash, and is an error.
If a run id appears twice (say two stores were concatenated), the last row wins.

Parquet files cannot be appended to in place, so ``runs.parquet`` is a *snapshot* of the
journal, rewritten atomically (the sweep does it when it stops, ``table()`` whenever it
finds the snapshot stale). Its schema metadata records the size and modification time of the
journal it was built from; a reader compares them with the journal's current ones, so it
never serves stale rows, not even after an edit that keeps the journal's size.

Columns are typed by ``SCHEMA``: rows are coerced when they are appended (``coerce_row``), so
the journal holds the same types the Parquet table has, and a row that does not fit is a
``StoreError`` at write time rather than a surprise at read time. Protocol parameters are
columns of their own (``m``, ``T``, ``c``, ...), resolved (what the run used, not just what
the scenario overrode).

Sweeps and the attack matrix are the only writers; a lock file (``fcntl.flock`` on
``DIR/.lock``) keeps two of them from writing one store at the same time. Readers take no lock.

The attack matrix's runs are a table of their own (``MATRIX_SCHEMA``), not rows of the runs
table: they record no run directory, trace or scenario, only each seed's outcome (agreed,
latency, epochs, blacklisting), which is what ``byzlab report`` needs for its strategy x
scheduler heatmaps. ``write_matrix`` merges a new matrix into the one the store holds: a run
with the same key (``MATRIX_KEY``: protocol, n, f, inputs, strategy, scheduler, parameters,
time budget, seed) is replaced, every other run is kept, so matrices of several sizes or
protocols add up in one store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from byzlab.atomicio import atomic_write_bytes
from byzlab.errors import StoreError

__all__ = [
    "COLUMNS",
    "JOURNAL",
    "MATRIX",
    "MATRIX_KEY",
    "MATRIX_SCHEMA",
    "PARAM_COLUMNS",
    "SCHEMA",
    "STORE_FORMAT",
    "TABLE",
    "Store",
    "StoreError",
    "WhereClause",
    "coerce_row",
    "filter_table",
    "parse_where",
]

STORE_FORMAT = "byzlab-store-v1"
JOURNAL = "runs.jsonl"
TABLE = "runs.parquet"
MATRIX = "matrix.parquet"
RUNS = "runs"
LOCK = ".lock"

PARAM_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("m", pa.int64()),
    ("T", pa.int64()),
    ("c", pa.float64()),
    ("m0", pa.int64()),
    ("xmax", pa.int64()),
    ("k_max", pa.int64()),
    ("beta", pa.float64()),
    ("w_min", pa.float64()),
    ("eps", pa.float64()),
    ("window", pa.int64()),
)

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("backend", pa.string()),
        ("protocol", pa.string()),
        ("preset", pa.string()),
        ("n", pa.int64()),
        ("f", pa.int64()),
        ("strategy", pa.string()),
        ("corrupted", pa.int64()),
        ("scheduler", pa.string()),
        ("inputs", pa.string()),
        ("seed", pa.int64()),
        *PARAM_COLUMNS,
        ("delta_s", pa.float64()),
        ("agreed", pa.bool_()),
        ("decision", pa.int64()),
        ("valid", pa.bool_()),
        ("latency_delta", pa.float64()),
        ("latency_s", pa.float64()),
        ("iterations", pa.int64()),
        ("epochs", pa.int64()),
        ("rbc_instances", pa.int64()),
        ("messages", pa.int64()),
        ("bytes", pa.int64()),
        ("deliveries", pa.int64()),
        ("coin_unanimous", pa.int64()),
        ("coin_split", pa.int64()),
        ("invariant1_ok", pa.bool_()),
        ("stopped", pa.string()),
        ("error", pa.string()),
        ("trace_hash", pa.string()),
        ("byzlab_version", pa.string()),
        ("git_commit", pa.string()),
        ("wall_s", pa.float64()),
        ("finished_at", pa.timestamp("ms", tz="UTC")),
        ("point", pa.string()),
        ("scenario", pa.string()),
    ]
)

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

MATRIX_SCHEMA = pa.schema(
    [
        ("protocol", pa.string()),
        ("n", pa.int64()),
        ("f", pa.int64()),
        ("inputs", pa.string()),
        ("strategy", pa.string()),
        ("scheduler", pa.string()),
        ("params", pa.string()),  # the resolved parameters as sorted JSON
        ("max_time", pa.float64()),
        ("seed", pa.int64()),
        ("agreed", pa.bool_()),
        ("latency_delta", pa.float64()),  # null when the run did not agree
        ("epochs", pa.int64()),
        ("blacklisted_all", pa.bool_()),
        ("honest_weight_lost", pa.float64()),
        ("byzlab_version", pa.string()),
    ]
)
MATRIX_KEY = (
    "protocol",
    "n",
    "f",
    "inputs",
    "strategy",
    "scheduler",
    "params",
    "max_time",
    "seed",
)
REQUIRED = ("run_id", "backend", "protocol", "n", "f", "seed")  # a run that raised has no hash


# --------------------------------------------------------------------------- typing rows


def _coerce(name: str, kind: pa.DataType, value: object) -> object:
    if value is None:
        return None
    if pa.types.is_boolean(kind):
        if isinstance(value, bool):
            return value
    elif pa.types.is_integer(kind):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif pa.types.is_floating(kind):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if math.isfinite(value) else None
    elif pa.types.is_string(kind):
        if isinstance(value, str):
            return value
    elif pa.types.is_timestamp(kind):
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="milliseconds")
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return value
    raise StoreError(f"column {name}: {value!r} does not fit type {kind}")


def coerce_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with exactly the schema's columns, each value of the column's type (or None)."""
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        raise StoreError(
            f"unknown column(s) {', '.join(unknown)}; the store has: {', '.join(COLUMNS)}"
        )
    missing = [c for c in REQUIRED if row.get(c) is None]
    if missing:
        raise StoreError(f"row lacks required column(s) {', '.join(missing)}")
    return {f.name: _coerce(f.name, f.type, row.get(f.name)) for f in SCHEMA}


def _to_table(rows: Sequence[Mapping[str, Any]], stamp: str) -> pa.Table:
    ts_cols = [f.name for f in SCHEMA if pa.types.is_timestamp(f.type)]
    prepared = []
    for row in rows:
        r = dict(row)
        for c in ts_cols:
            if isinstance(r.get(c), str):
                r[c] = datetime.fromisoformat(r[c])
        prepared.append(r)
    table = pa.Table.from_pylist(prepared, schema=SCHEMA)
    if table.num_rows:
        table = table.sort_by(
            [
                ("protocol", "ascending"),
                ("backend", "ascending"),
                ("n", "ascending"),
                ("f", "ascending"),
                ("scheduler", "ascending"),
                ("strategy", "ascending"),
                ("seed", "ascending"),
                ("run_id", "ascending"),
            ]
        )
    meta = {b"byzlab_store": STORE_FORMAT.encode(), b"journal": stamp.encode()}
    return table.replace_schema_metadata(meta)


# --------------------------------------------------------------------------- the store


class Store:
    """A result store directory (see the module docs). Cheap to create; nothing is cached."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL

    @property
    def table_path(self) -> Path:
        return self.root / TABLE

    def run_dir(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise StoreError(f"invalid run id {run_id!r}")
        return self.root / RUNS / run_id

    @property
    def matrix_path(self) -> Path:
        return self.root / MATRIX

    def exists(self) -> bool:
        return self.journal.exists() or self.table_path.exists()

    # ----------------------------------------------------------------- writing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive writer access for the duration of a sweep."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"{self.root}: another sweep is writing to this store; "
                    "wait for it or use another --out directory"
                ) from None
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def append(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Durably record one run's row (typed); once this returns, the run is done."""
        typed = coerce_row(row)
        line = (json.dumps(typed, sort_keys=True, allow_nan=False) + "\n").encode()
        self.root.mkdir(parents=True, exist_ok=True)
        created = not self.journal.exists()
        fd = os.open(self.journal, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self._cut_torn_tail(fd)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.root)
        return typed

    @staticmethod
    def _cut_torn_tail(fd: int) -> None:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        # a crash during the previous append left part of a line: drop it
        chunk = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - chunk)
            data = os.pread(fd, end - start, start)
            cut = data.rfind(b"\n")
            if cut >= 0:
                os.ftruncate(fd, start + cut + 1)
                return
            end = start
        os.ftruncate(fd, 0)

    def write_matrix(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        """Merge attack-matrix runs into DIR/matrix.parquet (see the module docs); returns
        the whole table as written."""
        try:
            new = pa.Table.from_pylist([dict(r) for r in rows], schema=MATRIX_SCHEMA)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise StoreError(f"{self.matrix_path}: a matrix row does not fit: {exc}") from None
        with self.locked():
            old = self.matrix_table()
            if old is not None:
                fresh = {tuple(r[c] for c in MATRIX_KEY) for r in new.to_pylist()}
                kept = [r for r in old.to_pylist() if tuple(r[c] for c in MATRIX_KEY) not in fresh]
                new = pa.concat_tables([pa.Table.from_pylist(kept, schema=MATRIX_SCHEMA), new])
            new = new.sort_by([(c, "ascending") for c in MATRIX_KEY])
            _write_parquet(self.matrix_path, new)
        return new

    # ----------------------------------------------------------------- reading

    def matrix_table(self) -> pa.Table | None:
        """The attack-matrix runs (``byzlab matrix --store``), or None if there are none."""
        if not self.matrix_path.exists():
            return None
        try:
            table = pq.read_table(self.matrix_path)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{self.matrix_path}: not a readable matrix table: {exc}") from None
        if not MATRIX_SCHEMA.equals(table.schema.remove_metadata()):
            raise StoreError(
                f"{self.matrix_path}: columns {', '.join(table.schema.names)} are not the "
                f"matrix table's ({', '.join(MATRIX_SCHEMA.names)})"
            )
        return table

    def _stamp(self) -> str:
        """The journal's size and modification time: what a current snapshot was built from."""
        try:
            st = self.journal.stat()
        except FileNotFoundError:
            return "0:0"
        return f"{st.st_size}:{st.st_mtime_ns}"

    def _journal_rows(self) -> tuple[list[dict[str, Any]], str]:
        try:
            with self.journal.open("rb") as fh:
                # stat before reading: a concurrent append makes the stamp stale, never fresh
                st = os.fstat(fh.fileno())
                data = fh.read()
        except FileNotFoundError:
            return [], "0:0"
        stamp = f"{st.st_size}:{st.st_mtime_ns}" if st.st_size == len(data) else "stale"
        lines = data.split(b"\n")
        # the last element is b"" after a final newline, or a torn line: ignore it either way
        rows: dict[str, dict[str, Any]] = {}
        for number, raw in enumerate(lines[:-1], start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                raise StoreError(
                    f"{self.journal}:{number}: not a JSON row (the journal was "
                    "damaged; remove that line to redo the run)"
                ) from None
            if not isinstance(row, dict) or not isinstance(row.get("run_id"), str):
                raise StoreError(f"{self.journal}:{number}: not a run row")
            rows.pop(row["run_id"], None)
            rows[row["run_id"]] = row
        return list(rows.values()), stamp

    def rows(self) -> list[dict[str, Any]]:
        """Every finished run's row, in the order they finished (last row per run id)."""
        return self._journal_rows()[0]

    def done_ids(self) -> set[str]:
        return {r["run_id"] for r in self.rows()}

    def snapshot(self) -> pa.Table:
        """Rewrite runs.parquet from the journal (atomically) and return the table."""
        rows, stamp = self._journal_rows()
        table = _to_table(rows, stamp)
        _write_parquet(self.table_path, table)
        return table

    def table(self) -> pa.Table:
        """The runs table, from the Parquet snapshot if it is current, else from the journal."""
        if not self.journal.exists():
            if self.table_path.exists():  # a store shipped without its journal
                return pq.read_table(self.table_path)
            raise StoreError(f"{self.root}: no result store here (no {JOURNAL} or {TABLE})")
        stamp = self._stamp()
        with contextlib.suppress(OSError, pa.ArrowException):
            meta = pq.read_schema(self.table_path).metadata or {}
            if meta.get(b"journal") == stamp.encode():
                return pq.read_table(self.table_path)
        try:
            return self.snapshot()
        except OSError:  # a read-only store: serve the rows without caching them
            rows, stamp = self._journal_rows()
            return _to_table(rows, stamp)

    def find(self, run_id: str) -> dict[str, Any]:
        """The row of ``run_id``, or of the one run whose id starts with it."""
        rows = self.table().to_pylist()
        exact = [r for r in rows if r["run_id"] == run_id]
        if exact:
            return dict(exact[0])
        matches = [r for r in rows if str(r["run_id"]).startswith(run_id)]
        if len(matches) == 1:
            return dict(matches[0])
        if not matches:
            raise StoreError(f"{self.root}: no run {run_id!r} (see `byzlab results ls`)")
        ids = ", ".join(sorted(str(r["run_id"]) for r in matches)[:5])
        raise StoreError(f"{self.root}: {run_id!r} matches {len(matches)} runs: {ids}, ...")


def _write_parquet(path: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- queries

_OPS = ("!=", ">=", "<=", "=", ">", "<", "~")


@dataclass(frozen=True)
class WhereClause:
    column: str
    op: str
    value: object

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def _parse_value(column: str, kind: pa.DataType, raw: str) -> object:
    text = raw.strip()
    if text.lower() in ("null", "none"):
        return None
    try:
        if pa.types.is_boolean(kind):
            lowered = text.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise ValueError
        if pa.types.is_integer(kind):
            return int(text)
        if pa.types.is_floating(kind):
            return float(text)
        if pa.types.is_timestamp(kind):
            when = datetime.fromisoformat(text)
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        raise StoreError(f"--where {column}: {raw!r} is not a valid {kind} value") from None
    return text


def parse_where(expr: str, schema: pa.Schema = SCHEMA) -> WhereClause:
    """``column<op>value`` with op one of = != < <= > >= ~ (substring); null matches nulls."""
    found = [(expr.find(op), -len(op), op) for op in _OPS if expr.find(op) > 0]
    if found:
        at, _, op = min(found)
        column, raw = expr[:at].strip(), expr[at + len(op) :]
        if column:
            if column not in schema.names:
                raise StoreError(
                    f"--where {expr!r}: unknown column {column!r}; columns: "
                    f"{', '.join(schema.names)}"
                )
            kind = schema.field(column).type
            if op == "~":
                return WhereClause(column, op, raw.strip())
            value = _parse_value(column, kind, raw)
            if value is None and op not in ("=", "!="):
                raise StoreError(f"--where {expr!r}: null only works with = and !=")
            return WhereClause(column, op, value)
    raise StoreError(f"--where {expr!r}: expected COLUMN=VALUE (or != < <= > >= ~)")


def filter_table(table: pa.Table, clauses: Sequence[WhereClause]) -> pa.Table:
    """The rows of ``table`` matching every clause (rows with null in a compared column drop)."""
    for clause in clauses:
        col = table[clause.column]
        if clause.value is None:
            mask = pc.is_null(col) if clause.op == "=" else pc.is_valid(col)
        elif clause.op == "~":
            mask = pc.match_substring(pc.cast(col, pa.string()), str(clause.value))
        else:
            scalar = pa.scalar(clause.value, type=col.type)
            fn = {
                "=": pc.equal,
                "!=": pc.not_equal,
                "<": pc.less,
                "<=": pc.less_equal,
                ">": pc.greater,
                ">=": pc.greater_equal,
            }[clause.op]
            mask = fn(col, scalar)
        table = table.filter(pc.fill_null(mask, False))
    return table
