"""The `byzlab` command line."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from byzlab import __version__
from byzlab.adversary.schedulers import SCHEDULERS, make_scheduler
from byzlab.adversary.strategies import STRATEGIES, NodeSpec, make_strategy
from byzlab.node.params import Params, ParamsError
from byzlab.node.validation import PROTOCOLS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="byzlab")
def main() -> None:
    """byzlab: spin up nodes, inject Byzantine strategies, measure latency to agreement.

    The Huang-Pettie-Zhu optimal-resilience agreement protocol runs as pure state machines,
    in a deterministic simulator (`byzlab sim`) and on real processes.
    """


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        try:
            value: Any = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                raise click.BadParameter(f"{key} must be a number, got {raw!r}",
                                         param_hint="--param") from None
        name = key.strip()
        known = sorted(f.name for f in dataclasses.fields(Params) if f.name not in ("n", "f"))
        if name not in known:
            raise click.BadParameter(f"unknown parameter {name!r}; known: {', '.join(known)}",
                                     param_hint="--param")
        out[name] = value
    return out


def _byzantine_ids(spec: str | None, n: int, f: int) -> list[int]:
    if spec is None:
        return list(range(n - f, n))
    try:
        ids = sorted({int(x) for x in spec.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter(f"expected comma-separated node ids, got {spec!r}",
                                 param_hint="--byzantine-nodes") from None
    bad = [i for i in ids if not 0 <= i < n]
    if bad:
        raise click.BadParameter(f"node ids {bad} out of range 0..{n - 1}",
                                 param_hint="--byzantine-nodes")
    if len(ids) > f:
        raise click.BadParameter(f"{len(ids)} Byzantine nodes exceed f={f}",
                                 param_hint="--byzantine-nodes")
    return ids


@main.command()
@click.option("--n", "n", type=int, default=4, show_default=True, help="Number of nodes.")
@click.option("--f", "f", type=int, default=None,
              help="Fault bound f < n/3 (default: the largest, floor((n-1)/3)).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Run seed: the same seed replays the same run (same trace hash).")
@click.option("--inputs", type=click.Choice(["split", "zeros", "ones", "random"]),
              default="split", show_default=True,
              help="Honest inputs: split alternates +1/-1; zeros = all -1; ones = all +1.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="hpz", show_default=True,
              help="hpz (HPZ weighted coin), bracha-local (private coins), ideal-coin.")
@click.option("--byzantine", type=click.Choice(["none", *sorted(STRATEGIES)]), default="none",
              show_default=True, help="Strategy of the corrupted nodes (see `byzlab strategies`).")
@click.option("--byzantine-nodes", default=None,
              help="Comma-separated ids of corrupted nodes (default: the last f).")
@click.option("--scheduler", type=click.Choice(sorted(SCHEDULERS)), default="random",
              show_default=True, help="The adversary's delivery scheduler.")
@click.option("--preset", type=click.Choice(["practical", "theory"]), default="practical",
              show_default=True, help="Parameter preset (HPZ Theorem 15 shapes, or small).")
@click.option("--param", "params_kv", multiple=True, metavar="NAME=VALUE",
              help="Override a protocol parameter, e.g. --param m=16 --param T=4.")
@click.option("--max-time", type=float, default=None,
              help="Stop after this much virtual time (units of delta).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sim(n: int, f: int | None, seed: int, inputs: str, protocol: str, byzantine: str,
        byzantine_nodes: str | None, scheduler: str, preset: str, params_kv: tuple[str, ...],
        max_time: float | None, as_json: bool) -> None:
    """Run one agreement instance in the deterministic simulator.

    Example: byzlab sim --n 7 --seed 3 --byzantine equivocate --scheduler random --json
    """
    from byzlab.network.sim import Simulator, make_inputs

    try:
        overrides = _parse_overrides(params_kv)
        f_value = f if f is not None else max(1, (n - 1) // 3)
        if preset == "theory":
            params = Params.theory(n, f_value, **overrides)
        else:
            params = Params.practical(n, f_value, **overrides)
    except (ParamsError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    ids = [] if byzantine == "none" else _byzantine_ids(byzantine_nodes, n, params.f)

    def factory(spec: NodeSpec) -> Any:
        return make_strategy(byzantine, spec)

    simulator = Simulator(params, protocol=protocol, inputs=make_inputs(inputs, n, seed),
                          seed=seed, scheduler=make_scheduler(scheduler),
                          byzantine={i: factory for i in ids}, max_time=max_time)
    started = time.perf_counter()
    result = simulator.run()
    wall = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps(result.summary(), sort_keys=True))
        return
    console = Console()
    table = Table(title=f"byzlab sim: {protocol}, n={n}, f={params.f}, seed={seed}",
                  show_header=False)
    verdict = "[green]yes[/green]" if result.agreed else f"[red]no[/red] ({result.stopped})"
    rows = [
        ("agreed", verdict),
        ("decision", str(result.decision)),
        ("valid", str(result.valid)),
        ("latency", f"{result.latency_delta:.2f} delta"),
        ("iterations / epochs", f"{result.iterations} / {result.epochs}"),
        ("coins unanimous / split", f"{result.coin_unanimous} / {result.coin_split}"),
        ("RBC instances", f"{result.rbc_instances:,}"),
        ("messages / bytes", f"{result.messages:,} / {result.bytes:,}"),
        ("byzantine", ", ".join(f"{k}:{v}" for k, v in result.byzantine.items()) or "none"),
        ("scheduler", scheduler),
        ("rejected inputs", ", ".join(f"{k}={v}" for k, v in result.rejected.items()) or "-"),
        ("trace hash", result.trace_hash),
        ("wall time", f"{wall:.2f} s ({result.deliveries / max(wall, 1e-9):,.0f} deliveries/s)"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if not result.agreed:
        sys.exit(1)


@main.command()
def strategies() -> None:
    """List the Byzantine strategies and schedulers, one line each."""
    console = Console()
    table = Table(title="Byzantine strategies")
    table.add_column("name")
    table.add_column("what it does")
    for name, cls in sorted(STRATEGIES.items()):
        table.add_row(name, cls.description)
    console.print(table)
    table = Table(title="Schedulers")
    table.add_column("name")
    table.add_column("what it does")
    for name, factory in sorted(SCHEDULERS.items()):
        table.add_row(name, factory().description)
    console.print(table)


def _register_subcommands() -> None:
    from byzlab.network.keys import keys_command
    from byzlab.sidecars import committee, difficulty, ranking, sortition

    main.add_command(keys_command)
    for module in (committee, sortition, ranking, difficulty):
        main.add_command(module.command)


_register_subcommands()
