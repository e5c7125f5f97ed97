"""Writing run results: atomic files, the run summary, nodes.csv and the trace hash.

Theory of operation
-------------------
Every file a run produces is written *atomically*: the bytes go to a temporary file in the
destination directory, are flushed and fsync'ed, and the temporary file is renamed over the
destination with ``os.replace``. A reader (the orchestrator polling the proxy's stats, a
person tailing ``results/``, a plotting script running while a sweep is in progress) sees
either the previous complete file or the new complete file, never a torn one, even if the
writer is killed half way. The temporary file lives in the same directory because a rename
is only atomic within one file system.

The writers are ``byzlab.atomicio``'s, a leaf module that the node process
(``network/tcp/``) and the proxy (``adversary/proxy/``) use for their own outputs too.

A run directory is complete exactly when it holds ``summary.json``: the backends write it
last, after ``nodes.csv`` and the traces. From its first file on, the directory also holds
``INCOMPLETE.json`` (who is writing it, since when), removed once ``summary.json`` is in
place: an orchestrator killed half way leaves a directory that says it is incomplete, never
one that looks finished (``run_state``). ``start_run_dir`` creates the directory with that
marker as its first file and removes the directory again if even the marker cannot be
written, so a run directory without it is never left behind. Once every process of a run
has exited, ``remove_stale_tmp`` deletes the temporary files of writers that were killed
between writing and renaming (there is no writer left to finish them), and a node that left
no trace gets no (empty) copy of one. Errors of the writers here name the destination file,
never the temporary one, and carry the errno, so a full disk can be reported in one line.

``build_summary`` turns the per-node result files and the proxy statistics of a real run
into the same JSON shape as ``byzlab sim --json`` (``SimResult.summary``), plus what only
real runs have: wall-clock latency, per-node decision times, the git commit and the backend.
Two keys change meaning, and the summary says so in ``notes``:

* ``latency_delta`` is ``latency_s / delta_s``: the wall-clock latency in units of the
  scheduler's maximum delay. It includes real processing and queueing time, which the
  simulator does not have, so it is an upper bound on the causal depth the simulator reports.
* ``trace_hash`` hashes the ordered decisions and every node's trace file. Real runs are not
  reproducible (the OS schedules processes), so the hash identifies *this* recorded run; it
  is not expected to repeat for the same seed, unlike the simulator's.

What a node refused has one source, ``node_refusals``: the node's ``Refusals`` counters
(``rejected``, by reason) and, on real runs, the messages its process could not decode
(``decode-<reason>``: refused before the state machine saw them). The summary's ``rejected``
is their sum over the honest nodes, and nodes.csv's ``messages_invalid`` each node's total,
so the two agree on every backend (they once came from two counters: nodes.csv showed only
undecodable messages, 0 in the simulator, while the summary counted the state machine's).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from byzlab.adversary.corruption import STATIC
from byzlab.atomicio import atomic_write_bytes, atomic_write_json, read_json
from byzlab.network.sim import iterations_taken
from byzlab.node.validity import valid_decision

__all__ = [
    "CORRUPTED_NOTE",
    "NODE_CSV_COLUMNS",
    "RUN_SUMMARY_KEYS",
    "SUMMARY_KEYS",
    "adaptive_corruptions",
    "build_summary",
    "corrupted_list",
    "gather_outputs",
    "git_commit",
    "mark_role",
    "node_refusals",
    "nodes_csv",
    "remove_stale_tmp",
    "start_run_dir",
    "trace_hash",
]

# The keys `byzlab sim --json` promises (README); a real run's summary has all of them.
SUMMARY_KEYS = (
    "agreed",
    "decision",
    "valid",
    "honest_decisions",
    "latency_delta",
    "iterations",
    "epochs",
    "rbc_instances",
    "messages",
    "bytes",
    "trace_hash",
    "seed",
    "params",
)

# What every backend's summary.json holds (backend.RESULT_FILES): the simulator's keys and
# what identifies and times the run. A backend adds its own (real runs: proxy counters,
# crashes; docker: faults, image, spin-up).
RUN_SUMMARY_KEYS = (
    *SUMMARY_KEYS,
    "protocol",
    "scheduler",
    "byzantine",
    "inputs",
    "stopped",
    "deliveries",
    "messages_by_kind",
    "rejected",
    "dropped",
    "coin_unanimous",
    "coin_split",
    "latency_s",
    "delta_s",
    "decision_times",
    "git_commit",
    "backend",
    "run_id",
    "wall_time_s",
)

NODE_CSV_COLUMNS = (
    "node",
    "role",
    "strategy",
    "input",
    "decision",
    "decision_time_s",
    "iteration",
    "halted",
    "frames_in",
    "frames_dropped",
    "messages_in",
    "messages_invalid",
    "messages_out",
    "reconnects",
    "exit_code",
)


# --------------------------------------------------------------------------- run directories


INCOMPLETE_FILE = "INCOMPLETE.json"


def start_run_dir(out_dir: Path, run_id: str, backend: str) -> None:
    """Create the run directory with ``INCOMPLETE.json`` as its first file. If even that
    cannot be written, remove the directory again: an empty run directory says nothing,
    and nothing else was written."""
    out_dir.mkdir(parents=True, exist_ok=False)
    try:
        mark_incomplete(out_dir, run_id, backend)
    except BaseException:
        remove_stale_tmp(out_dir)
        with contextlib.suppress(OSError):
            out_dir.rmdir()  # only if empty: never remove what someone else put there
        raise


def remove_stale_tmp(root: Path) -> list[Path]:
    """Remove the temporary files of atomic writes (``.NAME.PID[.HEX].tmp``) under
    ``root`` whose writers are dead: call it only once every process that wrote under
    ``root`` has exited. A writer killed between creating and renaming its temporary file
    leaves one behind."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.rglob(".*.tmp"):
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def mark_incomplete(out_dir: Path, run_id: str, backend: str) -> None:
    """The first file of a run directory: it stays there until ``mark_complete``."""
    atomic_write_json(
        out_dir / INCOMPLETE_FILE,
        {
            "run_id": run_id,
            "backend": backend,
            "orchestrator_pid": os.getpid(),
            "started": time.time(),
            "meaning": "the orchestrator has not finished this run; if it is no longer running, "
            "the files here are partial (each one is whole) and summary.json is absent",
        },
    )


