"""Many independent tasks on Dask distributed: a LocalCluster by default, a cluster by address.

Sweeps, the attack matrix and the adversary search each run many simulator runs that share
nothing; this module is the one place that spreads such tasks over processes or machines.
How to call it::

    from byzlab.orchestration.cluster import cluster_executor

    with cluster_executor(address=None, workers=4) as ex:  # or address="tcp://host:8786"
        for done in ex.map_unordered(evaluate, items):      # in the order they finish
            if done.error is None:
                use(done.item, done.value)
            else:                                            # it raised, or its worker died
                record(done.item, done.error)                # or done.unwrap() to raise

* ``fn`` must be picklable (a module-level function, or a ``functools.partial`` of one; Dask
  pickles with cloudpickle, so a lambda over picklable values works too); ``items`` may be a
  generator, consumed lazily: at most ``ex.window`` tasks are in flight, and the next item is
  taken only after a result was handed back, so a search may choose what to evaluate next
  from what it has seen.
* ``done.error`` is one line, ``"<ExceptionType>: <message>"``, and ``done.exception`` what
  the task raised (None when its worker died: a task whose worker died, killed or out of
  memory, ends as ``KilledWorker`` rather than hanging). On a LocalCluster a
  task is tried on at most two workers (``allowed-failures`` = 1): the second chance is for a
  task that merely shared a worker with the one that killed it.
* On ``KeyboardInterrupt`` (or any exception, or a consumer that stops iterating) the tasks
  not handed back are cancelled; leaving the ``with`` block closes the client and, for a
  LocalCluster, its nannies and worker processes, so Ctrl-C leaves no process behind. The
  workers of a cluster given by address are not ours: they stay, and a task already running
  there runs to its end, its result dropped.

``cluster_option`` is the ``--cluster tcp://HOST:PORT`` option of every command that runs many
simulations (``byzlab sweep``, ``byzlab matrix``, ``byzlab search``), checked up front.

Which executor (``cluster_executor``):

* ``address`` given (``tcp://HOST:PORT`` of a ``dask scheduler``): connect to it. Its workers
  must run the same byzlab code from the same Python minor version (the same checkout or venv),
  since a run's trace hash is only reproducible with the same code: each worker present at
  connection reports ``code_identity()`` and a difference is refused, naming the worker.
  No worker within ``connect_timeout`` seconds is refused too (tasks would wait forever).
* else ``workers`` > 1 (default: every core): a ``distributed.LocalCluster`` of that many
  worker processes, one thread each (the simulator is pure Python, bound by the GIL), on
  127.0.0.1 with random ports and no dashboard, its logs at WARNING. Workers are spawned from
  this interpreter, so they import this byzlab.
* else (one worker): the tasks run one after another in this process, with no cluster at all
  (a one-worker cluster would only add its start-up and the pickling); ``done.error`` is
  filled the same way. A ``KeyboardInterrupt`` raised inside a task propagates.

What it costs (cluster start-up, a sweep of 24 small runs, the overhead per task) is
measured in docs/cluster.md.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

import click

import byzlab
from byzlab import __version__
from byzlab.errors import ClusterUnavailable

__all__ = [
    "ClusterExecutor",
    "Executor",
    "Finished",
    "InProcessExecutor",
    "TaskError",
    "check_address",
    "cluster_executor",
    "cluster_option",
    "code_identity",
]

T = TypeVar("T")
R = TypeVar("R")

ADDRESS = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})")
CONNECT_TIMEOUT_S = 20.0
# a task is tried on at most this + 1 workers of a LocalCluster before it is KilledWorker
ALLOWED_FAILURES = 1


class TaskError(RuntimeError):
    """A task raised or lost its worker; the message is ``Finished.error``."""


@dataclass(frozen=True)
class Finished(Generic[T, R]):
    """One task handed back: its item, and its value or a one-line error."""

    item: T
    value: R | None
    error: str | None = None
    # what the task raised, when it raised (not when its worker died): callers that stop on
    # some kinds of failure look at its type
    exception: BaseException | None = None

    def unwrap(self) -> R:
        """The value; ``TaskError`` when the task failed."""
        if self.error is not None:
            raise TaskError(self.error)
        return cast(R, self.value)  # None only when R admits None


class Executor(Protocol):
    """What both executors offer (see the module docs)."""

    @property
    def workers(self) -> int: ...

    @property
    def window(self) -> int: ...

    def describe(self) -> str: ...

    def map_unordered(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[Finished[T, R]]: ...


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class InProcessExecutor:
    """Tasks in turn in this process: ``cluster_executor`` with one local worker."""

    workers = 1
    window = 1

    def describe(self) -> str:
        return "this process"

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Finished[T, R]]:
        for item in items:
            try:
                value = fn(item)
            except Exception as exc:  # data for the caller; KeyboardInterrupt propagates
                yield Finished(item, None, _one_line(exc), exc)
            else:
                yield Finished(item, value)


class ClusterExecutor:
    """Tasks on the workers of a ``distributed.Client``, handed back as they finish."""

    def __init__(self, client: Any, where: str, window: int | None = None) -> None:
        self.client = client
        self.where = where
        threads = int(sum(client.nthreads().values()))
        self._workers = max(1, threads)
        # enough queued per thread that no worker idles while the parent records a result,
        # few enough that a huge sweep is not pickled all at once
        self._window = window or max(4 * self._workers, 8)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def window(self) -> int:
        return self._window

    def describe(self) -> str:
        return f"{self.where} ({self._workers} worker threads)"

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Finished[T, R]]:
        source = iter(items)
        pending: dict[Any, T] = {}
        finished = _distributed().as_completed(
            loop=self.client.loop, with_results=True, raise_errors=False
        )

        def top_up() -> None:
            while len(pending) < self._window:
                try:
                    item = next(source)
                except StopIteration:
                    return
                # pure=False: two equal items are two tasks (Dask would otherwise merge them)
                future = self.client.submit(fn, item, pure=False)
                pending[future] = item
                finished.add(future)

        try:
            top_up()
            while pending:
                # the results are gathered on the client's event loop as they finish, a
                # result lost with its worker recomputed first
                future, result = next(finished)
                item = pending.pop(future)
                if isinstance(result, CancelledError):  # by another client of the cluster
                    done: Finished[T, R] = Finished(item, None, _one_line(result))
                elif future.status == "error":  # it raised, or its workers died (KilledWorker)
                    exc = result[1]  # (type, exception, traceback)
                    killed = isinstance(exc, _distributed().KilledWorker)
                    done = Finished(item, None, _one_line(exc), None if killed else exc)
                else:
                    done = Finished(item, result)
                future.release()
                yield done
                top_up()
        finally:
            if pending:
                self.client.cancel(list(pending))


def _distributed() -> Any:
    """The distributed package, imported when first needed (it takes about a second), and
    typed as Any: its constructors are unannotated, which strict mypy refuses to call."""
    import distributed

    return distributed


@functools.cache
def code_identity() -> tuple[str, str, str]:
    """(Python major.minor, byzlab version, digest of byzlab's .py sources) of this process:
    two processes that agree on it compute the same trace hash for the same run."""
    root = Path(byzlab.__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return python, __version__, digest.hexdigest()


def check_address(address: str) -> str:
    """``tcp://HOST:PORT`` or a ``ClusterUnavailable`` naming what is wrong."""
    match = ADDRESS.fullmatch(address.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ClusterUnavailable(
            f"--cluster: expected the scheduler's address as tcp://HOST:PORT with a port "
            f"in 1..65535 (e.g. tcp://127.0.0.1:8786), got {address!r}"
        )
    return address.strip()


def _address_param(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_address(value)
    except ClusterUnavailable as exc:
        raise click.BadParameter(str(exc).removeprefix("--cluster: ")) from None


cluster_option = click.option(
    "--cluster",
    "cluster",
    metavar="tcp://HOST:PORT",
    default=None,
    callback=_address_param,
    help="Run the simulator runs on this running Dask scheduler's workers (started with "
    "`dask scheduler` and `dask worker ADDRESS` from byzlab's venv) instead of a "
    "LocalCluster of --jobs workers on this machine.",
)


def _check_workers(client: Any, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ClusterUnavailable(
            f"--cluster {address}: the scheduler has no workers after {CONNECT_TIMEOUT_S:g} s; "
            "start some with `dask worker " + address + "` from byzlab's venv"
        ) from None
    mine = code_identity()
    try:
        reports = client.run(code_identity)
    except Exception as exc:  # a worker without byzlab cannot even unpickle the call
        raise ClusterUnavailable(
            f"--cluster {address}: a worker cannot run byzlab ({_one_line(exc)}); start the "
            "workers from byzlab's venv"
        ) from None
    for worker, theirs in sorted(reports.items()):
        if not isinstance(theirs, tuple | list) or tuple(theirs) != mine:
            raise ClusterUnavailable(
                f"--cluster {address}: worker {worker} runs (Python, byzlab, code digest) "
                f"{theirs!r:.200}, this process {mine!r}: start the workers from the same "
                "checkout and venv"
            )


@contextlib.contextmanager
def _remote(address: str, window: int | None) -> Iterator[ClusterExecutor]:
    address = check_address(address)
    try:
        client = _distributed().Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except OSError as exc:  # distributed raises OSError (a TimeoutError) when none answers
        raise ClusterUnavailable(
            f"--cluster {address}: no Dask scheduler answered within {CONNECT_TIMEOUT_S:g} s "
            f"({_one_line(exc)})"
        ) from None
    try:
        _check_workers(client, address)
        yield ClusterExecutor(client, f"the Dask cluster at {address}", window)
    finally:
        client.close()


def dask_setup(worker: object) -> None:
    """Run by every worker process of byzlab's LocalCluster as it starts (a Dask preload of
    this module): it ignores SIGINT. Ctrl-C in a terminal reaches the whole process group,
    and only the parent acts on it (cancel, close the cluster, keep what finished); a worker
    that took it too would die with a traceback in the middle of that."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _local(workers: int, window: int | None) -> Iterator[ClusterExecutor]:
    import dask

    distributed = _distributed()
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,  # nothing to view it with, and a fixed port may clash;
            # the scheduler serves its health and metrics routes anyway, by default on 8787
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.WARNING,
            preload=[__name__],  # dask_setup above
        )
    try:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            yield ClusterExecutor(client, f"a LocalCluster of {workers} workers", window)
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def cluster_executor(
    address: str | None = None, workers: int | None = None, *, window: int | None = None
) -> Iterator[Executor]:
    """The executor for ``--cluster ADDRESS`` / ``--jobs K`` (see the module docs).

    ``workers``: LocalCluster size (default every core; ignored with ``address``);
    ``window``: tasks in flight (default four per worker thread, at least 8).
    """
    if address is not None:
        with _remote(address, window) as remote:
            yield remote
        return
    count = workers if workers is not None else os.cpu_count() or 1
    if count < 1:
        raise ValueError(f"workers must be at least 1, got {count}")
    if count == 1:
        yield InProcessExecutor()
        return
    with _local(count, window) as local:
        yield local
