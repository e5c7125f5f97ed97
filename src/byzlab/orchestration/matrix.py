"""The attack matrix: every strategy x scheduler x protocol over many seeds, in the simulator.

Each cell runs `seeds` independent simulations (on Dask workers, cluster.py; each run is
deterministic from its seed) with f corrupted nodes of the strategy and reports the
agreement rate, the median and p95 latency in units of delta (nearest rank, over the runs
that agreed), the epochs used (median and maximum), how often blacklisting drove every
corrupted node's weight to 0 by the last epoch whose weights are known (HPZ Lemma 13), and
the most honest weight lost there (sum over honest nodes of 1 - w; Invariant 1 bounds it by
the corrupted loss + eps^4 f). Protocol parameters are `Params.practical` with the same
overrides a scenario's [params] table takes (`--param T=4`); every CSV row records the
parameters used. Results go to a CSV (one row per cell) and a readable table, and with
`--store DIR` every run's outcome also goes into that result store's matrix table
(store.py, DIR/matrix.parquet), from which `byzlab report DIR` draws the strategy x
scheduler heatmaps of agreement rate and median latency.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from byzlab import __version__, plugins
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES
from byzlab.errors import ClusterUnavailable
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params, ParamsError
from byzlab.node.protocol import fault_refusal
from byzlab.orchestration.cluster import TaskError, cluster_executor, cluster_option
from byzlab.orchestration.inputs_option import inputs_option
from byzlab.orchestration.overrides import parse_param_overrides
from byzlab.orchestration.scenario import ParamsSection
from byzlab.orchestration.store import Store, StoreError

MATRIX_SCHEDULERS = tuple(sorted(set(SCHEDULERS) - {"rules"}))


@dataclass(frozen=True)
class RunOutcome:
    strategy: str
    scheduler: str
    protocol: str
    seed: int
    agreed: bool
    latency_delta: float | None  # None when the run did not agree
    epochs: int
    blacklisted_all: bool
    honest_weight_lost: float


@dataclass
class CellSummary:
    strategy: str
    scheduler: str
    protocol: str
    runs: int
    agreement_rate: float
    latency_median: float
    latency_p95: float
    epochs_median: float
    epochs_max: int
    blacklisted_all_rate: float
    honest_weight_lost_max: float
    params: str = ""


def run_one(
    strategy: str,
    scheduler: str,
    protocol: str,
    seed: int,
    n: int,
    f: int,
    inputs: str,
    max_time: float,
    overrides: dict[str, Any],
) -> RunOutcome:
    from byzlab.adversary.assemble import assemble_simulator
    from byzlab.invariants import epoch_weights
    from byzlab.seeds import make_inputs

    params = Params.practical(n, f, **overrides)
    bad = list(range(n - f, n))
    sim = assemble_simulator(
        params,
        protocol=plugins.protocol(protocol),
        inputs=make_inputs(inputs, n, seed),
        seed=seed,
        scheduler=scheduler,
        byzantine=dict.fromkeys(bad, strategy),
        max_time=max_time,
    )
    result = sim.run()
    weights = (
        [w for w in epoch_weights(sim.honest_nodes(), set(bad), result.epochs) if w is not None]
        if result.epochs
        else []
    )
    last = weights[-1] if weights else [1.0] * n
    return RunOutcome(
        strategy=strategy,
        scheduler=scheduler,
        protocol=protocol,
        seed=seed,
        agreed=result.agreed and result.valid,
        latency_delta=result.latency_delta,
        epochs=result.epochs,
        blacklisted_all=all(last[i] == 0.0 for i in bad),
        honest_weight_lost=sum(1.0 - last[i] for i in range(n) if i not in bad),
    )


def run_cell(
    cell: tuple[str, str, str, int],
    *,
    n: int,
    f: int,
    inputs: str,
    max_time: float,
    overrides: dict[str, Any],
) -> RunOutcome:
    """``run_one`` of one (strategy, scheduler, protocol, seed) of the grid: a cluster task."""
    return run_one(*cell, n, f, inputs, max_time, overrides)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (the smallest value with at least q% at or below
    it); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def summarize(outcomes: Sequence[RunOutcome], params: str = "") -> list[CellSummary]:
    cells: dict[tuple[str, str, str], list[RunOutcome]] = {}
    for o in outcomes:
        cells.setdefault((o.strategy, o.scheduler, o.protocol), []).append(o)
    rows = []
    for (strategy, scheduler, protocol), runs in sorted(cells.items()):
        lat = [o.latency_delta for o in runs if o.agreed and o.latency_delta is not None]
        rows.append(
            CellSummary(
                strategy=strategy,
                scheduler=scheduler,
                protocol=protocol,
                runs=len(runs),
                agreement_rate=sum(o.agreed for o in runs) / len(runs),
                latency_median=statistics.median(lat) if lat else float("nan"),
                latency_p95=percentile(lat, 95),
                epochs_median=statistics.median(o.epochs for o in runs),
                epochs_max=max(o.epochs for o in runs),
                blacklisted_all_rate=sum(o.blacklisted_all for o in runs) / len(runs),
                honest_weight_lost_max=max(o.honest_weight_lost for o in runs),
                params=params,
            )
        )
    return rows


def store_rows(
    outcomes: Sequence[RunOutcome], *, n: int, f: int, inputs: str, params: str, max_time: float
) -> list[dict[str, Any]]:
    """The matrix table's rows (store.MATRIX_SCHEMA) of these runs: a run that did not
    agree has no latency."""
    return [
        {
            "protocol": o.protocol,
            "n": n,
            "f": f,
            "inputs": inputs,
            "strategy": o.strategy,
            "scheduler": o.scheduler,
            "params": params,
            "max_time": max_time,
            "seed": o.seed,
            "agreed": o.agreed,
            "latency_delta": o.latency_delta if o.agreed else None,
            "epochs": o.epochs,
            "blacklisted_all": o.blacklisted_all,
            "honest_weight_lost": o.honest_weight_lost,
            "byzlab_version": __version__,
        }
        for o in sorted(outcomes, key=lambda o: (o.protocol, o.strategy, o.scheduler, o.seed))
    ]


def parse_params(pairs: Sequence[str], n: int, f: int) -> dict[str, Any]:
    """NAME=VALUE overrides of `Params.practical`: the keys a scenario's [params] takes."""
    overrides = parse_param_overrides(pairs, ParamsSection.model_fields)
    try:
        Params.practical(n, f, **overrides)
    except ParamsError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    return overrides


