"""What every transport process (an honest node, the proxy) does as an OS process.

Its event loop (uvloop when importable, an exception nobody observed turns the exit status
into 1, cProfile on request), its log lines, its CPU scheduling policy, and the figures
it reports about itself (CPU time, peak resident set).
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

__all__ = [
    "PROFILE_ENV",
    "batch_scheduling",
    "cpu_seconds",
    "max_rss_kib",
    "peak_rss_kib",
    "run_with_loop",
    "setup_logging",
]

log = logging.getLogger("byzlab.process")

PROFILE_ENV = "BYZLAB_PROFILE"  # a directory: profile this process with cProfile into it


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all threads), in seconds."""
    return time.process_time()


def peak_rss_kib(pid: int | str = "self") -> int | None:
    """The kernel's high-water mark of a process's resident set (``VmHWM``), in KiB;
    None where there is no /proc (or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None  # a zombie has no memory lines left


def max_rss_kib() -> int:
    """This process's peak resident set size so far, in KiB.

    ``VmHWM`` of this address space where Linux has it. Not ``getrusage``'s ``ru_maxrss``:
    Linux carries it across ``exec`` from the address space the process was forked with, so
    a node started by a 60 MiB orchestrator reports at least 60 MiB whatever it used itself.
    Elsewhere ``ru_maxrss`` is the best there is (bytes on macOS, hence the conversion).
    """
    own = peak_rss_kib()
    if own is not None:
        return own
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak // 1024 if sys.platform == "darwin" else peak


def batch_scheduling() -> bool:
    """Put this process under Linux's SCHED_BATCH policy; True if it took effect.

    Why: on a machine with fewer cores than processes, every frame the proxy writes wakes a
    node, and a woken node of the normal policy may preempt the task on the core at once,
    which is usually the proxy itself, in the middle of relaying a read's worth of frames to
    everybody else. The proxy is on the path of every hop; nodes are not. SCHED_BATCH
    tasks get the same share of CPU but never preempt on wake-up, so the proxy finishes
    its turn and the node runs when a core frees up. Measured (honest n = 7, FIFO,
    delta_s = 0, two cores): about 16 % more messages per second and less CPU per message
    (fewer context switches). Unprivileged processes may choose it; elsewhere (macOS, a
    seccomp profile that forbids it) the node runs under the normal policy.
    """
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_BATCH"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        return False
    return True


def run_with_loop(make: Callable[[], Coroutine[Any, Any, int]], *, name: str) -> int:
    """Run ``make()`` on uvloop when importable, else the stock loop; exit status.

    Anything that reaches the loop's exception handler (a callback that raised, a task that
    died unobserved) is logged and turns the exit status into 1: a lost exception is a bug.
    """
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        pass
    failures: list[str] = []

    def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        failures.append(str(context.get("message")))
        exc = context.get("exception")
        log.error(
            "%s: unhandled error in the event loop: %s",
            name,
            context.get("message"),
            exc_info=exc if isinstance(exc, BaseException) else None,
        )

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.get_loop().set_exception_handler(on_error)
        profile_dir = os.environ.get(PROFILE_ENV)
        if profile_dir:
            status = _run_profiled(runner, make, Path(profile_dir), name)
        else:
            status = runner.run(make())
    return 1 if failures and status == 0 else status


def _run_profiled(
    runner: asyncio.Runner,
    make: Callable[[], Coroutine[Any, Any, int]],
    profile_dir: Path,
    name: str,
) -> int:
    """``runner.run(make())`` under cProfile; the stats go to ``profile_dir`` on exit.

    Development aid (``BYZLAB_PROFILE=DIR byzlab run ...``):
    one ``<name>-<pid>.prof`` per process, readable with ``python -m pstats``.
    """
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return runner.run(make())
    finally:
        profiler.disable()
        profile_dir.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile_dir / f"{name.replace(' ', '-')}-{os.getpid()}.prof")


def setup_logging(prefix: str) -> None:
    """Log lines to stderr, each tagged with the process (``node 3``, ``proxy``)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {prefix} %(levelname)s %(message)s",
    )
