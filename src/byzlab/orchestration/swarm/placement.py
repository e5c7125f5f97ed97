"""Where each service of a swarm run goes: the swarm's hosts and the ``[swarm]`` placement.

The hosts are the swarm's nodes that are ready and active. ``placement = "spread"`` deals the
honest nodes out over them round-robin, hosts in the order of their names, so a run's layout
is known before it starts (and recorded in its summary); a placement table pins the nodes it
lists (a host is named by its host name or its swarm node id) and spreads the others. A
host the swarm does not have is refused before anything is created, in one line naming the
field. The proxy goes on the manager the orchestrator talks to, whose engine then holds its
container: that is how the run reads the proxy's statistics while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from byzlab.errors import RunRefused

__all__ = ["Host", "place", "swarm_hosts"]


@dataclass(frozen=True)
class Host:
    """One host of the swarm: its swarm node id and host name."""

    id: str
    name: str


def swarm_hosts(client: Any) -> tuple[list[Host], Host]:
    """The ready and active hosts (by name) and the manager ``client`` talks to.

    Raises ``RunRefused`` if the engine is not a swarm manager."""
    swarm = client.info().get("Swarm") or {}
    if not swarm.get("ControlAvailable"):
        raise RunRefused(
            "the Docker engine is not a swarm manager: run `docker swarm init` (or point "
            "--docker-host at a manager)"
        )
    hosts = []
    for node in client.api.nodes():
        status = node.get("Status") or {}
        spec = node.get("Spec") or {}
        if status.get("State") == "ready" and spec.get("Availability", "active") == "active":
            name = str((node.get("Description") or {}).get("Hostname") or node["ID"])
            hosts.append(Host(str(node["ID"]), name))
    hosts.sort(key=lambda h: (h.name, h.id))
    manager_id = str(swarm.get("NodeID"))
    manager = next((h for h in hosts if h.id == manager_id), Host(manager_id, manager_id))
    return hosts, manager


def place(nodes: list[int], pinned: dict[int, str], hosts: list[Host]) -> dict[int, Host]:
    """Every node's host: pinned ones where the table says, the others round-robin."""
    if not hosts:
        raise RunRefused("the swarm has no ready and active host to run the nodes on")
    by_name = {h.name: h for h in hosts} | {h.id: h for h in hosts}
    where: dict[int, Host] = {}
    for node, host in sorted(pinned.items()):
        if host not in by_name:
            names = ", ".join(h.name for h in hosts)
            raise RunRefused(
                f"swarm.placement.{node}: the swarm has no ready host {host!r} (its hosts: {names})"
            )
        where[node] = by_name[host]
    spread = [i for i in nodes if i not in where]
    for k, node in enumerate(spread):
        where[node] = hosts[k % len(hosts)]
    return {i: where[i] for i in nodes}
