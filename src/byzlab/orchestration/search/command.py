"""``byzlab search``: the adversary search from the command line (driver.py does the work).

The scenario is a scenario file (``--scenario``), the defaults, or both, with ``--protocol``,
``--n``, ``--f``, ``--inputs``, ``--seed`` and ``--strategy`` (each one more corrupted node,
from the highest id down) over it; it is validated like any scenario file, one line per
problem. The evaluations run on Dask (``--cluster``, else a LocalCluster of ``--jobs``
workers, or this process for ``--jobs 1``: orchestration/cluster.py). The command prints
the best value found, the rate, the shrink and, with ``--baseline``, the table of search
against plain random search and the hand-written attacks on the same budget.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from byzlab.adversary.search import SearchState
from byzlab.errors import ClusterUnavailable, ScenarioError
from byzlab.orchestration.cluster import TaskError, cluster_executor, cluster_option
from byzlab.orchestration.scenario import default_scenario, load_scenario, parse_scenario
from byzlab.orchestration.search.driver import (
    BATCH,
    SEARCH_FILE,
    SearchResult,
    SearchSpec,
    run_search,
    write_search,
)
from byzlab.orchestration.search.objectives import KINDS, OBJECTIVES

__all__ = ["search_command"]

MAX_BUDGET = 1_000_000
MAX_SHRINK = 100_000


def _fail(message: str, status: int = 2) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(status)


def search_tables(
    scenario_file: Path | None, run_fields: dict[str, Any], strategies: tuple[str, ...]
) -> dict[str, Any]:
    """The searched scenario's TOML tables, validated (a ScenarioError names the field):
    the file's or the defaults' with the `run_fields` that are not None set in [run], and
    one corrupted node per strategy."""
    scn = load_scenario(scenario_file) if scenario_file else default_scenario()
    tables = tomllib.loads(scn.to_toml())
    if not scenario_file:
        tables.setdefault("adversary", {})["byzantine"] = []  # the default's equivocator
    run = tables.setdefault("run", {})
    run.update((k, v) for k, v in run_fields.items() if v is not None)
    if strategies:
        size = int(run.get("n", 4))
        tables.setdefault("adversary", {})["byzantine"] = [
            {"node": size - 1 - k, "strategy": name} for k, name in enumerate(strategies)
        ]
    return tomllib.loads(parse_scenario(tables, source="byzlab search").to_toml())


def _progress(console: Console, budget: int) -> Any:
    """Prints a line each time the best improves."""

    def show(state: SearchState) -> None:
        if state.best is not None and state.improved_at > state.evaluations - BATCH:
            console.print(
                f"  {state.evaluations}/{budget} evaluations, best {state.best.value:g}",
                highlight=False,
            )

    return show


def _print(result: SearchResult, out: Path) -> None:
    spec, outcome = result.spec, result.outcome
    console = Console()
    best = result.best
    console.print(
        f"best {spec.objective}: {outcome.value:g} after {result.state.evaluations} evaluations "
        f"({result.evaluations_per_s:.1f}/s): base {best.base}, {len(best.choices)} "
        f"non-default delays, {outcome.iterations} iterations, stopped {outcome.stopped}",
        highlight=False,
    )
    for v in outcome.violations[:3]:
        console.print(f"  violation: {v}", highlight=False)
    if result.baseline is not None:
        b = result.baseline
        name, value = b.hand_written_best
        table = Table(title=f"{spec.objective}, {spec.budget} runs each")
        for column in ("method", "best", "violations found"):
            table.add_column(column)
        found = spec.objective == "violation"
        search_found = sum(1 for v in result.state.values if v > 0) if found else "-"
        table.add_row("search", f"{outcome.value:g}", str(search_found))
        table.add_row("random", f"{b.random_best:g}", str(b.random_found) if found else "-")
        table.add_row(
            f"hand-written (best: {name})",
            f"{value:g}",
            str(b.hand_written_found) if found else "-",
        )
        console.print(table)
    if result.shrink is not None:
        s = result.shrink
        console.print(
            f"shrunk {s.start} -> {len(s.kept)} choices "
            f"({'1-minimal' if s.minimal else 'budget spent, not minimal'}, {s.tests} tests"
            f"{', rebased onto fifo' if s.rebased else ''}) reproducing {s.target}",
            highlight=False,
        )
    click.echo(
        f"wrote {out}/best.schedule.json, {out}/{SEARCH_FILE}, {out}/worst/"
        + (f", {out}/shrunk.schedule.json, {out}/shrunk/" if result.shrink else "")
        + f"; replay: byzlab replay --schedule {out}/best.schedule.json",
        err=True,
    )


@click.command("search", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--scenario",
    "scenario_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The scenario to search over (default: the scenario defaults, no corrupted node).",
)
@click.option("--protocol", default=None, help="run.protocol (a built-in name or a plugin).")
@click.option("--n", "n", type=int, default=None, help="run.n")
@click.option("--f", "f", type=int, default=None, help="run.f (default (n - 1) // 3)")
@click.option("--inputs", default=None, help="run.inputs (e.g. split, zeros, ones)")
@click.option("--seed", type=int, default=None, help="run.seed (also seeds the search)")
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    help="A corrupted node running this Byzantine strategy (repeat for more; node n-1, "
    "n-2, ...). Replaces the scenario's [[adversary.byzantine]].",
)
@click.option(
    "--objective",
    type=click.Choice(OBJECTIVES),
    required=True,
    help="What the search maximises (docs/search.md).",
)
@click.option(
    "--violation",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="With --objective violation, count only this kind (repeat for more; default: every kind).",
)
@click.option(
    "--budget",
    type=click.IntRange(1, MAX_BUDGET),
    required=True,
    help="Simulator runs the search may spend (the baseline spends as many again twice).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for best.schedule.json, search.json, worst/, shrunk*.",
)
@click.option(
    "--baseline",
    is_flag=True,
    help="Also spend the budget on plain random search and on the hand-written attacks, "
    "and print the table.",
)
@click.option(
    "--shrink-budget",
    type=click.IntRange(0, MAX_SHRINK),
    default=200,
    show_default=True,
    help="Runs delta debugging may spend shrinking the best schedule (0: no shrink).",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="A shrunk schedule must keep the objective at least this (default: the best "
    "value; a violation must keep its kind).",
)
@click.option(
    "--max-time",
    type=click.FloatRange(0, 1e9, min_open=True),
    default=1000.0,
    show_default=True,
    help="Each run's virtual time bound (delta); a run still undecided then did not terminate.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="With --objective violation, spend the whole budget instead of stopping at the "
    "first violation.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the LocalCluster (default: every core; 1: this process).",
)
@cluster_option
def search_command(
    scenario_file: Path | None,
    protocol: str | None,
    n: int | None,
    f: int | None,
    inputs: str | None,
    seed: int | None,
    strategies: tuple[str, ...],
    objective: str,
    kinds: tuple[str, ...],
    budget: int,
    out_dir: Path,
    baseline: bool,
    shrink_budget: int,
    threshold: float | None,
    max_time: float,
    keep_going: bool,
    jobs: int | None,
    cluster: str | None,
) -> None:
    """Search the adversary's delivery choices for the worst schedule of a scenario.

    Each evaluation runs the scenario in the simulator under a candidate schedule (a base
    scheduler plus non-default delays) and scores it; the search is evolutionary, seeded
    with every hand-written scheduler. The best schedule is shrunk by delta debugging and
    both are written with their runs (docs/search.md). Exit status 0 when done, 1 when
    --objective violation found one (or an evaluation failed), 2 for a bad scenario or
    option or an unavailable cluster.

    Example: byzlab search --protocol bracha-local --n 7 --objective iterations --budget 200
    --out search-out --baseline
    """
    if (out_dir / SEARCH_FILE).exists():
        _fail(f"--out {out_dir}: holds a search already ({SEARCH_FILE}); choose another")
    try:
        fields = {"protocol": protocol, "n": n, "f": f, "inputs": inputs, "seed": seed}
        tables = search_tables(scenario_file, fields, strategies)
    except ScenarioError as exc:
        _fail(str(exc))
    spec = SearchSpec(
        tables,
        objective,
        budget,
        seed=int(tables["run"]["seed"]),
        max_time=max_time,
        stop_when_found=objective == "violation" and not keep_going,
        shrink_budget=shrink_budget,
        threshold=threshold,
        kinds=kinds or KINDS,
    )
    console = Console(stderr=True)
    try:
        with cluster_executor(cluster, jobs) as executor:
            console.print(f"searching on {executor.describe()}", highlight=False)
            result = run_search(
                spec, executor, baseline=baseline, progress=_progress(console, budget)
            )
    except ClusterUnavailable as exc:
        _fail(str(exc))
    except TaskError as exc:
        _fail(f"an evaluation failed: {exc}", 1)
    write_search(result, out_dir)
    _print(result, out_dir)
    sys.exit(1 if result.found else 0)
