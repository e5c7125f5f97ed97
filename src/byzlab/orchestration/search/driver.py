"""The adversary search as one experiment: search, compare, shrink, and write it all down.

``run_search`` drives the evolutionary search (byzlab.adversary.search.evolve) over one
scenario for a budget of evaluations, each a simulator run of a candidate schedule scored
for the objective (evaluate.py). The evaluations of a batch go to an executor
(orchestration/cluster.py: a Dask LocalCluster, a cluster by address, or this process), in
batches of a fixed size, so that the search is the same whatever runs it: its random
choices come from the search seed and the results of earlier batches only.

With ``baseline`` the same budget is spent twice more on the same scenario: on plain
random search (the ``random`` scheduler, each run on a fresh stream, no choices) and on the
hand-written attacks (`HAND_WRITTEN`, in turn, the first run of each on the scenario's own
stream and then fresh ones), so that the table says in numbers whether the search beats
them.

Shrinking: the best schedule's non-default choices are reduced by ddmin
(byzlab.adversary.search.shrink) to a minimal set that still reproduces the result: the
same kind of violation for a violation, else an objective value at least the threshold
(by default the best value). When the best is a base scheduler as it is (no choices), its
run's delays are first rebased onto ``fifo``: every delay the run asked for becomes a choice
over fifo, which replays the same run, and ddmin then finds which of them matter. Shrinking
is sequential (each test depends on the ones before), so it runs in this process.

What ``write_search`` puts in the output directory DIR (docs/search.md):

* ``best.schedule.json`` and, after a shrink, ``shrunk.schedule.json`` (the schedule file
  format, byzlab.adversary.schedule), each replayable with ``byzlab replay --schedule``;
* ``worst/`` and ``shrunk/``: their runs' directories as the sim backend writes them
  (summary.json, trace.json, messages.parquet, schedule.json; a run that broke agreement
  is written up to the violating decision, with summary.json's ``error``);
* ``search.json``: the objective against evaluations, the best, the baseline, the shrink.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from byzlab.adversary.schedule import Choices, Schedule
from byzlab.adversary.search import Candidate, Evaluated, SearchState, ddmin, evolve
from byzlab.atomicio import atomic_write_json
from byzlab.orchestration.cluster import Executor
from byzlab.orchestration.schedules import schedule_scenario
from byzlab.orchestration.search.evaluate import Job, Outcome, evaluate
from byzlab.orchestration.search.objectives import KINDS, violation_kind
from byzlab.orchestration.simrun import SimRun

__all__ = [
    "BASES",
    "HAND_WRITTEN",
    "SEARCH_FILE",
    "Baseline",
    "SearchResult",
    "SearchSpec",
    "Shrink",
    "run_search",
    "write_search",
]

# the hand-written attacks among the built-in schedulers (the others are oblivious delay
# models, or the rule language with no rules)
HAND_WRITTEN = (
    "split-vote",
    "hold-f",
    "targeted",
    "partition",
    "coin-aware",
    "finger-suppression",
    "keepers",
)
# what the search starts from: the oblivious baselines and every hand-written attack
BASES = ("random", "fifo", *HAND_WRITTEN)
SEARCH_FILE = "search.json"
# candidates per batch: fixed, so the search does not depend on how many workers run it
BATCH = 8
MAX_STREAM_SEED = 2**62


@dataclass(frozen=True)
class SearchSpec:
    """One search: the scenario (its TOML tables), the objective, the budget of
    evaluations, the search's seed, the base schedulers, the bound of every run, whether to
    stop at the first violation, the shrink's budget of tests (0: no shrink) and threshold
    (None: the best value), and which kinds of violation count."""

    scenario: dict[str, Any]
    objective: str
    budget: int
    seed: int
    bases: tuple[str, ...] = BASES
    max_time: float = 1000.0
    max_deliveries: int = 10_000_000
    stop_when_found: bool = False
    shrink_budget: int = 200
    threshold: float | None = None
    kinds: tuple[str, ...] = KINDS

    @property
    def scenario_seed(self) -> int:
        return int(self.scenario.get("run", {}).get("seed", 0))

    def job(self, candidate: Candidate, keep_log: bool = True) -> Job:
        return Job(
            self.scenario,
            candidate.base,
            candidate.seed,
            candidate.choices,
            self.objective,
            self.max_time,
            self.max_deliveries,
            keep_log,
            self.kinds,
        )

    def schedule(self, candidate: Candidate, outcome: Outcome) -> Schedule:
        """`candidate` as a schedule file's content, with what its run gave."""
        return replace(
            self.job(candidate).schedule(),
            objective=self.objective,
            value=outcome.value,
            trace_hash=outcome.trace_hash,
            violation=outcome.violations[0] if outcome.violations else None,
        )


