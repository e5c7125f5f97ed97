"""The local backend: one adversary proxy and N honest node processes on 127.0.0.1.

Theory of operation
-------------------
``byzlab run SCENARIO --backend local`` turns a scenario into processes and back into
results, in this order:

1. *Plan.* Validate the scenario (``scenario.py``), fix the seed, and take the parameters,
   inputs and every process's configuration from the run plan (``plan.py``), as every
   backend does. Estimate the memory the run needs and refuse it
   (``RunRefused``, exit status 2) if it exceeds MemAvailable, before anything is written
   or started, unless forced (``resources.py``). Create ``results/<run-id>/`` with
   ``INCOMPLETE.json`` as its first file (``results.start_run_dir``).
2. *Keys.* Generate n + 1 X25519 key pairs with the logic of ``byzlab keys gen`` (ids 0..n-1
   for the nodes, id n for the proxy's side channel) bound to the run id, in a private
   directory *outside* the results tree (``keydir.py``: under /dev/shm, with a janitor
   process that removes it if the orchestrator dies, SIGKILL included). Each honest node's
   key directory gets the roster and *its own* private key only; the proxy's gets the
   roster, its own key and the keys of the Byzantine nodes (the adversary controls them).
   The results tree gets only the public roster (``work/roster.json``). The key directory
   is removed when the processes have stopped: the keys are worthless after the run (the
   run id is bound into every link key).
3. *Proxy.* Start the proxy's module entry point (``plan.PROXY_MODULE``) with port 0; it
   binds a free port and reports it in ``ready.json`` (no race between choosing a port and
   binding it).
4. *Nodes.* Write ``node-<i>.json`` with that port and start the honest nodes
   (``plan.NODE_MODULE``, a lean entry point: see ``plan.py``).
5. *Wait.* Poll the proxy's statistics file for progress (connected, decided, halted; shown
   with rich when stderr is a terminal) until every node process has exited, the proxy
   fails, or the timeout expires.
6. *Stop.* Always, in ``finally``: SIGTERM to each process group, SIGKILL to what is left
   after a grace period, and ``wait()`` on every child so none is left as a zombie or an
   orphan. Every child runs in its own session (``start_new_session``), so a signal to its
   group reaches anything it might spawn, and a Ctrl-C at the terminal reaches only the
   orchestrator, which then stops the children in order. SIGTERM to the orchestrator is
   turned into the same orderly stop. Then the private keys are removed, and so are the
   temporary files of atomic writes whose writers were killed half way.
7. *Collect.* Read every node's ``result.json`` and ``trace.jsonl`` and the proxy's final
   statistics, and write (``processes.py``, as the docker backend does) ``summary.json``
   (the keys of ``byzlab sim --json`` plus wall-clock latency, per-node decision times, git
   commit and backend), ``nodes.csv``, ``traces/node-<i>.jsonl`` and ``proxy-stats.json``,
   all atomically.

Steps 1 to 7 are the lifecycle every backend shares (``backend.execute``); ``run_local`` runs
it, and ``LocalRun`` is also the handle tests use to start, signal and restart processes.

The exit status of ``byzlab run`` is 0 if and only if the honest nodes agreed on a valid
value; 2 if the run was refused before it started (not enough memory); 4 if a file could not
be written (``RunIOError``: a full disk, a read-only results directory, a results path under
a regular file), reported in one line with the path and the errno name, the run's processes
stopped and its keys removed, and ``INCOMPLETE.json`` in the run directory whenever anything
was written there. Everything a test or a person needs to debug a run (configs, logs of
every process, the raw outputs) stays under ``results/<run-id>/work/``, and every failure
message names the run id and the seed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from byzlab import plugins
from byzlab.atomicio import atomic_write_bytes, atomic_write_json, read_json
from byzlab.errors import RunFailed
from byzlab.network.keys import ROSTER_FILE, key_file_name
from byzlab.orchestration.backend import RunOutcome, StatusHook, execute
from byzlab.orchestration.keydir import PrivateKeyDir
from byzlab.orchestration.plan import NODE_MODULE, PROXY_MODULE
from byzlab.orchestration.processes import ProcessRun
from byzlab.orchestration.resources import available_memory_mib, check_memory, estimate_memory
from byzlab.orchestration.results import remove_stale_tmp
from byzlab.orchestration.scenario import Scenario

__all__ = ["LocalRun", "RunOutcome", "run_local"]

STARTUP_SLACK_S = 15.0  # process start-up on top of the scenario's timeout
STOP_GRACE_S = 3.0


class LocalRun(ProcessRun):
    """One run's processes and files. Use as a context manager: exit stops everything."""

    name = "local"

    def __init__(self, scenario: Scenario, *, python: str | None = None, **options: Any) -> None:
        """``python`` runs the processes (default: this interpreter); ``options`` are
        ``ProcessRun``'s (out_root, run_id, proxy_options, node_options, force)."""
        super().__init__(scenario, **options)
        self.python = python or sys.executable
        self.keys: PrivateKeyDir | None = None
        self._key_root: Path | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.port: int | None = None

    # ----------------------------------------------------------------- paths

    @property
    def ready_file(self) -> Path:
        return self.proxy_dir / "ready.json"

    def key_dir(self, i: int | None = None) -> Path:
        """Node ``i``'s key directory (the proxy's for None), outside the results tree."""
        if self._key_root is None:
            raise RunFailed("prepare the run before asking for its key directories")
        return self._key_root / ("proxy" if i is None else f"node-{i}")

    @property
    def has_started(self) -> bool:
        return self.keys is not None

    # ----------------------------------------------------------------- setup

    def check_memory(self) -> None:
        """Refuse (``RunRefused``) a run that does not fit in MemAvailable, unless forced."""
        estimate = estimate_memory(self.n, len(self.honest_ids), backend="local")
        check_memory(
            estimate, available_memory_mib(), where="this machine (MemAvailable)", force=self.force
        )

    def prepare(self) -> None:
        self.check_memory()
        self.make_run_dir()
        self.keys = PrivateKeyDir.create(self.run_id, python=self.python)
        self._key_root = self.keys.path
        all_keys = self.keys.path / "all"
        roster = self.generate_keys(all_keys)
        for i in [None, *self.honest_ids]:
            for k in self.plan.key_ids(i):
                self._install_key(all_keys, k, self.key_dir(i), roster)
        for path in all_keys.iterdir():
            path.unlink()
        all_keys.rmdir()

    @staticmethod
    def _install_key(src: Path, i: int, dest: Path, roster: bytes) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dest / ROSTER_FILE, roster)
        atomic_write_bytes(
            dest / key_file_name(i), (src / key_file_name(i)).read_bytes(), mode=0o600
        )

    def _spawn(self, name: str, module: str, config: Path) -> subprocess.Popen[bytes]:
        log = open(self.work / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop_all
        self._logs.append(log)
        try:
            proc = subprocess.Popen(
                [self.python, "-m", module, "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.work,
                # the nodes and the proxy import the run's plugins as this process does
                env=plugins.import_path_env(),
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise RunFailed(f"{self.describe()}: cannot start {name}: {exc}") from exc
        self.procs[name] = proc
        self._write_pids()
        return proc

    def _write_pids(self) -> None:
        atomic_write_json(self.work / "pids.json", {name: p.pid for name, p in self.procs.items()})

    def start_proxy(self, *, port: int | None = None, timeout: float = 20.0) -> int:
        """Start (or restart) the proxy; returns its port once it listens."""
        cfg = self.plan.proxy_config(
            key_dir=str(self.key_dir(None)),
            port=port or 0,
            stats_file=str(self.stats_file),
            ready_file=str(self.ready_file),
            messages_dir=str(self.proxy_spools) if self.records_messages else "",
            options=self.proxy_options,
        )
        path = self.work / "proxy.json"
        atomic_write_json(path, cfg)
        self.ready_file.unlink(missing_ok=True)
        proc = self._spawn("proxy", PROXY_MODULE, path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = read_json(self.ready_file)
            if isinstance(ready, dict) and ready.get("pid") == proc.pid:
                self.port = int(ready["port"])
                return self.port
            if proc.poll() is not None:
                raise RunFailed(
                    f"{self.describe()}: the proxy exited with status "
                    f"{proc.returncode} during start-up; see "
                    f"{self.work / 'logs' / 'proxy.log'}"
                )
            time.sleep(0.02)
        raise RunFailed(f"{self.describe()}: the proxy did not start within {timeout:.0f} s")

    def start_nodes(self) -> None:
        if self.port is None:
            raise RunFailed("start the proxy before the nodes")
        for i in self.honest_ids:
            cfg = self.plan.node_config(
                i,
                key_dir=str(self.key_dir(i)),
                proxy_host="127.0.0.1",
                proxy_port=self.port,
                out_dir=str(self.node_dir(i) / "out"),
                messages=self.records_messages,
                options=self.node_options,
            )
            path = self.node_dir(i) / "node.json"
            atomic_write_json(path, cfg)
            self._spawn(f"node-{i}", NODE_MODULE, path)

    def start(self, on_status: StatusHook | None = None) -> None:
        self.prepare()
        self.start_proxy()
        self.start_nodes()

    # ----------------------------------------------------------------- while running

    def status(self) -> dict[str, Any]:
        stats = read_json(self.stats_file)
        return stats if isinstance(stats, dict) else {}

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}

    def node_procs(self) -> dict[int, subprocess.Popen[bytes]]:
        return {i: self.procs[f"node-{i}"] for i in self.honest_ids if f"node-{i}" in self.procs}

    def wait(self, *, timeout: float | None = None, on_status: StatusHook | None = None) -> str:
        """Block until every node exited ("nodes-exited"), the proxy failed, or timeout."""
        budget = timeout if timeout is not None else (self.scenario.run.timeout_s + STARTUP_SLACK_S)
        deadline = time.monotonic() + budget
        while True:
            if on_status is not None:
                on_status(self.status())
            nodes = self.node_procs()
            if nodes and all(p.poll() is not None for p in nodes.values()):
                return "nodes-exited"
            proxy = self.procs.get("proxy")
            if proxy is not None and proxy.poll() not in (None, 0):
                return "proxy-failed"
            if time.monotonic() >= deadline:
                return "timeout"
            time.sleep(0.05)

    def kill_proxy(self, sig: int = signal.SIGKILL) -> None:
        """Test hook: kill the proxy abruptly and reap it."""
        proc = self.procs["proxy"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait()

    def restart_node(self, i: int) -> subprocess.Popen[bytes]:
        """Fault injection: start node ``i`` again with its config (after it was killed)."""
        old = self.procs.get(f"node-{i}")
        if old is not None and old.poll() is None:
            raise RunFailed(f"{self.describe()}: node {i} is still running")
        return self._spawn(f"node-{i}", NODE_MODULE, self.node_dir(i) / "node.json")

    def signal_proxy(self, sig: int) -> None:
        os.kill(self.procs["proxy"].pid, sig)

    # ----------------------------------------------------------------- stopping

    def stop_proxy(self, grace: float = STOP_GRACE_S) -> None:
        proc = self.procs.get("proxy")
        if proc is not None:
            self._stop([proc], grace)

    def stop_all(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM every child's process group, SIGKILL after ``grace``, reap all; then
        remove the private keys and the temporary files the dead processes left."""
        try:
            nodes = [p for name, p in self.procs.items() if name != "proxy"]
            # Nodes first (they write their results on SIGTERM), then the proxy.
            self._stop(nodes, grace)
            self.stop_proxy(grace)
        finally:
            for log in self._logs:
                with contextlib.suppress(OSError):  # a full disk must not skip the rest
                    log.close()
            self._logs.clear()
            self.remove_keys()
            with contextlib.suppress(OSError):
                remove_stale_tmp(self.out_dir)

    def remove_keys(self) -> None:
        """Remove the run's private key directory (idempotent)."""
        if self.keys is not None:
            self.keys.remove()

    @staticmethod
    def _stop(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
        running = [p for p in procs if p.poll() is None]
        for p in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in running:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for p in procs:
            p.wait()  # reap, so no zombie outlives the run

    def __enter__(self) -> LocalRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    # ----------------------------------------------------------------- results

    def settle(self, waited: str) -> None:
        if waited == "nodes-exited":
            # The proxy exits by itself after "done"; give it a moment to write its final
            # statistics before stopping it.
            proxy = self.procs.get("proxy")
            if proxy is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proxy.wait(timeout=STOP_GRACE_S)

    def collect(self, waited: str) -> RunOutcome:
        """Write summary.json, nodes.csv, traces/ and proxy-stats.json; return the outcome."""
        results, by_node, stats = self.gather()
        exit_codes: dict[int, int | None] = {i: p.returncode for i, p in self.node_procs().items()}
        stopped = self.stopped_reason(waited, results, self.still_honest())
        # A node process killed by a signal before it could report is a crash fault: within
        # the fault budget it counts toward f and is left out of the agreement check.
        crashed = {
            i: "killed"
            for i, code in exit_codes.items()
            if i not in results and code is not None and code < 0
        }
        # A node restarted after a crash rejoins as crashed (network/tcp/incarnation.py,
        # rejoin_as_crashed) unless its first process had halted and reported.
        for i, res in list(results.items()):
            if res.get("role") == "crashed":
                crashed[i] = str(res.get("stop_reason", "crashed"))
                del results[i]
        # A node that never said hello before the proxy's start grace ran out took no part
        # in the run (adversary/proxy/runtime.py, start_grace_s): a crash fault too, even if
        # its process later exited on its own and reported.
        never = stats.get("never_connected") if isinstance(stats, dict) else None
        for i in never if isinstance(never, list) else ():
            if isinstance(i, int) and i in self.honest_ids and i not in crashed:
                crashed[i] = "never-connected"
                results.pop(i, None)
        if len(self.byzantine) + len(crashed) > self.params.f:
            crashed = {}
        return self.finish(
            stopped=stopped,
            node_results=results,
            traces=[by_node[i] for i in self.honest_ids],
            stats=stats,
            faulty={**self.byzantine, **crashed},
            crashed=crashed,
            exit_codes=exit_codes,
            table=self.nodes_table(
                byzantine=self.byzantine,
                node_results=results,
                starts_from=results.values(),
                exit_codes=exit_codes,
            ),
        )


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the orchestrator dies, however it dies.

    ``stop_all`` covers every exit the orchestrator lives through (success, failure,
    Ctrl-C); this covers SIGKILL, so not even that leaves an orphan. Nodes and the proxy
    write their results on SIGTERM. Linux only (prctl PR_SET_PDEATHSIG); elsewhere a no-op.
    """
    if sys.platform != "linux":
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


_PR_SET_PDEATHSIG = 1


def run_local(
    scenario: Scenario,
    *,
    out_root: Path,
    on_status: StatusHook | None = None,
    run_id: str | None = None,
    force: bool = False,
) -> RunOutcome:
    """Run one scenario on local processes and write its results (see the module docs)."""
    return execute(LocalRun(scenario, out_root=out_root, run_id=run_id, force=force), on_status)