def mark_complete(out_dir: Path, summary: Mapping[str, Any]) -> None:
    """Write ``summary.json`` (the last file of a run) and drop the incomplete marker."""
    atomic_write_json(out_dir / "summary.json", summary)
    (out_dir / INCOMPLETE_FILE).unlink(missing_ok=True)


def run_state(out_dir: Path) -> str:
    """ "complete", "running" (its orchestrator is alive) or "incomplete" (it died)."""
    if (out_dir / "summary.json").exists():
        return "complete"
    marker = read_json(out_dir / INCOMPLETE_FILE)
    pid = marker.get("orchestrator_pid") if isinstance(marker, dict) else None
    if isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "incomplete"
        except PermissionError:
            return "running"
        return "running"
    return "incomplete"


# --------------------------------------------------------------------------- run metadata


def git_commit(where: Path | None = None) -> str:
    """``git rev-parse HEAD`` of the source tree (or "unknown" outside a checkout)."""
    cwd = where if where is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def gather_outputs(
    out_dir: Path,
    node_out_dirs: Mapping[int, Path],
    stats_file: Path,
) -> tuple[dict[int, dict[str, Any]], dict[int, bytes], dict[str, Any]]:
    """Collect what the processes of a real run left behind, for every backend: each node's
    result.json and trace (copied to out_dir/traces/node-<i>.jsonl) and the proxy's stats
    (copied to out_dir/proxy-stats.json). Missing files are normal after a crash; a node
    that left no trace (or an empty one) gets no copy, rather than an empty file that looks
    like a trace of nothing."""
    results: dict[int, dict[str, Any]] = {}
    traces: dict[int, bytes] = {}
    for i, out in node_out_dirs.items():
        res = read_json(out / "result.json")
        if isinstance(res, dict):
            results[i] = res
        try:
            trace = (out / "trace.jsonl").read_bytes()
        except FileNotFoundError:
            trace = b""
        traces[i] = trace
        if trace:
            atomic_write_bytes(out_dir / "traces" / f"node-{i}.jsonl", trace)
    stats = read_json(stats_file)
    stats = stats if isinstance(stats, dict) else {}
    if stats:
        atomic_write_json(out_dir / "proxy-stats.json", stats)
    return results, traces, stats


