"""Sweeps: a grid of scenarios, run in parallel (simulator) or in turn (real backends).

Theory of operation
-------------------
A sweep file is a scenario file (scenario.py) with one more table, ``[sweep]``, whose keys
are scenario fields written as dotted paths and whose values are lists::

    [run]
    inputs = "split"
    [sweep]
    "run.n" = [4, 7, 10]                   # quoted or not: run.n = [...] nests the same way
    "run.protocol" = ["hpz", "bracha-local"]
    "adversary.scheduler" = ["random", "split-vote"]
    "adversary.strategy" = ["equivocate", "crash", "none"]
    seeds = [0, 1, 2]

The runs are the cartesian product of the lists, seeds innermost; the other tables fix
everything else. Any field of [run], [params] and [adversary] can be swept, and keys of the
open tables ``adversary.scheduler_options`` and ``run.protocol_options`` too. Two keys are
not fields:

* ``adversary.strategy``: every corrupted node runs this strategy ("none": no corrupted
  nodes). Without ``adversary.corrupted`` the last f nodes are corrupted (as in ``byzlab
  sim --byzantine``); it replaces any [[adversary.byzantine]] entries of the file.
* ``adversary.corrupted``: how many nodes (the last ones) the strategy corrupts, <= f.

``seeds`` replaces ``run.seed`` (which cannot be swept by name).

Validation is field by field and happens before anything runs (``load_sweep``); each problem
is one line naming the field, in the same words as scenario files:

* the key is not a field: ``sweep.run.nn: unknown field; did you mean run.n?``;
* the value is not a list, or an empty one, or repeats a value;
* a value is invalid for its field: the value alone is validated by the scenario model and
  the path of pydantic's error is rewritten, ``sweep.adversary.scheduler[1]: 'fast' is not
  one of ...``;
* a combination is invalid (f >= n/3 at some n, say): every combination of the non-seed
  axes is validated in full with ``parse_scenario``, and a problem in a swept field is
  reported at that field's value, with the rest of the combination after it.

Running (``run_sweep``): every point becomes a run with a *deterministic* id,
``<backend>-<protocol>-n<n>-f<f>-<scheduler>-<strategy>-s<seed>-<hash>``, where the hash
covers the backend, the fully resolved scenario (``Scenario.to_toml``) and the simulator's
time limit. A rerun of the same file computes the same ids, finds their rows in the store
(store.py) and skips them, so a sweep resumes after Ctrl-C or a crash, and a sweep file that
grows only runs what is new. The store's journal is the only record of "done": per-run
files are written first, each atomically, and the row is appended last and fsync'ed.

Simulator runs are independent and deterministic given their scenario, so they go to the
cluster executor (cluster.py): a Dask ``LocalCluster`` of ``jobs`` worker processes (default
every core), a running Dask cluster given by ``cluster`` (``tcp://HOST:PORT``), or this process
alone for ``jobs`` = 1. They may finish in any order; each worker writes its run's files and
returns the row, and only the parent appends rows, so the trace hash of a run id is the same
whichever worker ran it. A run whose worker died (killed, out of memory) is recorded in
``failed``, not waited for. On Ctrl-C the parent cancels what has not finished, closes the
cluster (a LocalCluster's workers with it) and leaves every finished row in place. Real
backends (``local``, ``docker``) run in turn in this process, because each one already uses
the machine's cores and its timing is what it measures; an error other than ``RunFailed``
there (no Docker engine, say) stops the sweep. Every backend runs a point through the one
dispatch (``dispatch.run_scenario``) and writes its results layout (``backend.RESULT_FILES``)
in the store's run directory.

Every run records its full resolved scenario (``scenario.toml`` and the ``scenario``
column), its seed, the swept values (``point``), the byzlab version and the git commit.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import os
import shutil
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from byzlab import __version__
from byzlab.atomicio import atomic_write_json, atomic_write_text
from byzlab.errors import RunFailed, SweepError
from byzlab.orchestration.cluster import Executor, cluster_executor
from byzlab.orchestration.dispatch import BACKENDS, run_scenario
from byzlab.orchestration.results import git_commit, mark_complete
from byzlab.orchestration.scenario import (
    ByzantineEntry,
    RunSection,
    Scenario,
    ScenarioError,
    build_params,
    format_validation_error,
    parse_scenario,
)
from byzlab.orchestration.scenario.loading import read_toml
from byzlab.orchestration.store import Store

__all__ = [
    "CORRUPTED_KEY",
    "SEEDS_KEY",
    "STRATEGY_KEY",
    "RunTask",
    "Sweep",
    "SweepError",
    "SweepOutcome",
    "SweepPoint",
    "execute_task",
    "load_sweep",
    "parse_sweep",
    "row_from_summary",
    "run_id_for",
    "run_sweep",
    "strategy_label",
    "sweepable_paths",
]

SEEDS_KEY = "seeds"
STRATEGY_KEY = "adversary.strategy"
CORRUPTED_KEY = "adversary.corrupted"
NO_STRATEGY = "none"
MAX_POINTS = 100_000
MAX_PROBLEMS = 25
SWEEP_FILE = "sweep.toml"
SWEEPS_DIR = "sweeps"


def _sections() -> dict[str, type[BaseModel]]:
    """The scenario's tables ([run], [params], [adversary], ...), from the model itself."""
    out: dict[str, type[BaseModel]] = {}
    for name, info in Scenario.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out[name] = info.annotation
    return out


