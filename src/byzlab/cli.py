"""The `byzlab` command line."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table

from byzlab import __version__
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES
from byzlab.errors import ByzlabError
from byzlab.network.messagelog import MESSAGES_SETTINGS
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import MAX_N, Params, ParamsError
from byzlab.node.protocol import fault_refusal, max_faults
from byzlab.orchestration.inputs_option import inputs_option
from byzlab.orchestration.overrides import parse_param_overrides

if TYPE_CHECKING:
    from byzlab.orchestration.scenario import Scenario

# Commands whose modules pull in heavy libraries (scipy, pyarrow, matplotlib, the Docker
# SDK) are imported only when used, so `byzlab node`/`byzlab proxy` start fast and the
# container image does not need those libraries.
_LAZY_COMMANDS = {
    "bench": ("byzlab.bench.runner", "bench_command"),
    "keys": ("byzlab.network.keys", "keys_command"),
    "matrix": ("byzlab.orchestration.matrix", "matrix_command"),
    "sweep": ("byzlab.orchestration.experiments_cli", "sweep_command"),
    "results": ("byzlab.orchestration.experiments_cli", "results_command"),
    "report": ("byzlab.orchestration.experiments_cli", "report_command"),
    "replay": ("byzlab.orchestration.experiments_cli", "replay_command"),
    "search": ("byzlab.orchestration.search.command", "search_command"),
    "trace": ("byzlab.orchestration.traceview.command", "trace_command"),
    "image": ("byzlab.orchestration.docker_cli", "image_command"),
    "docker": ("byzlab.orchestration.docker_cli", "docker_command"),
    "compose": ("byzlab.orchestration.docker_cli", "compose_command"),
    "committee": ("byzlab.sidecars.committee", "command"),
    "sortition": ("byzlab.sidecars.sortition", "command"),
    "ranking": ("byzlab.sidecars.ranking", "command"),
    "difficulty": ("byzlab.sidecars.difficulty", "command"),
}

# Limits of `byzlab sim` (a value outside them is one line on stderr and exit status 2).
DEFAULT_MAX_DELIVERIES = 50_000_000
MAX_DELIVERIES_LIMIT = 10**10
DEFAULT_SIM_TIMEOUT_S = 600.0
MAX_TIMEOUT_S = 86_400.0  # as run.timeout_s
MAX_VIRTUAL_TIME = 1e9
MAX_SEED = 2**63 - 1  # as run.seed


def _load_lazy(name: str) -> click.Command:
    import importlib

    module, attr = _LAZY_COMMANDS[name]
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(_load_lazy(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        # Everything byzlab raises on purpose says what went wrong in its message: show it
        # on stderr without a traceback and exit with the status it names (byzlab.errors).
        try:
            return super().invoke(ctx)
        except ByzlabError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="byzlab")
def main() -> None:
    """byzlab: spin up nodes, inject Byzantine strategies, measure latency to agreement.

    The Huang-Pettie-Zhu optimal-resilience agreement protocol runs as pure state machines,
    in a deterministic simulator (`byzlab sim`) and on real processes.
    """


class _PluginName(click.ParamType):  # type: ignore[type-arg]
    """A strategy's or scheduler's name: built in, an installed plugin's entry point, or a
    ``"package.module:Name"`` reference (``byzlab.plugins``); a plugin that cannot be
    imported is refused in one line."""

    def __init__(self, kind: str, builtins: Collection[str], extra: Sequence[str] = ()) -> None:
        self.kind = kind
        self.choices = [*extra, *sorted(builtins)]
        self.name = kind

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(self.choices) + "|PLUGIN]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from byzlab import plugins
        from byzlab.adversary.schedulers import scheduler_class
        from byzlab.adversary.strategies import strategy_class

        name = str(value)
        if name in self.choices:
            return name
        if not plugins.is_known(self.kind, name):
            self.fail(
                f"{name!r} is not one of {', '.join(map(repr, self.choices))}, an installed "
                f'{self.kind} plugin or a "package.module:Name" reference',
                param,
                ctx,
            )
        try:
            (strategy_class if self.kind == "strategy" else scheduler_class)(name)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return name


# `byzlab sim` options whose flag is not their parameter's name
_FLAGS = {
    "--params-kv": "--param",
    "--scheduler-kv": "--scheduler-option",
    "--strategy-kv": "--strategy-option",
    "--protocol-kv": "--protocol-option",
}


def _byzantine_ids(spec: str | None, n: int, f: int) -> list[int]:
    if spec is None:
        return list(range(n - f, n))
    try:
        ids = sorted({int(x) for x in spec.split(",") if x.strip()})
    except ValueError:
        _fail(f"--byzantine-nodes: expected comma-separated node ids, got {spec!r}")
    bad = [i for i in ids if not 0 <= i < n]
    if bad:
        _fail(f"--byzantine-nodes: node ids {bad} out of range 0..{n - 1}")
    if len(ids) > f:
        _fail(f"--byzantine-nodes: {len(ids)} Byzantine nodes exceed f={f}")
    return ids


@main.command()
@click.option("--n", "n", type=int, default=4, show_default=True, help="Number of nodes.")
@click.option(
    "--f",
    "f",
    type=int,
    default=None,
    help="Fault bound f < n/3 (default: the largest the protocol tolerates, "
    "floor((n-1)/3), or floor((n-1)/5) for ben-or).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Run seed: the same seed replays the same run (same trace hash).",
)
@inputs_option
@click.option(
    "--protocol",
    default="hpz",
    show_default=True,
    help="hpz (HPZ weighted coin), bracha-local (private coins), ideal-coin, an installed "
    'protocol plugin (`byzlab strategies` lists them) or a "package.module:Name" reference.',
)
@click.option(
    "--protocol-option",
    "protocol_kv",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of a plugin --protocol (a field of its Options model), VALUE a TOML "
    "value, e.g. --protocol-option window=16.",
)
@click.option(
    "--byzantine",
    type=_PluginName("strategy", STRATEGIES, extra=["none"]),
    default="none",
    show_default=True,
    help="Strategy of the corrupted nodes: a name of `byzlab strategies` (built in or an "
    'installed plugin) or a plugin\'s "package.module:Name".',
)
@click.option(
    "--byzantine-nodes",
    default=None,
    help="Comma-separated ids of corrupted nodes (default: the last f).",
)
@click.option(
    "--scheduler",
    type=_PluginName("scheduler", SCHEDULERS),
    default="random",
    show_default=True,
    help="The adversary's delivery scheduler: built in, an installed plugin or a plugin's "
    '"package.module:Name".',
)
@click.option(
    "--scheduler-option",
    "scheduler_kv",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the scheduler, VALUE a TOML value (a number, a string, a list), "
    "e.g. --scheduler-option 'held=[0]' (see `byzlab strategies`).",
)
@click.option(
    "--strategy-option",
    "strategy_kv",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the --byzantine strategy, VALUE a TOML value, e.g. "
    "--strategy-option at_time=3.",
)
@click.option(
    "--preset",
    type=click.Choice(["practical", "theory", "proof"]),
    default="practical",
    show_default=True,
    help="Parameter preset: small (practical), HPZ Theorem 15 shapes with constants 1 "
    "(theory), or the smallest m, T for which Lemmas 5(2) and 12 hold (proof; "
    "n = 4..6 with f = 1 only).",
)
@click.option(
    "--param",
    "params_kv",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a protocol parameter, e.g. --param m=16 --param T=4.",
)
@click.option(
    "--max-time",
    type=float,
    default=None,
    help="Stop after this much virtual time (units of delta; default 1e7).",
)
@click.option(
    "--max-deliveries",
    type=int,
    default=DEFAULT_MAX_DELIVERIES,
    show_default=True,
    help="Stop after this many message deliveries (the run then says so).",
)
@click.option(
    "--timeout-s",
    type=float,
    default=None,
    help=f"Wall-clock budget in seconds (default: the scenario's run.timeout_s if it "
    f"sets one, else {DEFAULT_SIM_TIMEOUT_S:g}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--scenario",
    "scenario_file",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read n, f, seed, protocol, inputs, parameters, scheduler and Byzantine "
    "nodes from a TOML scenario file (the one `byzlab run` takes). Only "
    "--seed, --max-time, --max-deliveries, --timeout-s and --json may be "
    "combined with it.",
)
@click.option(
    "--engine",
    type=click.Choice(["python", "native"]),
    default=None,
    help="The simulator engine (default: native where it is built and supports the run, "
    "else python; asked for by name, native says why it is not used). docs/native.md",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the run directory DIR (a new directory), as `byzlab run --backend sim` "
    "does: scenario.toml, summary.json, nodes.csv, trace.json and messages.parquet "
    "(docs/messages.md); `byzlab trace DIR` shows it.",
)
@click.option(
    "--messages",
    type=click.Choice(MESSAGES_SETTINGS),
    default=None,
    help="Record the message trace (messages.parquet) with --out: auto (the default, or "
    "the scenario's run.messages) records runs of up to 16 nodes; a run that records "
    "runs on the Python engine.",
)
@click.pass_context
def sim(
    ctx: click.Context,
    n: int,
    f: int | None,
    seed: int,
    inputs: str,
    protocol: str,
    protocol_kv: tuple[str, ...],
    byzantine: str,
    byzantine_nodes: str | None,
    scheduler: str,
    scheduler_kv: tuple[str, ...],
    strategy_kv: tuple[str, ...],
    preset: str,
    params_kv: tuple[str, ...],
    max_time: float | None,
    max_deliveries: int,
    timeout_s: float | None,
    as_json: bool,
    scenario_file: Path | None,
    engine: str | None,
    out_dir: Path | None,
    messages: str | None,
) -> None:
    """Run one agreement instance in the deterministic simulator.

    A run stopped by a limit (--max-time, --max-deliveries, --timeout-s) says which one.
    The output names the inequalities of HPZ's proofs that the parameters break ("outside
    HPZ's proven regime: ..."; in --json: params.regime.outside_regime).

    Example: byzlab sim --n 7 --seed 3 --byzantine equivocate --scheduler random --json
    """
    from byzlab import plugins
    from byzlab.adversary.applies import refusal
    from byzlab.adversary.assemble import assemble_simulator
    from byzlab.adversary.engine import run_simulator
    from byzlab.adversary.schedulers import scheduler_class
    from byzlab.adversary.strategies import strategy_class
    from byzlab.orchestration.scenario import ByzantineEntry
    from byzlab.orchestration.scenario.build import scheduler_factory, strategy_factory
    from byzlab.orchestration.scenario.checks import (
        protocol_option_problems,
        scheduler_option_problems,
        strategy_option_problems,
    )
    from byzlab.seeds import make_inputs

    _check_run_limits(seed, max_time, max_deliveries, timeout_s)
    if messages is not None and out_dir is None:
        _fail("--messages needs --out DIR: without it byzlab sim writes no files")
    if out_dir is not None and out_dir.exists():
        _fail(f"--out: {out_dir} already exists (a run directory must be new)")

    if scenario_file is not None:
        from byzlab.orchestration.scenario import build_simulator, load_scenario

        clashing = [
            f"--{name.replace('_', '-')}"
            for name in (
                "n",
                "f",
                "inputs",
                "protocol",
                "protocol_kv",
                "byzantine",
                "byzantine_nodes",
                "scheduler",
                "scheduler_kv",
                "strategy_kv",
                "preset",
                "params_kv",
            )
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]
        if clashing:
            raise click.UsageError(
                f"{', '.join(_FLAGS.get(c, c) for c in clashing)} cannot be combined "
                "with --scenario; set it in the scenario file"
            )
        explicit_seed = ctx.get_parameter_source("seed") is not click.core.ParameterSource.DEFAULT
        # a ScenarioError is printed as one line, exit status 2 (byzlab.errors)
        scn = load_scenario(scenario_file).with_seed(seed if explicit_seed else None)
        if scn.multi_instance:
            click.echo(
                f"Error: {scenario_file}: a [committee]/[sortition] scenario is a "
                "sequence of agreement instances on a pool of nodes; run it with "
                f"`byzlab run {scenario_file} --backend sim` (or local, docker)",
                err=True,
            )
            sys.exit(2)
        if timeout_s is None and "timeout_s" in scn.run.model_fields_set:
            timeout_s = scn.run.timeout_s
        simulator = build_simulator(scn, max_time=max_time)
        params, n, seed = simulator.params, scn.n, scn.seed
        protocol, scheduler = scn.run.protocol, scn.adversary.scheduler
    else:
        try:
            plugins.protocol(protocol)  # the name first: an unknown one is not an option problem
        except plugins.PluginError as exc:
            _fail(f"--protocol: {exc}")
        protocol_options = _plugin_options(protocol_kv, "--protocol-option")
        for problem in protocol_option_problems(protocol, protocol_options, "--protocol-option "):
            _fail(problem)
        proto = plugins.protocol(protocol, protocol_options)
        try:
            overrides = parse_param_overrides(params_kv)
            # by default as many faults as the protocol tolerates (Ben-Or's fewer than n/3)
            f_value = f if f is not None else max(1, max_faults(proto, n))
            if preset == "theory":
                params = Params.theory(n, f_value, **overrides)
            elif preset == "proof":
                params = Params.proof(n, f_value, **overrides)
            else:
                params = Params.practical(n, f_value, **overrides)
        except (ParamsError, TypeError) as exc:
            _fail(str(exc))
        if byzantine == "none" and (byzantine_nodes is not None or strategy_kv):
            _fail(
                f"{'--byzantine-nodes' if byzantine_nodes is not None else '--strategy-option'}"
                " needs --byzantine STRATEGY (which strategy the corrupted nodes follow)"
            )
        ids = [] if byzantine == "none" else _byzantine_ids(byzantine_nodes, n, params.f)
        scheduler_options = _plugin_options(scheduler_kv, "--scheduler-option")
        strategy_options = _plugin_options(strategy_kv, "--strategy-option")
        problems = scheduler_option_problems(
            scheduler, scheduler_options, n, params.f, "--scheduler-option "
        )
        if ids:
            entry = ByzantineEntry(node=ids[0], strategy=byzantine, options=strategy_options)
            problems += [
                p.replace("--byzantine.options.", "--strategy-option ")
                for p in strategy_option_problems(entry, "--byzantine")
            ]
        problems += [
            p
            for p in (
                fault_refusal("--f", proto, n, params.f),
                refusal("--scheduler", scheduler, scheduler_class(scheduler), proto),
                ids and refusal("--byzantine", byzantine, strategy_class(byzantine), proto),
            )
            if p
        ]
        if problems:
            _fail(problems[0])
        # each refusal while the run is built names what caused it: the scheduler's or the
        # strategy's constructor (their flags), else the protocol building its nodes
        scheduler_flag = "--scheduler-option" if scheduler_options else f"--scheduler {scheduler}"
        strategy_flag = "--strategy-option" if strategy_options else f"--byzantine {byzantine}"
        try:
            simulator = assemble_simulator(
                params,
                protocol=proto,
                inputs=make_inputs(inputs, n, seed),
                seed=seed,
                scheduler=_blamed(scheduler_flag, scheduler_factory, scheduler, scheduler_options),
                byzantine={
                    i: _blamed(strategy_flag, strategy_factory, byzantine, strategy_options)
                    for i in ids
                },
                max_time=max_time,
            )
        except _Refused as exc:
            _fail(str(exc))
        except (TypeError, ValueError) as exc:
            _fail(f"--protocol {protocol} (n={n}, f={params.f}): {exc}")
    if out_dir is not None:
        if scenario_file is None:
            scn = _flags_scenario(
                run={
                    "n": n,
                    "seed": seed,
                    "protocol": protocol,
                    "preset": preset,
                    "inputs": inputs,
                    **({"f": f} if f is not None else {}),
                    **({"protocol_options": protocol_options} if protocol_options else {}),
                },
                params=overrides,
                adversary={
                    "scheduler": scheduler,
                    "scheduler_options": scheduler_options,
                    "byzantine": [
                        {"node": i, "strategy": byzantine, "options": strategy_options} for i in ids
                    ],
                },
            )
        _sim_out(
            scn,
            out_dir,
            engine=engine or "auto",
            messages=messages,
            max_time=max_time,
            max_deliveries=max_deliveries,
            timeout_s=DEFAULT_SIM_TIMEOUT_S if timeout_s is None else timeout_s,
            as_json=as_json,
        )
    simulator.max_deliveries = max_deliveries
    simulator.timeout_s = DEFAULT_SIM_TIMEOUT_S if timeout_s is None else timeout_s
    started = time.perf_counter()
    result = run_simulator(simulator, engine or "native", explain=engine is not None)
    wall = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps(result.summary(), sort_keys=True))
        return
    console = Console()
    _print_summary(
        console,
        result.summary(),
        title=f"byzlab sim: {protocol}, n={n}, f={params.f}, seed={seed}",
        last=[
            (
                "wall time",
                f"{wall:.2f} s ({result.deliveries / max(wall, 1e-9):,.0f} deliveries/s)",
            )
        ],
    )
    if result.stopped in ("max-deliveries", "timeout", "max-time"):
        console.print(f"stopped: {result.stopped_detail}", highlight=False, markup=False)
    if not result.agreed:
        sys.exit(1)


def _flags_scenario(**tables: dict[str, Any]) -> Scenario:
    """The scenario `byzlab sim`'s flags describe (already checked flag by flag)."""
    from byzlab.orchestration.scenario import parse_scenario

    return parse_scenario(tables, source="byzlab sim's flags")


