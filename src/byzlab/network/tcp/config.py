"""node.json: what one honest node process is told (its id, the run, where the proxy is).

Written by the orchestrator for every honest node (or by hand); read with
``byzlab.network.configfile.load_config``, which reports every problem as one
``NodeConfigError`` naming the file and the fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from byzlab.network.auth import REPLAY_WINDOW
from byzlab.network.framing import MAX_FRAME

__all__ = ["NodeConfig"]


class NodeConfig(BaseModel):
    """node.json, written by the orchestrator (or by hand) for one honest node."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    node: int = Field(ge=0)
    params: dict[str, Any]
    protocol: str
    # a plugin protocol's constructor arguments ([run.protocol_options], checked by the scenario)
    protocol_options: dict[str, Any] = Field(default_factory=dict)
    input: int
    seed: int = Field(ge=0)
    run_id: str = ""
    key_dir: str
    proxy_host: str = "127.0.0.1"
    proxy_port: int = Field(ge=1, le=65535)
    out_dir: str
    timeout_s: float = Field(default=120.0, gt=0)
    linger_s: float = Field(default=10.0, ge=0)
    snapshot_interval_s: float = Field(default=0.25, gt=0)
    backoff_initial_s: float = Field(default=0.02, gt=0)
    backoff_max_s: float = Field(default=1.0, gt=0)
    resend_frames: int = Field(default=1024, ge=1, le=REPLAY_WINDOW // 2)
    resend_bytes: int = Field(default=64 << 20, ge=2 * MAX_FRAME)
    inbox_frames: int = Field(default=256, ge=1)
    # Run under SCHED_BATCH where the OS has it (see ``batch_scheduling``).
    batch_scheduling: bool = True
    # Live metrics (byzlab.network.metrics): /metrics on this address; port 0 is off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Record this node's half of the message trace (verdicts.py); the orchestrator writes
    # the key only when it is on, so an image older than it still runs other scenarios.
    messages: bool = False
