"""Container faults (``[docker] faults``): kill, pause and netem, and their records.

``kill`` takes a node's container off the network and then sends it SIGKILL (a crashed host
goes silent; it does not close its connections); ``pause`` freezes it (and thaws it after
``duration_s``, if given); ``netem`` runs ``tc qdisc replace dev eth0 root netem ...`` in it
as root (the container gets ``NET_ADMIN`` for this and nothing else). When a fault falls due
is the run's business (``run.py``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from byzlab.orchestration.scenario import DockerFault

__all__ = ["FaultState", "apply_fault", "netem_args", "undo_fault"]


@dataclass
class FaultState:
    index: int
    fault: DockerFault
    applied_s: float | None = None
    undone_s: float | None = None
    error: str | None = None
    undo: str | None = None  # why the end of the fault was not applied, if it was moot

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in self.fault.model_dump().items() if v is not None}
        out.update(applied_s=self.applied_s, undone_s=self.undone_s, error=self.error)
        if self.undo is not None:
            out["undo"] = self.undo
        return out


def netem_args(fault: DockerFault) -> list[str]:
    """``tc`` arguments for a netem fault on eth0 (the run network's interface)."""
    args = ["tc", "qdisc", "replace", "dev", "eth0", "root", "netem"]
    if fault.delay_ms is not None:
        args += ["delay", f"{fault.delay_ms:g}ms"]
        if fault.jitter_ms is not None:
            args.append(f"{fault.jitter_ms:g}ms")
    if fault.loss_pct is not None:
        args += ["loss", f"{fault.loss_pct:g}%"]
    return args


def apply_fault(container: Any, network: Any, fault: DockerFault) -> None:
    """Apply ``fault`` to a node's container on the run's ``network``."""
    if fault.action == "kill":
        # Off the network first, then SIGKILL: a crashed host goes silent. Killing the
        # process alone would let its kernel close its connection (FIN or RST), telling
        # the proxy at once that the node is gone, which no crash announces in the
        # asynchronous model (a crashed node looks exactly like a slow one).
        with contextlib.suppress(Exception):
            network.disconnect(container, force=True)
        container.kill(signal="SIGKILL")
    elif fault.action == "pause":
        container.pause()
    else:
        _exec_tc(container, netem_args(fault))


def undo_fault(container: Any, fault: DockerFault) -> None:
    """End a fault with ``duration_s`` (a kill has no end)."""
    if fault.action == "pause":
        container.unpause()
    elif fault.action == "netem":
        _exec_tc(container, ["tc", "qdisc", "del", "dev", "eth0", "root"])


def _exec_tc(container: Any, args: list[str]) -> None:
    code, output = container.exec_run(args, user="0")
    if code != 0:
        text = output.decode(errors="replace").strip()
        if "unknown" in text.lower() and "qdisc" in text.lower():
            text += " (this kernel has no sch_netem module)"
        raise RuntimeError(f"{' '.join(args)}: exit status {code}: {text}")
