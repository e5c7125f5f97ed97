"""The docker backend's run: the adversary proxy and N honest nodes, one container each.

Theory of operation
-------------------
``byzlab run SCENARIO --backend docker`` is the local backend (``local.py``) with containers
instead of processes, through the Docker SDK for Python, and it writes the same results:

1. *Connect.* ``connect()`` pings the engine named by ``DOCKER_HOST`` (default
   ``unix:///var/run/docker.sock``). If it cannot be reached, the run stops with one sentence
   saying what to start (``DockerUnavailable``), never a traceback. The image
   (``[docker] image``, default ``byzlab:latest``) must exist; ``byzlab image build`` makes
   it, and a warning says when it was built from other sources than the working tree.
2. *Plan and keys.* As in the local backend: the memory check (``resources.py``: against
   the engine's memory, and this machine's MemAvailable when the engine runs here; refused
   in one line, exit status 2, before any object is created, unless forced),
   ``results/<run-id>/`` with ``INCOMPLETE.json`` first, n + 1 key pairs bound to the run
   id, generated in a private directory outside the results tree (``keydir.py``) and removed
   as soon as they are staged; each honest node gets the roster and only its own private
   key, the proxy its own key and those of the Byzantine nodes. Everything else a container
   needs is also kept on the host under ``results/<run-id>/work/`` (the configs name the
   paths *inside* the containers). A file that cannot be written ends the run in one line
   with the path and errno (``RunIOError``, exit status 4), as in the local backend.
3. *Network.* One user-defined bridge network per run, ``internal`` (no route out of the
   host: the nodes only ever talk to the proxy). Nodes are given the proxy container's
   address on it rather than its name (see ``_proxy_address``).
4. *Files in, files out.* Configs and keys are copied into each container (``put_archive``)
   before it starts, owned by the image's unprivileged user, keys with mode 0600, and so is
   the code of every plugin the scenario names (a strategy, scheduler or protocol that is
   not built in, ``byzlab.plugins``): its top-level module or package and, when it comes
   from an installed distribution, the distribution's metadata (its entry points), under
   ``/data/plugins``, which is on the containers' ``PYTHONPATH``. A plugin is thus found in
   the containers by the same ``module:Name`` reference or entry-point name as on the host,
   with no image to rebuild; one that needs third-party libraries needs an image that has
   them (``FROM byzlab:latest`` plus ``pip install``, named by ``[docker] image``). Outputs
   are copied back (``get_archive``) after it stops. Copying instead of bind-mounting a host
   directory needs no agreement between host and container user ids and works the same
   with a remote engine (``DOCKER_HOST=tcp://...``).
5. *Start.* The proxy first (the run waits for its ``ready.json``), then the node
   containers, several at a time. Faults due at ``at_s = 0`` hold the start: the proxy's
   start barrier waits for every honest node to connect, so one node without such a fault
   (the *gate*) is started last, only after every other node has connected and the faults
   due at 0 s are in place; a fault at 0 s thus always lands before the first protocol
   message (``applied_s`` 0.0), however loaded the machine. (If every honest node has one,
   there is no gate and the log says so.) Containers are started several at a time:
   creating and starting a container is mostly the engine's work, so a few concurrent API
   calls keep it busy. Nodes run the lean module entry points
   (``python -m byzlab.network.tcp``) rather than the ``byzlab`` entry point: importing the
   full command line (rich, scipy) costs about a second of CPU per container, which at
   n = 32 on two cores is most of the start-up. The image's health check runs only in the
   proxy, for the same reason.
6. *Wait.* Poll container states (one API call for all of them) and the proxy's statistics
   (copied out of its container) for progress, apply due faults, and stop when every node
   container has exited, the proxy failed, or the timeout expired.
7. *Faults* (``[docker]`` in the scenario): ``kill`` takes a node's container off the
   network and then sends it SIGKILL (a crashed host goes silent; it does not close its
   connections); ``pause`` freezes it (and thaws it after ``duration_s``, if given);
   ``netem`` runs ``tc qdisc replace dev eth0 root netem ...`` in it as root (the
   container gets ``NET_ADMIN`` for this and nothing else). Triggers are seconds after the
   proxy's start barrier (0 s: before it, see *Start*), or the node's iteration as its
   snapshots report it (applied when the orchestrator sees it, so a run may end first; the
   fault then reports why it was not applied). The end of a fault with ``duration_s`` that
   falls due after the node's container exited is moot, not an error (``undo`` in the
   fault's record says so). A killed or
   never-resumed container is a crash: it is left out of the agreement check (summary key
   ``crashed``, role ``crashed`` in nodes.csv) and counts toward f in validation. The proxy
   cannot know a node crashed and so never announces "done"; the orchestrator does it for
   it, with SIGTERM to the surviving nodes once the proxy's snapshots show them all halted.
8. *Stop and clean up, always* (success, failure, exception, Ctrl-C, SIGTERM): thaw paused
   containers, SIGTERM the nodes and then the proxy (SIGKILL after a grace period), copy
   outputs and logs out, and remove every container and the network. A second Ctrl-C
   during this is ignored so the clean-up can finish. Only SIGKILL to the orchestrator can
   leave objects behind, and every object carries labels for that case:
   ``byzlab.run=<run-id>``, ``byzlab.role=node|proxy|network``, ``byzlab.node=<i>`` and
   ``byzlab.owner=<host>:<pid>:<start time>``. ``byzlab docker clean`` removes labelled
   objects whose owner process is gone (``clean()``).
9. *Collect.* Exactly the local backend's files, from ``results.py``: ``summary.json``
   (with ``backend = "docker"``, ``crashed``, ``faults`` and ``spinup_s``, the time from the
   first API call to every node connected), ``nodes.csv``, ``traces/node-<i>.jsonl``,
   ``proxy-stats.json``, ``scenario.toml``, and ``work/logs/<container>.log``.

The steps are the lifecycle every backend shares (``backend.execute``); the engine
(``engine.py``), labels (``labels.py``), archives (``archive.py``), faults (``faults.py``)
and the clean-up of leftovers (``clean.py``) are modules of their own.

Latency is measured as in the local backend, from the proxy's start barrier (sent when every
honest node has connected) to the last honest decision, so container start-up is reported
separately (``spinup_s``) and never inflates the latency.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byzlab.atomicio import atomic_write_bytes
from byzlab.errors import DockerUnavailable, RunFailed
from byzlab.network.keys import ROSTER_FILE, key_file_name
from byzlab.orchestration.backend import RunOutcome, StatusHook, execute, ignoring_sigint
from byzlab.orchestration.docker.archive import (
    DATA,
    PLUGIN_DIR,
    plugin_tree,
    read_file,
    tar_files,
    untar,
)
from byzlab.orchestration.docker.clean import clean, force_remove
from byzlab.orchestration.docker.engine import api_error, connect, engine_address
from byzlab.orchestration.docker.faults import FaultState, apply_fault, undo_fault
from byzlab.orchestration.docker.labels import LABEL_RUN, owner_label, run_labels
from byzlab.orchestration.image import SOURCE_LABEL, source_hash, source_root
from byzlab.orchestration.keydir import PrivateKeyDir
from byzlab.orchestration.plan import NODE_MODULE, PROXY_MODULE
from byzlab.orchestration.processes import ProcessRun
from byzlab.orchestration.provenance import plugin_files
from byzlab.orchestration.realtrace import PROXY_SPOOLS
from byzlab.orchestration.resources import available_memory_mib, check_memory, estimate_memory
from byzlab.orchestration.scenario import Scenario

__all__ = ["DockerRun", "run_docker"]

PROXY_PORT = 7000  # inside the run's private network: no clash with anything
POLL_S = 0.1
STOP_GRACE_S = 5.0
START_WORKERS = 8
# Start-up on top of the scenario's timeout: the engine starts containers one by one.
STARTUP_SLACK_S = 30.0
STARTUP_SLACK_PER_NODE_S = 1.0


@dataclass
class _Box:
    """One container of the run."""

    name: str
    role: str
    node: int | None
    container: Any = None
    exit_code: int | None = None
    files: dict[str, tuple[bytes | None, int]] = field(default_factory=dict)


class DockerRun(ProcessRun):
    """One run's containers, network and files. Use as a context manager: exit removes all."""

    name = "docker"

    def __init__(
        self,
        scenario: Scenario,
        *,
        client: Any = None,
        log: Callable[[str], None] | None = None,
        **options: Any,
    ) -> None:
        """``client`` is the engine's (default: ``engine.connect()`` when the run starts),
        ``log`` gets progress lines; ``options`` are ``ProcessRun``'s (out_root, run_id,
        proxy_options, node_options, force)."""
        super().__init__(scenario, **options)
        self.image = scenario.docker.image
        self.log = log or (lambda line: None)
        self.client = client
        self.owner = owner_label()
        self.network: Any = None
        self.network_name = f"byzlab-{self.run_id}"
        self.proxy = _Box(f"byzlab-{self.run_id}-proxy", "proxy", None)
        self.nodes = {i: _Box(f"byzlab-{self.run_id}-node-{i}", "node", i) for i in self.honest_ids}
        self.faults = [FaultState(k, fault) for k, fault in enumerate(scenario.docker.faults)]
        netem_nodes = {fault.node for fault in scenario.docker.faults if fault.action == "netem"}
        self._cap_net_admin = netem_nodes
        self.crashed: dict[int, str] = {}
        self.spinup_s: float | None = None
        self.start_wall: float | None = None
        self._terminated_survivors = False
        self._removed = False

    @property
    def has_started(self) -> bool:
        return self.network is not None

    # ----------------------------------------------------------------- setup

    def check_image(self) -> None:
        import docker.errors

        try:
            image = self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise DockerUnavailable(
                f"the image {self.image} does not exist: build it with `byzlab image build`"
            ) from None
        built_from = (image.labels or {}).get(SOURCE_LABEL)
        try:
            here = source_hash(source_root())
        except Exception:  # not a source checkout: nothing to compare with
            return
        if built_from and built_from != here:
            self.log(
                f"warning: {self.image} was built from other sources ({built_from}, "
                f"the working tree is {here}); rebuild it with `byzlab image build`"
            )

    def check_memory(self) -> None:
        """Refuse (``RunRefused``) a run that does not fit in the engine's memory (and this
        machine's MemAvailable when the engine runs here), unless forced."""
        estimate = estimate_memory(self.n, len(self.honest_ids), backend="docker")
        engine: float | None = None
        with contextlib.suppress(Exception):
            engine = int(self.client.info()["MemTotal"]) / (1024 * 1024)
        here = available_memory_mib() if engine_address().startswith("unix://") else None
        figures = [m for m in (engine, here) if m is not None]
        where = "the Docker engine (MemTotal" + (
            ", and this machine's MemAvailable)" if here is not None else ")"
        )
        check_memory(estimate, min(figures) if figures else None, where=where, force=self.force)

    def prepare(self) -> None:
        """Keys and configs, on the host and staged for each container."""
        self.make_run_dir()
        with PrivateKeyDir.create(self.run_id) as keys:
            self._stage(keys.path / "all")

    def _stage(self, all_keys: Path) -> None:
        roster = self.generate_keys(all_keys)

        def key_files(ids: Iterable[int]) -> dict[str, tuple[bytes | None, int]]:
            files: dict[str, tuple[bytes | None, int]] = {
                "keys": (None, 0o700),
                f"keys/{ROSTER_FILE}": (roster, 0o644),
            }
            for i in ids:
                files[f"keys/{key_file_name(i)}"] = (
                    (all_keys / key_file_name(i)).read_bytes(),
                    0o600,
                )
            return files

        proxy_cfg = self.plan.proxy_config(
            key_dir=f"{DATA}/keys",
            host="0.0.0.0",  # every interface of the container; the network is private
            port=PROXY_PORT,
            stats_file=f"{DATA}/stats.json",
            ready_file=f"{DATA}/ready.json",
            messages_dir=f"{DATA}/{PROXY_SPOOLS}" if self.records_messages else "",
            options=self.proxy_options,
        )
        proxy_json = json.dumps(proxy_cfg, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write_bytes(self.proxy_dir / "proxy.json", proxy_json)
        shipped = plugin_tree(plugin_files(self.scenario))
        self.proxy.files = {
            **key_files(self.plan.key_ids(None)),
            **shipped,
            "proxy.json": (proxy_json, 0o644),
        }
        for i, box in self.nodes.items():
            box.files = {**key_files(self.plan.key_ids(i)), **shipped, "out": (None, 0o755)}
        # The host keeps no private keys: they live in the containers until they are
        # removed (the private directory goes when prepare() returns).

    def _create(
        self,
        box: _Box,
        module: str,
        config: str,
        *,
        environment: dict[str, str] | None = None,
        healthcheck: dict[str, Any] | None = None,
    ) -> None:
        labels = run_labels(self.run_id, box.role, node=box.node, owner=self.owner)
        cap_add = ["NET_ADMIN"] if box.node in self._cap_net_admin else None
        box.container = self.client.containers.create(
            self.image,
            entrypoint=["python", "-m", module],
            command=["--config", config],
            name=box.name,
            hostname=box.name,
            labels=labels,
            network=self.network_name,
            # the run's plugins, copied in with the configs (plugin_tree), are importable
            environment={"PYTHONPATH": PLUGIN_DIR, **(environment or {})},
            cap_add=cap_add,
            healthcheck=healthcheck,
            detach=True,
        )
        box.container.put_archive(DATA, tar_files(box.files))
        box.container.start()

    def start(self, on_status: StatusHook | None = None) -> None:
        """Network, proxy, nodes; ``on_status`` sees the proxy's statistics meanwhile, so
        progress shows nodes connecting while the rest are still being started."""
        import docker.errors
        import requests.exceptions

        try:
            self._start(on_status)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise RunFailed(
                f"{self.describe()}: the Docker engine failed while starting "
                f"the containers: {api_error(exc)}"
            ) from exc

    def _start(self, on_status: StatusHook | None) -> None:
        import docker.errors

        if self.client is None:
            self.client = connect()
        self.check_memory()
        self.check_image()
        self.prepare()
        started = time.monotonic()
        try:
            self.network = self.client.networks.create(
                self.network_name,
                driver="bridge",
                internal=True,
                labels=run_labels(self.run_id, "network", owner=self.owner),
            )
            self.log(
                f"starting the proxy and {len(self.nodes)} node containers "
                f"({self.image}, network {self.network_name})"
            )
            self._create(
                self.proxy,
                PROXY_MODULE,
                f"{DATA}/proxy.json",
                environment={"BYZLAB_HEALTH_FILE": f"{DATA}/stats.json"},
            )
            self._wait_ready()
            address = self._proxy_address()
            gate = self._gate()
            self._start_nodes([b for i, b in self.nodes.items() if i != gate], address, on_status)
            if gate is not None:
                # Hold the start barrier: every other node connects, the faults due at
                # 0 s are applied, and only then does the last node start and connect.
                self._wait_connected(len(self.nodes) - 1, on_status)
                self._apply_start_faults()
                self._start_nodes([self.nodes[gate]], address, on_status)
        except docker.errors.APIError as exc:
            raise RunFailed(
                f"{self.describe()}: the Docker engine refused: {api_error(exc)}"
            ) from exc
        self.log(f"{len(self.nodes) + 1} containers started in {time.monotonic() - started:.1f} s")

    def _start_nodes(self, boxes: list[_Box], address: str, on_status: StatusHook | None) -> None:
        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            futures = [pool.submit(self._start_node, box, address) for box in boxes]
            while futures_wait(futures, timeout=0.5).not_done:
                if on_status is not None:
                    on_status(self.status())
            for future in futures:
                future.result()  # re-raises the first failure

    def _gate(self) -> int | None:
        """The node started last to hold the start until the faults due at 0 s are in
        place: the first honest node without such a fault (None if there is nothing to
        hold, or no such node)."""
        at_start = {s.fault.node for s in self.faults if s.fault.at_s == 0}
        if not at_start:
            return None
        free = [i for i in self.nodes if i not in at_start]
        if not free:
            self.log(
                "warning: every honest node has a fault at 0 s, so no node can hold "
                "the start: those faults are applied as soon as the run has started"
            )
            return None
        return free[0]

    def _wait_connected(self, count: int, on_status: StatusHook | None) -> None:
        """Until the proxy reports ``count`` honest nodes connected."""
        deadline = time.monotonic() + STARTUP_SLACK_S + STARTUP_SLACK_PER_NODE_S * self.n
        while True:
            stats = self.status()
            if on_status is not None:
                on_status(stats)
            if int(stats.get("connected", 0)) >= count:
                return
            self.proxy.container.reload()
            if self.proxy.container.status not in ("created", "running"):
                raise RunFailed(
                    f"{self.describe()}: the proxy container exited while the nodes were connecting"
                )
            if time.monotonic() >= deadline:
                raise RunFailed(
                    f"{self.describe()}: only {stats.get('connected', 0)} of "
                    f"{count} node containers connected to the proxy"
                )
            time.sleep(POLL_S)

    def _apply_start_faults(self) -> None:
        """Apply every fault due at 0 s, before the start barrier (``applied_s`` 0.0)."""
        for state in self.faults:
            if state.fault.at_s == 0 and state.applied_s is None and state.error is None:
                self._apply_now(state, 0.0)

    def _node_config(self, i: int, proxy_address: str) -> bytes:
        cfg = self.plan.node_config(
            i,
            key_dir=f"{DATA}/keys",
            proxy_host=proxy_address,
            proxy_port=PROXY_PORT,
            out_dir=f"{DATA}/out",
            metrics_host="0.0.0.0",  # reachable on the run's network (docs/metrics.md)
            messages=self.records_messages,
            options=self.node_options,
        )
        node_json = json.dumps(cfg, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write_bytes(self.node_dir(i) / "node.json", node_json)
        return node_json

    def _proxy_address(self) -> str:
        """The proxy container's address on the run network.

        Nodes get the address, not the container name: a name costs a DNS query through the
        engine's resolver on every (re)connect, and once the proxy container has stopped
        such a query can hang for the resolver's timeout, which also holds up the node's
        exit (its event loop waits for the lookup thread).
        """
        self.proxy.container.reload()
        networks = self.proxy.container.attrs["NetworkSettings"]["Networks"]
        address = str((networks.get(self.network_name) or {}).get("IPAddress") or "")
        return address or self.proxy.name

    def _start_node(self, box: _Box, proxy_address: str) -> None:
        assert box.node is not None
        box.files["node.json"] = (self._node_config(box.node, proxy_address), 0o644)
        # No health check on nodes: n health-check processes every few seconds cost real
        # CPU at n = 32 on two cores, and a node has no heartbeat file to check.
        self._create(box, NODE_MODULE, f"{DATA}/node.json", healthcheck={"test": ["NONE"]})

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if read_file(self.proxy.container, f"{DATA}/ready.json") is not None:
                return
            self.proxy.container.reload()
            if self.proxy.container.status not in ("created", "running"):
                logs = self.proxy.container.logs().decode(errors="replace")[-2000:]
                raise RunFailed(
                    f"{self.describe()}: the proxy container exited during start-up:\n{logs}"
                )
            time.sleep(0.05)
        raise RunFailed(f"{self.describe()}: the proxy did not start within {timeout:.0f} s")

    # ----------------------------------------------------------------- while running

    def status(self) -> dict[str, Any]:
        """The proxy's latest statistics ({} before it wrote any)."""
        if self.proxy.container is None:
            return {}
        data = read_file(self.proxy.container, f"{DATA}/stats.json")
        if not data:
            return {}
        try:
            stats = json.loads(data)
        except ValueError:
            return {}
        return stats if isinstance(stats, dict) else {}

    def _states(self) -> dict[str, str]:
        """Container name -> state ("running", "exited", "paused", ...), one API call."""
        rows = self.client.api.containers(all=True, filters={"label": f"{LABEL_RUN}={self.run_id}"})
        return {str(r["Names"][0]).lstrip("/"): str(r["State"]) for r in rows}

    def wait(self, *, timeout: float | None = None, on_status: StatusHook | None = None) -> str:
        """Until every node container exited ("nodes-exited"), the proxy failed, timeout, or
        the engine failed ("engine-failed")."""
        import docker.errors
        import requests.exceptions

        try:
            return self._wait(timeout, on_status)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            self.log(f"error: the Docker engine failed during the run: {api_error(exc)}")
            return "engine-failed"

    def settle(self, waited: str) -> None:
        if waited == "nodes-exited" and self.proxy.container is not None and not self.crashed:
            # The proxy exits by itself after "done"; let it write its final statistics.
            # (With a crashed node it never sees "done": it is stopped right away.)
            with contextlib.suppress(Exception):
                self.proxy.container.wait(timeout=STOP_GRACE_S)

    def _wait(self, timeout: float | None, on_status: StatusHook | None) -> str:
        budget = (
            timeout
            if timeout is not None
            else (self.scenario.run.timeout_s + STARTUP_SLACK_S + STARTUP_SLACK_PER_NODE_S * self.n)
        )
        deadline = time.monotonic() + budget
        while True:
            stats = self.status()
            if on_status is not None:
                on_status(stats)
            self._observe(stats)
            self._apply_faults(stats)
            states = self._states()
            node_states = [states.get(box.name, "removed") for box in self.nodes.values()]
            if node_states and all(s in ("exited", "dead", "removed") for s in node_states):
                return "nodes-exited"
            if states.get(self.proxy.name, "removed") in ("exited", "dead", "removed"):
                import docker.errors

                try:
                    self.proxy.container.reload()
                except docker.errors.NotFound:
                    return "proxy-failed"  # removed behind our back: no exit code to read
                if self.proxy.container.attrs["State"].get("ExitCode") != 0:
                    return "proxy-failed"
            if time.monotonic() >= deadline:
                return "timeout"
            time.sleep(self._next_poll())

    def _next_poll(self) -> float:
        """Sleep until the next poll, or less if a timed fault falls due before it."""
        elapsed = self._elapsed()
        pending = [
            s.fault.at_s
            for s in self.faults
            if s.applied_s is None and s.error is None and s.fault.at_s is not None
        ]
        if elapsed is None or not pending:
            return POLL_S
        return min(POLL_S, max(0.005, min(pending) - elapsed))

    def _observe(self, stats: dict[str, Any]) -> None:
        if self.start_wall is None and isinstance(stats.get("start_wall"), int | float):
            self.start_wall = float(stats["start_wall"])
            self.spinup_s = time.monotonic() - self.started_at
        if not self.crashed or self._terminated_survivors:
            return
        # The proxy waits for every honest node to halt before it says "done", crashed ones
        # included; once all survivors have halted, say it for the proxy.
        snapshots = stats.get("snapshots") or {}
        survivors = [i for i in self.nodes if i not in self.crashed]
        if survivors and all((snapshots.get(str(i)) or {}).get("halted") for i in survivors):
            self._terminated_survivors = True
            self.log(
                f"every surviving node halted; stopping them (crashed: {sorted(self.crashed)})"
            )
            for i in survivors:
                with contextlib.suppress(Exception):
                    self.nodes[i].container.kill(signal="SIGTERM")

    def _elapsed(self) -> float | None:
        return None if self.start_wall is None else time.time() - self.start_wall

    def _due(self, state: FaultState, stats: dict[str, Any]) -> bool:
        fault = state.fault
        if fault.at_s is not None:
            elapsed = self._elapsed()
            return elapsed is not None and elapsed >= fault.at_s
        snapshot = (stats.get("snapshots") or {}).get(str(fault.node)) or {}
        iteration = snapshot.get("iteration")
        return (
            isinstance(iteration, int)
            and fault.at_iteration is not None
            and iteration >= fault.at_iteration
            and bool(stats.get("started"))
        )

    def _apply_faults(self, stats: dict[str, Any]) -> None:
        for state in self.faults:
            fault = state.fault
            box = self.nodes[fault.node]
            if state.applied_s is None and state.error is None and self._due(state, stats):
                self._apply_now(state, self._elapsed() or 0.0)
            elif (
                state.applied_s is not None
                and state.undone_s is None
                and state.error is None
                and state.undo is None
                and fault.duration_s is not None
                and (self._elapsed() or 0.0) >= state.applied_s + fault.duration_s
            ):
                try:
                    undo_fault(box.container, fault)
                except Exception as exc:
                    if _exited(box):
                        # Nothing left to undo: the fault lasted the rest of the node's run.
                        state.undo = (
                            f"not needed: node {fault.node}'s container exited "
                            "before the fault's end"
                        )
                        continue
                    state.error = f"undo: {api_error(exc)}"
                    self.log(f"warning: undoing docker.faults[{state.index}] failed: {state.error}")
                    continue
                state.undone_s = self._elapsed()

    def _apply_now(self, state: FaultState, at: float) -> None:
        fault = state.fault
        box = self.nodes[fault.node]
        state.applied_s = at
        try:
            apply_fault(box.container, self.network, fault)
        except Exception as exc:  # a failed fault is reported, the run goes on
            state.error = api_error(exc)
            if "is not running" in state.error:
                state.error = (
                    f"node {fault.node}'s container had already exited "
                    "(the run was over before the fault was due)"
                )
            self.log(
                f"warning: fault docker.faults[{state.index}] ({fault.action} "
                f"node {fault.node}) failed: {state.error}"
            )
            return
        self.log(
            f"fault: {fault.action} node {fault.node} at {at:.2f} s"
            + (" (before the start)" if self.start_wall is None else "")
        )
        if fault.permanent:
            self.crashed[fault.node] = fault.action

    # ----------------------------------------------------------------- stopping

    def stop_all(self, grace: float = STOP_GRACE_S) -> None:
        """Thaw, stop (nodes first: they write their results on SIGTERM), harvest, remove."""
        with ignoring_sigint():
            try:
                self._stop_and_harvest(grace)
            finally:
                self.remove()

    def _stop_and_harvest(self, grace: float) -> None:
        boxes = [b for b in self.nodes.values() if b.container is not None]
        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            list(pool.map(lambda b: self._stop(b, grace), boxes))
            if self.proxy.container is not None:
                self._stop(self.proxy, grace)
            list(pool.map(self._harvest, [*boxes, self.proxy]))

    @staticmethod
    def _stop(box: _Box, grace: float) -> None:
        container = box.container
        if container is None:
            return
        with contextlib.suppress(Exception):
            container.reload()
            if container.status == "paused":
                container.unpause()  # a frozen process cannot receive SIGTERM
            if container.status in ("running", "paused", "restarting"):
                container.stop(timeout=max(1, int(grace)))

    def _harvest(self, box: _Box) -> None:
        """Copy a stopped container's outputs and log to the host (best effort)."""
        container = box.container
        if container is None:
            return
        with contextlib.suppress(Exception):
            container.reload()
            box.exit_code = container.attrs["State"].get("ExitCode")
        name = "proxy" if box.node is None else f"node-{box.node}"
        with contextlib.suppress(Exception):
            logs = container.logs(stdout=True, stderr=True)
            atomic_write_bytes(self.work / "logs" / f"{name}.log", logs)
        with contextlib.suppress(Exception):
            if box.node is None:
                data = read_file(container, f"{DATA}/stats.json")
                if data is not None:
                    atomic_write_bytes(self.stats_file, data)
            else:
                chunks, _ = container.get_archive(f"{DATA}/out")
                untar(chunks, self.node_dir(box.node))
        if box.node is None and self.records_messages:
            with contextlib.suppress(Exception):  # absent if the proxy never started a spool
                chunks, _ = container.get_archive(f"{DATA}/{PROXY_SPOOLS}")
                untar(chunks, self.proxy_dir)

    def remove(self) -> None:
        """Remove every container and the network of this run (idempotent)."""
        if self._removed or self.client is None:
            return
        self._removed = True
        boxes = [b for b in [*self.nodes.values(), self.proxy] if b.container is not None]
        failed: list[str] = []

        def remove(box: _Box) -> None:
            try:
                force_remove(box.container)
            except Exception as exc:  # keep going: every other object must still go
                failed.append(f"{box.name}: {api_error(exc)}")

        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            list(pool.map(remove, boxes))
        # Anything created but not recorded (an exception between create and return), and
        # the network once its containers are gone.
        try:
            report = clean(self.client, run_id=self.run_id, include_live=True)
            failed += report.errors
        except Exception as exc:
            failed.append(f"network {self.network_name}: {api_error(exc)}")
        if failed:
            self.log(
                f"warning: could not remove {'; '.join(failed)}; run `byzlab docker "
                f"clean --run {self.run_id}` once the engine is back"
            )

    def __enter__(self) -> DockerRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    # ----------------------------------------------------------------- results

    def collect(self, waited: str) -> RunOutcome:
        """Write the common result files (processes.py) and return the outcome."""
        exit_codes: dict[int, int | None] = {i: b.exit_code for i, b in self.nodes.items()}
        crashed = {i: f"container-{action}" for i, action in sorted(self.crashed.items())}
        for state in self.faults:
            if (
                state.applied_s is not None
                and state.error is None
                and state.undo is None
                and state.fault.duration_s is not None
                and state.undone_s is None
            ):
                state.undo = "not needed: the run was over before the fault's end"
        return self.finish_with_crashed(
            waited,
            crashed=crashed,
            exit_codes=exit_codes,
            extra={
                "byzantine": {str(k): v for k, v in sorted(self.byzantine.items())},
                "faults": [state.record() for state in self.faults],
                "image": self.image,
                "spinup_s": self.spinup_s,
            },
        )


def _exited(box: _Box) -> bool:
    """Has this container stopped (or gone)?"""
    try:
        box.container.reload()
    except Exception:
        return True
    return str(box.container.status) in ("exited", "dead", "removing")


def run_docker(
    scenario: Scenario,
    *,
    out_root: Path,
    on_status: StatusHook | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
    client: Any = None,
    force: bool = False,
) -> RunOutcome:
    """Run one scenario in containers and write its results (see the module docs).

    Raises ``RunRefused`` before any object is created if the run does not fit in the
    engine's memory (unless ``force``), and ``RunIOError`` if a file cannot be written.
    """
    client = client or connect()
    run = DockerRun(scenario, out_root=out_root, run_id=run_id, client=client, log=log, force=force)
    return execute(run, on_status)
