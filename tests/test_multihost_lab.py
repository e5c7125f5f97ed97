"""The multi-host lab (scripts/multihost-lab): three engines in their own network namespaces,
one swarm over them, the byzlab image on each, an overlay network that spans them, stopping
and starting one host's engine, and ``down`` leaving no trace.

Needs root and Docker (see tests/multihost.py); skipped without them unless
BYZLAB_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from byzlab.orchestration.scenario import DEFAULT_IMAGE
from tests.multihost import DATA_DIR, RUN_DIR, Lab, run_script, using_lab

pytestmark = pytest.mark.docker

ECHO_PORT = 7000
# A TCP echo server, one connection at a time: enough to prove a path between two tasks.
ECHO_SERVER = f"""
import socket
server = socket.create_server(("", {ECHO_PORT}))
while True:
    conn, _ = server.accept()
    with conn:
        conn.sendall(conn.recv(64))
"""
# Run in a task: resolve every task of the service, then echo a word off the given address.
ECHO_CLIENT = f"""
import json, socket, sys, time
service, address = sys.argv[1], sys.argv[2]
tasks = sorted({{a[4][0] for a in socket.getaddrinfo("tasks." + service, {ECHO_PORT})}})
# A task is "running" before every host has learnt where its overlay address lives: the
# overlay's peer table spreads by gossip, and an entry whose first broadcast a host missed
# (on a swarm just formed) comes with the next periodic full sync, 30 s later. Until then the
# dial finds no route; byzlab's nodes retry their dial for the same reason.
started = time.monotonic()
deadline = started + 90
while True:
    try:
        conn = socket.create_connection((address, {ECHO_PORT}), timeout=10)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
with conn:
    conn.sendall(b"byzlab")
    echo = conn.recv(64).decode()