# fields whose value is a table of free-form keys: one more path component may follow
_OPEN_TABLES = ("adversary.scheduler_options", "run.protocol_options")
_TOML_WORDS = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "table",
    list: "list",
}


# --------------------------------------------------------------------------- field paths


def sweepable_paths() -> list[str]:
    """Every key a [sweep] table may have (open tables accept any key below them)."""
    paths = [
        f"{section}.{name}"
        for section, model in _sections().items()
        for name in model.model_fields
        if f"{section}.{name}" != "run.seed"
    ]
    return sorted([*paths, STRATEGY_KEY, CORRUPTED_KEY, SEEDS_KEY])


def _is_open_subpath(path: str) -> bool:
    return any(path.startswith(t + ".") and "." not in path[len(t) + 1 :] for t in _OPEN_TABLES)


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    """Nested TOML tables (``run.n = [...]`` unquoted) become dotted keys."""
    known = set(sweepable_paths())
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        leaf = (path in known and path not in _OPEN_TABLES) or _is_open_subpath(path)
        if isinstance(value, dict) and not leaf:
            _flatten(value, path, out)
        else:
            out[path] = value  # a table at a leaf is reported as "not a list"


def _key_problem(path: str) -> str | None:
    if path == "run.seed":
        return "sweep.run.seed: sweep seeds with the `seeds` key, e.g. seeds = [0, 1, 2]"
    known = sweepable_paths()
    if path in known or _is_open_subpath(path):
        return None
    close = difflib.get_close_matches(path, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"sweep.{path}: unknown field; {hint}expected one of: {', '.join(known)}"


# --------------------------------------------------------------------------- one value


class _Count(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    corrupted: int = Field(ge=0)


def _set(data: dict[str, Any], path: str, value: object) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _rewrite(lines: Sequence[str], field_path: str, where: str) -> list[str]:
    """Move pydantic's "field_path...: msg" lines under the sweep path ``where``."""
    out = []
    for line in lines:
        path, _, msg = line.partition(": ")
        if path == field_path or path.startswith((field_path + ".", field_path + "[")):
            out.append(f"{where}{path[len(field_path) :]}: {msg}")
        else:
            out.append(f"{where}: {path}: {msg}")
    return out


def _value_problems(path: str, k: int, value: object) -> list[str]:
    where = f"sweep.{path}[{k}]"
    try:
        if path == SEEDS_KEY:
            Scenario.model_validate({"run": {"seed": value}})
        elif path == STRATEGY_KEY:
            if value == NO_STRATEGY:
                return []
            ByzantineEntry.model_validate({"node": 0, "strategy": value})
        elif path == CORRUPTED_KEY:
            _Count.model_validate({"corrupted": value})
        else:
            data: dict[str, Any] = {}
            _set(data, path, value)
            Scenario.model_validate(data)
    except ValidationError as exc:
        if path == SEEDS_KEY:
            return _rewrite(format_validation_error(exc, Scenario), "run.seed", where)
        if path == STRATEGY_KEY:
            lines = format_validation_error(exc, ByzantineEntry)
            if value != NO_STRATEGY and isinstance(value, str):
                lines = [
                    line.replace("is not one of ", "is not one of none, ", 1) for line in lines
                ]
            return _rewrite(lines, "strategy", where)
        if path == CORRUPTED_KEY:
            return _rewrite(format_validation_error(exc, _Count), "corrupted", where)
        return _rewrite(format_validation_error(exc, Scenario), path, where)
    return []


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: the swept values (``seed`` last) and the resolved scenario."""

    assignments: tuple[tuple[str, Any], ...]
    scenario: Scenario

    def label(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.assignments) or "(no sweep)"

    def point_json(self) -> str:
        return json.dumps(dict(self.assignments), sort_keys=True, default=str)


@dataclass(frozen=True)
class Sweep:
    points: tuple[SweepPoint, ...]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    text: str = ""
    source: str | None = None


def _strategy_nodes(
    raw: dict[str, Any], strategy: str, count: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The [[adversary.byzantine]] entries for "every corrupted node runs ``strategy``"."""
    try:
        run = RunSection.model_validate(raw.get("run") or {})
    except ValidationError:
        return [], None  # the point's own validation reports the [run] problem
    k = run.f_value if count is None else count
    if count is not None and count > run.f_value:
        return [], f"{count} corrupted nodes exceed f={run.f_value} (n={run.n})"
    if strategy == NO_STRATEGY or k == 0:
        return [], None
    return [{"node": i, "strategy": strategy} for i in range(run.n - k, run.n)], None


def _point_problems(problems: Sequence[str], assigned: Sequence[tuple[str, int, Any]]) -> list[str]:
    """Name a swept field's value when a combination fails in that field."""
    out = []
    for line in problems:
        path, _, msg = line.partition(": ")
        hit = next(
            ((p, k) for p, k, _ in assigned if path == p or path.startswith((p + ".", p + "["))),
            None,
        )
        if hit is None and path.startswith("adversary.byzantine"):
            hit = next(((p, k) for p, k, _ in assigned if p in (STRATEGY_KEY, CORRUPTED_KEY)), None)
            if hit is not None:
                msg = f"{path}: {msg}"
                path = hit[0]
        others = ", ".join(f"{p}={v!r}" for p, _, v in assigned if hit is None or p != hit[0])
        context = f" (with {others})" if others else ""
        if hit is not None:
            p, k = hit
            out.append(f"sweep.{p}[{k}]{path[len(p) :]}: {msg}{context}")
        else:
            out.append(f"{path}: {msg}{context}")
    return out


def parse_sweep(data: Mapping[str, Any], *, source: str | None = None, text: str = "") -> Sweep:
    """Validate a parsed sweep file and expand it into its points (see the module docs)."""
    base = {k: copy.deepcopy(v) for k, v in data.items() if k != "sweep"}
    table = data.get("sweep", {})
    problems: list[str] = []
    if not isinstance(table, dict):
        raise SweepError(["sweep: expected a table of field = [values]"], source=source)
    flat: dict[str, Any] = {}
    _flatten(table, "", flat)
    axes: list[tuple[str, tuple[Any, ...]]] = []
    for path, values in flat.items():
        problem = _key_problem(path)
        if problem:
            problems.append(problem)
            continue
        if not isinstance(values, list):
            kind = _TOML_WORDS.get(type(values), type(values).__name__)
            problems.append(f"sweep.{path}: expected a list of values, got {kind} {values!r}")
            continue
        if not values:
            problems.append(f"sweep.{path}: the list is empty; give at least one value")
            continue
        for k, value in enumerate(values):
            problems += _value_problems(path, k, value)
            first = next(j for j, other in enumerate(values) if _same(other, value))
            if first != k:
                problems.append(f"sweep.{path}[{k}]: {value!r} repeats sweep.{path}[{first}]")
        axes.append((path, tuple(values)))
    swept = {p for p, _ in axes}
    if STRATEGY_KEY in swept and "adversary.byzantine" in swept:
        problems.append(
            f"sweep.{STRATEGY_KEY}: cannot be combined with sweep.adversary."
            "byzantine (both choose the corrupted nodes); sweep one of them"
        )
    if CORRUPTED_KEY in swept and STRATEGY_KEY not in swept:
        problems.append(
            f"sweep.{CORRUPTED_KEY}: needs sweep.{STRATEGY_KEY} (the strategy "
            "the corrupted nodes run)"
        )
    try:
        Scenario.model_validate(base)
    except ValidationError as exc:
        for line in format_validation_error(exc, Scenario):
            path = line.partition(": ")[0]
            if not any(path == p or path.startswith((p + ".", p + "[")) for p in swept):
                problems.append(line)
    for section in ("committee", "sortition"):
        if section in base:
            # Said up front rather than as an error row per run after the sweep started.
            problems.append(
                f"{section}: a sweep runs single agreement instances, and a [{section}] "
                "scenario is a sequence of them on a pool of nodes; run it with `byzlab run "
                "FILE --backend sim|local` (once per seed with --seed), or remove the "
                f"[{section}] table to sweep the agreement itself"
            )
    if problems:
        raise SweepError(problems, source=source)

    seeds: tuple[Any, ...] = (None,)
    grid = [(p, v) for p, v in axes if p != SEEDS_KEY]
    for p, v in axes:
        if p == SEEDS_KEY:
            seeds = v
    size = len(seeds)
    for _, values in grid:
        size *= len(values)
    if size > MAX_POINTS:
        raise SweepError(
            [f"sweep: {size:,} runs; at most {MAX_POINTS:,} per sweep file"], source=source
        )
    points: list[SweepPoint] = []
    for combo in itertools.product(*(range(len(v)) for _, v in grid)):
        assigned = [(p, k, v[k]) for (p, v), k in zip(grid, combo, strict=True)]
        by_path = {p: (k, value) for p, k, value in assigned}
        raw = copy.deepcopy(base)
        for p, _, value in assigned:
            if p not in (STRATEGY_KEY, CORRUPTED_KEY):
                _set(raw, p, value)
        if STRATEGY_KEY in by_path:
            count = by_path[CORRUPTED_KEY][1] if CORRUPTED_KEY in by_path else None
            nodes, problem = _strategy_nodes(raw, by_path[STRATEGY_KEY][1], count)
            if problem:
                problems += _point_problems([f"{CORRUPTED_KEY}: {problem}"], assigned)
                continue
            _set(raw, "adversary.byzantine", nodes)
        try:
            scn = parse_scenario(raw)
        except ScenarioError as exc:
            problems += _point_problems(exc.problems, assigned)
            continue
        for seed in seeds:
            pairs = tuple((p, v) for p, _, v in assigned)
            if seed is not None:
                pairs += (("seed", seed),)
            points.append(SweepPoint(pairs, scn.with_seed(seed)))
    if problems:
        unique = list(dict.fromkeys(problems))
        if len(unique) > MAX_PROBLEMS:
            unique = [*unique[:MAX_PROBLEMS], f"... and {len(unique) - MAX_PROBLEMS} more"]
        raise SweepError(unique, source=source)
    return Sweep(tuple(points), tuple(axes), text, source)


def load_sweep(path: Path) -> Sweep:
    """Read, validate and expand a sweep file; every problem is a ``SweepError``."""
    text, data = read_toml(path, SweepError)
    return parse_sweep(data, source=str(path), text=text)


# --------------------------------------------------------------------------- run ids, rows


def strategy_label(scn: Scenario) -> str:
    names = sorted({b.strategy for b in scn.adversary.byzantine})
    return "+".join(names) if names else NO_STRATEGY


def run_id_for(scn: Scenario, backend: str, max_time: float | None = None) -> str:
    identity = json.dumps(
        {
            "backend": backend,
            "scenario": scn.to_toml(),
            "max_time": max_time if backend == "sim" else None,
        },
        sort_keys=True,
    )
    digest = hashlib.blake2b(identity.encode(), digest_size=5).hexdigest()
    return (
        f"{backend}-{scn.run.protocol}-n{scn.n}-f{scn.f}-{scn.adversary.scheduler}-"
        f"{strategy_label(scn)}-s{scn.seed}-{digest}"
    )


def row_from_summary(
    summary: Mapping[str, Any] | None,
    *,
    scn: Scenario,
    run_id: str,
    backend: str,
    point: str,
    commit: str,
    wall_s: float,
    error: str | None = None,
    invariant1_ok: bool | None = None,
    version: str = __version__,
) -> dict[str, Any]:
    """A store row (store.SCHEMA) from a run's summary.json (None when the run raised)."""
    s = dict(summary or {})
    params = s.get("params") or build_params(scn).to_dict()
    inputs = scn.run.inputs
    agreed = s.get("agreed") if summary is not None else False
    latency = s.get("latency_delta")
    row: dict[str, Any] = {
        "run_id": run_id,
        "backend": backend,
        "protocol": scn.run.protocol,
        "preset": scn.run.preset,
        "n": scn.n,
        "f": scn.f,
        "strategy": strategy_label(scn),
        "corrupted": len(scn.adversary.byzantine),
        "scheduler": scn.adversary.scheduler,
        "inputs": inputs if isinstance(inputs, str) else json.dumps(list(inputs)),
        "seed": scn.seed,
        "delta_s": scn.adversary.delta_s if backend != "sim" else None,
        "agreed": agreed,
        "decision": s.get("decision"),
        "valid": s.get("valid"),
        "latency_delta": latency if agreed else None,
        "latency_s": s.get("latency_s") if agreed else None,
        "iterations": s.get("iterations"),
        "epochs": s.get("epochs"),
        "rbc_instances": s.get("rbc_instances"),
        "messages": s.get("messages"),
        "bytes": s.get("bytes"),
        "deliveries": s.get("deliveries"),
        "coin_unanimous": s.get("coin_unanimous"),
        "coin_split": s.get("coin_split"),
        "invariant1_ok": invariant1_ok,
        "stopped": s.get("stopped", "error" if error else None),
        "error": error,
        "trace_hash": s.get("trace_hash"),
        "byzlab_version": version,
        "git_commit": commit,
        "wall_s": wall_s,
        "finished_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "point": point,
        "scenario": scn.to_toml(),
    }
    for name in ("m", "T", "c", "m0", "xmax", "k_max", "beta", "w_min", "eps", "window"):
        row[name] = params.get(name)
    return row


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to do one run (picklable)."""

    run_id: str
    backend: str
    scenario_toml: str
    point: str
    run_dir: str
    max_time: float | None
    commit: str


def execute_task(task: RunTask) -> dict[str, Any]:
    """Run one point on its backend (``dispatch.run_scenario``), add the sweep's keys to its
    summary.json, and return its row. A simulator run that raises is data, not a failure (it
    is deterministic): its exception becomes the row's ``error`` and its summary.json says
    so. ``RunFailed`` propagates: on a real backend a process that could not start, anywhere a
    store this worker cannot see."""
    scn = parse_scenario(tomllib.loads(task.scenario_toml))
    run_dir = Path(task.run_dir)
    if not run_dir.parent.parent.is_dir():  # the store, which the parent has created
        raise RunFailed(
            f"the result store {run_dir.parent.parent} is not on this worker's filesystem; "
            "workers on other machines need it shared at the same path"
        )
    if run_dir.exists():  # what an unfinished attempt left: no row means the run was not done
        shutil.rmtree(run_dir)
    extra = {"byzlab_version": __version__, "point": json.loads(task.point)}
    started = time.perf_counter()
    try:
        outcome = run_scenario(
            scn, task.backend, out_root=run_dir.parent, run_id=task.run_id, max_time=task.max_time
        )
    except Exception as exc:  # an invariant violation or a bug: data, with its seed
        if task.backend != "sim":
            raise
        error = f"{type(exc).__name__}: {exc}"
        wall = time.perf_counter() - started
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "scenario.toml", task.scenario_toml)
        mark_complete(
            run_dir,
            {
                "run_id": task.run_id,
                "backend": task.backend,
                "error": error,
                "seed": scn.seed,
                "git_commit": task.commit,
                "wall_time_s": wall,
                "max_time": task.max_time,
                **extra,
            },
        )
        return row_from_summary(
            None,
            scn=scn,
            run_id=task.run_id,
            backend=task.backend,
            point=task.point,
            commit=task.commit,
            wall_s=wall,
            error=error,
        )
    if outcome.stopped == "interrupted":
        raise KeyboardInterrupt
    summary = {**outcome.summary, **extra}
    atomic_write_json(run_dir / "summary.json", summary)
    inv_ok = None
    if task.backend == "sim" and scn.run.protocol == "hpz":
        trace = json.loads((run_dir / "trace.json").read_text(encoding="utf-8"))
        inv_ok = not trace["invariant1"]
    return row_from_summary(
        summary,
        scn=scn,
        run_id=task.run_id,
        backend=task.backend,
        point=task.point,
        commit=str(summary.get("git_commit", task.commit)),
        wall_s=float(summary.get("wall_time_s") or 0.0),
        invariant1_ok=inv_ok,
    )


# --------------------------------------------------------------------------- running


@dataclass
class SweepOutcome:
    store: Store
    total: int
    skipped: int
    completed: list[dict[str, Any]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.completed if r.get("error")]

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - len(self.completed)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.errors else 0


RowHook = Callable[[dict[str, Any]], None]


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    backend: str = "sim",
    jobs: int | None = None,
    cluster: str | None = None,
    max_time: float | None = None,
    max_runs: int | None = None,
    on_row: RowHook | None = None,
    show_progress: bool = False,
    console: Any = None,
) -> SweepOutcome:
    """Run every point of ``sweep`` not yet in the store at ``out`` (see the module docs).

    ``jobs`` worker processes of a LocalCluster (default every core), or ``cluster``, the
    address of a running Dask scheduler, run simulator runs; ``max_runs`` stops after that
    many new runs; ``on_row`` sees each row once it is durable
    (a hook for progress and for tests that simulate a crash by raising from it).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if cluster is not None and backend != "sim":
        raise ValueError(f"a cluster runs simulator runs only, not backend {backend!r}")
    store = Store(out)
    with store.locked():
        commit = git_commit()
        if sweep.text:
            # the latest sweep file, and every distinct one that ever wrote to this store
            atomic_write_text(out / SWEEP_FILE, sweep.text)
            digest = hashlib.blake2b(sweep.text.encode(), digest_size=5).hexdigest()
            kept = out / SWEEPS_DIR / f"{digest}.toml"
            if not kept.exists():
                header = f"# {sweep.source}\n" if sweep.source else ""
                atomic_write_text(kept, header + sweep.text)
        done = store.done_ids()
        tasks: list[RunTask] = []
        seen: set[str] = set()
        for point in sweep.points:
            run_id = run_id_for(point.scenario, backend, max_time)
            if run_id in seen:
                continue
            seen.add(run_id)
            if run_id in done:
                continue
            tasks.append(
                RunTask(
                    run_id,
                    backend,
                    point.scenario.to_toml(),
                    point.point_json(),
                    str(store.run_dir(run_id).absolute()),  # a worker's cwd may differ
                    max_time,
                    commit,
                )
            )
        outcome = SweepOutcome(store, total=len(seen), skipped=len(seen) - len(tasks))
        if max_runs is not None:
            tasks = tasks[: max(0, max_runs)]
        # one run, or real runs, in this process: a cluster would only add its start-up
        workers = 1
        if backend == "sim" and len(tasks) > 1:
            workers = min(jobs or os.cpu_count() or 1, len(tasks))
        try:
            with cluster_executor(cluster, workers) as executor:
                progress = _Progress(outcome, len(tasks), show_progress, console, executor)
                with progress:
                    _run_tasks(tasks, executor, store, outcome, on_row, progress)
        except KeyboardInterrupt:
            outcome.interrupted = True
        finally:
            if store.journal.exists():
                store.snapshot()
    return outcome


def _record(
    row: dict[str, Any],
    store: Store,
    outcome: SweepOutcome,
    on_row: RowHook | None,
    progress: _Progress,
) -> None:
    typed = store.append(row)
    outcome.completed.append(typed)
    progress.advance(typed)
    if on_row is not None:
        on_row(typed)


def _run_tasks(
    tasks: Sequence[RunTask],
    executor: Executor,
    store: Store,
    outcome: SweepOutcome,
    on_row: RowHook | None,
    progress: _Progress,
) -> None:
    for done in executor.map_unordered(execute_task, tasks):
        if done.error is None:
            _record(done.unwrap(), store, outcome, on_row, progress)
            continue
        exc = done.exception
        if exc is not None and done.item.backend != "sim" and not isinstance(exc, RunFailed):
            raise exc  # the backend itself cannot run (no Docker engine, ...): stop here
        outcome.failed.append((done.item.run_id, done.error or "no result"))
        progress.advance(None)


class _Progress:
    """A rich progress bar with an ETA on a terminal; a line every few seconds elsewhere."""

    def __init__(
        self, outcome: SweepOutcome, count: int, enabled: bool, console: Any, executor: Executor
    ) -> None:
        self.outcome = outcome
        self.executor = executor
        self.count = count
        self.enabled = enabled
        self.console = console
        self.done = 0
        self.agreed = 0
        self._last_line = 0.0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = self.console or Console(stderr=True)
        self.console = console
        skipped = self.outcome.skipped
        console.print(
            f"sweep: {self.outcome.total} runs, {skipped} already done, {self.count} to run"
            f" on {self.executor.describe()}",
            highlight=False,
        )
        if console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]runs"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[agreed]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._task = self._bar.add_task("runs", total=self.count, agreed="")
            self._bar.start()
        return self

    def advance(self, row: dict[str, Any] | None) -> None:
        self.done += 1
        if row is not None and row.get("agreed"):
            self.agreed += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=1, agreed=f"agreed {self.agreed}/{self.done}")
        elif time.monotonic() - self._last_line > 5 or self.done == self.count:
            self._last_line = time.monotonic()
            self.console.print(
                f"{self.done}/{self.count} runs done ({self.agreed} agreed)", highlight=False
            )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
