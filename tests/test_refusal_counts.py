"""What the honest nodes refused has one source, their ``Refusals`` counters: summary.json's
``rejected`` is their sum and nodes.csv's ``messages_invalid`` each node's total, on the sim
backend (both engines) and on real node processes. Before, nodes.csv counted only messages
the node process could not decode (0 in the simulator, which decodes nothing) while the
summary counted the state machine's refusals, such as an invalid-value node's step-2 votes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from byzlab.adversary.engine import run_simulator
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.results import node_refusals
from byzlab.orchestration.scenario import build_simulator, parse_scenario
from tests.nativeutil import requires_native

SEEDS = (1, 2)


def scenario(seed: int, strategy: str | None = "invalid-value", protocol: str = "hpz") -> dict:
    byzantine = [{"node": 3, "strategy": strategy}] if strategy else []
    return {
        "run": {"n": 4, "seed": seed, "protocol": protocol, "timeout_s": 60},
        "adversary": {"scheduler": "fifo", "delta_s": 0.002, "byzantine": byzantine},
    }


def check_agree(out_dir: Path, what: str) -> int:
    """nodes.csv's messages_invalid per honest node against summary.json's rejected; the
    total refused."""
    summary = json.loads((out_dir / "summary.json").read_text())
    rows = list(csv.DictReader((out_dir / "nodes.csv").read_text().splitlines()))
    honest = [r for r in rows if r["role"] == "honest"]
    per_node = {int(r["node"]): int(r["messages_invalid"]) for r in honest}
    total = sum(summary["rejected"].values())
    assert sum(per_node.values()) == total, (what, per_node, summary["rejected"])
    return total


@pytest.mark.parametrize("seed", SEEDS)
def test_sim_backend_nodes_csv_counts_what_the_summary_rejected(tmp_path: Path, seed: int) -> None:
    scn = parse_scenario(scenario(seed))
    outcome = run_scenario(scn, backend="sim", out_root=tmp_path)
    what = f"seed={seed}"
    refused = check_agree(outcome.out_dir, what)
    assert refused > 0, f"{what}: the invalid-value node's step-2 votes were not refused"
    assert set(json.loads((outcome.out_dir / "summary.json").read_text())["rejected"]) == {
        "step-2-value"
    }, what


@requires_native
def test_the_native_engine_counts_refusals_per_node_as_python_does() -> None:
    for seed in SEEDS:
        scn = parse_scenario(scenario(seed, None, "bracha-local"))
        py = run_simulator(build_simulator(scn), "python", explain=False)
        nat = run_simulator(build_simulator(scn), "native", explain=False)
        assert py.trace_hash == nat.trace_hash, f"seed={seed}"
        assert nat.node_rejected == py.node_rejected, f"seed={seed}"
        assert set(nat.node_rejected) == {0, 1, 2, 3}, f"seed={seed}: {nat.node_rejected}"
        total = {k: sum(r.get(k, 0) for r in nat.node_rejected.values()) for k in nat.rejected}
        assert total == nat.rejected, f"seed={seed}"


def test_real_processes_nodes_csv_counts_what_the_summary_rejected(tmp_path: Path) -> None:
    seed = SEEDS[0]
    outcome = run_scenario(parse_scenario(scenario(seed)), backend="local", out_root=tmp_path)
    summary = outcome.summary
    assert summary["agreed"], f"seed={seed}: {outcome.line()}"
    refused = check_agree(outcome.out_dir, f"local seed={seed}")
    assert refused > 0 and summary["rejected"].get("step-2-value", 0) > 0, summary["rejected"]


def test_node_refusals_adds_undecodable_messages_and_ignores_junk() -> None:
    res = {
        "rejected": {"step-2-value": 2, "malformed-rbc": 1},
        "decode_errors": {"not-a-list": 4, "bogus": "7", "negative": -1},
        "counters": {"messages_invalid": 4},
    }
    assert node_refusals(res) == {"step-2-value": 2, "malformed-rbc": 1, "decode-not-a-list": 4}
    assert node_refusals({"rejected": None}) == {}
