"""The experiment commands: ``byzlab sweep``, ``results ls/show``, ``report`` and ``replay``.

Each is a click object that ``cli.py`` registers on the ``byzlab`` group; the work happens in
sweep.py, store.py, report.py and replay.py, and this module only parses options, prints
and chooses exit statuses: 0 success, 1 a run failed (or a replay did not reproduce), 2 bad
input (an invalid sweep file, an unknown column, no store), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from byzlab.orchestration.cluster import cluster_option
from byzlab.orchestration.dispatch import BACKENDS

__all__ = ["replay_command", "report_command", "results_command", "sweep_command"]

DEFAULT_COLUMNS = (
    "run_id",
    "protocol",
    "n",
    "f",
    "scheduler",
    "strategy",
    "seed",
    "agreed",
    "decision",
    "latency_delta",
    "iterations",
    "epochs",
    "messages",
)


def _fail(message: str, status: int = 2) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(status)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a sweep the way Ctrl-C does: finished rows stay, workers are stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _console() -> Console:
    """Standard output; wide when it is not a terminal, so piped tables keep whole ids."""
    console = Console()
    return console if console.is_terminal else Console(width=250)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return str(value)


# --------------------------------------------------------------------------- sweep


@click.command("sweep", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sweep_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The result store: DIR/runs.parquet, DIR/runs/<run-id>/, ...",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the Dask LocalCluster that runs the simulator runs "
    "(default: every core; 1 runs them in this process). Real backends run one at a time.",
)
@cluster_option
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="sim",
    show_default=True,
    help="sim = the deterministic simulator; local = processes over TCP; docker = one "
    "container per process (as `byzlab run --backend`).",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Simulator: stop a run after this much virtual time (units of delta); it "
    "is then recorded as not agreed. Part of each run's identity.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=0),
    default=None,
    help="Run at most this many of the runs not yet done, then stop (rerun to go on).",
)
def sweep_command(
    sweep_file: Path,
    out_dir: Path,
    jobs: int | None,
    cluster: str | None,
    backend: str,
    max_time: float | None,
    max_runs: int | None,
) -> None:
    """Run every point of a sweep file and record it in the result store DIR.

    FILE is a scenario file with a [sweep] table of field = [values], e.g.
    "run.n" = [4, 7], "adversary.strategy" = ["equivocate", "crash"], seeds = [0, 1, 2];
    their cartesian product is run. A rerun skips runs already recorded, so an interrupted
    sweep resumes where it stopped.

    Example: byzlab sweep examples/sweep-small.toml --out sweeps/small --jobs 4
    """
    from byzlab.errors import ClusterUnavailable
    from byzlab.orchestration.store import StoreError
    from byzlab.orchestration.sweep import SweepError, load_sweep, run_sweep

    if cluster is not None and backend != "sim":
        _fail(f"--cluster runs simulator runs only; --backend {backend} runs one at a time here")
    try:
        sweep = load_sweep(sweep_file)
    except SweepError as exc:
        _fail(str(exc))
    console = Console(stderr=True)
    try:
        with _sigterm_as_interrupt():
            outcome = run_sweep(
                sweep,
                out_dir,
                backend=backend,
                jobs=jobs,
                cluster=cluster,
                max_time=max_time,
                max_runs=max_runs,
                show_progress=True,
                console=console,
            )
    except (StoreError, ClusterUnavailable) as exc:
        _fail(str(exc))
    rows = outcome.completed
    agreed = sum(1 for r in rows if r.get("agreed"))
    table = Table(title=f"byzlab sweep ({backend}): {sweep_file}", show_header=False)
    for key, value in [
        ("runs in the sweep", str(outcome.total)),
        ("already done", str(outcome.skipped)),
        ("ran now", f"{len(rows)} ({agreed} agreed)"),
        ("raised an error", str(len(outcome.errors))),
        ("could not run", str(len(outcome.failed))),
        ("still to run", str(outcome.remaining)),
        ("store", str(out_dir / "runs.parquet")),
    ]:
        table.add_row(key, value)
    Console().print(table)
    for row in outcome.errors[:10]:
        click.echo(f"ERROR in run {row['run_id']} (seed {row['seed']}): {row['error']}", err=True)
    for run_id, reason in outcome.failed[:10]:
        click.echo(f"FAILED to run {run_id}: {reason}", err=True)
    if outcome.interrupted:
        click.echo(
            f"interrupted: {outcome.remaining} runs left; run the same command again to resume",
            err=True,
        )
    elif outcome.remaining:
        click.echo(f"{outcome.remaining} runs left; run the same command again to go on", err=True)
    else:
        click.echo(f"next: byzlab results ls {out_dir}   |   byzlab report {out_dir}", err=True)
    sys.exit(outcome.exit_code)


# --------------------------------------------------------------------------- results


@click.group("results", context_settings={"help_option_names": ["-h", "--help"]})
def results_command() -> None:
    """Query a result store written by `byzlab sweep`."""


def _open_table(store_dir: Path) -> Any:
    from byzlab.orchestration.store import Store, StoreError

    try:
        return Store(store_dir).table()
    except StoreError as exc:
        _fail(str(exc))


@results_command.command("ls")
@click.argument("store_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--where",
    "wheres",
    multiple=True,
    metavar="COL=VALUE",
    help="Keep rows where COL=VALUE (also != < <= > >= and ~ for substring; "
    "null matches missing values). Repeat to combine with AND.",
)
@click.option(
    "--columns",
    "columns",
    multiple=True,
    metavar="A,B,...",
    help=f"Columns to show (default: {','.join(DEFAULT_COLUMNS)}); 'all' for all.",
)
@click.option(
    "--sort",
    "sort",
    default=None,
    metavar="COL",
    help="Sort by this column (prefix with - for descending).",
)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Show at most N rows.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row instead.")
def results_ls(
    store_dir: Path,
    wheres: tuple[str, ...],
    columns: tuple[str, ...],
    sort: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List the runs in a result store, one row each.

    Example: byzlab results ls sweeps/small --where protocol=hpz --where n>=7
    --columns run_id,seed,latency_delta
    """
    from byzlab.orchestration.store import StoreError, filter_table, parse_where

    table = _open_table(store_dir)
    total = table.num_rows
    try:
        clauses = [parse_where(w, table.schema) for w in wheres]
    except StoreError as exc:
        _fail(str(exc))
    table = filter_table(table, clauses)
    names = [c.strip() for spec in columns for c in spec.split(",") if c.strip()]
    if names == ["all"]:
        names = list(table.schema.names)
    names = names or [c for c in DEFAULT_COLUMNS if c in table.schema.names]
    unknown = [c for c in names if c not in table.schema.names]
    if unknown:
        _fail(
            f"--columns: unknown column(s) {', '.join(unknown)}; columns: "
            f"{', '.join(table.schema.names)}"
        )
    if sort:
        key = sort.lstrip("-")
        if key not in table.schema.names:
            _fail(f"--sort: unknown column {key!r}")
        table = table.sort_by([(key, "descending" if sort.startswith("-") else "ascending")])
    shown = table.select(names)
    if limit is not None:
        shown = shown.slice(0, limit)
    rows = shown.to_pylist()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str, sort_keys=False))
        return
    out = Table()
    for name in names:
        out.add_column(
            name,
            justify="left" if name in ("run_id", "protocol", "scheduler", "strategy") else "right",
            no_wrap=name == "run_id",
            overflow="fold",
        )
    for row in rows:
        out.add_row(*(_cell(row[name]) for name in names))
    console = _console()
    console.print(out)
    console.print(
        f"{store_dir}: {table.num_rows} of {total} runs"
        + (f" where {' and '.join(wheres)}" if wheres else "")
        + (f" (showing {len(rows)})" if len(rows) < table.num_rows else ""),
        highlight=False,
        soft_wrap=True,
    )


