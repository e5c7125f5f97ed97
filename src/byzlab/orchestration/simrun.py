"""The sim backend: a scenario's run in the deterministic simulator, as a ``Backend``.

It writes the results directory every backend writes (``backend.RESULT_FILES``):
``scenario.toml``, ``nodes.csv`` (one row per node, virtual decision times) and
``summary.json`` (the keys of ``byzlab sim --json`` plus the run's id, backend, commit and
wall time, ``max_time``, ``decision_times`` in virtual time, and ``corrupted``: every
corrupted node, those taken over by ``[[adversary.corrupt]]`` with the virtual time of the
takeover and marked "corrupted" in ``nodes.csv``), and in addition the compact trace
``trace.json`` that plots and replays read (``runtrace.py``) and, when the run records it
(``[run] messages``; ``auto`` up to 16 nodes), the message trace ``messages.parquet``
(docs/messages.md), which ``summary.json`` names in ``message_trace``. The simulator is
built by ``runtrace.run_recorded`` from the scenario exactly as ``byzlab sim --scenario``
builds it, so a run here, its replay and ``byzlab sim --scenario
results/<run-id>/scenario.toml`` have the same trace hash. A run under a schedule (an
adversary search's, orchestration/schedules.py) also writes it as ``schedule.json``, which
its replay reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from byzlab.adversary.schedule import Schedule
from byzlab.atomicio import atomic_write_json, atomic_write_text
from byzlab.network.messagelog import FILE_NAME as MESSAGES_FILE
from byzlab.network.messagelog import MessagesMeta
from byzlab.orchestration import runtrace
from byzlab.orchestration.backend import Backend, RunOutcome, StatusHook
from byzlab.orchestration.provenance import run_plugins
from byzlab.orchestration.results import (
    CORRUPTED_NOTE,
    corrupted_list,
    git_commit,
    mark_complete,
    mark_role,
    nodes_csv,
    start_run_dir,
)
from byzlab.orchestration.scenario import Scenario
from byzlab.orchestration.schedules import SCHEDULE_FILE, schedule_scheduler

__all__ = ["SimRun"]


class SimRun(Backend):
    """One simulator run; ``max_time`` (virtual), ``max_deliveries`` and ``timeout_s`` (wall
    clock) limit it; ``messages`` (auto, on, off) overrides the scenario's ``[run] messages``
    and ``engine`` its ``[run] engine``; ``schedule`` (over this scenario) chooses the delays.
    With ``keep_violation`` a run that breaks agreement or validity is written like any other
    (the run up to the violating decision), its summary's ``error`` the one its replay
    raises again."""

    name = "sim"

    def __init__(
        self,
        scenario: Scenario,
        *,
        out_root: Path,
        run_id: str | None = None,
        max_time: float | None = None,
        timeout_s: float | None = None,
        max_deliveries: int | None = None,
        messages: str | None = None,
        engine: str | None = None,
        schedule: Schedule | None = None,
        keep_violation: bool = False,
    ) -> None:
        super().__init__(scenario, out_root=out_root, run_id=run_id)
        self.max_time = max_time
        self.timeout_s = timeout_s
        self.max_deliveries = max_deliveries
        self.messages = messages
        self.engine = engine
        self.schedule = schedule
        self.keep_violation = keep_violation
        self.record: runtrace.RecordedRun | None = None

    def start(self, on_status: StatusHook | None = None) -> None:
        start_run_dir(self.out_dir, self.run_id, self.name)
        atomic_write_text(self.out_dir / "scenario.toml", self.scenario.to_toml())
        if self.schedule is not None:
            self.schedule.write(self.out_dir / SCHEDULE_FILE)

    def wait(self, *, timeout: float | None = None, on_status: StatusHook | None = None) -> str:
        budget = timeout if timeout is not None else self.timeout_s
        # looked up at call time, so that a test can stand in for the simulator
        self.record = runtrace.run_recorded(
            self.scenario,
            max_time=self.max_time,
            timeout_s=budget,
            engine=self.engine,
            messages=self.messages,
            max_deliveries=self.max_deliveries,
            scheduler=None
            if self.schedule is None
            else schedule_scheduler(self.schedule, self.scenario),
            keep_violation=self.keep_violation,
        )
        return "finished"

    def stop_all(self) -> None:
        """Nothing runs outside this process."""

    def collect(self, waited: str) -> RunOutcome:
        rec = self.record
        if rec is None:  # interrupted before the simulator finished: nothing to report
            return RunOutcome(self.run_id, self.out_dir, {"seed": self.seed}, "interrupted")
        result = rec.result
        halts = rec.trace["halts"]
        starts = rec.trace["iteration_starts"]
        node_results: dict[int, dict[str, Any]] = {
            i: {"iteration": starts[str(i)][-1][0], "halted": str(i) in halts}
            for i in self.honest_ids
        }
        for d in result.decisions:
            node_results[d.node].update(decision=d.value, decision_time=d.time)
        for i, rejected in result.node_rejected.items():  # the nodes still honest at the end
            node_results[i]["rejected"] = rejected
        summary = result.summary()
        summary.update(
            {
                "backend": self.name,
                "engine": rec.engine,  # the engine that ran ([run] engine asks for one)
                "run_id": self.run_id,
                "git_commit": git_commit(),
                "wall_time_s": rec.wall_s,
                "max_time": self.max_time,
                "plugins": run_plugins(self.scenario),
                "latency_s": None,
                "delta_s": None,
                "decision_times": {str(d.node): d.time for d in result.decisions},
                "corrupted": corrupted_list(self.byzantine, rec.trace["corrupted"]),
                "message_trace": MESSAGES_FILE if rec.messages is not None else None,
                "notes": {
                    "decision_times": "virtual time, in units of delta (the maximum delay)",
                    "corrupted": CORRUPTED_NOTE,
                },
            }
        )
        if rec.violation is not None:  # worded as replay.py reports what its replay raised
            summary["error"] = f"InvariantViolation: {rec.violation}"
        atomic_write_json(self.out_dir / "trace.json", rec.trace)
        if rec.messages is not None:
            meta = MessagesMeta(self.n, self.f, result.protocol, "delta", self.name)
            rec.messages.write(self.out_dir / MESSAGES_FILE, meta)
        table = nodes_csv(
            self.n,
            byzantine=self.byzantine,
            inputs=self.inputs,
            node_results=node_results,
            exit_codes={},
            start_time=0.0,
        )
        taken = {c["node"]: c["strategy"] for c in rec.trace["corrupted"]}
        atomic_write_text(self.out_dir / "nodes.csv", mark_role(table, taken, "corrupted"))
        mark_complete(self.out_dir, summary)
        return RunOutcome(self.run_id, self.out_dir, summary, result.stopped)
