"""Every registered scheduler and strategy loads from a TOML scenario file with options
(non-default where it has any) and runs in the simulator; `byzlab sim` takes the same options
on its command line (--scheduler-option, --strategy-option)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.schedulers import SCHEDULERS
from byzlab.adversary.strategies import STRATEGIES
from byzlab.cli import main
from byzlab.orchestration.scenario import build_simulator, load_scenario

# Non-default options of each scheduler, as TOML (n = 7, f = 2; nodes 5 and 6 corrupted).
SCHEDULER_OPTIONS: dict[str, str] = {
    "fifo": "",
    "random": "",
    "split-vote": "",
    "hold-f": "held = [0, 1]",
    "exponential": "mean = 0.5",
    "latency-matrix": "jitter = 0.1\nmatrix = ["
    + ", ".join(
        "[" + ", ".join("0.5" if i != j else "0.0" for j in range(7)) + "]" for i in range(7)
    )
    + "]",
    "targeted": "nodes = [1, 2]\nslowdown = 0.5",
    "partition": "group = [0, 1, 2]\nheal_at = 5.0",
    "coin-aware": "hold = 0.25",
    "finger-suppression": "allow = 2",
    "keepers": "keep = 2\nmakers = 2\nspread = 1",
    "rules": 'rules = [{ when = { kind = "READY" }, delay = 1.0 }, '
    "{ when = { sender = [0, 1] }, delay = 0.5 }]",
}
STRATEGY_OPTIONS: dict[str, str] = {name: "" for name in STRATEGIES}
STRATEGY_OPTIONS["crash"] = "at_time = 3.0\nat_step = 2"
STRATEGY_OPTIONS["sigma-correlation"] = "targets = [0, 2]"


def _scenario(tmp_path: Path, scheduler: str, strategy: str) -> Path:
    sched = SCHEDULER_OPTIONS[scheduler]
    strat = STRATEGY_OPTIONS[strategy].replace("\n", ", ")
    text = f"""
[run]
n = 7
seed = 3

[adversary]
scheduler = "{scheduler}"

[adversary.scheduler_options]
{sched}
"""
    for node in (5, 6):
        text += f'\n[[adversary.byzantine]]\nnode = {node}\nstrategy = "{strategy}"\n'
        text += f"options = {{ {strat} }}\n"
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def _options(toml: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(toml)


def test_the_tables_cover_every_registered_plugin() -> None:
    assert set(SCHEDULER_OPTIONS) == set(SCHEDULERS)
    assert set(STRATEGY_OPTIONS) == set(STRATEGIES)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_every_scheduler_loads_from_a_file_with_options_and_runs(
    tmp_path: Path, scheduler: str
) -> None:
    scn = load_scenario(_scenario(tmp_path, scheduler, "equivocate"))
    sim = build_simulator(scn, max_time=200.0)
    expected = plugin_kwargs(SCHEDULERS[scheduler], _options(SCHEDULER_OPTIONS[scheduler]))
    for key, value in expected.items():
        assert getattr(sim.scheduler, key) == value, key
    result = sim.run()
    assert result.deliveries > 0


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_loads_from_a_file_with_options_and_runs(
    tmp_path: Path, strategy: str
) -> None:
    scn = load_scenario(_scenario(tmp_path, "random", strategy))
    sim = build_simulator(scn, max_time=200.0)
    expected = _options(STRATEGY_OPTIONS[strategy])
    for node in (5, 6):
        assert sim.nodes[node].name == strategy or strategy in sim.nodes[node].name
        for key, value in expected.items():
            assert getattr(sim.nodes[node], key) == value, key
    result = sim.run()
    assert result.deliveries > 0


def _sim(*args: str) -> Any:
    return CliRunner().invoke(main, ["sim", "--n", "7", *args])


def test_sim_takes_scheduler_and_strategy_options_as_toml_values() -> None:
    out = _sim(
        "--scheduler",
        "rules",
        "--scheduler-option",
        'rules=[{ when = { kind = "READY" }, delay = 1.0 }]',
        "--byzantine",
        "crash",
        "--strategy-option",
        "at_time=3",
        "--json",
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["agreed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--byzantine-nodes", "1"], "--byzantine-nodes needs --byzantine"),
        (["--strategy-option", "at_time=3"], "--strategy-option needs --byzantine"),
        (
            ["--scheduler", "hold-f", "--scheduler-option", "held=[0, 1, 2]"],
            "--scheduler-option held: 3 held nodes, but hold-f holds at most f=2",
        ),
        (
            ["--scheduler", "exponential", "--scheduler-option", "mean=nan"],
            "--scheduler-option mean: must be a finite number",
        ),
        (
            ["--byzantine", "crash", "--strategy-option", "at_tme=3"],
            "--strategy-option at_tme: unknown option for strategy 'crash'",
        ),
        (["--scheduler-option", "held"], "--scheduler-option: expected KEY=VALUE"),
    ],
)
def test_sim_refuses_bad_options_with_one_line(args: list[str], message: str) -> None:
    out = _sim(*args)
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.output
