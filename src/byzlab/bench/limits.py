"""Benchmark 5, size limits: the largest n each backend completes within the time budget.

One attempt is one honest run (split inputs, FIFO scheduler, delta_s = 0) that must agree on
a valid value within ``--budget`` seconds of wall time, start-up included:

* ``sim``: the simulator in a child process (killed at the budget), which also reports its
  peak RSS; its address space is capped at half the memory available (at most 16 GiB),
  so a size this machine cannot hold fails as "memory" instead of starving other jobs;
* ``local``: node processes and the proxy on this machine (``run_local``);
* ``docker``: one container per node (``run_docker``); skipped, with the reason, when no
  Docker engine or no image is available.

The search doubles n from a starting size until an attempt fails or n reaches the cap (twice
the target), then bisects between the last size that passed and the first that failed until
they are within a quarter of the former. A failure that the sizes below make surprising (the
largest size that passed took under a tenth of the budget) is tried once more before it
counts, so that one stuck run does not set the limit; every attempt is kept in the rows, and
the directories of real runs that failed under OUT/bench-failed-runs/.

With ``--quick`` the sizes are tiny (n = 4, 8, 16 at most) and say nothing about the
targets; they only show the machinery works.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from byzlab.bench.common import Context, Figure, Section
from byzlab.bench.realrun import honest_scenario, keep_run, sample
from byzlab.errors import BackendUnavailable, RunFailed
from byzlab.network.process import max_rss_kib
from byzlab.orchestration.scenario import build_simulator

TARGETS = {"sim": 256, "local": 64, "docker": 32}
FULL_START = {"sim": 32, "local": 16, "docker": 8}
QUICK_CAP = {"sim": 16, "local": 8, "docker": 4}
MIN_N = 4
RETRY_BELOW = 0.1  # retry a failed size once if the largest size below it took < 10% of budget
SIM_MEMORY_CAP = 16 << 30


def search_largest(
    attempt: Callable[[int], bool],
    start: int,
    cap: int,
    *,
    good: int | None = None,
    tolerance: int | None = None,
) -> tuple[int | None, int | None]:
    """(largest n that passed, smallest n that failed) by doubling, then bisection.

    ``good``: a size already known to pass (not tried again), below ``start``. Bisection
    stops when the bracket is at most ``tolerance`` wide (at least 1, so that it always
    ends; default: a quarter of the size that passed).
    """
    if good is not None and good >= start:
        raise ValueError(f"a size known to pass ({good}) must be below the start ({start})")
    bad: int | None = None
    n = start
    while True:  # double up from start
        if attempt(n):
            good = n
            if n >= cap:
                break
            n = min(2 * n, cap)
        else:
            bad = n
            break
    while good is None and bad is not None and bad // 2 >= MIN_N:  # the start failed: halve
        n = bad // 2
        if attempt(n):
            good = n
        else:
            bad = n
    while (
        good is not None
        and bad is not None
        and bad - good > max(1, tolerance if tolerance is not None else good // 4)
    ):
        n = (good + bad) // 2
        if attempt(n):
            good = n
        else:
            bad = n
    return good, bad


def memory_cap_bytes() -> int | None:
    """Address space a simulator child may take: half of what the machine has available
    (other people's jobs share it), at most ``SIM_MEMORY_CAP``; None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {k: v for k, _, v in (line.partition(":") for line in fh)}
        available = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return min(SIM_MEMORY_CAP, available // 2)


def sim_child(n: int, cap_bytes: int = 0) -> None:
    """In a child process: one honest FIFO simulator run of n nodes; JSON on stdout.

    With ``cap_bytes`` the child's address space is limited to it, so a size too large for
    this machine ends in a MemoryError in the child instead of starving everything else."""
    if cap_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    sim = build_simulator(honest_scenario(n, 0.0, timeout_s=1.0))
    sim.max_deliveries = 1 << 62  # only the budget decides (the default cap is 50 M)
    started = time.perf_counter()
    result = sim.run()
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "agreed": result.agreed and result.valid,
                "stopped": result.stopped,
                "deliveries": result.deliveries,
                "messages": result.messages,
                "sim_wall_s": wall,
                "max_rss_kib": max_rss_kib(),
            }
        )
    )


def _attempt_sim(ctx: Context, n: int) -> dict[str, Any]:
    code = (
        "import sys; from byzlab.bench.limits import sim_child; "
        "sim_child(int(sys.argv[1]), int(sys.argv[2]))"
    )
    cap = memory_cap_bytes() or 0
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(n), str(cap)],
            capture_output=True,
            text=True,
            timeout=ctx.budget_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"agreed": False, "stopped": "budget"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return {
            "agreed": False,
            "memory_cap_bytes": cap,
            "error": last,
            "stopped": "memory" if "MemoryError" in last else f"exit {done.returncode}",
        }
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _attempt_local(ctx: Context, n: int) -> dict[str, Any]:
    try:
        got = sample(
            ctx.tmp, n, 0.0, timeout_s=ctx.budget_s, rss_interval=1.0, keep_failed=ctx.failed_runs
        )
    except RunFailed as exc:
        return {"agreed": False, "stopped": "run-failed", "error": str(exc)}
    return {
        "agreed": got.agreed,
        "stopped": got.stopped,
        "messages": got.messages,
        "latency_s": got.latency_s,
        "run_id": got.run_id,
        "kept": got.kept,
    }