class Evaluator:
    """Evaluates batches of candidates on an executor, in batch order, and remembers every
    outcome's figures (not its log) and the wall time spent."""

    def __init__(self, spec: SearchSpec, executor: Executor) -> None:
        self.spec = spec
        self.executor = executor
        self.outcomes: dict[tuple[Any, ...], Outcome] = {}
        self.wall_s = 0.0
        self.count = 0

    def __call__(self, batch: Sequence[Candidate]) -> list[Evaluated]:
        started = time.perf_counter()
        jobs = [self.spec.job(c) for c in batch]
        where = {id(job): k for k, job in enumerate(jobs)}
        got: list[Outcome | None] = [None] * len(jobs)
        for done in self.executor.map_unordered(evaluate, jobs):
            got[where[id(done.item)]] = done.unwrap()
        self.wall_s += time.perf_counter() - started
        out = []
        for candidate, outcome in zip(batch, got, strict=True):
            assert outcome is not None  # every job is handed back once
            self.count += 1
            self.outcomes[candidate.key] = replace(outcome, log=None)
            found = self.spec.objective == "violation" and outcome.value > 0
            out.append(Evaluated(candidate, outcome.fitness, outcome.value, found, outcome.log))
        return out

    def rate(self) -> float:
        """Evaluations per second of wall time so far."""
        return self.count / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class Baseline:
    """The best each comparison found with the same budget: plain random search, and each
    hand-written attack (with the best of them)."""

    random_best: float
    random_found: int  # runs the objective counts as found (violations), for `violation`
    hand_written: dict[str, float]
    hand_written_found: int
    evaluations: int

    @property
    def hand_written_best(self) -> tuple[str, float]:
        name = max(self.hand_written, key=lambda k: self.hand_written[k])
        return name, self.hand_written[name]


@dataclass(frozen=True)
class Shrink:
    """A shrink's result: the choices it started from (and whether they were rebased onto
    fifo), those it kept, its tests, whether it is 1-minimal, and what it must reproduce."""

    start: int
    rebased: bool
    kept: Choices
    tests: int
    minimal: bool
    target: str
    schedule: Schedule


@dataclass
class SearchResult:
    spec: SearchSpec
    state: SearchState
    best: Candidate
    outcome: Outcome
    evaluations_per_s: float
    wall_s: float
    baseline: Baseline | None = None
    shrink: Shrink | None = None
    origins: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.spec.objective == "violation" and self.outcome.value > 0

    def best_schedule(self) -> Schedule:
        return self.spec.schedule(self.best, self.outcome)


def _baseline(spec: SearchSpec, ev: Evaluator, rng: random.Random) -> Baseline:
    fresh = [
        Candidate("random", rng.randrange(MAX_STREAM_SEED), (), "random")
        for _ in range(spec.budget)
    ]
    hand = [
        Candidate(
            HAND_WRITTEN[k % len(HAND_WRITTEN)],
            spec.scenario_seed if k < len(HAND_WRITTEN) else rng.randrange(MAX_STREAM_SEED),
            (),
            "hand-written",
        )
        for k in range(spec.budget)
    ]
    random_runs = [e for b in range(0, len(fresh), BATCH) for e in ev(fresh[b : b + BATCH])]
    hand_runs = [e for b in range(0, len(hand), BATCH) for e in ev(hand[b : b + BATCH])]
    per: dict[str, float] = {}
    for e in hand_runs:
        per[e.candidate.base] = max(per.get(e.candidate.base, float("-inf")), e.value)
    return Baseline(
        random_best=max(e.value for e in random_runs),
        random_found=sum(e.found for e in random_runs),
        hand_written=per,
        hand_written_found=sum(e.found for e in hand_runs),
        evaluations=len(random_runs) + len(hand_runs),
    )


def _rebase(spec: SearchSpec, best: Candidate) -> Candidate:
    """The best run's delays, every one, as choices over fifo: the same run."""
    outcome = evaluate(spec.job(best))
    assert outcome.log is not None
    choices = tuple(enumerate(outcome.log.delay))
    return Candidate("fifo", spec.scenario_seed, choices, "rebased")


def _shrink(spec: SearchSpec, best: Candidate, outcome: Outcome) -> Shrink:
    if outcome.violations:
        target = violation_kind(outcome.violations[0])

        def holds(o: Outcome) -> bool:
            return any(violation_kind(v) == target for v in o.violations)

        what = f"a violation of kind {target}"
    else:
        threshold = spec.threshold if spec.threshold is not None else outcome.value
        what = f"{spec.objective} >= {threshold:g}"

        def holds(o: Outcome) -> bool:
            return o.value >= threshold

    rebased = not best.choices
    start = _rebase(spec, best) if rebased else best
    if rebased and not holds(evaluate(spec.job(start, keep_log=False))):
        raise RuntimeError(f"rebasing {best.base} onto fifo did not replay its run")

    def reproduces(kept: list[tuple[int, float]]) -> bool:
        trial = replace(start, choices=tuple(kept))
        return holds(evaluate(spec.job(trial, keep_log=False)))

    shrunk = ddmin(list(start.choices), reproduces, spec.shrink_budget)
    kept = replace(start, choices=tuple(shrunk.kept), origin="shrunk")
    final = evaluate(spec.job(kept, keep_log=False))
    return Shrink(
        start=len(start.choices),
        rebased=rebased,
        kept=kept.choices,
        tests=shrunk.tests,
        minimal=shrunk.minimal,
        target=what,
        schedule=spec.schedule(kept, final),
    )


