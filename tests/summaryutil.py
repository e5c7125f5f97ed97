"""A real run's summary.json from hand-made node result files: ``build_summary`` (what the
local and docker backends write) for n = 4, node 3 corrupted, inputs all +1, delta_s = 10 ms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from byzlab.orchestration.results import build_summary


def real_summary(node_results: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """The summary of a local run whose honest nodes 0-2 left ``node_results``."""
    return build_summary(
        n=4,
        seed=0,
        params={"T": 8},
        protocol="hpz",
        scheduler={"name": "fifo"},
        byzantine={3: "silent"},
        inputs=[1, 1, 1, 1],
        delta_s=0.01,
        node_results=node_results,
        proxy_stats=None,
        traces=[],
        stopped="timeout",
        backend="local",
        run_id="r",
        commit="",
    )
