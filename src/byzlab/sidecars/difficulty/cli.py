"""The ``byzlab difficulty`` command: the step response of every algorithm, as tables and a plot."""

from __future__ import annotations

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from byzlab.sidecars._checks import _count
from byzlab.sidecars.difficulty.plot import plot_step_response
from byzlab.sidecars.difficulty.simulation import (
    StepResponse,
    default_algorithms,
    oscillation_amplitude,
    step_response,
)


@click.group(name="difficulty")
def command() -> None:
    """Difficulty adjustment: Bayesian log-hashrate filter vs Bitcoin window rule vs ASERT."""


@command.command(name="step")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--window", type=int, default=2016, show_default=True, help="Bitcoin window")
@click.option("--windows", type=int, default=20, show_default=True, help="run length in windows")
@click.option("--step-window", type=int, default=4, show_default=True, help="step at this window")
@click.option("--step", type=float, default=2.0, show_default=True, help="w_eq multiplier")
@click.option("--elasticity", type=float, default=2.0, show_default=True)
@click.option("--halflife", type=float, default=172800.0, show_default=True, help="ASERT [s]")
@click.option("--q", "q", type=float, default=1e-4, show_default=True, help="filter noise")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None)
def step_cmd(
    seed: int,
    window: int,
    windows: int,
    step_window: int,
    step: float,
    elasticity: float,
    halflife: float,
    q: float,
    plot_path: str | None,
) -> None:
    """Step response under inelastic and elastic hashrate; per-window oscillation amplitude."""
    try:
        _count("windows", windows, 1)
        _count("step_window", step_window, 0)
        algs = default_algorithms(window=window, halflife=halflife, q=q)
        results: dict[str, dict[str, StepResponse]] = {}
        for kind in ("inelastic", "elastic"):
            results[kind] = step_response(
                kind,
                np.random.default_rng(seed),
                n_blocks=windows * window,
                step_block=step_window * window,
                step=step,
                elasticity=elasticity,
                algorithms=algs,
            )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    console = Console()
    for kind, runs in results.items():
        table = Table(title=f"{kind}: max |log(w/w_eq)| per {window}-block window")
        table.add_column("window", justify="right")
        amps = {name: oscillation_amplitude(r, window) for name, r in runs.items()}
        for name in amps:
            table.add_column(name, justify="right")
        for k in range(windows):
            mark = " (step)" if k == step_window else ""
            table.add_row(f"{k}{mark}", *(f"{a[k]:.3f}" for a in amps.values()))
        console.print(table)
        after = (step_window + 1) * window
        summary = Table(title=f"{kind}: after window {step_window + 1}")
        summary.add_column("algorithm")
        summary.add_column("RMS log(w/w_eq)", justify="right")
        summary.add_column("mean block time [s]", justify="right")
        for name, r in runs.items():
            err = r.log_error[after:]
            bt = r.block_time[after:]
            rms = f"{np.sqrt(np.mean(err**2)):.3f}" if err.size else "-"
            mbt = f"{np.mean(bt):.0f}" if bt.size else "-"
            summary.add_row(name, rms, mbt)
        console.print(summary)
    if plot_path is not None:
        console.print(f"wrote {plot_step_response(results, plot_path, segment=window)}")
