"""Parameters without bounds are refused, through the real command line, in one line.

Each value below used to be accepted: ``m = 1e9`` made the simulator allocate for two
minutes before a MemoryError, ``window = 1e9`` voided the RBC memory bound (n origins x
window instances), ``beta = inf`` and a crash ``at_time = nan`` (the crash silently never
happened) ran as if nothing were wrong, and ``hold-f`` could hold all n nodes. Each must now
end with exit status 2 and a single line on stderr that names the field and its limit, both
from flags (``byzlab sim --param``) and from a scenario file (``byzlab sim --scenario``).

The second half checks the run limits of ``byzlab sim`` (``--max-deliveries``,
``--timeout-s``): a run stopped by one says so, never just "not agreed", and the proofs'
margins are shown (``outside HPZ's proven regime: ...``) and recorded in ``--json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BYZLAB = Path(sys.executable).with_name("byzlab")


def byzlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(BYZLAB), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused run (exit status 2, nothing on stdout)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0]


# --------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--param", "m=1e9"], ["m must be", "1..65536"]),
        (["--param", "m=1000000000"], ["m must be at most 65536"]),
        (["--param", "window=1000000000"], ["window must be at most 65536"]),
        (["--param", "window=20"], ["window must be at least 4 * max(m, m0) + 64 = 96"]),
        (["--param", "beta=inf"], ["beta must be a finite number in (0, 1e+15]"]),
        (["--param", "w_min=nan"], ["w_min must be a finite number in (0, 32]"]),
        (["--param", "beta=1e300"], ["beta must be a finite number in (0, 1e+15]"]),
        (["--param", "c=1e6"], ["c must be a positive finite number, at most 100"]),
        (["--param", "T=100000000"], ["T must be at most 10000000"]),
        (["--param", "m0=1000000"], ["m0 must be at most 65536"]),
        (["--param", "k_max=10000000"], ["k_max must be at most 1000000"]),
        (["--n", "5000"], ["n must be at most 1024"]),
        (["--n", "7", "--preset", "proof"], ["m must be at most 65536", "proof preset"]),
        (["--max-time", "nan"], ["--max-time must be a finite number"]),
        (["--timeout-s", "inf"], ["--timeout-s must be a finite number in (0, 86400]"]),
        (["--max-deliveries", "0"], ["--max-deliveries must be in 1..10000000000"]),
        (
            ["--byzantine", "silent", "--byzantine-nodes", "0,1"],
            ["--byzantine-nodes", "exceed f=1"],
        ),
    ],
)
def test_sim_flags_out_of_bounds_are_one_line(args: list[str], needles: list[str]) -> None:
    line = refused(byzlab("sim", *args))
    assert line.startswith("Error: ")
    for needle in needles:
        assert needle in line, line


# --------------------------------------------------------------------------- scenario files


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[params]\nm = 1000000000\n", "params.m: must be <= 65536, got 1000000000"),
        (
            "[params]\nwindow = 1000000000\n",
            "params.window: window must be at most 65536 (or up to 4 * max(m, m0) + 64 when that is "
            "larger; the RBC memory bound is n x window instances), got 1000000000",
        ),
        ("[params]\nbeta = inf\n", "params.beta: must be a finite number, got inf"),
        ("[params]\nc = nan\n", "params.c: must be a finite number, got nan"),
        (
            '[run]\nn = 7\n\n[[adversary.byzantine]]\nnode = 6\nstrategy = "crash"\n'
            "options = { at_time = nan }\n",
            "adversary.byzantine[0].options.at_time: must be a finite number, got nan",
        ),
        (
            '[adversary]\nscheduler = "hold-f"\n\n[adversary.scheduler_options]\n'
            "held = [0, 1, 2, 3]\n",
            "adversary.scheduler_options.held: 4 held nodes, but hold-f holds at most f=1 (the nodes "
            "whose messages arrive last)",
        ),
        ("[run]\ntimeout_s = inf\n", "run.timeout_s: must be a finite number, got inf"),
        (
            '[adversary]\nscheduler = "exponential"\n\n[adversary.scheduler_options]\n'
            "mean = 1e300\n",
            "adversary.scheduler_options.mean: must be in (0, 100] (a multiple of delta), got 1e+300",
        ),
        (
            '[[docker.faults]]\nnode = 0\naction = "kill"\nat_s = nan\n',
            "docker.faults[0].at_s: must be a finite number, got nan",
        ),
    ],
)
def test_scenario_values_out_of_bounds_are_one_line(
    tmp_path: Path, toml: str, expected: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(toml)
    assert refused(byzlab("sim", "--scenario", str(path))) == f"Error: {path}: {expected}"


# --------------------------------------------------------------------------- run limits


def test_a_run_stopped_by_the_delivery_cap_says_so() -> None:
    result = byzlab("sim", "--n", "4", "--max-deliveries", "1000")
    assert result.returncode == 1
    assert "stopped: delivery cap 1000 reached" in result.stdout
    data = json.loads(byzlab("sim", "--n", "4", "--max-deliveries", "1000", "--json").stdout)
    assert data["agreed"] is False and data["stopped"] == "max-deliveries"
    assert data["stopped_detail"] == "delivery cap 1000 reached"
    assert data["limits"]["max_deliveries"] == 1000


def test_a_run_stopped_by_the_wall_clock_budget_says_so(tmp_path: Path) -> None:
    # the budget is looked at every 1024 deliveries; a theory run at n = 10 with split
    # inputs needs a coin of m = 1,865 rows, millions of deliveries
    data = json.loads(
        byzlab("sim", "--n", "10", "--preset", "theory", "--timeout-s", "0.5", "--json").stdout
    )
    assert data["stopped"] == "timeout" and data["agreed"] is False
    assert data["stopped_detail"] == "wall-clock budget 0.5 s reached"
    # run.timeout_s of a scenario is the simulator's budget too, when the file sets it
    path = tmp_path / "s.toml"
    path.write_text('[run]\nn = 10\npreset = "theory"\ntimeout_s = 0.5\n')
    result = byzlab("sim", "--scenario", str(path))
    assert result.returncode == 1
    assert "stopped: wall-clock budget 0.5 s reached" in result.stdout


def test_the_theory_preset_shows_it_is_outside_the_proven_regime() -> None:
    result = byzlab("sim", "--n", "4", "--preset", "theory")
    assert result.returncode == 0, result.stderr
    lines = [x for x in result.stdout.splitlines() if x.startswith("outside HPZ's proven")]
    assert len(lines) == 1
    assert "eps = 1 > 1/2" in lines[0] and "Lemma 5(2) excess" in lines[0]
    assert "Lemma 12 bound" in lines[0]
    data = json.loads(byzlab("sim", "--n", "4", "--preset", "theory", "--json").stdout)
    regime = data["params"]["regime"]
    assert regime["lemma5_excess"] < 0 < regime["lemma5_needed"]
    assert regime["lemma12_gap"] < 0
    assert any("eps = 1 > 1/2" in r for r in regime["outside_regime"])


def test_only_hpz_runs_are_measured_against_hpz_s_regime() -> None:
    """The parameters shape HPZ's coin alone: a run of another protocol is not "outside HPZ's
    proven regime", whatever the parameters (the margins are still recorded)."""
    for protocol in ("bracha-local", "ideal-coin", "mmr"):
        result = byzlab("sim", "--n", "4", "--preset", "theory", "--protocol", protocol)
        assert result.returncode == 0, (protocol, result.stderr)
        assert "outside HPZ's proven" not in result.stdout, protocol


def test_the_proof_preset_runs_at_n_4() -> None:
    data = json.loads(byzlab("sim", "--n", "4", "--preset", "proof", "--json", timeout=300).stdout)
    assert data["agreed"] is True and data["valid"] is True
    params = data["params"]
    assert (params["m"], params["T"], params["m0"], params["preset"]) == (5696, 10924, 89, "proof")
    assert params["window"] == 4 * 5696 + 64
    regime = params["regime"]
    assert regime["lemma5_excess"] >= regime["lemma5_needed"]
    assert regime["lemma12_gap"] >= 0 and regime["lemma5_step_margin"] >= 0
    assert len(regime["outside_regime"]) == 1  # only eps = 1 > 1/2
