"""What the two real backends share: a proxy and n honest node processes, and their results.

Local processes (``local.py``) and containers (``docker/run.py``) run the same thing, the
adversary proxy and one process per honest node, configured from the run plan
(``plan.py``), and leave the same outputs: each node's ``result.json`` and ``trace.jsonl``
and the proxy's statistics. ``ProcessRun`` holds what follows from that: the results
directory and its ``work/`` tree, the run's key pairs, why a run stopped, and ``finish``,
which turns the outputs into the common result files (``results.py``): ``summary.json``,
``nodes.csv``, ``traces/node-<i>.jsonl`` and ``proxy-stats.json``, and, when the run records
it, the message trace ``messages.parquet``, merged from the proxy's and the nodes' spools
(``realtrace.py``). The backends differ in how they start and watch their processes, and in
what they count as a crash.

Adaptive corruption (``[[adversary.corrupt]]``, ``adversary/proxy/shadows.py``): a node the
adversary took over mid-run is told so by the proxy, and its process writes its result and
exits cleanly. The proxy's statistics say who was taken when (``corrupted``); ``gather``
leaves those nodes' results out (their decisions no longer count, as in the simulator),
``finish`` counts them as faulty, marks them "corrupted" in ``nodes.csv`` (not "crashed":
the process was retired, not lost) and lists every corruption in ``summary.json``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from byzlab.atomicio import atomic_write_bytes, atomic_write_text
from byzlab.network.keys import ROSTER_FILE, generate_keys
from byzlab.orchestration.backend import Backend, RunOutcome
from byzlab.orchestration.provenance import run_plugins
from byzlab.orchestration.realtrace import PROXY_SPOOLS, merge_real_trace
from byzlab.orchestration.results import (
    CORRUPTED_NOTE,
    adaptive_corruptions,
    build_summary,
    corrupted_list,
    gather_outputs,
    git_commit,
    mark_complete,
    mark_role,
    nodes_csv,
    start_run_dir,
)
from byzlab.orchestration.scenario import Scenario

__all__ = ["ProcessRun"]


class ProcessRun(Backend):
    """The proxy and honest node processes of one plan, on some backend."""

    # The backend brings the spools of the message trace back (the swarm's outputs come
    # back through its services' logs, which cannot carry them).
    collects_messages: ClassVar[bool] = True

    def __init__(
        self,
        scenario: Scenario,
        *,
        out_root: Path,
        run_id: str | None = None,
        proxy_options: dict[str, Any] | None = None,
        node_options: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        super().__init__(scenario, out_root=out_root, run_id=run_id)
        self.proxy_options = dict(proxy_options or {})  # further ProxyConfig fields
        self.node_options = dict(node_options or {})  # further NodeConfig fields
        self.force = force
        self.corrupted: dict[int, str] = {}  # taken over mid-run: node -> strategy (gather)

    # ----------------------------------------------------------------- paths

    def node_dir(self, i: int) -> Path:
        return self.work / "nodes" / str(i)

    @property
    def proxy_dir(self) -> Path:
        return self.work / "proxy"

    @property
    def stats_file(self) -> Path:
        return self.proxy_dir / "stats.json"

    @property
    def proxy_spools(self) -> Path:
        """Where the proxy's half of the message trace is (or is copied back to)."""
        return self.proxy_dir / PROXY_SPOOLS

    @property
    def records_messages(self) -> bool:
        """The run records its message trace (``[run] messages``) and this backend
        collects it."""
        return self.collects_messages and self.plan.records_messages

    # ----------------------------------------------------------------- setup

    def make_run_dir(self) -> None:
        """``results/<run-id>/`` with ``INCOMPLETE.json`` first, ``work/logs/`` and the
        scenario as it ran."""
        start_run_dir(self.out_dir, self.run_id, self.name)
        self.work.mkdir()
        (self.work / "logs").mkdir()
        atomic_write_text(self.out_dir / "scenario.toml", self.scenario.to_toml())

    def generate_keys(self, all_keys: Path) -> bytes:
        """The run's n + 1 key pairs in ``all_keys``; the public roster is also kept in the
        results tree (``work/roster.json``). Returns the roster."""
        try:
            generate_keys(self.n + 1, all_keys, self.run_id)
        except OSError as exc:  # its writes do not name the file
            raise OSError(exc.errno, exc.strerror, exc.filename or str(all_keys)) from exc
        roster = (all_keys / ROSTER_FILE).read_bytes()
        atomic_write_bytes(self.work / ROSTER_FILE, roster)  # public: for the record
        return roster

    # ----------------------------------------------------------------- results

    @staticmethod
    def stopped_reason(waited: str, results: Mapping[int, Mapping[str, Any]], expected: int) -> str:
        """Why the run stopped: every one of ``expected`` nodes halted, or what ``wait``
        saw (with the nodes' own stop reasons when they exited by themselves)."""
        if waited == "interrupted":
            return "interrupted"
        if results and len(results) == expected and all(r.get("halted") for r in results.values()):
            return "all-honest-halted"
        if waited == "nodes-exited":
            reasons = {str(r.get("stop_reason")) for r in results.values()}
            return "node-" + "/".join(sorted(reasons)) if reasons else "nodes-exited"
        return waited

    def gather(self) -> tuple[dict[int, dict[str, Any]], dict[int, bytes], dict[str, Any]]:
        """Every node's result and trace, and the proxy's final statistics (copied into the
        results directory as ``traces/`` and ``proxy-stats.json``). The results of nodes the
        adversary took over mid-run are left out; they are in ``corrupted``."""
        results, traces, stats = gather_outputs(
            self.out_dir, {i: self.node_dir(i) / "out" for i in self.honest_ids}, self.stats_file
        )
        self.corrupted = {
            c["node"]: c["strategy"] for c in adaptive_corruptions(stats, self.honest_ids)
        }
        for i in self.corrupted:
            results.pop(i, None)
        return results, traces, stats

    def still_honest(self) -> int:
        """Honest nodes of the plan that the adversary did not take over (after ``gather``)."""
        return len(self.honest_ids) - len(self.corrupted)

    def finish(
        self,
        *,
        stopped: str,
        node_results: Mapping[int, Mapping[str, Any]],
        traces: Iterable[bytes],
        stats: Mapping[str, Any],
        faulty: Mapping[int, str],
        crashed: Mapping[int, str],
        exit_codes: Mapping[int, int | None],
        table: str,
        extra: Mapping[str, Any] | None = None,
    ) -> RunOutcome:
        """Write ``nodes.csv`` (``table``) and ``summary.json`` (``faulty`` nodes, and those
        the adversary took over, are left out of agreement and validity; ``extra`` keys are
        the backend's own) and return the outcome."""
        faulty = {**faulty, **self.corrupted}
        summary = build_summary(
            n=self.n,
            seed=self.seed,
            params=self.params.to_dict(),
            protocol=self.plan.protocol,
            scheduler=self.plan.scheduler,
            byzantine=faulty,
            inputs=self.inputs,
            delta_s=self.plan.delta_s,
            node_results=node_results,
            proxy_stats=stats,
            traces=list(traces),
            stopped=stopped,
            backend=self.name,
            run_id=self.run_id,
            commit=git_commit(),
        )
        summary["crashed"] = {str(k): v for k, v in sorted(crashed.items())}
        summary["plugins"] = run_plugins(self.scenario)
        summary["corrupted"] = corrupted_list(
            self.byzantine, adaptive_corruptions(stats, self.honest_ids)
        )
        summary.setdefault("notes", {})["corrupted"] = CORRUPTED_NOTE
        summary.update(extra or {})
        summary["node_exit_codes"] = {str(k): v for k, v in sorted(exit_codes.items())}
        summary["wall_time_s"] = self.wall_time_s()
        summary["message_trace"] = None
        if self.records_messages:
            # After a crash the spools may be missing or cut short: the merge keeps what
            # is readable and says so (message_trace_sources), it never fails the run; nor
            # does a bug in it, which is said there too.
            start = stats.get("start_wall")
            try:
                sources = merge_real_trace(
                    out_dir=self.out_dir,
                    proxy_spools=self.proxy_spools,
                    node_outs={i: self.node_dir(i) / "out" for i in self.honest_ids},
                    protocol=self.scenario.build_protocol(),
                    n=self.n,
                    f=self.params.f,
                    backend=self.name,
                    start_wall=float(start) if isinstance(start, int | float) else None,
                )
            except Exception as exc:
                sources = {"file": None, "error": f"merge failed: {type(exc).__name__}: {exc}"}
            summary["message_trace"] = sources.pop("file")
            summary["message_trace_sources"] = sources
        atomic_write_text(self.out_dir / "nodes.csv", mark_role(table, self.corrupted, "corrupted"))
        mark_complete(self.out_dir, summary)
        return RunOutcome(self.run_id, self.out_dir, summary, stopped)

    def finish_with_crashed(
        self,
        waited: str,
        *,
        crashed: Mapping[int, str],
        exit_codes: Mapping[int, int | None],
        extra: Mapping[str, Any],
    ) -> RunOutcome:
        """Gather the outputs and finish a run some of whose nodes were lost (a container, a
        host): crashed nodes are faulty, left out of agreement and validity like Byzantine
        ones, and marked "crashed" in ``nodes.csv``."""
        results, by_node, stats = self.gather()
        faulty = {**self.byzantine, **crashed}
        survivors = {i: r for i, r in results.items() if i not in crashed}
        stopped = self.stopped_reason(waited, survivors, self.still_honest() - len(crashed))
        table = self.nodes_table(
            byzantine=faulty,
            node_results=results,
            starts_from=survivors.values(),
            exit_codes=exit_codes,
        )
        return self.finish(
            stopped=stopped,
            node_results=survivors,
            traces=[by_node[i] for i in self.honest_ids if i not in crashed],
            stats=stats,
            faulty=faulty,
            crashed=crashed,
            exit_codes=exit_codes,
            table=mark_role(table, crashed, "crashed"),
            extra=extra,
        )

    def nodes_table(
        self,
        *,
        byzantine: Mapping[int, str],
        node_results: Mapping[int, Mapping[str, Any]],
        starts_from: Iterable[Mapping[str, Any]],
        exit_codes: Mapping[int, int | None],
    ) -> str:
        """``nodes.csv``, decision times counted from the earliest start in ``starts_from``."""
        starts = [
            r["start_time"] for r in starts_from if isinstance(r.get("start_time"), int | float)
        ]
        return nodes_csv(
            self.n,
            byzantine=byzantine,
            inputs=self.inputs,
            node_results=node_results,
            exit_codes=exit_codes,
            start_time=min(starts) if starts else None,
        )

    def wall_time_s(self) -> float:
        return time.monotonic() - self.started_at
