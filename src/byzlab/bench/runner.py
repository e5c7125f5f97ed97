"""The `byzlab bench` command: run the benchmarks, show progress, print one table of figures
against their targets, and write JSON (every sample, the medians, the environment) and PNG
plots."""

from __future__ import annotations

import importlib
import os
import tempfile
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from byzlab.atomicio import atomic_write_json
from byzlab.bench.common import BACKENDS, BENCHMARKS, Context, Figure, Section, environment
from byzlab.bench.realrun import Variant

__all__ = ["bench_command", "run_benchmarks"]

MODULES = {
    "sim": "sim_core",
    "transport": "transport",
    "latency": "latency",
    "scaling": "scaling",
    "limits": "limits",
    "memory": "memory",
    "engines": "engines",
    "messages": "messages",
    "messages-real": "messages_real",
}
FULL_BUDGET_S = 600.0
QUICK_BUDGET_S = 20.0
SCHEMA = "byzlab-bench/1"


def _names(values: Iterable[str], allowed: tuple[str, ...], option: str) -> list[str]:
    """Comma-separated (and repeatable) names, validated, in ``allowed``'s order."""
    chosen = {v.strip() for value in values for v in value.split(",") if v.strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}", param_hint=option
        )
    return [name for name in allowed if name in chosen]


def _fmt(figure: Figure) -> str:
    v = figure.value
    if v is None:
        return "-"
    unit = figure.unit
    if unit == "/s":
        return f"{v:,.0f}/s"
    if unit == "us":
        return f"{v:,.2f} us"
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if unit == "nodes":
        return f"{v:.0f}"
    return f"{v:.2f}" if not unit else f"{v:.3g} {unit}"


def _met(figure: Figure) -> str:
    if figure.met is None:
        return "-"
    return "[green]yes[/green]" if figure.met else "[red]NO[/red]"


