"""A node process started again within a run rejoins as a crashed node (see
``rejoin_as_crashed`` for why it must not resume).

The first process of a node writes ``incarnation.json`` (run id, pid) before it seals its
first frame; a later process that finds the marker of the same run sends nothing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from byzlab.atomicio import atomic_write_json
from byzlab.network.tcp.config import NodeConfig

__all__ = ["INCARNATION_FILE", "mark_incarnation", "previous_incarnation", "rejoin_as_crashed"]

log = logging.getLogger("byzlab.node")

INCARNATION_FILE = "incarnation.json"


def mark_incarnation(config: NodeConfig) -> None:
    """Record, durably and before the first frame is sealed, that this process may have
    sent something in this run: a later process of this node must not (rejoin_as_crashed)."""
    atomic_write_json(
        Path(config.out_dir) / INCARNATION_FILE,
        {"run_id": config.run_id, "pid": os.getpid(), "boot_time": time.time()},
    )


def previous_incarnation(config: NodeConfig) -> dict[str, Any] | None:
    """The marker an earlier process of this node left for this run, if any."""
    try:
        marker = json.loads((Path(config.out_dir) / INCARNATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(marker, dict) and marker.get("run_id") == config.run_id:
        return marker
    return None


def rejoin_as_crashed(config: NodeConfig, previous: dict[str, Any]) -> int:
    """A restarted node stays a crashed node: it sends nothing and says so in its result.

    Why not resume: what an honest node sends depends on the order in which it received
    its peers' messages (the n - f support of each step, the blackboard views it carries),
    and that order died with the process. Started again from its input, it would send other
    contents under the same RBC sequence numbers, which is equivocation by an honest node.
    Persisting every sent item before sending it would put a disk write on the hot path of
    every broadcast. The model already has the right name for a node that stopped: a crash
    fault, counted toward f. The earlier process's ``result.json``, if it wrote one (it
    halted before it died), is kept as it is.
    """
    out_dir = Path(config.out_dir)
    log.warning(
        "node %d: an earlier process (pid %s) of run %s started here; this restart "
        "rejoins as crashed and sends nothing",
        config.node,
        previous.get("pid"),
        config.run_id,
    )
    if not (out_dir / "result.json").exists():
        atomic_write_json(
            out_dir / "result.json",
            {
                "node": config.node,
                "role": "crashed",
                "run_id": config.run_id,
                "seed": config.seed,
                "input": config.input,
                "decision": None,
                "stop_reason": "restarted-after-crash",
                "previous_pid": previous.get("pid"),
                "pid": os.getpid(),
                "end_time": time.time(),
            },
        )
    return 0
