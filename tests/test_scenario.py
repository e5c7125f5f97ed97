"""Scenario files: every field's validation message, defaults, TOML round trip, CLI errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES
from byzlab.cli import main
from byzlab.orchestration.scenario import (
    Scenario,
    ScenarioError,
    build_params,
    build_simulator,
    default_scenario,
    load_scenario,
    parse_scenario,
    resolve_inputs,
)
from byzlab.seeds import make_inputs


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def one_problem(data: dict[str, Any]) -> str:
    found = problems(data)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- happy paths


def test_empty_scenario_takes_the_documented_defaults() -> None:
    scn = parse_scenario({})
    assert (scn.n, scn.f, scn.seed, scn.run.protocol, scn.run.inputs) == (4, 1, 0, "hpz", "split")
    assert scn.adversary.scheduler == "random" and scn.adversary.delta_s == 0.005
    assert scn.adversary.byzantine == [] and scn.run.timeout_s == 120.0


def test_default_run_scenario_is_the_promised_one() -> None:
    scn = default_scenario()
    assert (scn.n, scn.f, scn.run.protocol, scn.run.inputs) == (4, 1, "hpz", "split")
    assert [(b.node, b.strategy) for b in scn.adversary.byzantine] == [(3, "equivocate")]
    assert scn.adversary.scheduler == "random" and scn.adversary.delta_s == 0.005


def test_full_scenario_round_trips_through_toml(tmp_path: Path) -> None:
    text = """
[run]
n = 7
f = 2
seed = 11
protocol = "bracha-local"
preset = "practical"
inputs = [1, 1, -1, 1, -1, 1, 1]
timeout_s = 30.0

[params]
m = 12
T = 4
c = 1.5
window = 512

[adversary]
scheduler = "hold-f"
delta_s = 0.01
tamper = "flip-byte"

[adversary.scheduler_options]
held = [0, 1]

[[adversary.byzantine]]
node = 5
strategy = "crash"
options = { at_time = 2.5, at_step = 2 }

