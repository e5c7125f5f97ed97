"""The labels on every Docker object a run creates, and whether their owner still runs.

Every container and network of a run carries ``byzlab.run=<run-id>``,
``byzlab.role=node|proxy|network``, ``byzlab.node=<i>`` and
``byzlab.owner=<host>:<pid>:<start time>``, so that objects left behind by an orchestrator
killed with SIGKILL can be found and removed (``clean.py``).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = [
    "LABEL_NODE",
    "LABEL_OWNER",
    "LABEL_ROLE",
    "LABEL_RUN",
    "owner_alive",
    "owner_label",
    "run_labels",
]

LABEL_RUN = "byzlab.run"
LABEL_ROLE = "byzlab.role"
LABEL_NODE = "byzlab.node"
LABEL_OWNER = "byzlab.owner"


def _process_start(pid: int) -> str:
    """The kernel's start time of ``pid`` (so a recycled pid is not mistaken for it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def owner_label() -> str:
    """``<host>:<pid>:<start time>`` of this orchestrator process."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def owner_alive(label: str) -> bool | None:
    """True/False for an owner on this host; None if it lives on another host (unknown)."""
    host, _, rest = label.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and _process_start(pid) == start


def run_labels(
    run_id: str, role: str, *, node: int | None = None, owner: str | None = None
) -> dict[str, str]:
    """The labels of every object a run creates (see the module docs)."""
    labels = {LABEL_RUN: run_id, LABEL_ROLE: role}
    if node is not None:
        labels[LABEL_NODE] = str(node)
    if owner is not None:
        labels[LABEL_OWNER] = owner
    return labels