@results_command.command("show")
@click.argument("store_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_id", metavar="RUN_ID")
def results_show(store_dir: Path, run_id: str) -> None:
    """Show one run: every column, its scenario and its files (RUN_ID may be a prefix)."""
    from byzlab.orchestration.store import Store, StoreError

    store = Store(store_dir)
    try:
        row = store.find(run_id)
    except StoreError as exc:
        _fail(str(exc))
    console = _console()
    table = Table(title=f"run {row['run_id']}", show_header=False)
    for key, value in row.items():
        if key != "scenario":
            table.add_row(key, _cell(value))
    console.print(table)
    console.print("[bold]scenario[/bold]")
    console.print(str(row.get("scenario") or ""), markup=False, highlight=False)
    run_dir = store.run_dir(str(row["run_id"]))
    if run_dir.is_dir():
        console.print(f"[bold]files[/bold] in {run_dir}", highlight=False)
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
            console.print(
                f"  {path.relative_to(run_dir)}  ({path.stat().st_size:,} bytes)", highlight=False
            )
        trace_file = run_dir / "trace.json"
        if trace_file.exists():
            trace = json.loads(trace_file.read_text(encoding="utf-8"))
            decided = ", ".join(
                f"{d['node']}:{d['value']:+d}@{d['time']:.2f}" for d in trace.get("decisions", [])
            )
            coins = ", ".join(
                f"{c['iteration']}:{'unanimous' if c['unanimous'] else 'split'}"
                for c in trace.get("coins", [])
            )
            console.print(f"decisions (node:value@time): {decided or '-'}", highlight=False)
            console.print(f"coins (iteration:outcome): {coins or '-'}", highlight=False)
    if row.get("backend") == "sim":
        console.print(f"replay: byzlab replay {row['run_id']} --store {store_dir}", highlight=False)


