"""The result store: typed rows, the crash-safe journal, the Parquet snapshot, queries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from byzlab.orchestration.experiments_cli import results_command
from byzlab.orchestration.store import (
    COLUMNS,
    Store,
    StoreError,
    coerce_row,
    filter_table,
    parse_where,
)
from tests.exputil import invoke, make_store


def row(run_id: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": run_id,
        "backend": "sim",
        "protocol": "hpz",
        "n": 4,
        "f": 1,
        "seed": 0,
        "trace_hash": "ab" * 16,
        "agreed": True,
        "latency_delta": 5.0,
        "finished_at": "2025-01-02T03:04:05+00:00",
    }
    base.update(extra)
    return base


def test_rows_are_typed_when_appended(tmp_path: Path) -> None:
    store = Store(tmp_path)
    typed = store.append(row("a", latency_delta=5, messages=12.0))
    assert typed["latency_delta"] == 5.0 and isinstance(typed["latency_delta"], float)
    assert typed["messages"] == 12 and isinstance(typed["messages"], int)
    assert set(typed) == set(COLUMNS)
    with pytest.raises(StoreError, match="column n: '4' does not fit type int64"):
        coerce_row(row("b", n="4"))
    with pytest.raises(StoreError, match="column agreed: 1 does not fit type bool"):
        coerce_row(row("b", agreed=1))
    with pytest.raises(StoreError, match="unknown column"):
        coerce_row(row("b", colour="red"))
    with pytest.raises(StoreError, match="lacks required column"):
        coerce_row({"run_id": "c"})


def test_table_is_parquet_with_the_schema_types(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(row("a", n=7, decision=None))
    store.append(row("b", n=4, decision=-1, agreed=False, latency_delta=None))
    table = store.table()
    on_disk = pq.read_table(tmp_path / "runs.parquet")
    assert on_disk.num_rows == 2 and on_disk.schema.field("n").type == pa.int64()
    assert on_disk.schema.field("finished_at").type == pa.timestamp("ms", tz="UTC")
    assert table["run_id"].to_pylist() == ["b", "a"]  # sorted by n within the protocol
    assert table["decision"].to_pylist() == [-1, None]
    # a later append makes the snapshot stale: the next read rebuilds it
    store.append(row("c", n=10))
    assert store.table().num_rows == 3 and pq.read_table(store.table_path).num_rows == 3


def test_the_last_row_of_a_run_wins(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(row("a", latency_delta=1.0))
    store.append(row("a", latency_delta=2.0))
    assert [r["latency_delta"] for r in store.rows()] == [2.0]


def test_a_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(row("a"))
    with store.journal.open("ab") as fh:
        fh.write(b'{"run_id": "b", "backe')
    assert store.done_ids() == {"a"}
    store.append(row("c"))
    lines = store.journal.read_bytes().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["a", "c"]


def test_a_damaged_middle_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(row("a"))
    with store.journal.open("ab") as fh:
        fh.write(b"garbage\n")
    store.append(row("b"))
    with pytest.raises(StoreError, match=r"runs\.jsonl:2: not a JSON row"):
        store.rows()


def test_where_clauses(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for k, (protocol, n) in enumerate([("hpz", 4), ("hpz", 7), ("bracha-local", 7)]):
        store.append(
            row(
                f"r{k}",
                protocol=protocol,
                n=n,
                seed=k,
                latency_delta=None if k == 2 else float(k + 1),
            )
        )
    table = store.table()

    def ids(*exprs: str) -> list[str]:
        return sorted(filter_table(table, [parse_where(e) for e in exprs])["run_id"].to_pylist())

    assert ids("protocol=hpz") == ["r0", "r1"]
    assert ids("protocol!=hpz") == ["r2"]
    assert ids("n>=7") == ["r1", "r2"] and ids("n<7") == ["r0"]
    assert ids("protocol=hpz", "n=7") == ["r1"]
    assert ids("latency_delta=null") == ["r2"] and ids("latency_delta!=null") == ["r0", "r1"]
    assert ids("protocol~local") == ["r2"] and ids("agreed=true") == ["r0", "r1", "r2"]
    assert ids("latency_delta>1.5") == ["r1"]
    with pytest.raises(StoreError, match="unknown column 'protocl'"):
        parse_where("protocl=hpz")
    with pytest.raises(StoreError, match="'seven' is not a valid int64 value"):
        parse_where("n=seven")
    with pytest.raises(StoreError, match="expected COLUMN=VALUE"):
        parse_where("hpz")


def test_find_accepts_a_unique_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(row("sim-hpz-1"))
    store.append(row("sim-hpz-2"))
    assert store.find("sim-hpz-2")["run_id"] == "sim-hpz-2"
    with pytest.raises(StoreError, match="matches 2 runs"):
        store.find("sim-hpz")
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.find("nope")


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.locked(), pytest.raises(StoreError, match="another sweep"), Store(tmp_path).locked():
        pass
    with store.locked():  # released: usable again
        pass


# --------------------------------------------------------------------------- the CLI


def test_results_ls_filters_and_selects_columns(tmp_path: Path) -> None:
    make_store(tmp_path)
    result = invoke(
        results_command,
        [
            "ls",
            tmp_path,
            "--where",
            "protocol=hpz",
            "--where",
            "n=7",
            "--columns",
            "run_id,seed,agreed",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 of 8 runs where protocol=hpz and n=7" in result.stdout
    assert "sim-hpz-n7-f2-random-equivocate-s0-" in result.stdout
    assert "bracha-local" not in result.stdout and "latency_delta" not in result.stdout
    result = invoke(
        results_command,
        ["ls", tmp_path, "--json", "--columns", "run_id,n", "--sort", "-n", "--limit", "3"],
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and all(r["n"] == 7 and set(r) == {"run_id", "n"} for r in rows)


def test_results_ls_errors_name_the_column(tmp_path: Path) -> None:
    make_store(tmp_path)
    result = invoke(results_command, ["ls", tmp_path, "--where", "protocl=hpz"])
    assert result.exit_code == 2 and "unknown column 'protocl'" in result.stderr
    result = invoke(results_command, ["ls", tmp_path, "--columns", "run_id,colour"])
    assert result.exit_code == 2 and "unknown column(s) colour" in result.stderr
    result = invoke(results_command, ["ls", tmp_path / "nothing"])
    assert result.exit_code == 2 and "no result store here" in result.stderr


def test_results_show_prints_the_row_scenario_and_files(tmp_path: Path) -> None:
    make_store(tmp_path)
    run_id = Store(tmp_path).table()["run_id"][0].as_py()
    result = invoke(results_command, ["show", tmp_path, run_id[:-4]])
    assert result.exit_code == 0, result.output
    for fragment in (
        run_id,
        "trace_hash",
        "[run]",
        "trace.json",
        "summary.json",
        "scenario.toml",
        f"byzlab replay {run_id}",
    ):
        assert fragment in result.stdout, fragment
    result = invoke(results_command, ["show", tmp_path, "sim-"])
    assert result.exit_code == 2 and "matches 8 runs" in result.stderr


def test_an_edit_that_keeps_the_journal_size_is_still_seen(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(row("a", trace_hash="1" * 32))
    assert store.table()["trace_hash"].to_pylist() == ["1" * 32]  # snapshot written
    store.journal.write_text(store.journal.read_text().replace("1" * 32, "2" * 32))
    assert store.table()["trace_hash"].to_pylist() == ["2" * 32]
