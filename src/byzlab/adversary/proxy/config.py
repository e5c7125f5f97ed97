"""proxy.json: what the adversary proxy is told (the run, its scheduler, its corrupted nodes).

Written by the orchestrator; read with ``byzlab.network.configfile.load_config``, which
reports every problem as one ``NodeConfigError`` naming the file and the fields. The limits
(``max_reorder``, ``max_queue_bytes``, ``redeliver_*``) are explained where they act:
``delivery.py`` and ``connections.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from byzlab.network.auth import REPLAY_WINDOW
from byzlab.network.framing import MAX_FRAME

__all__ = ["TAMPER_MODES", "ByzantineSpec", "CorruptSpec", "InjectSpec", "ProxyConfig"]

TAMPER_MODES = ("none", "flip-byte")


class ByzantineSpec(BaseModel):
    """One corrupted node the proxy runs: its id, its strategy and the strategy's options."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    node: int = Field(ge=0)
    strategy: str
    options: dict[str, Any] = Field(default_factory=dict)


class CorruptSpec(BaseModel):
    """One adaptive corruption rule (``byzlab.adversary.corruption``): when it fires, the
    proxy takes over the node from its shadow replica (``shadows.py``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rule: str
    strategy: str
    options: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(default=1, ge=1)
    at_time: float = Field(default=5.0, ge=0)
    nodes: list[int] | None = None


class InjectSpec(BaseModel):
    """Test-only: hostile frames written to one honest node before the run starts."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    target: int = Field(ge=0)
    from_node: int = Field(ge=0)  # a Byzantine node whose keys give the invalid frames a MAC
    done_file: str
    garbage_frames: int = Field(default=1000, ge=0)
    forged_frames: int = Field(default=200, ge=0)
    invalid_frames: int = Field(default=1000, ge=0)
    # well-formed, validly MACed protocol messages at full speed (benchmarks/bench_flood.py)
    flood_messages: int = Field(default=0, ge=0)
    flood_batch: int = Field(default=256, ge=1, le=4096)
    oversized: bool = True
    hold_start: bool = True  # after injecting, start only on a second SIGUSR1
    # At the start: frames of about 1 MiB, validly MACed, from from_node to target through
    # the relay queues like any other frame (the stalled-receiver flood; see Memory bounds).
    stall_frames: int = Field(default=0, ge=0)


class ProxyConfig(BaseModel):
    """proxy.json, written by the orchestrator."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    params: dict[str, Any]
    protocol: str
    # a plugin protocol's constructor arguments ([run.protocol_options], checked by the scenario)
    protocol_options: dict[str, Any] = Field(default_factory=dict)
    inputs: list[int]
    seed: int = Field(ge=0)
    run_id: str = ""
    key_dir: str
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    byzantine: list[ByzantineSpec] = Field(default_factory=list)
    corrupt: list[CorruptSpec] = Field(default_factory=list)
    scheduler: str = "fifo"
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    delta_s: float = Field(default=0.005, ge=0)
    tamper: str = "none"
    inject: InjectSpec | None = None
    stats_file: str
    ready_file: str
    stats_interval_s: float = Field(default=0.25, gt=0)
    hello_timeout_s: float = Field(default=10.0, gt=0)
    # Start without the honest nodes still missing once no hello has arrived for this long
    # and n - f nodes can take part (see "Start and end").
    start_grace_s: float = Field(default=10.0, gt=0)
    # connections waiting for their hello at once; one more closes the oldest
    max_pending_hellos: int = Field(default=256, ge=1)
    exit_when_done: bool = True
    redeliver_frames: int = Field(default=1024, ge=0, le=REPLAY_WINDOW // 2)
    max_reorder: int = Field(default=REPLAY_WINDOW // 4, ge=1, le=REPLAY_WINDOW // 2)
    max_queue_bytes: int = Field(default=256 << 20, ge=4 * MAX_FRAME)
    redeliver_bytes: int = Field(default=32 << 20, ge=2 * MAX_FRAME)
    # Live metrics (byzlab.network.metrics): /metrics on this address; port 0 is off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Record the relayed frames for the message trace into this directory (recording.py);
    # "" is off. The orchestrator writes the key only when it is on.
    messages_dir: str = ""
