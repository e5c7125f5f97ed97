"""Input kinds are named for the value they give (all-minus is every input -1), and a former
name ("zeros", "ones") is refused in one line naming the new one wherever a kind is given: the
command line of `byzlab sim` and `byzlab matrix`, a scenario's run.inputs, `make_inputs`."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from byzlab.cli import main
from byzlab.orchestration.scenario import ScenarioError, parse_scenario
from byzlab.seeds import make_inputs

RENAMED = [("zeros", "all-minus", "-1"), ("ones", "all-plus", "+1")]


@pytest.mark.parametrize(("kind", "value"), [("all-minus", -1), ("all-plus", 1)])
def test_a_unanimous_kind_gives_its_value_and_the_run_decides_it(kind: str, value: int) -> None:
    assert make_inputs(kind, 7, 0) == [value] * 7
    result = CliRunner().invoke(main, ["sim", "--n", "4", "--inputs", kind, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["agreed"] and data["decision"] == value, data


@pytest.mark.parametrize(("old", "new", "value"), RENAMED)
def test_a_former_name_is_refused_naming_the_new_one(old: str, new: str, value: str) -> None:
    line = f"{old!r} is now called {new!r} (every input {value}; inputs are -1 and +1)"
    for command in (["sim"], ["matrix", "--seeds", "1"]):
        result = CliRunner().invoke(main, [*command, "--inputs", old])
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '--inputs': {line}" in result.output, result.output
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"run": {"inputs": old}})
    assert str(err.value) == f"run.inputs: {line}"
    with pytest.raises(ValueError, match=f"^{re.escape(line)}$"):
        make_inputs(old, 4, 0)