def _docker_attempt(ctx: Context) -> Callable[[Context, int], dict[str, Any]]:
    """The docker attempt, once the engine answers (else BackendUnavailable)."""
    from byzlab.orchestration.docker.engine import connect
    from byzlab.orchestration.docker.run import run_docker

    # DockerUnavailable (no engine, no image) is a BackendUnavailable: it skips the backend.
    client = connect(timeout=10)

    def attempt(ctx: Context, n: int) -> dict[str, Any]:
        scn = honest_scenario(n, 0.0, timeout_s=ctx.budget_s)
        try:
            outcome = run_docker(scn, out_root=ctx.tmp, client=client)
        except RunFailed as exc:
            return {"agreed": False, "stopped": "run-failed", "error": str(exc)}
        if outcome.stopped == "interrupted":  # run_docker turns Ctrl-C and SIGTERM into this
            raise KeyboardInterrupt
        s = outcome.summary
        return {
            "agreed": outcome.ok,
            "stopped": outcome.stopped,
            "messages": s["messages"],
            "latency_s": s.get("latency_s"),
            "spinup_s": s.get("spinup_s"),
            "run_id": outcome.run_id,
            "kept": "" if outcome.ok else keep_run(outcome.out_dir, ctx.failed_runs),
        }

    return attempt


def _attempts(ctx: Context, backend: str) -> Callable[[Context, int], dict[str, Any]]:
    if backend == "docker":
        return _docker_attempt(ctx)
    return _attempt_sim if backend == "sim" else _attempt_local


def _search(ctx: Context, section: Section, backend: str) -> None:
    target = TARGETS[backend]
    cap = QUICK_CAP[backend] if ctx.quick else 2 * target
    one = _attempts(ctx, backend)
    attempts: list[dict[str, Any]] = []

    def once(n: int, again: bool) -> bool:
        ctx.step(f"{backend}: n={n}" + (" again" if again else ""))
        started = time.monotonic()
        got = one(ctx, n)
        wall = time.monotonic() - started
        ok = bool(got.get("agreed")) and wall <= ctx.budget_s
        attempts.append(
            {"backend": backend, "n": n, "ok": ok, "wall_s": wall, "retry": again, **got}
        )
        return ok

    def attempt(n: int) -> bool:
        if once(n, False):
            return True
        below = [a for a in attempts if a["ok"] and a["n"] < n]
        fast = (
            bool(below) and max(below, key=lambda a: a["n"])["wall_s"] < RETRY_BELOW * ctx.budget_s
        )
        return fast and once(n, True)  # a surprising failure: was it the size?

    good, bad = search_largest(attempt, MIN_N if ctx.quick else FULL_START[backend], cap)
    section.rows += attempts
    section.record(f"{backend}: largest_n", [good])
    # every attempt's time, in the order tried (different sizes: no median of them)
    section.samples[f"{backend}: wall_s per attempt"] = [a["wall_s"] for a in attempts]
    if good is not None:
        section.medians[f"{backend}: wall_s at largest n"] = next(
            a["wall_s"] for a in attempts if a["n"] == good and a["ok"]
        )
    tried = ", ".join(
        f"{a['n']}{' again' if a['retry'] else ''}"
        f"{'' if a['ok'] else ' (failed: ' + str(a['stopped']) + ')'}"
        f" {a['wall_s']:.0f}s"
        for a in attempts
    )
    note = (f"quick: tiny sizes (cap {cap}); " if ctx.quick else "") + f"tried {tried}"
    if bad is None and good is not None and good >= cap:
        note += f"; stopped at the cap {cap}"
    met = None if cap < target else good is not None and good >= target
    section.figures.append(
        Figure(
            f"largest n, {backend}",
            None if good is None else good,
            "nodes",
            f">= {target}",
            met,
            note,
        )
    )


def run(ctx: Context) -> Section:
    section = Section("limits", f"Size limits (honest, FIFO; budget {ctx.budget_s:g} s a run)")
    section.extra["budget_s"] = ctx.budget_s
    for backend in ctx.backends:
        try:
            _search(ctx, section, backend)
        except BackendUnavailable as exc:
            section.notes.append(f"{backend}: skipped: {exc}")
            section.figures.append(
                Figure(
                    f"largest n, {backend}",
                    None,
                    "nodes",
                    f">= {TARGETS[backend]}",
                    None,
                    f"skipped: {exc}",
                )
            )
    return section
