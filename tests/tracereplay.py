"""A node rebuilt from a message trace alone: its accepted deliveries, fed to a fresh node.

``messages.parquet`` holds every input an honest node took (its peers' messages and its own
copies, each with the receiver's verdict) and each message's wire encoding, so a node
started afresh from the run's seed and fed, in the trace's order, the payloads of the rows
it accepted must end where the node of the run ended: what the tests of the message trace
check, in the simulator and on real runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from byzlab.network.messagelog import decode_payload, read_messages
from byzlab.node.protocol import DecodeError, Protocol, ProtocolNode
from byzlab.orchestration.plan import RunPlan
from byzlab.orchestration.scenario import Scenario, load_scenario
from byzlab.seeds import derive_rng, ideal_coin_seed


def accepted_by(table: pa.Table, node: int) -> pa.Table:
    """The deliveries ``node`` accepted, in the trace's order."""
    mask = pc.and_(
        pc.and_(pc.equal(table["event"], "deliver"), pc.equal(table["dst"], node)),
        pc.equal(table["outcome"], "accepted"),
    )
    return table.filter(mask)


def replay_node(table: pa.Table, protocol: Protocol, plan: RunPlan, node: int) -> ProtocolNode:
    """Honest node ``node`` of ``plan``, started afresh and fed the payloads of the rows it
    accepted in ``table`` (its start's own effects are not performed: its own copies are
    rows of the trace too)."""
    fresh = protocol.node(
        node,
        plan.params,
        input_value=plan.inputs[node],
        rng=derive_rng(plan.seed, "node", node),
        ideal_seed=ideal_coin_seed(plan.seed),
    )
    fresh.start(0.0)
    decoder = protocol.decoder(plan.n)
    rows = accepted_by(table, node)
    for src, payload, time in zip(
        rows["src"].to_pylist(), rows["payload"].to_pylist(), rows["time"].to_pylist(), strict=True
    ):
        msg: Any = decode_payload(payload, decoder)
        assert not isinstance(msg, DecodeError), (node, src, msg)
        if fresh.halted:
            break
        fresh.receive(src, msg, time)
    return fresh


def replay_run_dir(run_dir: Path) -> dict[int, ProtocolNode]:
    """Every honest node of the run in ``run_dir`` rebuilt from its ``messages.parquet``
    (and its ``scenario.toml``, for the seed, the inputs and the parameters)."""
    scenario: Scenario = load_scenario(run_dir / "scenario.toml")
    plan = RunPlan.of(scenario)
    protocol = scenario.build_protocol()
    table = read_messages(run_dir / "messages.parquet")
    return {i: replay_node(table, protocol, plan, i) for i in plan.honest_ids}