def run_search(
    spec: SearchSpec,
    executor: Executor,
    *,
    baseline: bool = False,
    progress: Callable[[SearchState], None] | None = None,
) -> SearchResult:
    """Search (see the module docstring), then the baseline and the shrink if asked."""
    if spec.budget < 1:
        raise ValueError(f"budget must be at least 1, got {spec.budget}")
    started = time.perf_counter()
    ev = Evaluator(spec, executor)
    rng = random.Random(spec.seed)
    state = evolve(
        ev,
        bases=spec.bases,
        seed=spec.scenario_seed,
        budget=spec.budget,
        rng=rng,
        batch=BATCH,
        stop_when_found=spec.stop_when_found,
        progress=progress,
    )
    assert state.best is not None  # the budget is at least 1
    best = state.best.candidate
    outcome = ev.outcomes[best.key]
    rate = ev.rate()
    result = SearchResult(
        spec,
        state,
        best,
        outcome,
        rate,
        0.0,
        origins={
            origin: {"tried": state.tried[origin], "improved": state.improvements[origin]}
            for origin in sorted(state.tried)
        },
    )
    if baseline:
        result.baseline = _baseline(spec, ev, random.Random(spec.seed + 1))
    if spec.shrink_budget > 0 and (outcome.violations or spec.objective != "violation"):
        result.shrink = _shrink(spec, best, outcome)
    result.wall_s = time.perf_counter() - started
    return result


def _run_dir(schedule: Schedule, out: Path, name: str) -> dict[str, Any]:
    """The run of `schedule` written as the sim backend writes a run, in DIR/`name`."""
    run = SimRun(
        schedule_scenario(schedule),
        out_root=out,
        run_id=name,
        max_time=schedule.max_time,
        max_deliveries=schedule.max_deliveries,
        messages="on",
        engine="python",
        schedule=schedule,
        keep_violation=True,
    )
    run.start()
    outcome = run.collect(run.wait())
    if outcome.summary.get("trace_hash") != schedule.trace_hash:
        raise RuntimeError(
            f"{out / name}: the recorded run's trace hash {outcome.summary.get('trace_hash')} "
            f"differs from the search's {schedule.trace_hash}"
        )
    return outcome.summary


def write_search(result: SearchResult, out: Path) -> None:
    """Write the search's files into `out` (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    best = result.best_schedule()
    best.write(out / "best.schedule.json")
    _run_dir(best, out, "worst")
    spec, state, outcome = result.spec, result.state, result.outcome
    doc: dict[str, Any] = {
        "objective": spec.objective,
        "budget": spec.budget,
        "seed": spec.seed,
        "bases": list(spec.bases),
        "evaluations": state.evaluations,
        "evaluations_per_s": result.evaluations_per_s,
        "wall_s": result.wall_s,
        "values": state.values,
        "best_values": state.best_values,
        "best": {
            "base": result.best.base,
            "scheduler_seed": result.best.seed,
            "choices": len(result.best.choices),
            "origin": result.best.origin,
            "value": outcome.value,
            "iterations": outcome.iterations,
            "latency": outcome.latency,
            "stopped": outcome.stopped,
            "violations": list(outcome.violations),
            "trace_hash": outcome.trace_hash,
            "schedule": "best.schedule.json",
            "run": "worst",
        },
        "origins": result.origins,
        "baseline": None,
        "shrink": None,
    }
    if result.baseline is not None:
        b = result.baseline
        name, value = b.hand_written_best
        doc["baseline"] = {
            "budget": spec.budget,
            "random": {"best": b.random_best, "found": b.random_found},
            "hand_written": {"best": value, "scheduler": name, "found": b.hand_written_found},
            "per_scheduler": b.hand_written,
        }
    if result.shrink is not None:
        s = result.shrink
        s.schedule.write(out / "shrunk.schedule.json")
        _run_dir(s.schedule, out, "shrunk")
        doc["shrink"] = {
            "reproduces": s.target,
            "from": s.start,
            "rebased_onto_fifo": s.rebased,
            "kept": len(s.kept),
            "tests": s.tests,
            "minimal": s.minimal,
            "value": s.schedule.value,
            "violation": s.schedule.violation,
            "trace_hash": s.schedule.trace_hash,
            "schedule": "shrunk.schedule.json",
            "run": "shrunk",
        }
    atomic_write_json(out / SEARCH_FILE, doc)