[[adversary.byzantine]]
node = 6
strategy = "equivocate"
"""
    path = tmp_path / "s.toml"
    path.write_text(text)
    scn = load_scenario(path)
    assert scn.run.inputs == (1, 1, -1, 1, -1, 1, 1)
    assert build_params(scn).m == 12 and build_params(scn).T == 4 and build_params(scn).c == 1.5
    assert scn.byzantine_map()[5].options == {"at_time": 2.5, "at_step": 2}
    again = parse_scenario(tomllib.loads(scn.to_toml()))
    assert again == scn


def test_seed_override_and_random_inputs_follow_the_seed() -> None:
    scn = parse_scenario({"run": {"n": 10, "inputs": "random", "seed": 1}})
    other = scn.with_seed(2)
    assert other.seed == 2 and scn.seed == 1 and scn.with_seed(None) is scn
    assert resolve_inputs(scn) == make_inputs("random", 10, 1)
    assert resolve_inputs(other) == make_inputs("random", 10, 2)


def test_theory_preset_uses_theorem_15_shapes() -> None:
    scn = parse_scenario({"run": {"n": 7, "preset": "theory"}, "params": {"T": 3}})
    params = build_params(scn)
    assert params.preset == "theory" and params.T == 3 and params.m > 8


def test_scenario_builds_the_same_simulator_as_the_cli(tmp_path: Path) -> None:
    scn = parse_scenario(
        {
            "run": {"n": 7, "seed": 4},
            "adversary": {
                "scheduler": "split-vote",
                "byzantine": [
                    {"node": 5, "strategy": "equivocate"},
                    {"node": 6, "strategy": "equivocate"},
                ],
            },
        }
    )
    ours = build_simulator(scn).run().summary()
    path = tmp_path / "s.toml"
    path.write_text(scn.to_toml())
    via_file = json.loads(
        CliRunner().invoke(main, ["sim", "--scenario", str(path), "--json"]).output
    )
    via_flags = json.loads(
        CliRunner()
        .invoke(
            main,
            [
                "sim",
                "--n",
                "7",
                "--seed",
                "4",
                "--scheduler",
                "split-vote",
                "--byzantine",
                "equivocate",
                "--byzantine-nodes",
                "5,6",
                "--json",
            ],
        )
        .output
    )
    assert ours["trace_hash"] == via_file["trace_hash"] == via_flags["trace_hash"], "seed=4"


# --------------------------------------------------------------------------- one message per field


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # unknown keys, at every level
        (
            {"rn": {}},
            f"rn: unknown key; expected one of: {', '.join(sorted(Scenario.model_fields))}",
        ),
        (
            {"run": {"nodes": 4}},
            "run.nodes: unknown key; expected one of: engine, f, inputs, messages, n, preset, "
            "protocol, protocol_options, seed, timeout_s",
        ),
        (
            {"params": {"rows": 3}},
            "params.rows: unknown key; expected one of: T, beta, c, k_max, "
            "m, m0, w_min, window, xmax",
        ),
        (
            {"adversary": {"sched": "fifo"}},
            "adversary.sched: unknown key; expected one of: "
            "byzantine, corrupt, delta_s, scheduler, scheduler_options, tamper",
        ),
        (
            {"adversary": {"byzantine": [{"node": 3, "strategy": "crash", "when": 1}]}},
            "adversary.byzantine[0].when: unknown key; expected one of: node, options, strategy",
        ),
        # [run]
        ({"run": {"n": "4"}}, "run.n: expected an integer, got string '4'"),
        ({"run": {"n": 4.0}}, "run.n: expected an integer, got number 4.0"),
        ({"run": {"n": 3}}, "run.n: must be >= 4, got 3"),
        ({"run": {"n": 5000}}, "run.n: must be <= 1024, got 5000"),
        ({"run": {"f": 0}}, "run.f: must be >= 1, got 0"),
        (
            {"run": {"n": 6, "f": 2}},
            "run.f: f=2 is too large for n=6: Byzantine agreement needs "
            "f < n/3 (the largest allowed f is 1)",
        ),
        ({"run": {"seed": -1}}, "run.seed: must be >= 0, got -1"),
        ({"run": {"seed": True}}, "run.seed: expected an integer, got boolean True"),
        (
            {"run": {"protocol": "pbft"}},
            "run.protocol: 'pbft' is not one of bracha-local, hpz, ideal-coin",
        ),
        ({"run": {"preset": "huge"}}, "run.preset: 'huge' is not one of practical, proof, theory"),
        (
            {"run": {"inputs": "half"}},
            "run.inputs: 'half' is not one of all-minus, all-plus, random, split, "
            "nor a list of -1/+1 values",
        ),
        (
            {"run": {"inputs": [1, 0, 1, 1]}},
            "run.inputs: a list of inputs may only hold -1 and 1, found 0",
        ),
        ({"run": {"inputs": [1, -1]}}, "run.inputs: the list has 2 values but n=4"),
        (
            {"run": {"inputs": 7}},
            "run.inputs: expected one of split, all-minus, all-plus, random or a list of "
            "-1/+1 values, got int 7",
        ),
        (
            {"run": {"inputs": "zeros"}},
            "run.inputs: 'zeros' is now called 'all-minus' (every input -1; inputs are -1 and +1)",
        ),
        (
            {"run": {"inputs": "ones"}},
            "run.inputs: 'ones' is now called 'all-plus' (every input +1; inputs are -1 and +1)",
        ),
        ({"run": {"timeout_s": 0}}, "run.timeout_s: must be > 0, got 0"),
        ({"run": {"timeout_s": "1m"}}, "run.timeout_s: expected a number, got string '1m'"),
        ({"run": 4}, "run: expected a table, got integer 4"),
        # [params]
        ({"params": {"m": 0}}, "params.m: must be >= 1, got 0"),
        ({"params": {"T": 2.5}}, "params.T: expected an integer, got number 2.5"),
        ({"params": {"c": 0}}, "params.c: must be > 0, got 0"),
        ({"params": {"window": 8}}, "params.window: must be >= 16, got 8"),
        ({"params": {"beta": -1.0}}, "params.beta: must be > 0, got -1.0"),
        ({"params": {"beta": float("inf")}}, "params.beta: must be a finite number, got inf"),
        ({"params": {"w_min": float("nan")}}, "params.w_min: must be a finite number, got nan"),
        ({"params": {"m": 10**9}}, "params.m: must be <= 65536, got 1000000000"),
        ({"params": {"m0": 70000}}, "params.m0: must be <= 65536, got 70000"),
        ({"params": {"xmax": 70000}}, "params.xmax: must be <= 65536, got 70000"),
        ({"params": {"T": 10**8}}, "params.T: must be <= 10000000, got 100000000"),
        ({"params": {"k_max": 10**7}}, "params.k_max: must be <= 1000000, got 10000000"),
        ({"params": {"c": 1000.0}}, "params.c: must be <= 100, got 1000.0"),
        (
            {"params": {"window": 10**9}},
            "params.window: window must be at most 65536 (or up to 4 * max(m, m0) + 64 when that is "
            "larger; the RBC memory bound is n x window instances), got 1000000000",
        ),
        (
            {"params": {"m": 1000, "window": 4000}},
            "params.window: window must be at least 4 * max(m, m0) + 64 = 4064, the most stream items "
            "a node may have in flight with m=1000, m0=38 (leave it out for the default), got 4000",
        ),
        ({"run": {"timeout_s": float("nan")}}, "run.timeout_s: must be a finite number, got nan"),
        (
            {"run": {"n": 7, "preset": "proof"}},
            "params.m: m must be at most 65536, but the proof preset needs m = 223175, T = 546005 at "
            "n=7, f=2 (eps = 0.5; Lemmas 5(2) and 12); it only fits at n = 4..6 with f = 1",
        ),
        # [adversary]
        (
            {"adversary": {"scheduler": "fast"}},
            f"adversary.scheduler: 'fast' is not one of {', '.join(sorted(SCHEDULERS))}",
        ),
        ({"adversary": {"delta_s": -0.1}}, "adversary.delta_s: must be >= 0, got -0.1"),
        ({"adversary": {"delta_s": 100}}, "adversary.delta_s: must be <= 60, got 100"),
        (
            {"adversary": {"tamper": "flip-bit"}},
            "adversary.tamper: 'flip-bit' is not one of flip-byte, none",
        ),
        (
            {"adversary": {"scheduler": "fifo", "scheduler_options": {"held": [1]}}},
            "adversary.scheduler_options.held: unknown option for scheduler 'fifo'; known: (none)",
        ),
        (
            {"adversary": {"scheduler": "hold-f", "scheduler_options": {"held": "0"}}},
            "adversary.scheduler_options.held: expected a list of node ids, got string '0'",
        ),
        (
            {"adversary": {"scheduler": "hold-f", "scheduler_options": {"held": [9]}}},
            "adversary.scheduler_options.held: node 9 is out of range 0..3",
        ),
        (
            {"adversary": {"scheduler": "hold-f", "scheduler_options": {"held": [0, 1, 2, 3]}}},
            "adversary.scheduler_options.held: 4 held nodes, but hold-f holds at most f=1 (the nodes "
            "whose messages arrive last)",
        ),
        (
            {"adversary": {"scheduler": "exponential", "scheduler_options": {"mean": 0.0}}},
            "adversary.scheduler_options.mean: must be in (0, 100] (a multiple of delta), got 0.0",
        ),
        (
            {"adversary": {"scheduler": "latency-matrix", "scheduler_options": {"jitter": 2.0}}},
            "adversary.scheduler_options.jitter: must be in [0, 1] (a fraction of delta), got 2.0",
        ),
        (
            {"adversary": {"scheduler": "targeted", "scheduler_options": {"nodes": [0, 40]}}},
            "adversary.scheduler_options.nodes: node 40 is out of range 0..3",
        ),
        (
            {
                "adversary": {
                    "scheduler": "targeted",
                    "scheduler_options": {"slowdown": float("nan")},
                }
            },
            "adversary.scheduler_options.slowdown: must be a finite number, got nan",
        ),
        (
            {"adversary": {"scheduler": "partition", "scheduler_options": {"heal_at": -1.0}}},
            "adversary.scheduler_options.heal_at: must be in [0, 1e+09] (virtual time, units of "
            "delta), got -1.0",
        ),
        (
            {"adversary": {"scheduler": "partition", "scheduler_options": {"group": [-1]}}},
            "adversary.scheduler_options.group: node -1 is out of range 0..3",
        ),
        (
            {
                "adversary": {
                    "scheduler": "finger-suppression",
                    "scheduler_options": {"allow": 10**12},
                }
            },
            "adversary.scheduler_options.allow: must be in [0, 1e+09] (bias cells), got "
            "1000000000000",
        ),
        (
            {
                "adversary": {
                    "scheduler": "rules",
                    "scheduler_options": {
                        "rules": [{"when": {"before": float("inf")}, "delay": 0.5}]
                    },
                }
            },
            "adversary.scheduler_options.rules: must be a finite number, got inf (at "
            "[0].when.before)",
        ),
        (
            {"adversary": {"byzantine": {"node": 3}}},
            "adversary.byzantine: expected a list, got table {'node': 3}",
        ),
        (
            {"adversary": {"byzantine": [{"strategy": "crash"}]}},
            "adversary.byzantine[0].node: required key is missing",
        ),
        (
            {"adversary": {"byzantine": [{"node": 3}]}},
            "adversary.byzantine[0].strategy: required key is missing",
        ),
        (
            {"adversary": {"byzantine": [{"node": -1, "strategy": "crash"}]}},
            "adversary.byzantine[0].node: must be >= 0, got -1",
        ),
        (
            {"adversary": {"byzantine": [{"node": 4, "strategy": "crash"}]}},
            "adversary.byzantine[0].node: node 4 is out of range 0..3",
        ),
        (
            {"adversary": {"byzantine": [{"node": 3, "strategy": "sneaky"}]}},
            f"adversary.byzantine[0].strategy: 'sneaky' is not one of {', '.join(sorted(STRATEGIES))}",
        ),
        (
            {
                "adversary": {
                    "byzantine": [{"node": 3, "strategy": "crash", "options": {"at_time": "soon"}}]
                }
            },
            "adversary.byzantine[0].options.at_time: expected a number, got string 'soon'",
        ),
        (
            {
                "adversary": {
                    "byzantine": [
                        {"node": 3, "strategy": "crash", "options": {"at_time": float("nan")}}
                    ]
                }
            },
            "adversary.byzantine[0].options.at_time: must be a finite number, got nan",
        ),
        (
            {
                "adversary": {
                    "byzantine": [{"node": 3, "strategy": "crash", "options": {"at_time": -2.0}}]
                }
            },
            "adversary.byzantine[0].options.at_time: must be in [0, 1e+09] (virtual time, units of "
            "delta), got -2.0",
        ),
        (
            {
                "adversary": {
                    "byzantine": [{"node": 3, "strategy": "crash", "options": {"at_iteration": 0}}]
                }
            },
            "adversary.byzantine[0].options.at_iteration: must be in [1, 1e+09] (an iteration), got 0",
        ),
        (
            {
                "adversary": {
                    "byzantine": [{"node": 3, "strategy": "crash", "options": {"at_step": 9}}]
                }
            },
            "adversary.byzantine[0].options.at_step: must be in [1, 4] (a step of the iteration), "
            "got 9",
        ),
        (
            {
                "adversary": {
                    "byzantine": [{"node": 3, "strategy": "crash", "options": {"when": 1}}]
                }
            },
            "adversary.byzantine[0].options.when: unknown option for strategy 'crash'; "
            "known: at_iteration, at_step, at_time",
        ),
        (
            {"adversary": {"byzantine": [{"node": 3, "strategy": "silent", "options": {"x": 1}}]}},
            "adversary.byzantine[0].options.x: unknown option for strategy 'silent'; known: (none)",
        ),
        (
            {
                "adversary": {
                    "byzantine": [
                        {"node": 2, "strategy": "crash"},
                        {"node": 3, "strategy": "silent"},
                    ]
                }
            },
            "adversary.byzantine: 2 Byzantine nodes exceed f=1",
        ),
    ],
)
def test_each_bad_field_gets_one_message_naming_its_path(
    data: dict[str, Any], expected: str
) -> None:
    assert one_problem(data) == expected


def test_a_node_corrupted_twice_names_both_entries() -> None:
    found = problems(
        {
            "run": {"n": 7},
            "adversary": {
                "byzantine": [{"node": 3, "strategy": "crash"}, {"node": 3, "strategy": "silent"}]
            },
        }
    )
    assert found == [
        "adversary.byzantine[1].node: node 3 is already corrupted by adversary.byzantine[0]"
    ]


def test_several_problems_are_all_reported_one_per_line() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario({"run": {"n": "x", "seed": -2}, "adversary": {"scheduler": "fast"}})
    text = str(info.value)
    assert text.startswith("3 problems:\n")
    assert "run.n: expected an integer" in text and "run.seed: must be >= 0" in text
    assert "adversary.scheduler: 'fast' is not one of" in text


def test_parameter_set_errors_name_the_field() -> None:
    # nan and inf are refused for every number of a scenario (TOML has both)
    assert one_problem({"params": {"c": float("inf")}}) == (
        "params.c: must be a finite number, got inf"
    )
    assert build_params(parse_scenario({"params": {"m": 3}})).m == 3


# --------------------------------------------------------------------------- files and the CLI


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nn = 4\n")
    with pytest.raises(ScenarioError, match=r"bad\.toml: invalid TOML: .*line 1"):
        load_scenario(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ScenarioError, match="is not UTF-8 text"):
        load_scenario(binary)


def test_cli_run_prints_one_clear_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[adversary]\nscheduler = "fast"\n')
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {path}: adversary.scheduler: 'fast' is not one of "
        f"{', '.join(sorted(SCHEDULERS))}\n"
    )
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_cli_sim_scenario_errors_and_clashes(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[run]\nn = 6\nf = 2\n")
    result = CliRunner().invoke(main, ["sim", "--scenario", str(path)])
    assert result.exit_code == 2 and "run.f: f=2 is too large for n=6" in result.output
    path.write_text("[run]\nn = 7\n")
    result = CliRunner().invoke(
        main, ["sim", "--scenario", str(path), "--n", "4", "--param", "m=3"]
    )
    assert result.exit_code == 2
    assert "--n, --param cannot be combined with --scenario" in result.output
    result = CliRunner().invoke(main, ["sim", "--scenario", str(path), "--seed", "9", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["seed"] == 9 and data["params"]["n"] == 7 and data["agreed"] is True


def test_scenario_model_is_frozen() -> None:
    scn = Scenario()
    with pytest.raises(ValueError, match="frozen"):
        scn.run.n = 7  # type: ignore[misc]


# ------------------------------------------------------------- [committee], [sortition]

POOL = {"stakes": [5, 3, 2, 1], "seats": 7}


def _com(**over: Any) -> dict[str, Any]:
    return {"committee": {**POOL, **over}}


def _srt(**over: Any) -> dict[str, Any]:
    return {"sortition": {"pool": 9, "active": 7, **over}}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"committee": {"seats": 7, "stakes": [1], "k": 3}},
            "committee.k: unknown key; expected one of: byzantine, instances, seats, stakes",
        ),
        (
            {"sortition": {"active": 7, "pool": 9, "P": 20}},
            "sortition.P: unknown key; expected one of: active, alpha, byzantine, instances, "
            "penalty, percentile, pool",
        ),
        # committee.stakes
        ({"committee": {"seats": 7}}, "committee.stakes: required key is missing"),
        (_com(stakes=[]), "committee.stakes: the list is empty: one stake per pool node"),
        (_com(stakes="5,3"), "committee.stakes: expected a list, got string '5,3'"),
        (_com(stakes=[5, 2.5]), "committee.stakes[1]: expected an integer, got number 2.5"),
        (
            _com(stakes=[5, -1, 2]),
            "committee.stakes: stakes must be >= 0, found -1 for pool node 1",
        ),
        (
            _com(stakes=[0, 0]),
            "committee.stakes: the stakes add up to 0: at least one must be positive",
        ),
        # committee.seats
        ({"committee": {"stakes": [1, 2]}}, "committee.seats: required key is missing"),
        (_com(seats=3), "committee.seats: must be >= 4, got 3"),
        (_com(seats=2000), "committee.seats: must be <= 1024, got 2000"),
        (_com(seats="7"), "committee.seats: expected an integer, got string '7'"),
        # committee.instances
        (_com(instances=0), "committee.instances: must be >= 1, got 0"),
        (_com(instances=1.5), "committee.instances: expected an integer, got number 1.5"),
        # committee.byzantine
        (
            _com(byzantine=[{"node": 4, "strategy": "silent"}]),
            "committee.byzantine[0].node: pool node 4 is out of range 0..3",
        ),
        (
            _com(byzantine=[{"node": 1, "strategy": "silent"}, {"node": 1, "strategy": "crash"}]),
            "committee.byzantine[1].node: pool node 1 is already corrupted by committee.byzantine[0]",
        ),
        (
            _com(byzantine=[{"node": 1, "strategy": "sneaky"}]),
            f"committee.byzantine[0].strategy: 'sneaky' is not one of {', '.join(sorted(STRATEGIES))}",
        ),
        (
            _com(byzantine=[{"node": 1, "strategy": "crash", "options": {"when": 1}}]),
            "committee.byzantine[0].options.when: unknown option for strategy 'crash'; "
            "known: at_iteration, at_step, at_time",
        ),
        (
            _com(
                byzantine=[
                    {"node": 2, "strategy": "sigma-correlation", "options": {"targets": [1, 2]}}
                ]
            ),
            "committee.byzantine[0].options.targets: names player ids, but a pool node's players "
            "get new ids in every instance's draw; leave it out (the strategy then picks its own)",
        ),
        (
            _com(byzantine=[{"node": 1, "strategy": "crash", "at": 1}]),
            "committee.byzantine[0].at: unknown key; expected one of: node, options, strategy",
        ),
        (
            _com(stakes=[5, 0], byzantine=[{"node": 0, "strategy": "silent"}]),
            "committee.byzantine: every pool node that can take part is Byzantine; an instance "
            "needs honest players",
        ),
        # sortition.active
        ({"sortition": {"pool": 9}}, "sortition.active: required key is missing"),
        (_srt(active=3), "sortition.active: must be >= 4, got 3"),
        (
            _srt(active=10),
            "sortition.active: 10 active nodes exceed the pool of sortition.pool = 9",
        ),
        (
            {**_com(stakes=[1, 1, 0, 1, 1, 0]), "sortition": {"active": 5}},
            "sortition.active: 5 active nodes, but only 4 pool nodes have stake (committee.stakes)",
        ),
        # sortition.pool
        (
            {"sortition": {"active": 7}},
            "sortition.pool: required key is missing (the number of "
            "pool nodes; without [committee] each active node runs one "
            "player)",
        ),
        (_srt(pool=0), "sortition.pool: must be >= 1, got 0"),
        (
            {**_com(), "sortition": {"active": 4, "pool": 4}},
            "sortition.pool: with [committee] the pool is the committee's; set committee.stakes "
            "instead",
        ),
        # sortition.instances, sortition.byzantine (the pool's, without [committee])
        (_srt(instances=0), "sortition.instances: must be >= 1, got 0"),
        (
            {**_com(), "sortition": {"active": 4, "instances": 3}},
            "sortition.instances: with [committee] the pool is the committee's; set "
            "committee.instances instead",
        ),
        (
            _srt(byzantine=[{"node": 9, "strategy": "silent"}]),
            "sortition.byzantine[0].node: pool node 9 is out of range 0..8",
        ),
        (
            {**_com(), "sortition": {"active": 4, "byzantine": []}},
            "sortition.byzantine: with [committee] the pool is the committee's; set "
            "committee.byzantine instead",
        ),
        # sortition.percentile, alpha, penalty
        (_srt(percentile=101), "sortition.percentile: must be <= 100, got 101"),
        (_srt(percentile=-5.0), "sortition.percentile: must be >= 0, got -5.0"),
        (_srt(percentile="25%"), "sortition.percentile: expected a number, got string '25%'"),
        (_srt(alpha=0), "sortition.alpha: must be > 0, got 0"),
        (_srt(alpha=1.5), "sortition.alpha: must be <= 1, got 1.5"),
        (_srt(penalty=-1), "sortition.penalty: must be >= 0, got -1"),
        # how the other tables read in a multi-instance run
        (
            {"run": {"n": 4}, **_com()},
            "run.n: n=4, but a [committee]/[sortition] run has "
            "committee.seats = 7 players per instance; leave run.n out",
        ),
        (
            {"run": {"f": 3}, **_com()},
            "run.f: f=3 is too large for n=7: Byzantine agreement needs "
            "f < n/3 (the largest allowed f is 2)",
        ),
        (
            {"run": {"inputs": [1, -1, 1]}, **_com()},
            "run.inputs: a [committee]/[sortition] run takes one input per pool node: the list has 3 "
            "values but the pool has 4 nodes",
        ),
        (
            {"adversary": {"byzantine": [{"node": 0, "strategy": "silent"}]}, **_com()},
            "adversary.byzantine: in a [committee]/[sortition] run the corrupted players are those "
            "of the Byzantine pool nodes (committee.byzantine); leave adversary.byzantine empty",
        ),
        (
            {"docker": {"faults": [{"node": 0, "action": "kill", "at_s": 1.0}]}, **_srt()},
            "docker.faults: container faults are not supported in [committee]/[sortition] runs",
        ),
    ],
)
def test_each_bad_multi_instance_field_gets_one_message(
    data: dict[str, Any], expected: str
) -> None:
    assert one_problem(data) == expected


def test_multi_instance_scenarios_fill_in_n_and_round_trip() -> None:
    scn = parse_scenario(
        {
            "run": {"f": 2, "inputs": [1, -1, 1, 1]},
            "committee": {
                **POOL,
                "instances": 3,
                "byzantine": [{"node": 0, "strategy": "equivocate"}],
            },
            "sortition": {"active": 4, "percentile": 30.0},
        }
    )
    assert (scn.n, scn.f, scn.pool_size, scn.instances) == (7, 2, 4, 3)
    assert scn.multi_instance and [b.node for b in scn.pool_byzantine] == [0]
    assert parse_scenario(tomllib.loads(scn.to_toml())) == scn
    alone = parse_scenario(
        {"run": {"f": 2}, **_srt(instances=4, byzantine=[{"node": 8, "strategy": "silent"}])}
    )
    assert (alone.n, alone.pool_size, alone.instances) == (7, 9, 4)
    assert parse_scenario(tomllib.loads(alone.to_toml())) == alone
    plain = parse_scenario({})
    assert not plain.multi_instance and plain.pool_size == 0 and plain.instances == 1


@pytest.mark.parametrize("name", ["committee.toml", "sortition.toml"])
def test_example_multi_instance_files_are_valid(name: str) -> None:
    scn = load_scenario(Path(__file__).resolve().parent.parent / "examples" / name)
    assert scn.multi_instance and scn.instances > 1 and scn.pool_byzantine


def test_a_multi_instance_scenario_is_not_run_as_one_instance() -> None:
    scn = parse_scenario({"committee": POOL})
    for build in (build_simulator, resolve_inputs):
        with pytest.raises(ScenarioError, match="byzlab run FILE --backend sim"):
            build(scn)
