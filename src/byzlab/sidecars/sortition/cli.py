"""The ``byzlab sortition`` command group: the §3.4 z-score table and the paper's figures."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from byzlab.sidecars._checks import _count
from byzlab.sidecars.sortition.config import EXPERIMENTS, SWEEP_EXPERIMENT
from byzlab.sidecars.sortition.figures import write_figures
from byzlab.sidecars.sortition.sweep import ZRow, z_score_table, zrows_csv


@click.group(name="sortition")
def command() -> None:
    """Merit-based sortition (Kruijssen et al. 2024): experiments, z-scores, figures."""


def _print_rows(rows: Sequence[ZRow], title: str) -> None:
    table = Table(title=title)
    for col in (
        "P [%]",
        "<T> merit",
        "<T> random",
        "sigma",
        "z",
        "± se",
        "z (merit σ)",
        "pools z>2",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r.percentile:.1f}",
            f"{r.merit_mean:.4f}",
            f"{r.random_mean:.4f}",
            f"{r.sigma:.4f}",
            f"{r.z:.2f}",
            "-" if math.isnan(r.z_err) else f"{r.z_err:.2f}",
            f"{r.z_merit_sigma:.2f}",
            f"{r.above_2:.0%}",
        )
    Console().print(table)


_F = TypeVar("_F", bound=Callable[..., None])

_common = [
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--epochs", type=int, default=1000, show_default=True),
    click.option("--percentiles", type=int, default=50, show_default=True, help="sweep size"),
    click.option("--replicates", type=int, default=10, show_default=True, help="pools per P"),
    click.option(
        "--pool",
        type=click.Choice(sorted(EXPERIMENTS)),
        default=SWEEP_EXPERIMENT,
        show_default=True,
        help="experiment whose percentile is swept",
    ),
]


def _common_options(fn: _F) -> _F:
    """Apply the options every subcommand shares, in the order ``--help`` lists them."""
    for option in reversed(_common):
        fn = option(fn)
    return fn


@command.command(name="table")
@_common_options
@click.option("--n-active", type=int, default=None, help="override the pool's N_act")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="also write the table as CSV",
)
def table_cmd(
    seed: int,
    epochs: int,
    percentiles: int,
    replicates: int,
    pool: str,
    n_active: int | None,
    csv_path: str | None,
) -> None:
    """§3.4 z-score table: merit-based vs random sortition as a function of P."""
    start = time.perf_counter()
    try:
        base = EXPERIMENTS[pool]
        if n_active is not None:
            base = replace(base, n_active=_count("n_active", n_active, 1))
        rows = z_score_table(
            np.random.default_rng(seed),
            n_percentiles=percentiles,
            replicates=replicates,
            n_epochs=epochs,
            base=base,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    elapsed = time.perf_counter() - start
    _print_rows(
        rows,
        f"merit vs random sortition ({pool}, N_act={base.n_active}, {epochs} epochs, "
        f"{replicates} replicates, seed {seed}, {elapsed:.1f} s)",
    )
    above2 = [r.percentile for r in rows if r.z > 2]
    above1 = [r.percentile for r in rows if r.z > 1]
    if above2:
        click.echo(f"z > 2 for P in [{min(above2):.1f}, {max(above2):.1f}]")
    if above1:
        click.echo(f"z > 1 for P in [{min(above1):.1f}, {max(above1):.1f}]")
    if csv_path is not None:
        Path(csv_path).write_text(zrows_csv(rows))
        click.echo(f"wrote {csv_path}")
    click.echo(f"run time {elapsed:.1f} s")


@command.command(name="figures")
@click.argument("out_dir", type=click.Path(file_okay=False))
@_common_options
def figures_cmd(
    out_dir: str, seed: int, epochs: int, percentiles: int, replicates: int, pool: str
) -> None:
    """Write Figures 1-4 as PNGs into OUT_DIR (Figure 4: the sweep on --pool, with its CSV)."""
    try:
        paths = write_figures(
            out_dir,
            np.random.default_rng(seed),
            n_epochs=epochs,
            n_percentiles=percentiles,
            replicates=replicates,
            pool=pool,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    for p in paths:
        click.echo(f"wrote {p}")
