"""The swarm backend's run: the adversary proxy and N honest nodes as services of a swarm.

The package docstring (``swarm/__init__.py``) is the theory of operation; this module is
the lifecycle of ``backend.Backend`` for it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byzlab.atomicio import atomic_write_bytes
from byzlab.errors import DockerUnavailable, RunFailed
from byzlab.network.keys import ROSTER_FILE, key_file_name
from byzlab.orchestration.backend import RunOutcome, StatusHook, ignoring_sigint
from byzlab.orchestration.docker.archive import DATA, read_file, untar
from byzlab.orchestration.docker.clean import clean
from byzlab.orchestration.docker.engine import api_error, connect
from byzlab.orchestration.docker.labels import owner_label, run_labels
from byzlab.orchestration.keydir import PrivateKeyDir
from byzlab.orchestration.plan import NODE_MODULE, PROXY_MODULE
from byzlab.orchestration.processes import ProcessRun
from byzlab.orchestration.scenario import Scenario
from byzlab.orchestration.swarm import reporter
from byzlab.orchestration.swarm.placement import Host, place, swarm_hosts

__all__ = ["SwarmRun"]

PROXY_PORT = 7000  # on the run's own overlay network: no clash with anything
CONFIGS = "/run/byzlab"  # where a task finds its swarm configs (node.json, report.py)
SECRETS = "/run/secrets"  # and its secrets (the roster and its private keys)
POLL_S = 0.25
STOP_GRACE_S = 10.0
START_WORKERS = 8
# Start-up on top of the scenario's timeout: services are scheduled and started one by one.
STARTUP_SLACK_S = 60.0
STARTUP_SLACK_PER_NODE_S = 1.0
NETWORK_REMOVE_S = 30.0
# How long the manager may take to see a host go down (swarm's heartbeat period is 5 s).
HOST_DOWN_S = 20.0  # an overlay network goes once every host has let go of it
# A task in one of these states runs no more (swarm's task states).
ENDED = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})


@dataclass
class _Service:
    """One service of the run (the proxy, or one honest node) and where it runs."""

    name: str
    node: int | None
    host: Host | None = None
    service: Any = None
    exit_code: int | None = None


class SwarmRun(ProcessRun):
    """One run's services, network, secrets and configs on a swarm (package docs)."""

    name = "swarm"
    collects_messages = False  # outputs come back through the services' logs (package docs)

    def __init__(
        self,
        scenario: Scenario,
        *,
        client: Any = None,
        docker_host: str | None = None,
        log: Callable[[str], None] | None = None,
        **options: Any,
    ) -> None:
        """``client`` is a swarm manager's engine (default: ``docker_host``, else
        ``DOCKER_HOST``), ``log`` gets progress lines; ``options`` are ``ProcessRun``'s."""
        super().__init__(scenario, **options)
        self.image = scenario.docker.image
        self.client = client
        self.docker_host = docker_host
        self.log = log or (lambda line: None)
        self.owner = owner_label()
        self.prefix = f"byzlab-{self.run_id}"
        self.network: Any = None
        self.proxy = _Service(f"{self.prefix}-proxy", None)
        self.nodes = {i: _Service(f"{self.prefix}-node-{i}", i) for i in self.honest_ids}
        self.hosts: list[Host] = []
        self.crashed: dict[int, str] = {}
        self.spinup_s: float | None = None
        self.start_wall: float | None = None
        self._proxy_container: Any = None
        self._tasks: dict[str, dict[str, Any]] = {}  # service id -> its latest task
        self._created = False
        self._removed = False

    @property
    def has_started(self) -> bool:
        return self._created

    def labels(self, role: str, node: int | None = None) -> dict[str, str]:
        return run_labels(self.run_id, role, node=node, owner=self.owner)

    # ----------------------------------------------------------------- setup

    def start(self, on_status: StatusHook | None = None) -> None:
        """Network, secrets, configs, the proxy's service, then the nodes' services."""
        import docker.errors
        import requests.exceptions

        try:
            self._start(on_status)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise RunFailed(
                f"{self.describe()}: the swarm failed while starting the services: {api_error(exc)}"
            ) from exc

    def _start(self, on_status: StatusHook | None) -> None:
        if self.client is None:
            self.client = connect(address=self.docker_host)
        self.hosts, manager = swarm_hosts(self.client)
        placement = place(self.honest_ids, self.scenario.swarm.pinned(), self.hosts)
        for i, host in placement.items():
            self.nodes[i].host = host
        self.proxy.host = manager
        image = self._image_id()
        self.make_run_dir()
        started = time.monotonic()
        self._created = True
        with PrivateKeyDir.create(self.run_id) as keys:
            roster = self.generate_keys(keys.path / "all")
            secrets: dict[str | int, Any] = {"roster": self._secret("roster", roster, "secret")}
            for k in range(self.n + 1):
                data = (keys.path / "all" / key_file_name(k)).read_bytes()
                secrets[k] = self._secret(f"key-{k}", data, "secret", k if k < self.n else None)
        # The host keeps no private keys: they live in the swarm's raft store and in the
        # tasks' own tmpfs until the secrets are removed.
        report = self._config("report.py", Path(reporter.__file__).read_bytes(), "config")
        self.network = self.client.networks.create(
            f"{self.prefix}-net",
            driver="overlay",
            internal=True,  # the nodes only ever talk to the proxy
            labels=self.labels("network"),
        )
        hosts = ", ".join(sorted({h.name for h in placement.values()}))
        self.log(
            f"deploying the proxy and {len(self.nodes)} node services ({self.image}) "
            f"on {len(self.hosts)} swarm hosts ({hosts})"
        )
        proxy_json = self._proxy_json()
        self._create(
            self.proxy,
            image,
            ["python", "-m", PROXY_MODULE, "--config", f"{CONFIGS}/proxy.json"],
            secrets=[(secrets["roster"], ROSTER_FILE)]
            + [(secrets[k], key_file_name(k)) for k in self.plan.key_ids(None)],
            configs=[(self._config("proxy.json", proxy_json, "config"), "proxy.json")],
            env={"BYZLAB_HEALTH_FILE": f"{DATA}/stats.json"},
        )
        self._wait_proxy_ready()
        address = self._proxy_address()

        def deploy(box: _Service) -> None:
            i = box.node
            assert i is not None
            node_json = self._config(f"node-{i}.json", self._node_json(i, address), "config", i)
            command = ["python", f"{CONFIGS}/report.py", f"{DATA}/out", "--"]
            command += ["python", "-m", NODE_MODULE, "--config", f"{CONFIGS}/node.json"]
            self._create(
                box,
                image,
                command,
                secrets=[(secrets["roster"], ROSTER_FILE), (secrets[i], key_file_name(i))],
                configs=[(node_json, "node.json"), (report, "report.py")],
                env={},
            )

        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            futures = [pool.submit(deploy, box) for box in self.nodes.values()]
            for future in futures:
                future.result()  # re-raises the first failure
        if on_status is not None:
            on_status(self.status())
        self.log(f"{len(self.nodes) + 1} services created in {time.monotonic() - started:.1f} s")

    def _image_id(self) -> str:
        """The image by id: a task naming its image by id runs the host's copy without
        asking a registry (by name, each host first tries to pull it, which with no registry
        reachable costs a timeout per task). ``docker save | docker load`` keeps the id."""
        import docker.errors

        try:
            return str(self.client.images.get(self.image).id)
        except docker.errors.ImageNotFound:
            raise DockerUnavailable(
                f"the image {self.image} does not exist on the swarm manager: build it with "
                "`byzlab image build` and load it on every host (docs/multihost.md)"
            ) from None

    def _secret(self, name: str, data: bytes, role: str, node: int | None = None) -> Any:
        return self.client.secrets.create(
            name=f"{self.prefix}-{name}", data=data, labels=self.labels(role, node)
        )

    def _config(self, name: str, data: bytes, role: str, node: int | None = None) -> Any:
        return self.client.configs.create(
            name=f"{self.prefix}-{name}", data=data, labels=self.labels(role, node)
        )

    def _create(
        self,
        box: _Service,
        image: str,
        command: list[str],
        *,
        secrets: list[tuple[Any, str]],
        configs: list[tuple[Any, str]],
        env: dict[str, str],
    ) -> None:
        from docker.types import (
            ConfigReference,
            EndpointSpec,
            Healthcheck,
            RestartPolicy,
            SecretReference,
        )

        assert box.host is not None
        labels = self.labels("proxy" if box.node is None else "node", box.node)
        box.service = self.client.services.create(
            image,
            command=command,
            name=box.name,
            labels=labels,
            container_labels=labels,
            env=[f"{k}={v}" for k, v in env.items()],
            networks=[self.network.id],
            secrets=[SecretReference(s.id, s.name, filename=target) for s, target in secrets],
            configs=[
                ConfigReference(c.id, c.name, filename=f"{CONFIGS}/{target}")
                for c, target in configs
            ],
            constraints=[f"node.id=={box.host.id}"],
            restart_policy=RestartPolicy(condition="none"),
            # The proxy's name would resolve to its task itself rather than a virtual IP
            # (which needs IPVS in every host's kernel); the nodes are given its address.
            endpoint_spec=EndpointSpec(mode="dnsrr"),
            stop_grace_period=int(STOP_GRACE_S * 1e9),
            # Nodes have no heartbeat file; n health-check processes only cost CPU.
            healthcheck=None if box.node is None else Healthcheck(test=["NONE"]),
        )

    def _proxy_json(self) -> bytes:
        cfg = self.plan.proxy_config(
            key_dir=SECRETS,
            host="0.0.0.0",  # every interface of the task; the network is private
            port=PROXY_PORT,
            stats_file=f"{DATA}/stats.json",
            ready_file=f"{DATA}/ready.json",
            options=self.proxy_options,
        )
        data = json.dumps(cfg, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write_bytes(self.proxy_dir / "proxy.json", data)
        return data

    def _node_json(self, i: int, proxy_address: str) -> bytes:
        cfg = self.plan.node_config(
            i,
            key_dir=SECRETS,
            proxy_host=proxy_address,
            proxy_port=PROXY_PORT,
            out_dir=f"{DATA}/out",
            options=self.node_options,
            metrics_host="0.0.0.0",  # reachable on the run's overlay network (docs/metrics.md)
        )
        data = json.dumps(cfg, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write_bytes(self.node_dir(i) / "node.json", data)
        return data

    def _wait_proxy_ready(self, timeout: float = STARTUP_SLACK_S) -> None:
        """Until the proxy's task runs and has written its ready file."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self._poll_tasks().get(self.proxy.service.id) or {}
            status = task.get("Status") or {}
            state = status.get("State")
            if state in ENDED:
                raise RunFailed(
                    f"{self.describe()}: the proxy's task ended ({state}) before it was "
                    f"ready: {status.get('Err') or status.get('Message')}"
                )
            container_id = (status.get("ContainerStatus") or {}).get("ContainerID")
            if state == "running" and container_id:
                if self._proxy_container is None:
                    self._proxy_container = self.client.containers.get(container_id)
                if read_file(self._proxy_container, f"{DATA}/ready.json") is not None:
                    return
            time.sleep(POLL_S)
        raise RunFailed(f"{self.describe()}: the proxy did not start within {timeout:.0f} s")

    def _proxy_address(self) -> str:
        """The proxy task's address on the run's network (nodes need no DNS for it)."""
        task = self._tasks.get(self.proxy.service.id) or {}
        for attachment in task.get("NetworksAttachments") or []:
            if (attachment.get("Network") or {}).get("ID") == self.network.id:
                for address in attachment.get("Addresses") or []:
                    return str(address).split("/")[0]
        return self.proxy.name

    # ----------------------------------------------------------------- while running

    def _poll_tasks(self) -> dict[str, dict[str, Any]]:
        """Every service's latest task, one API call (remembered in ``_tasks``)."""
        ours = {b.service.id for b in [self.proxy, *self.nodes.values()] if b.service is not None}
        latest: dict[str, dict[str, Any]] = {}
        for task in self.client.api.tasks(filters={"service": sorted(ours)}) if ours else []:
            sid = task.get("ServiceID")
            if sid in ours and str(task.get("CreatedAt")) >= str(
                (latest.get(sid) or {}).get("CreatedAt", "")
            ):
                latest[sid] = task
        self._tasks = latest
        return latest

    def _down_hosts(self) -> set[str]:
        return {
            str(node["ID"])
            for node in self.client.api.nodes()
            if (node.get("Status") or {}).get("State") != "ready"
        }

    def status(self) -> dict[str, Any]:
        """The proxy's latest statistics ({} before it wrote any)."""
        if self._proxy_container is None:
            return {}
        data = read_file(self._proxy_container, f"{DATA}/stats.json")
        try:
            stats = json.loads(data) if data else {}
        except ValueError:
            return {}
        return stats if isinstance(stats, dict) else {}

    def _state(self, box: _Service) -> str:
        task = self._tasks.get(box.service.id) if box.service is not None else None
        return str(((task or {}).get("Status") or {}).get("State") or "removed")

    def wait(self, *, timeout: float | None = None, on_status: StatusHook | None = None) -> str:
        """Until every node's task ended or its host went down ("nodes-exited"), the proxy
        failed, timeout, or the manager failed ("engine-failed")."""
        import docker.errors
        import requests.exceptions

        try:
            return self._wait(timeout, on_status)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            self.log(f"error: the swarm manager failed during the run: {api_error(exc)}")
            return "engine-failed"

    def _wait(self, timeout: float | None, on_status: StatusHook | None) -> str:
        budget = timeout or (
            self.scenario.run.timeout_s + STARTUP_SLACK_S + STARTUP_SLACK_PER_NODE_S * self.n
        )
        deadline = time.monotonic() + budget
        while True:
            stats = self.status()
            if on_status is not None:
                on_status(stats)
            if self.start_wall is None and isinstance(stats.get("start_wall"), int | float):
                self.start_wall = float(stats["start_wall"])
                self.spinup_s = time.monotonic() - self.started_at
            self._poll_tasks()
            down = self._down_hosts()
            for i, box in self.nodes.items():
                assert box.host is not None
                if box.host.id in down and i not in self.crashed:
                    # A host that went down takes its tasks with it: their nodes are crash
                    # faults. The survivors end by themselves (linger_s after halting): the
                    # proxy, waiting for every honest node, never announces "done".
                    self.crashed[i] = "host-down"
                    self.log(f"node {i}: its host {box.host.name} is down; counted as crashed")
            states = {i: self._state(box) for i, box in self.nodes.items()}
            if all(s in ENDED or i in self.crashed for i, s in states.items()):
                return "nodes-exited"
            if self._state(self.proxy) in ENDED:
                task = self._tasks.get(self.proxy.service.id) or {}
                code = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")
                if code != 0:
                    return "proxy-failed"
            if time.monotonic() >= deadline:
                return "timeout"
            time.sleep(POLL_S)

    def settle(self, waited: str) -> None:
        if waited == "nodes-exited" and self._proxy_container is not None and not self.crashed:
            # The proxy exits by itself after "done"; let it write its final statistics.
            with contextlib.suppress(Exception):
                self._proxy_container.wait(timeout=STOP_GRACE_S)

    # ----------------------------------------------------------------- stopping

    def stop_all(self) -> None:
        """Stop the tasks still running, harvest every output and log, remove everything."""
        with ignoring_sigint():
            try:
                if self.client is not None and self._created:
                    self._stop_and_harvest()
            finally:
                self.remove()

    def _stop_and_harvest(self) -> None:
        with contextlib.suppress(Exception):
            self._poll_tasks()
        down: set[str] = set()
        with contextlib.suppress(Exception):
            down = self._down_hosts()
        reachable = [
            b
            for b in self.nodes.values()
            if b.service is not None and b.host is not None and b.host.id not in down
        ]
        running = [b for b in reachable if self._state(b) not in ENDED]
        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            list(pool.map(self._stop_node, running))
            self._stop_proxy()
            deadline = time.monotonic() + STOP_GRACE_S + 5
            while running and time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    self._poll_tasks()
                if all(self._stopped(b) for b in running):
                    break
                time.sleep(POLL_S)
            list(pool.map(self._harvest, reachable))
        self._count_lost_hosts(down)

    def _count_lost_hosts(self, down: set[str]) -> None:
        """Nodes whose outputs did not come back because their host is gone are crashed.

        A host's engine that stops may first report its tasks ended and only then be seen
        as down by the manager (its heartbeat lapses some seconds later): a node that left
        no outputs is given that long before it is judged."""
        missing = [
            i
            for i, box in self.nodes.items()
            if i not in self.crashed and not (self.node_dir(i) / "out" / "result.json").exists()
        ]
        deadline = time.monotonic() + HOST_DOWN_S
        while missing:
            for i in missing:
                host = self.nodes[i].host
                if host is not None and host.id in down:
                    self.crashed[i] = "host-down"
            missing = [i for i in missing if i not in self.crashed]
            if not missing or time.monotonic() >= deadline:
                return
            time.sleep(1.0)
            with contextlib.suppress(Exception):
                down = self._down_hosts()

    def _stop_node(self, box: _Service) -> None:
        """SIGTERM to a node's task, which then writes its outputs to its log.

        A swarm has no call to stop one task: scaling a service to zero removes its task,
        and its log with it. An update that replaces the command shuts the running task
        down (SIGTERM, SIGKILL after the grace period) and keeps it, and its log, in the
        service's history; the replacement task runs ``true`` and ends at once."""
        with contextlib.suppress(Exception):
            box.service.update(command=["true"], force_update=True)

    def _stopped(self, box: _Service) -> bool:
        """Has the node's original task (the one running the node) ended?"""
        tasks = [
            t
            for t in self.client.api.tasks(filters={"service": box.service.id})
            if (t.get("Spec") or {}).get("ContainerSpec", {}).get("Command") != ["true"]
        ]
        return all(((t.get("Status") or {}).get("State")) in ENDED for t in tasks)

    def _stop_proxy(self) -> None:
        """Stop the proxy's container (on the manager) and keep its statistics and log."""
        container = self._proxy_container
        if container is None:
            return
        with contextlib.suppress(Exception):
            container.stop(timeout=int(STOP_GRACE_S))
        with contextlib.suppress(Exception):
            container.reload()
            self.proxy.exit_code = container.attrs["State"].get("ExitCode")
        with contextlib.suppress(Exception):
            data = read_file(container, f"{DATA}/stats.json")
            if data is not None:
                atomic_write_bytes(self.stats_file, data)
        with contextlib.suppress(Exception):
            atomic_write_bytes(
                self.work / "logs" / "proxy.log", container.logs(stdout=True, stderr=True)
            )

    def _harvest(self, box: _Service) -> None:
        """A node's log and outputs, from its service's log (``reporter.py``)."""
        assert box.node is not None
        task = self._tasks.get(box.service.id) or {}
        box.exit_code = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")
        with contextlib.suppress(Exception):
            raw = b"".join(box.service.logs(stdout=True, stderr=True, follow=False))
            own, archive = reporter.split_log(raw)
            atomic_write_bytes(self.work / "logs" / f"node-{box.node}.log", own)
            if archive is not None:
                untar([archive], self.node_dir(box.node) / "out")

    def remove(self) -> None:
        """Remove every service, secret, config and the network of this run (idempotent)."""
        if self._removed or self.client is None or not self._created:
            return
        self._removed = True
        failed: list[str] = []
        try:
            report = clean(self.client, run_id=self.run_id, include_live=True)
            failed += report.errors
        except Exception as exc:  # keep going: the network must still go
            failed.append(api_error(exc))
        # The overlay network is in use until every host has shut its tasks down.
        deadline = time.monotonic() + NETWORK_REMOVE_S
        while self.network is not None:
            try:
                self.network.remove()
                break
            except Exception as exc:
                if "not found" in api_error(exc).lower():
                    break
                if time.monotonic() >= deadline:
                    failed.append(f"network {self.network.name}: {api_error(exc)}")
                    break
                time.sleep(0.5)
        if failed:
            self.log(
                f"warning: could not remove {'; '.join(failed)}; run `byzlab docker clean "
                f"--run {self.run_id}` once the swarm is back"
            )

    # ----------------------------------------------------------------- results

    def collect(self, waited: str) -> RunOutcome:
        """Write the common result files (processes.py) and return the outcome."""
        exit_codes: dict[int, int | None] = {i: b.exit_code for i, b in self.nodes.items()}
        return self.finish_with_crashed(
            waited,
            crashed=dict(sorted(self.crashed.items())),
            exit_codes=exit_codes,
            extra={
                "byzantine": {str(k): v for k, v in sorted(self.byzantine.items())},
                "image": self.image,
                "spinup_s": self.spinup_s,
                "hosts": [h.name for h in self.hosts],
                "placement": {
                    str(i): b.host.name for i, b in self.nodes.items() if b.host is not None
                },
            },
        )
