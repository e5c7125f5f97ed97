"""The one interface every backend implements and the lifecycle they share.

A *backend* runs one plan (``plan.py``) of a single-instance scenario and writes its results
directory. There are three: ``sim`` (the deterministic simulator, ``simrun.py``), ``local``
(one process per honest node and the adversary proxy on this machine, ``local.py``) and
``docker`` (one container each, ``docker/run.py``). Each is a subclass of ``Backend`` and goes
through the same steps, driven by ``execute``:

1. ``start(on_status)``: check that the run fits (memory), create ``results/<run-id>/`` with
   ``INCOMPLETE.json`` first and ``scenario.toml``, stage keys and configs, start what runs;
2. ``wait(on_status)``: block until the run ends, reporting progress to ``on_status``, and
   say why it ended ("nodes-exited", "timeout", "proxy-failed", "finished", ...);
3. ``settle(waited)``: let the run's last writer finish (the proxy's final statistics);
4. ``stop_all()``, always (success, failure, exception, Ctrl-C, SIGTERM): stop and reap
   everything started, remove private keys and temporary files;
5. ``collect(waited)``: write the common result files (``RESULT_FILES`` and the summary keys
   of ``results.SUMMARY_KEYS``, for every backend), ``summary.json`` last, and return the
   ``RunOutcome``.

SIGTERM to the orchestrator is turned into the same orderly stop as Ctrl-C (``interrupted``,
exit status 130). A file that cannot be written ends the run with ``RunIOError`` (exit status
4): one line with the path, the errno, and what the run directory holds.

``dispatch.run_scenario`` is the one place that turns a backend's name into a run.
"""

from __future__ import annotations

import abc
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from byzlab.errors import RunIOError
from byzlab.orchestration.plan import RunPlan
from byzlab.orchestration.resources import os_error_text
from byzlab.orchestration.results import INCOMPLETE_FILE, remove_stale_tmp
from byzlab.orchestration.scenario import Scenario

__all__ = [
    "RESULT_FILES",
    "Backend",
    "RunOutcome",
    "StatusHook",
    "execute",
    "ignoring_sigint",
    "io_error",
]

# What every backend writes in results/<run-id>/ (each adds what only it has: the simulator
# trace.json; real runs traces/, proxy-stats.json and work/).
RESULT_FILES = ("scenario.toml", "summary.json", "nodes.csv")

StatusHook = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: where its results are, its summary, and why it stopped."""

    run_id: str
    out_dir: Path
    summary: dict[str, Any]
    stopped: str

    @property
    def ok(self) -> bool:
        return bool(self.summary.get("agreed")) and bool(self.summary.get("valid"))

    @property
    def exit_code(self) -> int:
        if self.stopped == "interrupted":
            return 130
        return 0 if self.ok else 1

    def line(self) -> str:
        """One line naming the run, its verdict and its seed (for failure messages)."""
        s = self.summary
        lat = s.get("latency_s")
        return (
            f"run {self.run_id}: agreed={s.get('agreed')} decision={s.get('decision')} "
            f"valid={s.get('valid')} latency="
            f"{'-' if lat is None else f'{lat:.3f} s'} stopped={self.stopped} "
            f"seed={s.get('seed')}"
        )


class Backend(abc.ABC):
    """One run of a plan on one backend (the module docs give the lifecycle)."""

    name: ClassVar[str]

    def __init__(self, scenario: Scenario, *, out_root: Path, run_id: str | None = None) -> None:
        self.plan = RunPlan.of(scenario, run_id=run_id)
        self.scenario = scenario
        self.n = self.plan.n
        self.f = self.plan.f
        self.seed = self.plan.seed
        self.params = self.plan.params
        self.inputs = self.plan.inputs
        self.byzantine = self.plan.byzantine
        self.honest_ids = self.plan.honest_ids
        self.run_id = self.plan.run_id
        self.out_dir = out_root.resolve() / self.run_id  # processes run with cwd=work
        self.work = self.out_dir / "work"
        self.started_at = time.monotonic()

    def describe(self) -> str:
        """What to put in every failure message: enough to find and replay the run."""
        return f"run {self.run_id} (seed={self.seed}, results in {self.out_dir})"

    @abc.abstractmethod
    def start(self, on_status: StatusHook | None = None) -> None:
        """Check, prepare the run directory and start the run."""

    @abc.abstractmethod
    def wait(self, *, timeout: float | None = None, on_status: StatusHook | None = None) -> str:
        """Block until the run ends; return why."""

    def settle(self, waited: str) -> None:  # noqa: B027 - a hook: most backends need nothing
        """After ``wait``, before ``stop_all``: let the run's last writer finish."""

    @abc.abstractmethod
    def stop_all(self) -> None:
        """Stop and reap everything the run started (idempotent)."""

    @abc.abstractmethod
    def collect(self, waited: str) -> RunOutcome:
        """Write the result files, summary.json last; return the outcome."""

    @property
    def has_started(self) -> bool:
        """Did the run get as far as creating something that ``stop_all`` removes?"""
        return False


class _Terminated(BaseException):
    """SIGTERM to the orchestrator, raised in the main thread to unwind through finally."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def ignoring_sigint() -> Iterator[None]:
    """A second Ctrl-C must not abandon a clean-up half way."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def execute(run: Backend, on_status: StatusHook | None = None) -> RunOutcome:
    """Drive ``run`` through its lifecycle (see the module docs) and return its outcome.

    Raises ``RunRefused`` before anything starts if the run does not fit (unless forced),
    ``RunIOError`` (one line: path and errno) if a file cannot be written.
    """
    waited = "interrupted"
    try:
        with _sigterm_unwinds():
            try:
                run.start(on_status)
                waited = run.wait(on_status=on_status)
                run.settle(waited)
            except (KeyboardInterrupt, _Terminated):
                waited = "interrupted"
            finally:
                run.stop_all()
        return run.collect(waited)
    except OSError as exc:
        raise io_error(exc, run) from exc
    finally:
        with contextlib.suppress(OSError):
            remove_stale_tmp(run.out_dir)


def io_error(exc: OSError, run: Backend) -> RunIOError:
    """The one line for a file the run could not write (or read), and what is left."""
    out_dir = run.out_dir
    if (out_dir / INCOMPLETE_FILE).exists():
        left = f"{out_dir} is incomplete ({INCOMPLETE_FILE})"
    elif out_dir.exists():
        left = f"what was written is in {out_dir}"
    else:
        left = "nothing was written"
    stopped = "the run was stopped and its private keys removed; " if run.has_started else ""
    return RunIOError(f"run {run.run_id}: {os_error_text(exc)}; {stopped}{left}")
