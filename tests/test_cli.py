"""The `byzlab` command line: the JSON contract of `byzlab sim` and clear errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from byzlab.cli import main

SIM_KEYS = {
    "agreed",
    "decision",
    "valid",
    "honest_decisions",
    "latency_delta",
    "iterations",
    "epochs",
    "rbc_instances",
    "messages",
    "bytes",
    "trace_hash",
    "seed",
    "params",
}


def test_sim_json_has_the_promised_keys() -> None:
    result = CliRunner().invoke(
        main, ["sim", "--n", "4", "--seed", "3", "--byzantine", "equivocate", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert SIM_KEYS <= set(data)
    assert data["agreed"] is True and data["valid"] is True and data["seed"] == 3
    assert data["params"]["n"] == 4 and data["byzantine"] == {"3": "equivocate"}
    # the proofs' margins travel with the parameters, and how the run ended, in words
    assert {"lemma5_excess", "lemma12_gap", "outside_regime"} <= set(data["params"]["regime"])
    assert data["stopped"] == "all-honest-halted"
    assert data["stopped_detail"] == "every honest node halted"
    assert data["limits"] == {"max_deliveries": 50_000_000, "max_time": 1e7, "timeout_s": 600.0}


def test_sim_same_seed_same_hash_from_the_cli() -> None:
    args = ["sim", "--n", "7", "--seed", "11", "--scheduler", "split-vote", "--json"]
    a = json.loads(CliRunner().invoke(main, args).output)
    b = json.loads(CliRunner().invoke(main, args).output)
    assert a["trace_hash"] == b["trace_hash"]


def test_sim_readable_summary() -> None:
    result = CliRunner().invoke(main, ["sim", "--n", "4", "--protocol", "bracha-local"])
    assert result.exit_code == 0
    assert "agreed" in result.output and "trace hash" in result.output


def test_bad_parameters_name_the_field() -> None:
    result = CliRunner().invoke(main, ["sim", "--n", "6", "--f", "2"])
    assert result.exit_code == 2
    assert "f=2 is too large for n=6" in result.output
    result = CliRunner().invoke(main, ["sim", "--param", "m=zero"])
    assert result.exit_code == 2 and "m must be a number" in result.output
    result = CliRunner().invoke(main, ["sim", "--param", "bogus=1"])
    assert result.exit_code == 2 and "unknown parameter 'bogus'" in result.output
    result = CliRunner().invoke(
        main, ["sim", "--n", "7", "--byzantine", "silent", "--byzantine-nodes", "1,2,3"]
    )
    assert result.exit_code == 2 and "exceed f=2" in result.output


def test_strategies_lists_everything() -> None:
    result = CliRunner().invoke(main, ["strategies"])
    assert result.exit_code == 0
    for name in (
        "silent",
        "crash",
        "random-value",
        "equivocate",
        "fifo",
        "random",
        "hold-f",
        "split-vote",
    ):
        assert name in result.output