print(json.dumps({{"tasks": tasks, "echo": echo, "waited_s": time.monotonic() - started}}))
"""


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    with using_lab(request.config) as lab:
        yield lab


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.5)


def node_states(manager: Any) -> dict[str, str]:
    return {
        n.attrs["Description"]["Hostname"]: n.attrs["Status"]["State"] for n in manager.nodes.list()
    }


def test_each_engine_answers_on_its_socket_and_the_main_engine_is_untouched(lab: Lab) -> None:
    for k in range(1, lab.hosts + 1):
        client = lab.client(k)
        info = client.info()
        assert info["Name"] == lab.name(k), info["Name"]
        assert info["DockerRootDir"] == str(DATA_DIR / f"host{k}" / "docker")
        assert info["Swarm"]["NodeAddr"] == lab.address(k)
        client.close()
    main = docker.from_env(timeout=30)
    assert main.ping()
    assert main.info()["DockerRootDir"] != str(DATA_DIR), "the main engine is not a lab host"
    main.close()


def test_the_swarm_has_every_host_ready_and_host_1_manages_it(lab: Lab) -> None:
    manager = lab.client(1)
    nodes = manager.nodes.list()
    assert node_states(manager) == {lab.name(k): "ready" for k in range(1, lab.hosts + 1)}
    managers = [
        n.attrs["Description"]["Hostname"] for n in nodes if n.attrs["Spec"]["Role"] == "manager"
    ]
    assert managers == [lab.name(1)]
    manager.close()


def test_each_host_has_the_byzlab_image_of_the_main_engine(lab: Lab) -> None:
    main = docker.from_env(timeout=30)
    want = main.images.get(DEFAULT_IMAGE).id
    main.close()
    for k in range(1, lab.hosts + 1):
        client = lab.client(k)
        assert client.images.get(DEFAULT_IMAGE).id == want, f"host {k}"
        client.close()


@pytest.fixture
def echo_service(lab: Lab) -> Iterator[Any]:
    """An echo server service, one task per host, on an overlay network of its own."""
    manager = lab.client(1)
    name = f"lab-echo-{uuid.uuid4().hex[:8]}"
    network = manager.networks.create(name, driver="overlay", labels={"byzlab.test": name})
    try:
        service = manager.services.create(
            DEFAULT_IMAGE,
            name=name,
            command=["python", "-c"],  # a swarm's "command" is the image's entrypoint
            args=[ECHO_SERVER],
            networks=[name],
            mode=docker.types.ServiceMode("replicated", replicas=lab.hosts),
            maxreplicas=1,  # one task per host
            # DNS names the tasks themselves: no virtual IP, which needs IPVS in the kernel.
            endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
            restart_policy=docker.types.RestartPolicy(condition="none"),
            labels={"byzlab.test": name},
        )
        try:
            yield service
        finally:
            service.remove()
    finally:
        # The network goes once the tasks have: until then the engine refuses.
        wait_for(f"removing the network {name}", lambda: _removed(network))
        manager.close()


def test_an_overlay_network_carries_tcp_from_host_1_to_host_3(lab: Lab, echo_service: Any) -> None:
    manager = lab.client(1)
    hostnames = {n.id: n.attrs["Description"]["Hostname"] for n in manager.nodes.list()}

    def addresses_by_host() -> dict[str, str] | None:
        """The overlay address of each host's task, once every host runs one."""
        tasks = [t for t in echo_service.tasks() if t["Status"]["State"] == "running"]
        found = {
            hostnames[t["NodeID"]]: t["NetworksAttachments"][-1]["Addresses"][0].split("/")[0]
            for t in tasks
        }
        return found if len(found) == lab.hosts else None

    on_host = wait_for(f"a running task of {echo_service.name} on each host", addresses_by_host)
    assert set(on_host) == {lab.name(k) for k in range(1, lab.hosts + 1)}, on_host
    (container,) = manager.containers.list(  # the manager is host 1
        filters={"label": f"com.docker.swarm.service.name={echo_service.name}"}
    )
    target = on_host[lab.name(3)]
    code, out = container.exec_run(["python", "-c", ECHO_CLIENT, echo_service.name, target])
    assert code == 0, out.decode()
    reply = json.loads(out.decode())
    print(f"overlay route from host 1 to host 3 after {reply['waited_s']:.1f} s")
    assert reply["echo"] == "byzlab", reply
    assert reply["tasks"] == sorted(on_host.values()), (reply, on_host)
    manager.close()


def _removed(network: Any) -> bool:
    try:
        network.remove()
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError:
        return False
    return True


def test_stop_host_and_start_host_take_one_engine_down_and_back(lab: Lab) -> None:
    manager = lab.client(1)
    lab.stop_host(3)
    assert not lab.socket(3).exists()
    wait_for("the manager seeing host 3 down", lambda: node_states(manager)[lab.name(3)] == "down")
    assert node_states(manager)[lab.name(2)] == "ready"
    lab.start_host(3)
    client = lab.client(3)
    assert client.ping()
    assert client.images.get(DEFAULT_IMAGE)
    client.close()
    assert node_states(manager)[lab.name(3)] == "ready"
    manager.close()


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    run_script("down")
    netns = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "byzlab-host" not in netns, netns
    links = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    assert "byzlab-" not in links, links
    rules = subprocess.run(
        ["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True
    ).stdout
    assert "byzlab-lab" not in rules, rules
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(RUN_DIR) not in mounts and str(DATA_DIR) not in mounts
    assert not RUN_DIR.exists() and not DATA_DIR.exists()
    leftovers = [
        cmd for p in Path("/proc").iterdir() if p.name.isdigit() and (cmd := _lab_command(p))
    ]
    assert not leftovers, f"processes of the lab still run: {leftovers}"
    assert docker.from_env(timeout=30).ping(), "the main engine keeps working"
    assert "no lab" in run_script("status")


def _lab_command(proc: Path) -> str:
    """The command line of a process that uses the lab's directories, else ""."""
    try:
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
    except OSError:
        return ""
    return cmdline if f"{RUN_DIR}/" in cmdline or f"{DATA_DIR}/" in cmdline else ""
