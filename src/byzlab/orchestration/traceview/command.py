"""The ``byzlab trace RUN_DIR`` command: write the run's viewer page, or print its summary."""

from __future__ import annotations

import math
from pathlib import Path

import click

from byzlab.atomicio import atomic_write_text
from byzlab.errors import RunIOError
from byzlab.network.messagelog import AUTO_MAX_N
from byzlab.orchestration.traceview.page import render_page
from byzlab.orchestration.traceview.rundir import load_run_dir
from byzlab.orchestration.traceview.text import summary_text

__all__ = ["HOW_TO_RECORD", "trace_command"]

HOW_TO_RECORD = (
    'record one by running the scenario again with [run] messages = "on" (or byzlab sim '
    f"--out DIR --messages on); the default, auto, records runs of up to {AUTO_MAX_N} nodes "
    "(docs/messages.md)"
)


@click.command("trace", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the page (default: RUN_DIR/trace.html).",
)
@click.option(
    "--from",
    "t_from",
    type=float,
    default=None,
    metavar="T",
    help="Keep only the deliveries that arrive at or after T (the run's time unit).",
)
@click.option(
    "--to",
    "t_to",
    type=float,
    default=None,
    metavar="T",
    help="Keep only the deliveries sent at or before T.",
)
@click.option(
    "--summary", "as_text", is_flag=True, help="Print the same facts as text; write no page."
)
def trace_command(
    run_dir: Path, out: Path | None, t_from: float | None, t_to: float | None, as_text: bool
) -> None:
    """Show one run: a self-contained HTML viewer of its messages, coins and weights.

    RUN_DIR is a run's results directory (results/<run-id>/, or a run of a result store).
    The page has a spacetime diagram of every delivery in messages.parquet (zoom, pan,
    filters by node, kind, verdict, iteration and RBC instance; aggregated when more than
    2,000 deliveries are in view), the ECHO/READY grid of each reliable broadcast, the
    blackboards as each node saw them fill, each coin's bias, Sigma and outcome per node,
    the weights per epoch and the iterations; docs/trace-viewer.md explains each panel. It
    loads nothing from the network. A run without messages.parquet still gets the rest.
    A page holds at most 250,000 single deliveries; a larger run's are aggregated when the
    page is written, and --from/--to write a page of a time window with every message.

    Example: byzlab trace results/20250101-120000-s3-abcdef --summary
    """
    window = None
    if t_from is not None or t_to is not None:
        window = (-math.inf if t_from is None else t_from, math.inf if t_to is None else t_to)
        if math.isnan(window[0]) or math.isnan(window[1]) or window[0] >= window[1]:
            raise click.BadParameter(
                f"--from must be below --to, got {t_from} and {t_to}", param_hint="--from/--to"
            )
    run = load_run_dir(run_dir)
    if as_text:
        click.echo(summary_text(run, HOW_TO_RECORD), nl=False)
        return
    target = out if out is not None else run_dir / "trace.html"
    page = render_page(run, HOW_TO_RECORD, window)
    try:
        atomic_write_text(target, page)
    except OSError as exc:
        raise RunIOError(f"{target}: cannot write the viewer ({exc.strerror or exc})") from exc
    if run.messages is None:
        note = "no message trace"
    elif window is None:
        note = f"{run.messages.deliveries:,} deliveries"
    else:
        note = f"{len(run.messages.rows_in(window)):,} of {run.messages.deliveries:,} deliveries"
    click.echo(f"trace viewer: {target} ({note}, {len(page) / 1e6:.1f} MB)")
