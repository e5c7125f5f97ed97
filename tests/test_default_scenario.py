"""An empty scenario file runs the defaults a command runs without one, and the one deliberate
difference is said when the file is loaded: `byzlab run` without a file corrupts node 3 with
equivocate (the demo), a file that sets no [[adversary.byzantine]] runs every node honest,
and `byzlab run FILE` says so in one line. Every other default (n, f, seed, protocol, inputs,
scheduler, delta_s, timeouts) has one home, the scenario model: the same trace hash whichever
way a run gets them.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from byzlab.cli import main
from byzlab.orchestration.scenario import default_scenario, parse_scenario
from byzlab.orchestration.scenario.loading import DEMO_BYZANTINE

NOTE = "scenario: no [[adversary.byzantine]], so every node is honest"
DEMO_FILE = '[[adversary.byzantine]]\nnode = 3\nstrategy = "equivocate"\n'


def _run(args: list[str]) -> tuple[dict[str, object], str]:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout), result.stderr


def test_the_no_file_run_is_the_model_defaults_and_the_demo_node() -> None:
    demo = default_scenario().model_dump()
    plain = parse_scenario({"adversary": {"byzantine": [DEMO_BYZANTINE]}}).model_dump()
    assert demo == plain
    empty = parse_scenario({}).model_dump()
    assert {k: v for k, v in demo.items() if k != "adversary"} == {
        k: v for k, v in empty.items() if k != "adversary"
    }
    assert demo["adversary"] | {"byzantine": []} == empty["adversary"]


def test_byzlab_sim_runs_the_same_with_an_empty_file_or_none(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    none, _ = _run(["sim", "--json"])
    from_file, said = _run(["sim", "--scenario", str(empty), "--json"])
    assert from_file == none, (from_file, none)
    assert NOTE not in said


def test_byzlab_run_sim_differs_only_by_the_demo_node_and_says_so(tmp_path: Path) -> None:
    empty, demo = tmp_path / "empty.toml", tmp_path / "demo.toml"
    empty.write_text("")
    demo.write_text(DEMO_FILE)
    out = ["--backend", "sim", "--json", "--out"]
    none, said_none = _run(["run", *out, str(tmp_path / "a")])
    demo_run, said_demo = _run(["run", str(demo), *out, str(tmp_path / "b")])
    empty_run, said_empty = _run(["run", str(empty), *out, str(tmp_path / "c")])
    assert none["byzantine"] == {"3": "equivocate"} and none["trace_hash"] == demo_run["trace_hash"]
    assert NOTE not in said_none and NOTE not in said_demo
    assert said_empty.count(NOTE) == 1, said_empty
    # the empty file is the honest run byzlab sim makes without a file
    sim, _ = _run(["sim", "--json"])
    assert empty_run["byzantine"] == {} and empty_run["trace_hash"] == sim["trace_hash"]
    for key in ("params", "scheduler", "inputs", "seed", "limits"):
        assert empty_run.get(key) == none.get(key) == sim.get(key), key