# --------------------------------------------------------------------------- report


@click.command("report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("store_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML page (default: DIR/report.html).",
)
@click.option(
    "--run",
    "run_id",
    default=None,
    metavar="RUN_ID",
    help="The run whose timeline and weights to show (default: the simulator run "
    "with the most iterations, HPZ first).",
)
@click.option(
    "--group-by",
    "group_by",
    default="protocol",
    show_default=True,
    metavar="COLUMN[,COLUMN...]",
    help="One curve per value of these runs-table columns (scheduler, strategy, backend, "
    "...); what a curve pools is said in its caption.",
)
def report_command(store_dir: Path, out: Path | None, run_id: str | None, group_by: str) -> None:
    """Write a self-contained HTML report of a result store: figures, tables, the sweep.

    The figures are also written to DIR/plots/ as PNG, SVG and PDF.

    Example: byzlab report sweeps/small --out small.html
    """
    from byzlab.orchestration.report import build_report, parse_group_by
    from byzlab.orchestration.store import StoreError

    try:
        info = build_report(store_dir, out, run_id=run_id, grouping=parse_group_by(group_by))
    except StoreError as exc:
        _fail(str(exc))
    click.echo(
        f"report: {info.path} ({info.runs} runs, {len(info.figures)} figures"
        + (f", featured run {info.featured}" if info.featured else "")
        + ")"
    )
    for plot in info.figures:
        click.echo(f"  {plot.png}  {plot.svg.name}  {plot.pdf.name}")


# --------------------------------------------------------------------------- replay


@click.command("replay", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_id", metavar="RUN_ID", required=False)
@click.option(
    "--store",
    "store_dir",
    default=Path("."),
    show_default=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The result store holding the run (the --out of the sweep).",
)
@click.option(
    "--schedule",
    "schedule_file",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay a schedule file (byzlab search's best.schedule.json, docs/search.md) "
    "instead of a recorded run.",
)
def replay_command(run_id: str | None, store_dir: Path, schedule_file: Path | None) -> None:
    """Re-run a recorded simulator run from its seed and scenario; check its trace hash.

    RUN_ID is a run id (or a unique prefix) in the store, or a run's directory; or give
    --schedule FILE. Exit status 0 if the trace hash is reproduced, 1 if not (both hashes
    are printed).

    Example: byzlab replay sim-hpz-n7-f2-random-equivocate-s1 --store sweeps/small
    """
    from byzlab.orchestration.replay import ReplayError, replay_run, replay_schedule

    if (run_id is None) == (schedule_file is None):
        _fail("give either RUN_ID or --schedule FILE")
    try:
        if schedule_file is not None:
            result = replay_schedule(schedule_file)
        else:
            assert run_id is not None
            result = replay_run(run_id, store_dir)
    except ReplayError as exc:
        _fail(str(exc))
    if result.ok:
        click.echo(result.describe())
        sys.exit(0)
    click.echo(result.describe(), err=True)
    sys.exit(1)