def write_csv(rows: Sequence[CellSummary], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])) if rows else ["strategy"])
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    tmp.replace(path)


def matrix_protocols() -> list[str]:
    """The protocols the matrix runs: the built-in ones, then the installed plugins."""
    installed = [p.name for p in plugins.installed("protocol") if p.name not in BUILTIN_PROTOCOLS]
    return [*BUILTIN_PROTOCOLS, *sorted(installed)]


def _choices(value: str, allowed: Sequence[str], name: str) -> list[str]:
    if value == "all":
        return list(allowed)
    picked = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in picked if v not in allowed]
    if bad:
        raise click.BadParameter(
            f"{bad[0]!r} is not one of: all, {', '.join(allowed)}", param_hint=f"--{name}"
        )
    return picked


@click.command("matrix")
@click.option("--n", "n", type=int, default=4, show_default=True, help="Number of nodes.")
@click.option("--f", "f", type=int, default=None, help="Fault bound (default floor((n-1)/3)).")
@click.option("--seeds", type=int, default=20, show_default=True, help="Seeds per cell.")
@click.option(
    "--strategies",
    "strategies",
    default="all",
    show_default=True,
    help="Comma-separated strategies, or all (see `byzlab strategies`).",
)
@click.option(
    "--schedulers",
    "schedulers",
    default="all",
    show_default=True,
    help="Comma-separated schedulers, or all.",
)
@click.option(
    "--protocols",
    "protocols",
    default="all",
    show_default=True,
    help="Comma-separated protocols: hpz, bracha-local, ideal-coin, installed protocol "
    "plugins, or all (every one of them).",
)
@inputs_option
@click.option(
    "--jobs",
    type=int,
    default=0,
    help="Worker processes of the Dask LocalCluster (default: all cores; 1: this process).",
)
@cluster_option
@click.option(
    "--max-time",
    type=float,
    default=20_000.0,
    show_default=True,
    help="Virtual-time budget per run (units of delta); a run over it counts as not agreed.",
)
@click.option(
    "--param",
    "params_kv",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a protocol parameter as a scenario's [params] does, e.g. "
    "--param T=4 --param m=16.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("results/matrix.csv"),
    show_default=True,
    help="CSV file for the per-cell summary.",
)
@click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Also record every run in this result store's matrix table (DIR/matrix.parquet; "
    "runs with the same key are replaced), so `byzlab report DIR` draws the heatmaps.",
)
def matrix_command(
    n: int,
    f: int | None,
    seeds: int,
    strategies: str,
    schedulers: str,
    protocols: str,
    inputs: str,
    jobs: int,
    cluster: str | None,
    max_time: float,
    params_kv: tuple[str, ...],
    out: Path,
    store_dir: Path | None,
) -> None:
    """Run every strategy x scheduler x protocol over SEEDS seeds in the simulator.

    Prints a table (agreement rate, median and p95 latency in delta, epochs, whether
    blacklisting zeroed every corrupted node, honest weight lost) and writes a CSV.
    """
    f_value = f if f is not None else max(1, (n - 1) // 3)
    try:
        Params.practical(n, f_value)  # validate early, with the clear ParamsError message
    except ParamsError as exc:
        raise click.BadParameter(str(exc), param_hint="--n/--f") from None
    overrides = parse_params(params_kv, n, f_value)
    params = Params.practical(n, f_value, **overrides)
    grid = list(
        itertools.product(
            _choices(strategies, sorted(STRATEGIES), "strategies"),
            _choices(schedulers, MATRIX_SCHEDULERS, "schedulers"),
            _choices(protocols, matrix_protocols(), "protocols"),
            range(seeds),
        )
    )
    # a strategy or scheduler that does not apply to a protocol has no cell for it, nor has a
    # protocol that does not tolerate f faults at n (Ben-Or's needs n > 5f): it is left out
    fits = {p: plugins.protocol(p) for p in {cell[2] for cell in grid}}
    for _, proto in sorted(fits.items()):
        refused = fault_refusal("--f", proto, n, f_value)
        if refused:
            Console(stderr=True).print(f"left out: {refused}", highlight=False)
    grid = [
        cell
        for cell in grid
        if fault_refusal("--f", fits[cell[2]], n, f_value) is None
        and STRATEGIES[cell[0]].applies_to(fits[cell[2]]) is None
        and SCHEDULERS[cell[1]].applies_to(fits[cell[2]]) is None
    ]
    outcomes: list[RunOutcome] = []
    workers = min(jobs or os.cpu_count() or 1, max(1, len(grid)))
    try:
        with (
            cluster_executor(cluster, workers) as executor,
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            ) as progress,
        ):
            task = progress.add_task(f"attack matrix n={n} f={f_value}", total=len(grid))
            run = functools.partial(
                run_cell, n=n, f=f_value, inputs=inputs, max_time=max_time, overrides=overrides
            )
            for done in executor.map_unordered(run, grid):
                outcomes.append(done.unwrap())  # a run that raised is a bug: stop and say so
                progress.advance(task)
    except (ClusterUnavailable, TaskError) as exc:
        raise click.ClickException(str(exc)) from None
    params_json = json.dumps(params.to_dict(), sort_keys=True)
    rows = summarize(outcomes, params_json)
    write_csv(rows, out)
    if store_dir is not None:
        record = store_rows(
            outcomes, n=n, f=f_value, inputs=inputs, params=params_json, max_time=max_time
        )
        try:
            Store(store_dir).write_matrix(record)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    table = Table(
        title=f"attack matrix: n={n}, f={f_value}, {seeds} seeds per cell, "
        f"m={params.m}, T={params.T}, c={params.c:g}"
    )
    for col in (
        "strategy",
        "scheduler",
        "protocol",
        "agree",
        "lat p50",
        "lat p95",
        "epochs p50/max",
        "blacklisted",
        "honest w lost",
    ):
        table.add_column(
            col, justify="right" if col not in ("strategy", "scheduler", "protocol") else "left"
        )
    for r in rows:
        table.add_row(
            r.strategy,
            r.scheduler,
            r.protocol,
            f"{r.agreement_rate:.0%}",
            f"{r.latency_median:.1f}",
            f"{r.latency_p95:.1f}",
            f"{r.epochs_median:g}/{r.epochs_max}",
            f"{r.blacklisted_all_rate:.0%}",
            f"{r.honest_weight_lost_max:.2f}",
        )
    console = Console()
    if not console.is_terminal:  # a log or a pipe: don't squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
    click.echo(f"wrote {out}")
    if store_dir is not None:
        click.echo(
            f"recorded {len(outcomes)} runs in {Store(store_dir).matrix_path} "
            f"(byzlab report {store_dir} draws the heatmaps)"
        )