def trace_hash(decisions: Sequence[tuple[float, int, int]], traces: Iterable[bytes]) -> str:
    """BLAKE2b-128 over the decisions in time order and every trace file, in node order."""
    h = hashlib.blake2b(digest_size=16, person=b"byzlab-trace-v1")
    for t, node, value in sorted(decisions):
        h.update(f"{t!r}:{node}:{value};".encode())
    for i, data in enumerate(traces):
        h.update(f"trace {i} {len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()


# --------------------------------------------------------------------------- summary


def build_summary(
    *,
    n: int,
    seed: int,
    params: Mapping[str, Any],
    protocol: str,
    scheduler: Mapping[str, Any],
    byzantine: Mapping[int, str],
    inputs: Sequence[int],
    delta_s: float,
    node_results: Mapping[int, Mapping[str, Any]],
    proxy_stats: Mapping[str, Any] | None,
    traces: Sequence[bytes],
    stopped: str,
    backend: str,
    run_id: str,
    commit: str,
) -> dict[str, Any]:
    """The summary.json of a real run: the simulator's keys plus real-run measurements."""
    honest_ids = [i for i in range(n) if i not in byzantine]
    decided: dict[int, int] = {}
    decision_at: dict[int, float] = {}
    starts: list[float] = []
    for i in honest_ids:
        res = node_results.get(i) or {}
        if isinstance(res.get("start_time"), int | float):
            starts.append(float(res["start_time"]))
        value = res.get("decision")
        if value in (-1, 1) and isinstance(res.get("decision_time"), int | float):
            decided[i] = int(value)
            decision_at[i] = float(res["decision_time"])
    start = min(starts) if starts else None
    agreed = len(decided) == len(honest_ids) and len(set(decided.values())) == 1
    decision = next(iter(decided.values())) if agreed else None
    # Every decision must be valid; a disagreement is reported by `agreed`, not here.
    valid = all(valid_decision(v, inputs, honest_ids) for v in decided.values())
    times = {i: t - start for i, t in decision_at.items()} if start is not None else {}
    latency_s = max(times.values()) if agreed and times else None
    reached = {i: int((node_results.get(i) or {}).get("iteration", 0)) for i in honest_ids}
    decided_in = {
        i: t for i in decided if type(t := node_results[i].get("decided_iteration")) is int
    }
    iterations = iterations_taken(reached, decided_in)
    T = int(params.get("T", 1)) or 1
    rejected: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    coins: dict[int, set[int]] = {}
    for i in honest_ids:
        res = node_results.get(i) or {}
        rejected.update(node_refusals(res))
        dropped.update({str(k): int(v) for k, v in (res.get("rbc_dropped") or {}).items()})
        for t, v in (res.get("coin_outputs") or {}).items():
            coins.setdefault(int(t), set()).add(int(v))
    unanimous = sum(1 for vs in coins.values() if len(vs) == 1)
    stats = dict(proxy_stats or {})
    decisions = [(decision_at[i], i, decided[i]) for i in decided]
    return {
        "agreed": agreed,
        "decision": decision,
        "valid": valid,
        "honest_decisions": {str(k): v for k, v in sorted(decided.items())},
        "latency_delta": (latency_s / delta_s) if latency_s is not None and delta_s > 0 else None,
        "iterations": iterations,
        "epochs": (iterations - 1) // T + 1 if iterations else 0,
        "rbc_instances": int(stats.get("rbc_instances", 0)),
        "messages": int(stats.get("messages", 0)),
        "bytes": int(stats.get("bytes", 0)),
        "trace_hash": trace_hash(decisions, traces),
        "seed": seed,
        "params": dict(params),
        "protocol": protocol,
        "scheduler": dict(scheduler),
        "byzantine": {str(k): v for k, v in sorted(byzantine.items())},
        "inputs": list(inputs),
        "stopped": stopped,
        "deliveries": int(stats.get("messages_delivered", 0)),
        "messages_by_kind": dict(stats.get("messages_by_kind", {})),
        "rejected": dict(rejected),
        "dropped": dict(dropped),
        "coin_unanimous": unanimous,
        "coin_split": len(coins) - unanimous,
        # real-run measurements
        "latency_s": latency_s,
        "delta_s": delta_s,
        "decision_times": {str(k): v for k, v in sorted(times.items())},
        "git_commit": commit,
        "backend": backend,
        "run_id": run_id,
        "proxy_incarnations": int(stats.get("incarnation", 0)),
        "tampered_frames": int(stats.get("tampered", 0)),
        "notes": {
            "latency_delta": "latency_s / delta_s: wall-clock latency in units of the maximum "
            "scheduled delay, processing and queueing included",
            "trace_hash": "hash of the ordered decisions and the per-node traces of this "
            "recorded run (real runs are not replayable, unlike the simulator's)",
            "bytes": "frame bytes relayed between distinct nodes (length prefix, link header, "
            "payload and MAC); the simulator estimates message sizes instead",
        },
    }


# --------------------------------------------------------------------------- corruption

CORRUPTED_NOTE = (
    "every corrupted node as {node, at, rule, strategy}: rule 'static' and at = 0 for "
    "[[adversary.byzantine]]; for [[adversary.corrupt]] the rule that fired and the time of "
    "the takeover, in virtual time (units of delta) in the simulator and in seconds since the "
    "start on real processes"
)


def adaptive_corruptions(
    stats: Mapping[str, Any], honest_ids: Iterable[int]
) -> list[dict[str, Any]]:
    """The takeovers the proxy recorded (``proxy-stats.json``'s ``corrupted``), keeping only
    well-formed entries about honest nodes of the plan, each node once."""
    honest = set(honest_ids)
    entries = stats.get("corrupted") if isinstance(stats, Mapping) else None
    out: dict[int, dict[str, Any]] = {}
    for c in entries if isinstance(entries, list) else ():
        if not isinstance(c, dict):
            continue
        node, at, rule, strategy = (c.get(k) for k in ("node", "at", "rule", "strategy"))
        if (
            type(node) is int
            and node in honest
            and isinstance(at, int | float)
            and not isinstance(at, bool)
            and isinstance(rule, str)
            and isinstance(strategy, str)
        ):
            out.setdefault(
                node, {"node": node, "at": float(at), "rule": rule, "strategy": strategy}
            )
    return list(out.values())


def corrupted_list(
    static: Mapping[int, str], adaptive: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """summary.json's ``corrupted``: the nodes corrupted from the start (at 0, rule
    "static"), then the takeovers in time order (see ``CORRUPTED_NOTE``)."""
    first = [
        {"node": i, "at": 0.0, "rule": STATIC, "strategy": s} for i, s in sorted(static.items())
    ]
    later = sorted((dict(c) for c in adaptive), key=lambda c: (c["at"], c["node"]))
    return first + later


def node_refusals(res: Mapping[str, Any]) -> Counter[str]:
    """What one node refused as invalid, by reason, from its result: its ``Refusals``
    counters (``rejected``) and the messages its process could not decode (``decode_errors``,
    as ``decode-<reason>``; real runs only). The one source of the summary's ``rejected`` and
    nodes.csv's ``messages_invalid``."""
    out: Counter[str] = Counter()
    for key, prefix in (("rejected", ""), ("decode_errors", "decode-")):
        counts = res.get(key)
        for reason, count in counts.items() if isinstance(counts, Mapping) else ():
            if type(count) is int and count > 0:
                out[f"{prefix}{reason}"] += count
    return out


def nodes_csv(
    n: int,
    *,
    byzantine: Mapping[int, str],
    inputs: Sequence[int],
    node_results: Mapping[int, Mapping[str, Any]],
    exit_codes: Mapping[int, int | None],
    start_time: float | None,
) -> str:
    """One row per node (honest rows from the node's result, Byzantine rows from the plan);
    ``messages_invalid`` is the node's total of ``node_refusals``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(NODE_CSV_COLUMNS)
    for i in range(n):
        res = node_results.get(i) or {}
        counters = res.get("counters") or {}
        t = res.get("decision_time")
        when = (
            f"{t - start_time:.6f}" if isinstance(t, int | float) and start_time is not None else ""
        )
        role = "byzantine" if i in byzantine else "honest"
        # Byzantine nodes live inside the proxy: no result file, so their cells stay empty.
        zero: object = "" if not res else 0
        writer.writerow(
            [
                i,
                role,
                byzantine.get(i, "honest"),
                inputs[i],
                "" if res.get("decision") is None else res["decision"],
                when,
                res.get("iteration", ""),
                res.get("halted", ""),
                *(counters.get(k, zero) for k in ("frames_in", "frames_dropped", "messages_in")),
                sum(node_refusals(res).values()) if res else "",
                *(counters.get(k, zero) for k in ("messages_out", "reconnects")),
                "" if exit_codes.get(i) is None else exit_codes[i],
            ]
        )
    return buf.getvalue()


def mark_role(table: str, nodes: Mapping[int, str], role_name: str) -> str:
    """nodes.csv with role ``role_name`` for ``nodes``: "crashed" (not "byzantine") for
    nodes that were lost, "corrupted" with their strategy (``nodes``' values) for nodes the
    adversary took over mid-run."""
    if not nodes:
        return table
    rows = list(csv.reader(io.StringIO(table)))
    role = rows[0].index("role")
    strategy = rows[0].index("strategy")
    for row in rows[1:]:
        if int(row[0]) in nodes:
            row[role] = role_name
            if role_name == "corrupted":
                row[strategy] = nodes[int(row[0])]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
