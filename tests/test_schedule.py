"""A schedule is an artefact (issue 18, item 2): the adversary's delivery choices as a file
that replays exactly in the simulator. No choices over the scenario's own scheduler and seed
is the scenario's run (same trace hash); choices change the run, and the file, a run
directory made under it and ``byzlab replay --schedule`` all reproduce it; a bad file is one
line naming the field. Every failure names the seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from byzlab.adversary.schedule import FORMAT, Schedule
from byzlab.errors import ConfigError
from byzlab.orchestration.backend import execute
from byzlab.orchestration.replay import replay_run, replay_schedule
from byzlab.orchestration.scenario import build_simulator, parse_scenario
from byzlab.orchestration.schedules import SCHEDULE_FILE, schedule_for
from byzlab.orchestration.search.evaluate import run_schedule
from byzlab.orchestration.simrun import SimRun

BYZLAB = str(Path(sys.executable).with_name("byzlab"))


def scenario(seed: int, scheduler: str = "split-vote", n: int = 4):  # type: ignore[no-untyped-def]
    return parse_scenario(
        {
            "run": {"n": n, "seed": seed, "protocol": "bracha-local", "inputs": "split"},
            "adversary": {
                "scheduler": scheduler,
                "byzantine": [{"node": n - 1, "strategy": "equivocate"}],
            },
        }
    )


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("scheduler", ["split-vote", "random", "fifo"])
def test_no_choices_is_the_scenarios_own_run(seed: int, scheduler: str) -> None:
    scn = scenario(seed, scheduler)
    own = build_simulator(scn).run()
    _, result, raised = run_schedule(schedule_for(scn))
    assert raised is None, f"seed={seed}"
    assert result.trace_hash == own.trace_hash, f"seed={seed} scheduler={scheduler}"


@pytest.mark.parametrize("seed", [3, 4])
def test_choices_change_the_run_and_the_file_replays_it(seed: int, tmp_path: Path) -> None:
    scn = scenario(seed)
    plain = run_schedule(schedule_for(scn))[1]
    # every fifth early delay to delta or to 0: a different delivery order
    choices = {i: float(i % 2) for i in range(0, 200, 5)}
    schedule = schedule_for(scn, choices=choices)
    _, result, raised = run_schedule(schedule)
    assert raised is None
    assert result.trace_hash != plain.trace_hash, f"seed={seed}: the choices changed nothing"
    path = tmp_path / "x.schedule.json"
    Schedule(**{**schedule.__dict__, "trace_hash": result.trace_hash}).write(path)
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["choices"][:2] == [[0, 0.0], [5, 1.0]]
    assert Schedule.read(path).choices == schedule.choices
    replayed = replay_schedule(path)
    assert replayed.ok, f"seed={seed}: {replayed.describe()}"
    done = subprocess.run(
        [BYZLAB, "replay", "--schedule", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"seed={seed}: {done.stderr}"
    assert result.trace_hash in done.stdout
    # a tampered record does not reproduce
    Schedule(**{**schedule.__dict__, "trace_hash": plain.trace_hash}).write(path)
    assert not replay_schedule(path).ok, f"seed={seed}"


def test_a_run_directory_under_a_schedule_replays_with_it(tmp_path: Path) -> None:
    seed = 5
    scn = scenario(seed)
    schedule = schedule_for(scn, choices={i: 1.0 for i in range(0, 120, 3)})
    expected = run_schedule(schedule)[1].trace_hash
    outcome = execute(SimRun(scn, out_root=tmp_path, run_id="run", schedule=schedule))
    assert outcome.summary["trace_hash"] == expected, f"seed={seed}"
    assert outcome.summary["scheduler"]["name"] == "schedule"
    assert (tmp_path / "run" / SCHEDULE_FILE).is_file()
    replayed = replay_run(str(tmp_path / "run"))
    assert replayed.ok, f"seed={seed}: {replayed.describe()}"


def _file(tmp_path: Path, **changes: object) -> Path:
    data = schedule_for(scenario(1)).to_json() | changes
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"format": "v0"}, "format: expected"),
        ({"choices": [[0, 1.5]]}, "choices[0]: delay must be a number in [0, 1]"),
        ({"choices": [[-1, 0.5]]}, "choices[0]: index must be an integer"),
        ({"choices": [[2, 0.5], [2, 0.0]]}, "choices[1]: index 2 is listed twice"),
        ({"choices": [[2, float("nan")]]}, "choices[0]: delay must be"),
        ({"scheduler_seed": -3}, "scheduler_seed: expected an integer"),
        ({"max_time": 0}, "max_time: expected a number"),
        ({"surprise": 1}, "surprise: unknown field"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_field(
    tmp_path: Path, changes: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        Schedule.read(_file(tmp_path, **changes))
    text = str(err.value)
    assert words in text and "\n" not in text, text


def test_a_bad_scenario_in_a_schedule_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, scenario={"run": {"n": 2}}, trace_hash="0" * 32)
    done = subprocess.run(
        [BYZLAB, "replay", "--schedule", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "run.n" in done.stderr, done.stderr