def _sim_out(
    scn: Scenario,
    out_dir: Path,
    *,
    engine: str,
    messages: str | None,
    max_time: float | None,
    max_deliveries: int,
    timeout_s: float,
    as_json: bool,
) -> NoReturn:
    """`byzlab sim --out DIR`: the run as `byzlab run --backend sim` makes it (the sim
    backend writes the directory), then its summary; the exit status is `byzlab run`'s."""
    from byzlab.orchestration.backend import execute
    from byzlab.orchestration.simrun import SimRun

    out_dir = out_dir.resolve()
    run = SimRun(
        scn,
        out_root=out_dir.parent,
        run_id=out_dir.name,
        max_time=max_time,
        timeout_s=timeout_s,
        max_deliveries=max_deliveries,
        messages=messages,
        engine=engine,
    )
    outcome = execute(run, None)
    s = outcome.summary
    if "agreed" not in s:  # interrupted before there was anything to summarise
        click.echo(f"interrupted: {outcome.out_dir} is incomplete", err=True)
    elif as_json:
        click.echo(json.dumps(s, sort_keys=True))
    else:
        _print_summary(
            Console(),
            s,
            title=f"byzlab sim: {s['protocol']}, n={scn.n}, f={scn.f}, seed={s['seed']}",
            last=[("engine", str(s["engine"])), ("results", str(outcome.out_dir))],
        )
    sys.exit(outcome.exit_code)


