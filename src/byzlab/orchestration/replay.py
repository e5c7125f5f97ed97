"""Replay: re-run a recorded simulator run from its scenario and seed, compare trace hashes.

Theory of operation
-------------------
A simulator run is a pure function of its resolved scenario (which holds the seed) and the
simulator's time limit: every random choice comes from streams derived from the seed
(network/sim.py ``derive_rng``). A sweep records both (``runs/<id>/scenario.toml`` and
``max_time`` in ``summary.json``) and the trace hash twice, in the store's row and in
``summary.json``. ``replay_run`` rebuilds the simulator from the recorded scenario exactly as
the sweep did (runtrace.py), runs it, and compares the new hash with *every* recorded copy,
so a run that no longer reproduces (a change in the protocol, nondeterminism) and a record
that was edited are both caught. A run that raised is replayed too, and must raise the
same error. It replays on the engine that ran it (``summary.json``'s ``engine``, python or
native, docs/native.md) unless asked for another; both give the same hash.

A run made under a schedule (an adversary search's, orchestration/schedules.py) has it beside
its scenario as ``schedule.json`` and replays with it. ``replay_schedule`` replays a schedule
file itself (``byzlab replay --schedule FILE``): its run must give the trace hash, and the
violation if any, that the file records.

Only simulator runs replay. A real run's trace hash identifies the recorded traffic of that
run, which the operating system's scheduling makes unrepeatable (see results.py); asking to
replay one is a ``ReplayError``, as is a run that cannot be found, and so is a run whose
plugins (``summary.json``'s ``plugins``, provenance.py) are missing now or whose source has
changed since: replaying other code proves nothing about the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byzlab.adversary.schedule import Schedule
from byzlab.errors import ConfigError, ReplayError
from byzlab.orchestration.provenance import plugin_problems
from byzlab.orchestration.scenario import RUN_ENGINES, ScenarioError, load_scenario
from byzlab.orchestration.schedules import SCHEDULE_FILE, schedule_scheduler
from byzlab.orchestration.store import RUNS, Store, StoreError

__all__ = ["ReplayError", "ReplayResult", "locate_run", "replay_run", "replay_schedule"]


@dataclass(frozen=True)
class ReplayResult:
    run_id: str
    seed: int
    recorded: dict[str, str]  # where the hash was recorded -> the recorded hash
    replayed: str
    error: str | None = None  # the replay raised this (a recorded error must repeat)
    recorded_error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        if self.problems:
            return False
        if self.recorded_error is not None or self.error is not None:
            return self.recorded_error == self.error
        return bool(self.recorded) and all(h == self.replayed for h in self.recorded.values())

    def describe(self) -> str:
        head = f"run {self.run_id} (seed {self.seed})"
        if self.recorded_error is not None or self.error is not None:
            if self.ok:
                return f"{head}: reproduced the recorded error: {self.error}"
            return (
                f"{head}: MISMATCH: recorded error {self.recorded_error!r}, "
                f"replay gave {self.error!r}"
                + (f" (trace hash {self.replayed})" if self.replayed else "")
            )
        where = ", ".join(self.recorded)
        if self.ok:
            return f"{head}: trace hash {self.replayed} reproduced (matches {where})"
        lines = [f"{head}: trace hash MISMATCH"]
        lines += [f"  recorded ({src}): {h}" for src, h in self.recorded.items()]
        lines.append(f"  replayed:            {self.replayed}")
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def locate_run(run: str, store_dir: Path) -> tuple[str, Path, dict[str, Any] | None]:
    """(run id, run directory, store row or None) for a run id, id prefix or run directory."""
    as_path = Path(run)
    if (as_path / "scenario.toml").is_file():
        run_dir = as_path
        root = run_dir.parent.parent if run_dir.parent.name == RUNS else None
        row = None
        if root is not None and Store(root).exists():
            try:
                row = Store(root).find(run_dir.name)
            except StoreError:
                row = None
        return run_dir.name, run_dir, row
    store = Store(store_dir)
    if not store.exists():
        raise ReplayError(
            f"{store_dir}: no result store here; pass --store DIR (the --out of "
            "the sweep) or the run's directory"
        )
    try:
        row = store.find(run)
    except StoreError as exc:
        raise ReplayError(str(exc)) from None
    run_id = str(row["run_id"])
    return run_id, store.run_dir(run_id), row


def replay_run(run: str, store_dir: Path = Path("."), *, engine: str | None = None) -> ReplayResult:
    """Re-run a recorded simulator run and compare its trace hash with the records, on
    ``engine`` (python, native or auto), by default the one that ran it."""
    from byzlab.orchestration.runtrace import run_recorded

    run_id, run_dir, row = locate_run(run, store_dir)
    summary_file = run_dir / "summary.json"
    try:
        summary: dict[str, Any] = json.loads(summary_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        summary = {}
    except ValueError as exc:
        raise ReplayError(f"{summary_file}: not valid JSON ({exc})") from None
    backend = (row or {}).get("backend") or summary.get("backend")
    if backend != "sim":
        raise ReplayError(
            f"run {run_id} ran on the {backend or 'unknown'} backend; only "
            "simulator runs replay (a real run's hash identifies its recorded "
            "traffic, which process scheduling makes unrepeatable)"
        )
    changed = plugin_problems(summary.get("plugins") or [])
    if changed:
        raise ReplayError(f"run {run_id} cannot be replayed: {'; '.join(changed)}")
    try:
        scn = load_scenario(run_dir / "scenario.toml")
    except ScenarioError as exc:
        raise ReplayError(f"run {run_id}: the recorded scenario does not load: {exc}") from None
    problems = []
    if row is not None and row.get("scenario") and row["scenario"] != scn.to_toml():
        problems.append("scenario.toml differs from the scenario recorded in the store row")
    recorded: dict[str, str] = {}
    if row is not None and row.get("trace_hash"):
        recorded["store row"] = str(row["trace_hash"])
    if summary.get("trace_hash"):
        recorded["summary.json"] = str(summary["trace_hash"])
    recorded_error = (row or {}).get("error") or summary.get("error")
    if not recorded and recorded_error is None:
        raise ReplayError(f"run {run_id}: no recorded trace hash (store row or summary.json)")
    max_time = summary.get("max_time")
    scheduler = None
    if (run_dir / SCHEDULE_FILE).is_file():
        try:
            scheduler = schedule_scheduler(Schedule.read(run_dir / SCHEDULE_FILE), scn)
        except ConfigError as exc:
            raise ReplayError(f"run {run_id}: {exc}") from None
    engine = engine or summary.get("engine") or "python"
    if engine not in RUN_ENGINES:
        raise ReplayError(f"run {run_id}: engine {engine!r} is not one of {', '.join(RUN_ENGINES)}")
    try:
        rec = run_recorded(
            scn,
            max_time=float(max_time) if max_time is not None else None,
            engine=engine,
            scheduler=scheduler,
            # a replay compares trace hashes only, and recording leaves the hash as it is:
            # recorded, the trace was thrown away, and the run was forced onto Python
            messages="off",
        )
    except Exception as exc:
        return ReplayResult(
            run_id, scn.seed, recorded, "", f"{type(exc).__name__}: {exc}", recorded_error, problems
        )
    return ReplayResult(
        run_id, scn.seed, recorded, rec.result.trace_hash, None, recorded_error, problems
    )


def replay_schedule(path: Path) -> ReplayResult:
    """Run the schedule in file `path` in the simulator, within the bounds it records, and
    compare the trace hash and the agreement or validity violation with those it records."""
    from byzlab.orchestration.search.evaluate import run_schedule

    try:
        schedule = Schedule.read(path)
    except ConfigError as exc:
        raise ReplayError(str(exc)) from None
    if schedule.trace_hash is None:
        raise ReplayError(f"{path}: no recorded trace hash (trace_hash is null)")
    try:
        _, result, raised = run_schedule(schedule)
    except ScenarioError as exc:
        raise ReplayError(str(exc)) from None
    seed = int(schedule.scenario.get("run", {}).get("seed", 0))
    recorded = {path.name: schedule.trace_hash}
    expected = _raised_part(schedule.violation)
    problems = [] if raised == expected else [f"violation: recorded {expected!r}, got {raised!r}"]
    return ReplayResult(path.name, seed, recorded, result.trace_hash, problems=problems)


def _raised_part(violation: str | None) -> str | None:
    """The simulator's own message in a recorded agreement or validity violation (the
    search's "kind: message"), which a replay must raise again; None for other kinds."""
    if violation is None:
        return None
    kind, _, message = violation.partition(": ")
    return message if kind in ("agreement", "validity") else None