def render(sections: list[Section], errors: dict[str, str], quick: bool) -> Table:
    table = Table(
        title="byzlab bench" + (" --quick (smoke test: tiny sizes, few runs)" if quick else ""),
        show_lines=False,
    )
    table.add_column("benchmark", style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met", justify="center")
    table.add_column("note", overflow="fold", max_width=60)
    for section in sections:
        first = True
        for figure in section.figures:
            table.add_row(
                section.key if first else "",
                escape(figure.name),
                _fmt(figure),
                escape(figure.target),
                _met(figure),
                escape(figure.note),
            )
            first = False
        if first:
            table.add_row(section.key, "(no figures)", "", "", "", "; ".join(section.notes))
        table.add_section()
    for key, error in errors.items():
        table.add_row(key, "[red]error[/red]", "", "", "", escape(error))
    return table


class _Reporter:
    """Progress: a bar over the benchmarks and the current step; plain lines when stderr is
    not a terminal (CI logs), so a long run still shows what it is doing."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=total)
        self.bench = ""

    def begin(self, key: str) -> None:
        self.bench = key
        self.step("starting")

    def step(self, text: str) -> None:
        self.progress.update(self.task, description=f"[bold]{self.bench}[/bold]: {text}")
        if not self.console.is_terminal:
            self.console.print(
                f"bench {self.bench}: {text}", highlight=False, markup=False, soft_wrap=True
            )

    def done(self) -> None:
        self.progress.advance(self.task)


def run_benchmarks(
    ctx: Context,
    keys: list[str],
    reporter: _Reporter,
) -> tuple[list[Section], dict[str, str], bool]:
    """Run the chosen benchmarks in order; (sections, errors by key, interrupted)."""
    from byzlab.bench.plots import PLOTTERS

    sections: list[Section] = []
    errors: dict[str, str] = {}
    for key in keys:
        reporter.begin(key)
        started = time.monotonic()
        try:
            module = importlib.import_module(f"byzlab.bench.{MODULES[key]}")
            section: Section = module.run(ctx)
            section.elapsed_s = time.monotonic() - started
            if key in PLOTTERS:
                reporter.step("plots")
                section.plots = PLOTTERS[key](
                    section, ctx.out, "bench-quick" if ctx.quick else "bench"
                )
        except KeyboardInterrupt:
            errors[key] = "interrupted"
            return sections, errors, True
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            reporter.console.print(traceback.format_exc(), markup=False, highlight=False)
            errors[key] = f"{type(exc).__name__}: {exc}"
        else:
            sections.append(section)
        finally:
            reporter.done()
    return sections, errors, False


@click.command("bench", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--quick",
    is_flag=True,
    help="Smoke test (what CI runs): tiny sizes, one run per figure, short budget; "
    "the whole suite takes well under 90 s. Figures are still reported "
    "against their targets, for information only.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAMES",
    help=f"Benchmarks to run, comma-separated or repeated: {', '.join(BENCHMARKS)}. Default: all.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=None,
    help="Runs per figure; each figure is their median. Default 3 (1 with "
    "--quick); the simulator benchmarks use at least 3 (sim) and 2 "
    "(scaling) seeds.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Where bench.json (bench-quick.json with --quick) and the PNG plots go.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=1.0),
    default=None,
    help=f"Seconds one size-limit run may take (default {FULL_BUDGET_S:g}, "
    f"{QUICK_BUDGET_S:g} with --quick). Other real runs time out after "
    "this or 120 s, whichever is longer.",
)
@click.option(
    "--backends",
    "backends",
    multiple=True,
    metavar="NAMES",
    help="Backends to use, comma-separated: sim, local, docker (default: all). "
    "Size limits are searched on each; transport, latency and memory need "
    "local. Docker is skipped, with the reason, when no engine or image is "
    "available.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    metavar="SRC",
    help="Also measure the proxy and node processes of this source tree (a "
    "directory holding byzlab/, e.g. a `git worktree` of an older commit's "
    "src/), alternately with this tree's, in transport, latency and memory.",
)
def bench_command(
    quick: bool,
    only: tuple[str, ...],
    repeats: int | None,
    out: Path,
    budget: float | None,
    backends: tuple[str, ...],
    baseline: Path | None,
) -> None:
    """Run the benchmark suite; print a table of figures against their targets.

    \b
    sim        simulator deliveries per second on one core (target >= 300k),
               with a cProfile of the hot path
    transport  protocol messages/s through the proxy with real processes,
               n = 7 and 16 (target >= 100k/s on the whole machine), and the
               per-frame cost of MAC authentication and msgpack encoding
    latency    honest FIFO latency on loopback vs the simulator's causal
               depth x (delta_s + one hop), n = 4..64 (target: within 3x)
    scaling    messages, bytes, latency vs n for hpz, bracha-local and
               ideal-coin with fitted exponents; flags growth that deviates
               from RBC O(n^2) per broadcast and blackboard O(m n^3) per flip
    limits     largest n per backend that completes within --budget: doubles n
               up to twice the target, then bisects (targets: sim 256,
               local 64, docker 32; --quick tries n = 4, 8, 16 at most)
    memory     peak RSS per node process vs n

    Each figure is the median of --repeats runs, and comparisons are measured side
    by side in the same session (these machines are noisy). Writes OUT/bench.json
    (every sample, the medians, the environment: CPUs, python, git commit) and PNG
    plots. Timings never fail the command; it exits 1 only if a benchmark crashed.

    Example: byzlab bench --only sim,scaling --repeats 5
    """
    keys = _names(only, BENCHMARKS, "--only") if only else list(BENCHMARKS)
    chosen_backends = tuple(_names(backends, BACKENDS, "--backends") if backends else BACKENDS)
    variants = [Variant("this")]
    if baseline is not None:
        src = baseline.resolve()
        if not (src / "byzlab").is_dir():
            raise click.BadParameter(f"{src}: no byzlab package there", param_hint="--baseline")
        variants.insert(0, Variant("baseline", str(src)))
    console = Console(stderr=True)
    started = time.monotonic()
    env = environment()
    with tempfile.TemporaryDirectory(prefix="byzlab-bench-") as tmp:
        ctx = Context(
            quick=quick,
            repeats=repeats or (1 if quick else 3),
            out=out,
            tmp=Path(tmp),
            budget_s=budget or (QUICK_BUDGET_S if quick else FULL_BUDGET_S),
            backends=chosen_backends,
            variants=variants,
        )
        reporter = _Reporter(console, len(keys))
        ctx.step = reporter.step
        with reporter.progress:
            sections, errors, interrupted = run_benchmarks(ctx, keys, reporter)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "quick": quick,
        "interrupted": interrupted,
        "options": {
            "only": keys,
            "repeats": ctx.repeats,
            "budget_s": ctx.budget_s,
            "backends": list(chosen_backends),
            "baseline": None if baseline is None else str(baseline),
        },
        "environment": env,
        "load_average_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "elapsed_s": round(time.monotonic() - started, 3),
        "benchmarks": {s.key: s.to_json() for s in sections},
        "errors": errors,
    }
    path = out / ("bench-quick.json" if quick else "bench.json")
    atomic_write_json(path, report)
    stdout = Console()
    if not stdout.is_terminal:  # CI logs and pipes: wide enough for the notes
        stdout = Console(width=160)
    stdout.print(render(sections, errors, quick))
    for section in sections:
        for note in section.notes:
            console.print(f"{section.key}: {note}", highlight=False, markup=False, soft_wrap=True)
    if ctx.failed_runs.is_dir():
        console.print(
            f"real runs that did not agree are kept in {ctx.failed_runs}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    plots = [str(out / p) for s in sections for p in s.plots]
    console.print(
        f"wrote {path}" + (f" and {len(plots)} plots: {', '.join(plots)}" if plots else ""),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if interrupted:
        raise SystemExit(130)
    if errors:
        raise SystemExit(1)