_Built = TypeVar("_Built")


class _Refused(Exception):
    """A `byzlab sim` argument refused while the run is built; the message names its flag."""


def _blamed(
    flag: str,
    make: Callable[[str, dict[str, Any]], Callable[..., _Built]],
    name: str,
    options: dict[str, Any],
) -> Callable[..., _Built]:
    """``make(name, options)``, a scheduler's or strategy's factory, whose refusals (a
    TypeError or ValueError, at once or when the assembler calls it) become `_Refused`
    naming ``flag``. A ParamsError is the protocol's (a strategy builds an honest node of
    it) and passes through."""
    try:
        factory = make(name, options)
    except (TypeError, ValueError) as exc:
        raise _Refused(f"{flag}: {exc}") from None

    def build(*args: Any) -> _Built:
        try:
            return factory(*args)
        except ParamsError:
            raise
        except (TypeError, ValueError) as exc:
            raise _Refused(f"{flag}: {exc}") from None

    return build


def _plugin_options(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs, each VALUE read as a TOML value (a bare word as a string)."""
    import tomllib

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            _fail(f"{flag}: expected KEY=VALUE, got {pair!r}")
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw
    return out


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2, like an invalid scenario."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _check_run_limits(
    seed: int, max_time: float | None, max_deliveries: int, timeout_s: float | None
) -> None:
    if not 0 <= seed <= MAX_SEED:
        _fail(f"--seed must be in 0..{MAX_SEED}, got {seed}")
    if max_time is not None and not (math.isfinite(max_time) and 0 < max_time <= MAX_VIRTUAL_TIME):
        _fail(
            f"--max-time must be a finite number in (0, {MAX_VIRTUAL_TIME:g}] (units of "
            f"delta), got {max_time!r}"
        )
    if not 1 <= max_deliveries <= MAX_DELIVERIES_LIMIT:
        _fail(f"--max-deliveries must be in 1..{MAX_DELIVERIES_LIMIT}, got {max_deliveries}")
    if timeout_s is not None and not (math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S):
        _fail(
            f"--timeout-s must be a finite number in (0, {MAX_TIMEOUT_S:g}] seconds, "
            f"got {timeout_s!r}"
        )


@main.command()
@click.argument(
    "scenario_file",
    metavar="[SCENARIO.toml]",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--backend",
    type=click.Choice(["local", "docker", "swarm", "sim"]),
    default="local",
    show_default=True,
    help="Where it runs: local = one process per node on 127.0.0.1; docker = one "
    "container per node on a private bridge network (needs a Docker engine and "
    "`byzlab image build`); swarm = one service per node on a Docker swarm's hosts "
    "(the image loaded on each; docs/multihost.md); sim = the deterministic simulator. "
    "Every backend writes the same results layout.",
)
@click.option(
    "--docker-host",
    metavar="URL",
    default=None,
    help="The swarm manager's engine for --backend swarm (default: DOCKER_HOST, else the "
    "local engine), e.g. tcp://10.0.0.1:2375 or unix:///run/manager.sock.",
)
@click.option(
    "--out",
    "out_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Results go to OUT/<run-id>/.",
)
@click.option("--seed", type=int, default=None, help="Override the scenario's seed (run.seed).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print summary.json on stdout instead of a table."
)
@click.option(
    "--force",
    is_flag=True,
    help="Run even if the estimated memory (n node processes plus the proxy) "
    "exceeds what this machine, or the Docker engine, has available.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535 - MAX_N - 1),
    default=None,
    help="Serve live metrics (Prometheus format, /metrics): the proxy on this port, node i "
    "on PORT+1+i; overrides the scenario's [metrics] port. See docs/metrics.md.",
)
def run(
    scenario_file: Path | None,
    backend: str,
    docker_host: str | None,
    out_root: Path,
    seed: int | None,
    as_json: bool,
    force: bool,
    metrics_port: int | None,
) -> None:
    """Run a scenario on a backend: N nodes over TCP through the adversary proxy (local,
    docker), or the simulator (sim).

    Without a file: the scenario defaults (n=4, f=1, HPZ, split inputs, random scheduler,
    delta_s = 0.005) with node 3 equivocating; a file that sets no [[adversary.byzantine]]
    runs every node honest, as it says in one line. Every backend writes
    OUT/<run-id>/scenario.toml, nodes.csv and summary.json (the keys of `byzlab sim --json`
    plus latency_s, decision_times, git_commit, backend, run_id, wall_time_s); real runs
    add traces/ and proxy-stats.json, the simulator trace.json. Exit status 0 iff the honest nodes
    agreed on a valid value; 2 for an invalid scenario, or for a run that does not fit
    in memory (refused before anything starts; --force overrides); 4 if a results file
    cannot be written (one line with the path and errno; the run directory keeps
    INCOMPLETE.json).

    A scenario with [committee] or [sortition] runs one agreement instance after another
    on a pool of nodes (any backend): OUT/<run-id>/ gets instances.csv/json, players.csv,
    instances/<t>/ (each the layout of a single run) and summary.json. Exit status 3 if
    in some instance the adversary drew more seats than f (>= k/3): that instance is
    outside the fault model and not run.

    Example: byzlab run my-scenario.toml --seed 3 --out results
    """
    from byzlab.orchestration.dispatch import run_scenario
    from byzlab.orchestration.scenario import default_difference, default_scenario, load_scenario

    scn = load_scenario(scenario_file) if scenario_file else default_scenario()
    scn = scn.with_seed(seed).with_metrics_port(metrics_port)
    if scn.multi_instance:
        from byzlab.orchestration.instances import run_command

        sys.exit(run_command(scn, backend=backend, out_root=out_root, as_json=as_json))
    if backend != "docker" and scn.docker.faults:
        _fail("docker.faults: container faults need --backend docker")
    # what the run ran on, said once it ran: a run refused before it starts keeps its one line
    note = default_difference(scn) if scenario_file else None
    console = Console(stderr=True)
    # The simulator's wall-clock budget as `byzlab sim --scenario` sets it.
    explicit = "timeout_s" in scn.run.model_fields_set
    with _RunProgress(console, scn.n - len(scn.adversary.byzantine)) as progress:
        outcome = run_scenario(
            scn,
            backend,
            out_root=out_root,
            on_status=progress.update if backend != "sim" else None,
            force=force,
            log=lambda line: console.print(line, highlight=False, soft_wrap=True),
            timeout_s=scn.run.timeout_s if explicit else DEFAULT_SIM_TIMEOUT_S,
            docker_host=docker_host,
        )
    s = outcome.summary
    if note:
        click.echo(note, err=True)
    if "agreed" not in s:  # interrupted before there was anything to summarise
        click.echo(f"interrupted: {outcome.out_dir} is incomplete", err=True)
        sys.exit(outcome.exit_code)
    if as_json:
        click.echo(json.dumps(s, sort_keys=True))
    else:
        _print_summary(
            Console(),
            s,
            title=f"byzlab run ({backend}): {s['protocol']}, n={scn.n}, f={scn.f}, "
            f"seed={s['seed']}",
            last=[("results", str(outcome.out_dir))],
        )
    if not outcome.ok:
        click.echo(f"FAILED: {outcome.line()}", err=True)
    sys.exit(outcome.exit_code)


def _print_summary(
    console: Console, s: dict[str, Any], *, title: str, last: Sequence[tuple[str, str]]
) -> None:
    """The one table of a run's summary (``byzlab sim`` and ``byzlab run``, every backend),
    then, for HPZ, the inequalities of its proofs the parameters break, if any (the
    parameters shape only HPZ's coin: other protocols never enter that regime)."""
    table = Table(title=title, show_header=False)
    verdict = "[green]yes[/green]" if s["agreed"] else f"[red]no[/red] ({s['stopped']})"
    lat_s, lat_d = s.get("latency_s"), s.get("latency_delta")
    if lat_s is not None:
        latency = f"{lat_s * 1e3:.1f} ms" + ("" if lat_d is None else f" ({lat_d:.1f} delta)")
    else:  # a run that did not agree has no latency (null in --json), never 0
        latency = "none (no agreement)" if lat_d is None else f"{lat_d:.2f} delta"
    rows = [
        ("agreed", verdict),
        *([("stopped", s["stopped_detail"])] if s.get("stopped_detail") else []),
        ("decision", str(s["decision"])),
        ("valid", str(s["valid"])),
        ("latency", latency),
        ("iterations / epochs", f"{s['iterations']} / {s['epochs']}"),
        ("coins unanimous / split", f"{s['coin_unanimous']} / {s['coin_split']}"),
        ("RBC instances", f"{s['rbc_instances']:,}"),
        ("messages / bytes", f"{s['messages']:,} / {s['bytes']:,}"),
        ("byzantine", ", ".join(f"{k}:{v}" for k, v in s["byzantine"].items()) or "none"),
        ("scheduler", str(s["scheduler"].get("name"))),
        ("rejected inputs", ", ".join(f"{k}={v}" for k, v in s["rejected"].items()) or "-"),
        ("trace hash", s["trace_hash"]),
        *last,
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    outside = (s.get("params") or {}).get("regime", {}).get("outside_regime")
    if outside and s.get("protocol") == "hpz":
        console.print(
            f"outside HPZ's proven regime: {'; '.join(outside)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


class _RunProgress:
    """Progress of a real run (connected, decided, halted honest nodes) on stderr: bars on
    a terminal, a line per change otherwise."""

    def __init__(self, console: Console, honest: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console
        self.honest = honest
        self.progress = Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=not console.is_terminal,
            transient=True,
        )
        self.bars = {
            name: self.progress.add_task(name, total=honest)
            for name in ("connected", "decided", "halted")
        }
        self.last: tuple[int, ...] | None = None
        self.peak_connected = 0

    def __enter__(self) -> _RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, status: dict[str, Any]) -> None:
        # Nodes disconnect once done, and a fast run can finish between two status
        # writes: a node that decided was connected, so show the most ever known.
        self.peak_connected = max(
            self.peak_connected,
            *(int(status.get(k, 0)) for k in ("connected", "decided", "halted")),
        )
        counts = (self.peak_connected, int(status.get("decided", 0)), int(status.get("halted", 0)))
        for name, value in zip(("connected", "decided", "halted"), counts, strict=True):
            self.progress.update(self.bars[name], completed=value)
        if not self.console.is_terminal and self.last != counts:
            h = self.honest
            self.console.print(
                f"connected {counts[0]}/{h}  decided {counts[1]}/{h}  halted {counts[2]}/{h}",
                highlight=False,
            )
        self.last = counts


@main.command()
@click.option(
    "--config",
    "config",
    required=True,
    metavar="node.json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The node's config file.",
)
def node(config: Path) -> None:
    """Run one honest node over TCP through the adversary proxy (used by `byzlab run`)."""
    from byzlab.network.tcp.main import run_node

    sys.exit(run_node(config))


@main.command()
@click.option(
    "--config",
    "config",
    required=True,
    metavar="proxy.json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The proxy's config file.",
)
def proxy(config: Path) -> None:
    """Run the adversary proxy: relay and schedule frames, run the Byzantine nodes."""
    from byzlab.adversary.proxy.main import run_proxy

    sys.exit(run_proxy(config))


@main.command()
def strategies() -> None:
    """List the Byzantine strategies, schedulers and protocols, one line each: the built-in
    ones, then the installed plugins (entry points of byzlab.strategies, byzlab.schedulers
    and byzlab.protocols), each marked with the distribution it comes from."""
    console = Console()
    listings: list[tuple[str, str, dict[str, Any]]] = [
        ("Byzantine strategies", "strategy", dict(STRATEGIES)),
        ("Schedulers", "scheduler", dict(SCHEDULERS)),
        ("Protocols", "protocol", dict(BUILTIN_PROTOCOLS)),
    ]
    for title, kind, builtins in listings:
        table = Table(title=title)
        table.add_column("name")
        table.add_column("from")
        table.add_column("what it does")
        for name, obj in sorted(builtins.items()):
            table.add_row(name, "built in", _description(obj))
        for name, source, description in _installed_plugins(kind, builtins):
            table.add_row(name, source, description)
        console.print(table)


def _description(obj: object) -> str:
    """What a strategy, scheduler or protocol says it does: its ``description``, else the
    first line of its docstring."""
    text = getattr(obj, "description", "") or (
        type(obj).__doc__ if not isinstance(obj, type) else obj.__doc__
    )
    return str(text or "").strip().split("\n")[0]


def _installed_plugins(kind: str, builtins: Collection[str]) -> list[tuple[str, str, str]]:
    """(name, "plugin: distribution version", description) of each installed plugin of
    `kind`; one that does not import says why instead of a description, and one whose
    name a built-in takes says it is shadowed."""
    from byzlab import plugins

    rows = []
    for ep in plugins.installed(kind):
        source = f"plugin: {ep.distribution or '?'} {ep.version or ''}".rstrip()
        if ep.name in builtins:
            rows.append((ep.name, source, f"(shadowed by the built-in {kind} of that name)"))
            continue
        try:
            description = _description(plugins.resolve(kind, ep.name))
        except plugins.PluginError as exc:
            description = f"(does not load: {exc})"
        rows.append((ep.name, source, description or ep.value))
    return rows
