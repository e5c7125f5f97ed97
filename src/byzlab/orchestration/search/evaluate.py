"""One evaluation of an adversary search: a schedule run in the simulator, and its score.

`evaluate(job)` is a plain top-level function of plain data (a `Job` in, an `Outcome` out, both
picklable), so a loop, a process pool or a Dask cluster can map it over a batch of candidates.
A job names the scenario (as TOML tables), the base scheduler that replaces the scenario's,
the base's stream seed and the non-default delays: exactly a schedule
(byzlab.adversary.schedule). The run is the one ``byzlab replay --schedule`` makes of that
schedule (orchestration/schedules.py), on the Python engine (the native one has no schedule).

A run that breaks agreement or validity raises in the simulator at the offending decision;
the outcome then holds the violation and the trace hash of the run up to that decision, which
its replay reproduces. The objectives and the violations are orchestration/search/objectives.py's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from byzlab.adversary.schedule import Choices, QueryLog, Schedule
from byzlab.errors import InvariantViolation
from byzlab.network.sim import SimResult, Simulator
from byzlab.orchestration.scenario import build_simulator
from byzlab.orchestration.schedules import schedule_scenario, schedule_scheduler
from byzlab.orchestration.search.objectives import (
    KINDS,
    fitness,
    objective_value,
    violation_kind,
    violations,
)

__all__ = ["Job", "Outcome", "evaluate", "run_schedule", "with_base"]


def with_base(tables: dict[str, Any], base: str) -> dict[str, Any]:
    """The scenario `tables` with `base` as its scheduler (its options kept only when it is
    the scenario's own scheduler: another one is built with its defaults)."""
    adversary = dict(tables.get("adversary", {}))
    if adversary.get("scheduler", "random") != base:
        adversary["scheduler"] = base
        adversary.pop("scheduler_options", None)
    return {**tables, "adversary": adversary}


@dataclass(frozen=True)
class Job:
    """A schedule to run and how to judge it: the bound of the run (virtual time and
    deliveries; a run that reaches one did not terminate), whether to keep its query log,
    and which kinds of violation count (the others are not reported)."""

    scenario: dict[str, Any]
    base: str
    scheduler_seed: int
    choices: Choices
    objective: str
    max_time: float
    max_deliveries: int
    keep_log: bool = True
    kinds: tuple[str, ...] = KINDS  # the violations that count (objectives.KINDS)

    def schedule(self) -> Schedule:
        tables = with_base(self.scenario, self.base)
        return Schedule(
            tables, self.scheduler_seed, self.choices, self.max_time, self.max_deliveries
        )


@dataclass(frozen=True)
class Outcome:
    """What one evaluation gave: the objective's value and the search's fitness, the
    violations found (each "kind: detail"), the trace hash, a few figures of the run, the
    number of delay queries it made, the wall time, and its query log if kept."""

    value: float
    fitness: tuple[float, ...]
    violations: tuple[str, ...]
    trace_hash: str
    iterations: int
    latency: float | None
    stopped: str
    deliveries: int
    queries: int
    wall_s: float
    log: QueryLog | None = None


def run_schedule(
    schedule: Schedule, log: QueryLog | None = None
) -> tuple[Simulator, SimResult, str | None]:
    """Run `schedule` in the simulator within its bounds: the simulator after the run, its
    result, and the agreement or validity violation it raised (then the result is the run's
    up to it)."""
    scn = schedule_scenario(schedule)
    sim: Simulator = build_simulator(
        scn, max_time=schedule.max_time, scheduler=schedule_scheduler(schedule, scn, log)
    )
    sim.max_deliveries = schedule.max_deliveries
    try:
        return sim, sim.run(), None
    except InvariantViolation as exc:
        return sim, sim.result_after_violation(), str(exc)


def evaluate(job: Job) -> Outcome:
    """Run `job`'s schedule and score it for `job.objective`."""
    started = time.perf_counter()
    log = QueryLog() if job.keep_log else None
    sim, result, raised = run_schedule(job.schedule(), log)
    found = [v for v in violations(sim, result, raised) if violation_kind(v) in job.kinds]
    value = objective_value(job.objective, sim, result, found)
    queries: int = getattr(sim.scheduler, "queries", 0)
    return Outcome(
        value=value,
        fitness=fitness(job.objective, value, result, sim),
        violations=tuple(found),
        trace_hash=result.trace_hash,
        iterations=result.iterations,
        latency=result.latency_delta,
        stopped=result.stopped,
        deliveries=result.deliveries,
        queries=queries,
        wall_s=time.perf_counter() - started,
        log=log,
    )
