"""Multi-instance runs ([committee], [sortition]): seeds chain through decisions, seats follow
the verifiable draw, an adversary over the bound is recorded (exit status 3), merit-based
active sets push out nodes that never report, and a committee run on processes agrees."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from byzlab.cli import main
from byzlab.orchestration import instances as mi
from byzlab.orchestration.scenario import build_simulator, parse_scenario
from byzlab.sidecars.committee import draw_seats, public_seed, sign_seed_share

STAKES = [30, 20, 15, 10, 10, 5, 5, 5]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def committee(
    seed: int,
    *,
    seats: int = 7,
    instances: int = 3,
    byzantine: int = 1,
    inputs: str = "split",
    **run: Any,
) -> dict[str, Any]:
    return {
        "run": {"seed": seed, "inputs": inputs, **run},
        "committee": {
            "stakes": STAKES,
            "seats": seats,
            "instances": instances,
            "byzantine": [{"node": byzantine, "strategy": "equivocate"}],
        },
    }


def about(outcome: mi.MultiRunOutcome) -> str:
    s = outcome.summary
    return (
        f"run_id={outcome.run_id} seed={s['seed']} status={s['status']} "
        f"shares={s['seat_shares']} results={outcome.out_dir}"
    )


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


# --------------------------------------------------------------------------- the draw


def test_seeds_chain_through_decisions_and_seats_follow_the_verifiable_draw(tmp_path: Path) -> None:
    scn = parse_scenario(committee(1, instances=4))
    out = mi.run_instances(scn, backend="sim", out_root=tmp_path)
    assert out.exit_code == mi.EXIT_OK, about(out)
    keys = mi.pool_keys(1, len(STAKES))
    previous = 0
    for r in out.records:
        t = r["instance"]
        shares = [sign_seed_share(k, previous, t) for k in keys]
        seed = public_seed(previous, t, shares)
        assert r["previous_decision"] == previous and r["seed"] == seed.hex(), about(out)
        assert r["owners"] == draw_seats(STAKES, 7, seed), about(out)
        byz = [p for p, o in enumerate(r["owners"]) if o == 1]
        assert r["adversary_seats"] == len(byz) and r["adversary_share"] == len(byz) / 7
        assert r["byzantine_players"] == {str(p): "equivocate" for p in byz}
        assert r["adversary_stake_share"] == pytest.approx(20 / 100)
        assert 0 < r["p_over_third"] < 1
        assert r["status"] == "agreed" and r["decision"] in (-1, 1), about(out)
        previous = r["decision"]
    # The decision feeds the next seed: the same instance after the other decision differs.
    assert mi.instance_seed(-previous, 4, keys) != mi.instance_seed(previous, 4, keys)
    s = json.loads((out.out_dir / "summary.json").read_text())
    assert s == out.summary and s["seat_shares"] == [r["adversary_share"] for r in out.records]
    assert s["mode"] == "committee" and s["decisions"] == [r["decision"] for r in out.records]
    table = rows(out.out_dir / "instances.csv")
    assert [int(x["instance"]) for x in table] == [0, 1, 2, 3]
    assert [int(x["adversary_seats"]) for x in table] == s["adversary_seats"]


def test_a_node_with_s_seats_runs_s_players_and_an_instance_replays(tmp_path: Path) -> None:
    out = mi.run_instances(
        parse_scenario(committee(11, seats=4, instances=2, inputs="all-plus")),
        backend="sim",
        out_root=tmp_path,
    )
    rec = out.records[1]
    assert rec["owners"] == [1, 2, 4, 2] and rec["seats"] == {"1": 1, "2": 2, "4": 1}, about(out)
    players = [r for r in rows(out.out_dir / "players.csv") if r["instance"] == "1"]
    assert [int(r["owner"]) for r in players] == rec["owners"]
    assert [r["role"] for r in players] == ["byzantine", "honest", "honest", "honest"]
    # input "all-plus" per pool node: every player starts with +1, so the decision is +1
    assert {r["input"] for r in players} == {"1"} and rec["decision"] == 1
    inst = out.out_dir / "instances" / "1"
    replay = build_simulator(parse_scenario(tomllib.loads((inst / "scenario.toml").read_text())))
    assert replay.run().trace_hash == rec["trace_hash"], about(out)
    assert json.loads((inst / "summary.json").read_text())["byzantine"] == {"0": "equivocate"}


def test_adversary_over_a_third_is_recorded_and_the_exit_status_says_so(tmp_path: Path) -> None:
    # Pool node 0 holds 30% of the stake: with seed 2 it draws 3 of 7 seats in instances 1, 2.
    data = committee(2, instances=4, byzantine=0)
    out = mi.run_instances(parse_scenario(data), backend="sim", out_root=tmp_path / "a")
    over = [r for r in out.records if r["over_third"]]
    assert over, about(out)
    for r in over:
        assert r["adversary_seats"] > r["f"] and r["status"] == "over-f", about(out)
        assert r["decision"] is None
        assert not (out.out_dir / "instances" / str(r["instance"])).exists()
        nxt = [x for x in out.records if x["instance"] == r["instance"] + 1]
        assert not nxt or nxt[0]["previous_decision"] == 0, about(out)
    assert all(r["status"] == "agreed" for r in out.records if not r["over_third"])
    assert out.exit_code == mi.EXIT_OVER_BOUND and out.summary["status"] == "adversary-over-bound"
    assert out.summary["over_f_instances"] == [r["instance"] for r in over]
    path = tmp_path / "c.toml"
    path.write_text(parse_scenario(data).to_toml())
    result = CliRunner().invoke(
        main, ["run", str(path), "--backend", "sim", "--out", str(tmp_path / "b")]
    )
    assert result.exit_code == 3, result.output
    assert "outside the fault model, agreement not guaranteed" in result.output
    assert "over-f" in result.output


# --------------------------------------------------------------------------- sortition


def test_sortition_pushes_out_nodes_that_never_report(tmp_path: Path) -> None:
    seed = 3
    data = {
        "run": {"seed": seed},
        "sortition": {
            "pool": 12,
            "active": 7,
            "instances": 5,
            "byzantine": [{"node": 2, "strategy": "silent"}, {"node": 5, "strategy": "equivocate"}],
        },
    }
    out = mi.run_instances(parse_scenario(data), backend="sim", out_root=tmp_path)
    assert out.exit_code == mi.EXIT_OK, about(out)
    first, *rest = out.records
    # The first active set is a draw; both Byzantine nodes are in it and report nothing ...
    assert first["byzantine_active"] == 2 and first["missed"] == [2, 5], about(out)
    ema = {int(j): q for j, q in first["ema"].items()}
    honest = [q for j, q in ema.items() if j not in (2, 5)]
    assert max(ema[2], ema[5]) < min(honest), f"seed={seed}: {ema}"
    # ... so they drop out of the active set and stay out (Eq. 4: min - 2 sigma).
    assert rest[0]["left"][:2] == [2, 5] and all(r["byzantine_active"] == 0 for r in rest)
    for before, r in zip(out.records, rest, strict=False):
        assert sorted(set(r["active"]) ^ set(before["active"])) == sorted(r["joined"] + r["left"])
    s = out.summary
    assert s["active_sets"] == [r["active"] for r in out.records]
    assert s["byzantine_active"] == [2, 0, 0, 0, 0] and "responsiveness" in s["quality_metric"]


def test_committee_with_sortition_draws_seats_from_the_active_set(tmp_path: Path) -> None:
    data = committee(4, instances=3, byzantine=1)
    data["committee"]["stakes"] = [*STAKES, 0]  # node 8 has no stake: never active
    data["sortition"] = {"active": 5, "percentile": 30.0}
    out = mi.run_instances(parse_scenario(data), backend="sim", out_root=tmp_path)
    for r in out.records:
        assert len(r["active"]) == 5 and 8 not in r["active"], about(out)
        assert set(r["owners"]) <= set(r["active"]) and len(r["owners"]) == 7
        assert r["eligible_stakes"] == [[*STAKES, 0][j] for j in r["active"]]
    assert out.summary["mode"] == "committee+sortition"


def test_responsiveness_scores_seat_holders_by_decision_time() -> None:
    draw = mi.InstanceDraw(
        0,
        0,
        b"\0" * 32,
        [0, 1, 2],
        owners=[0, 1, 1, 2],
        byzantine_players={3: parse_scenario(committee(0)).pool_byzantine[0]},
    )
    scores = mi.responsiveness(draw, {0: 2.0, 1: 4.0, 2: 3.0})
    assert scores == {0: pytest.approx(0.5), 1: pytest.approx((0.0 + 0.25) / 2)}
    assert mi.responsiveness(draw, {}) == {}


# --------------------------------------------------------------------------- CLI, examples


def test_cli_backends_and_json(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text("[run]\nn = 4\n")
    # issue 15: every backend runs every scenario, single or pool (the docker backend's pool
    # runs are in test_backends.py, with the engine)
    result = CliRunner().invoke(
        main, ["run", str(plain), "--backend", "sim", "--json", "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["backend"] == "sim", result.output
    multi = tmp_path / "multi.toml"
    multi.write_text(parse_scenario(committee(1, instances=2)).to_toml())
    result = CliRunner().invoke(
        main, ["run", str(multi), "--backend", "sim", "--json", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["instances_done"] == 2 and len(summary["seat_shares"]) == 2


# committee.toml documents that seed 0 draws one instance over f (exit status 3)
@pytest.mark.parametrize(("name", "status"), [("committee.toml", 3), ("sortition.toml", 0)])
def test_examples_run_in_the_simulator(tmp_path: Path, name: str, status: int) -> None:
    result = CliRunner().invoke(
        main, ["run", str(EXAMPLES / name), "--backend", "sim", "--json", "--out", str(tmp_path)]
    )
    assert result.exit_code == status, result.output
    summary = json.loads(result.stdout)
    assert summary["failed_instances"] == [] and summary["instances_done"] >= 6


# --------------------------------------------------------------------------- real processes


def test_committee_run_on_processes_agrees_and_records_seat_shares(tmp_path: Path) -> None:
    """Two instances of 4 players, one process each; pool node 2 holds two seats of the second.
    Inputs are all +1, so the decisions, hence the seeds and the draws, are known in advance."""
    data = committee(11, seats=4, instances=2, inputs="all-plus", timeout_s=60)
    data["adversary"] = {"delta_s": 0.002}
    out = mi.run_instances(parse_scenario(data), backend="local", out_root=tmp_path)
    assert out.exit_code == mi.EXIT_OK, about(out)
    assert [r["owners"] for r in out.records] == [[7, 0, 1, 3], [1, 2, 4, 2]], about(out)
    assert out.summary["seat_shares"] == [0.25, 0.25] and out.summary["decisions"] == [1, 1]
    for r in out.records:
        assert r["status"] == "agreed" and r["latency_unit"] == "s" and r["latency"] > 0
        inst = out.out_dir / "instances" / str(r["instance"])
        nodes = rows(inst / "nodes.csv")
        assert [x["role"] for x in nodes] == [
            "byzantine" if o == 1 else "honest" for o in r["owners"]
        ], about(out)
        honest = [x for x in nodes if x["role"] == "honest"]
        assert all(x["decision"] == "1" and x["exit_code"] == "0" for x in honest), about(out)
    players = rows(out.out_dir / "players.csv")
    assert [(x["instance"], x["owner"]) for x in players] == [
        ("0", "7"),
        ("0", "0"),
        ("0", "1"),
        ("0", "3"),
        ("1", "1"),
        ("1", "2"),
        ("1", "4"),
        ("1", "2"),
    ]
    assert np.isfinite([float(x["decision_time"]) for x in players if x["role"] == "honest"]).all()
