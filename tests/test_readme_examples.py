"""Every example README.md shows is run here, each fenced block by its kind.

The README promises that every example it shows is run by a test; this module keeps the promise.
Every fenced block names its kind and is one test, with ``README.md:<line>`` in its id:

* ``toml``: validated with the project's own loader, as a sweep when it has a ``[sweep]`` table,
  else as a scenario. A block that is deliberately partial says so on its first line,
  ``# abridged from <file>``: then every key it sets must be in that file with the same value,
  and the file itself must load.
* ``sh``: every ``byzlab`` command (``.venv/bin/byzlab`` or ``byzlab``) runs for real, in order,
  in a temporary directory that stands in for the checkout (it holds ``examples/`` and a copy of
  ``docker-compose.yml``; ``results/``, stores and plots are written there). It must exit 0, or
  the status a comment on its line names (``# exit status 3``). ``RUN_ID`` stands for a run id
  of the store the block's earlier commands wrote. A block with a command that needs Docker
  (``--backend docker``) is a ``docker`` test: without an engine and the image it is skipped
  with the reason, and with ``BYZLAB_REQUIRE_DOCKER=1`` (CI) it fails instead, as in
  ``tests/test_docker_e2e.py``.
* ``python``: executed, in the same kind of directory.
* ``text``: a listing (the source tree), not an example.

The commands of ``sh`` blocks that do not run here are in :data:`ELSEWHERE`, each with where it
does run; a command that is neither a ``byzlab`` command nor listed there fails this module:

* the install command, ``scripts/install``, and ``byzlab image build``: they are what CI itself
  runs (``.ci/run`` starts from a fresh virtual environment with ``scripts/install``, and
  ``scripts/ci-setup.d/20-docker`` builds the image before the docker tests run);
* ``pytest``: the command that runs this suite;
* ``byzlab bench --quick --backends sim,local``: ``tests/test_bench.py`` runs exactly this end
  to end and checks what it writes; a second run here would double the suite's longest test;
* ``docker-compose up`` and ``docker stack deploy``: run against generated compose files by the
  docker tests named in :data:`ELSEWHERE` (checked to exist);
* the standalone benchmark scripts (``benchmarks/bench_*.py``): measurements that take minutes
  each (their figures come from the same code as ``byzlab bench``, whose quick suite runs
  here); each must exist and its ``--help`` must exit 0.

A README example that takes long is made smaller in the README rather than skipped here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from byzlab.errors import DockerUnavailable, ScenarioError
from byzlab.orchestration.docker.engine import connect
from byzlab.orchestration.scenario import DEFAULT_IMAGE, load_scenario, parse_scenario
from byzlab.orchestration.sweep import load_sweep, parse_sweep

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
REQUIRE_DOCKER = os.environ.get("BYZLAB_REQUIRE_DOCKER") == "1"
COMMAND_TIMEOUT_S = 600

FENCE = re.compile(r"^(?P<indent> *)```(?P<kind>[A-Za-z]*)\s*$")
ABRIDGED = re.compile(r"#\s*abridged from (?P<file>\S+)\s*$")
EXIT_STATUS = re.compile(r"#.*\bexit status (?P<status>\d+)\b")

#: Commands shown in the README that run somewhere else, by the words they start with
#: (``.venv/bin/`` stripped), and where. Docker tests named here must exist.
ELSEWHERE: dict[tuple[str, ...], str] = {
    ("scripts/install",): "CI itself: .ci/run installs from scratch with it",
    ("byzlab", "image", "build"): "CI itself: scripts/ci-setup.d/20-docker builds the image",
    ("pytest",): "this suite",
    ("byzlab", "bench", "--quick", "--backends", "sim,local"): (
        "tests/test_bench.py::test_quick_suite_writes_every_section_with_numeric_medians_and_plots"
    ),
    ("docker-compose", "up"): (
        "tests/test_docker_e2e.py::test_the_repository_compose_file_runs_the_default_scenario"
    ),
    ("docker", "stack", "deploy"): (
        "tests/test_docker_e2e.py::test_swarm_stack_of_n4_reaches_agreement"
    ),
    ("scripts/multihost-lab", "up"): (
        "tests/test_multihost_lab.py::test_the_swarm_has_every_host_ready_and_host_1_manages_it"
    ),
    (
        "scripts/multihost-lab",
        "down",
    ): "tests/test_multihost_lab.py::test_down_leaves_nothing_behind",
    ("byzlab", "run", "examples/swarm-spread.toml", "--backend", "swarm"): (
        "tests/test_swarm.py::test_n7_spread_over_three_hosts_agrees"
    ),
}

#: README examples that fail because of a known bug in the code, each with the bug. The test
#: is a strict xfail, so fixing the bug fails it until the entry is removed.
KNOWN_BUGS: dict[str, str] = {}


@dataclass(frozen=True)
class Block:
    """One fenced block of the README: its opening line (1-based), kind and dedented text."""

    line: int
    kind: str
    text: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line}-{self.kind or 'no-kind'}"


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, including those indented inside list items."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent = len(opening["indent"])
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        assert j < len(lines), f"README.md:{i + 1}: a fenced block is never closed"
        blocks.append(Block(i + 1, opening["kind"], "\n".join(body) + "\n"))
        i = j + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- sh blocks


@dataclass(frozen=True)
class Command:
    """One command of a shell block: its words and the exit status the README promises."""

    line: int
    argv: tuple[str, ...]
    status: int

    def words(self) -> tuple[str, ...]:
        """The words with a leading ``.venv/bin/`` dropped from the program."""
        return (self.argv[0].removeprefix(".venv/bin/"), *self.argv[1:])

    def elsewhere(self) -> str | None:
        words = self.words()
        for prefix, where in ELSEWHERE.items():
            if words[: len(prefix)] == prefix:
                return where
        return None

    def is_byzlab(self) -> bool:
        return self.words()[0] == "byzlab"

    def is_benchmark_script(self) -> bool:
        words = self.words()
        return words[0] == "python" and len(words) > 1 and words[1].startswith("benchmarks/")

    def needs_docker(self) -> bool:
        words = self.words()
        return "--backend=docker" in words or ("--backend", "docker") in itertools.pairwise(words)


def shell_commands(block: Block) -> list[Command]:
    """The commands of a shell block, one per line or per ``&&``, comments dropped."""
    commands: list[Command] = []
    for offset, raw in enumerate(block.text.splitlines(), start=1):
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        expected = EXIT_STATUS.search(raw)
        status = int(expected["status"]) if expected else 0
        current: list[str] = []
        for word in [*words, "&&"]:
            if word != "&&":
                current.append(word)
            elif current:
                commands.append(Command(block.line + offset, tuple(current), status))
                current = []
    return commands


def _docker_missing() -> str | None:
    """Why the docker examples cannot run here, or None when an engine and the image exist."""
    import docker.errors

    try:
        client = connect(timeout=30)
    except DockerUnavailable as exc:
        return str(exc)
    with contextlib.closing(client):
        try:
            client.images.get(DEFAULT_IMAGE)
        except docker.errors.ImageNotFound:
            return f"the image {DEFAULT_IMAGE} is missing: run `byzlab image build`"
    return None


def _checkout_stand_in(tmp_path: Path) -> Path:
    """A directory where the README's relative paths resolve as in the checkout."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    return tmp_path


def _run_ids(cwd: Path) -> list[str]:
    runs = cwd / "store" / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


def _run(command: Command, cwd: Path) -> None:
    argv = list(command.words())
    if "RUN_ID" in argv:
        ids = _run_ids(cwd)
        assert ids, f"README.md:{command.line}: RUN_ID, but no run in {cwd / 'store'}"
        argv = [ids[0] if word == "RUN_ID" else word for word in argv]
    if argv[0] in ("byzlab", "python"):
        argv[0] = str(BIN / argv[0])
    if command.is_benchmark_script():
        argv = [argv[0], str(ROOT / argv[1]), "--help"]
    done = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    expected = 0 if command.is_benchmark_script() else command.status
    assert done.returncode == expected, (
        f"README.md:{command.line}: `{shlex.join(command.argv)}` exited {done.returncode}, "
        f"the README says {expected}; last lines:\n{tail}"
    )


def run_shell_block(block: Block, tmp_path: Path) -> None:
    commands = shell_commands(block)
    assert commands, f"{block.id}: a shell block without commands"
    unknown = [
        shlex.join(c.argv)
        for c in commands
        if not (c.is_byzlab() or c.is_benchmark_script() or c.elsewhere())
    ]
    assert not unknown, (
        f"{block.id}: commands that are neither byzlab commands nor run elsewhere: {unknown}"
    )
    if any(c.needs_docker() for c in commands):
        reason = _docker_missing()
        if reason is not None:
            if REQUIRE_DOCKER:
                pytest.fail(f"BYZLAB_REQUIRE_DOCKER=1, but {reason}")
            pytest.skip(reason)
    cwd = _checkout_stand_in(tmp_path)
    for command in commands:
        if command.elsewhere() is None:
            _run(command, cwd)


# --------------------------------------------------------------------------- toml blocks


def _not_in(part: dict[str, Any], whole: dict[str, Any], path: str = "") -> list[str]:
    """Where ``part`` is not a sub-table of ``whole``: keys missing or with other values."""
    problems: list[str] = []
    for key, value in part.items():
        where = f"{path}.{key}" if path else key
        if key not in whole:
            problems.append(f"{where}: not in the file")
        elif isinstance(value, dict) and isinstance(whole[key], dict):
            problems += _not_in(value, whole[key], where)
        elif value != whole[key]:
            problems.append(f"{where}: {value!r} here, {whole[key]!r} in the file")
    return problems


def check_toml_block(block: Block) -> None:
    data = tomllib.loads(block.text)
    first = block.text.splitlines()[0] if block.text.strip() else ""
    abridged = ABRIDGED.fullmatch(first.strip())
    if abridged is None:
        if "sweep" in data:
            parse_sweep(data, source=block.id, text=block.text)
        else:
            parse_scenario(data, source=block.id)
        return
    path = ROOT / abridged["file"]
    whole = tomllib.loads(path.read_text(encoding="utf-8"))
    problems = _not_in(data, whole)
    assert not problems, f"{block.id} is abridged from {abridged['file']}, but: {problems}"
    if "sweep" in whole:
        load_sweep(path)
    else:
        load_scenario(path)


# --------------------------------------------------------------------------- the tests


def _params() -> Iterator[Any]:
    for block in BLOCKS:
        marks: list[Any] = []
        if block.kind == "sh" and any(c.needs_docker() for c in shell_commands(block)):
            marks.append(pytest.mark.docker)
        bugs = [bug for key, bug in KNOWN_BUGS.items() if key in block.text]
        if bugs:
            marks.append(pytest.mark.xfail(raises=ScenarioError, strict=True, reason=bugs[0]))
        yield pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", list(_params()))
def test_readme_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.kind == "toml":
        check_toml_block(block)
    elif block.kind == "sh":
        run_shell_block(block, tmp_path)
    elif block.kind == "python":
        monkeypatch.chdir(_checkout_stand_in(tmp_path))
        exec(compile(block.text, block.id, "exec"), {"__name__": "__readme__"})
    else:
        assert block.kind == "text", (
            f"{block.id}: a fenced block must name its kind: sh, toml, python, or text "
            "for a listing that is not an example"
        )


def test_the_readme_has_examples_of_each_kind_it_runs() -> None:
    kinds = {block.kind for block in BLOCKS}
    assert {"sh", "toml"} <= kinds, f"the README parser found only {sorted(kinds)}"


def test_commands_run_elsewhere_name_tests_that_exist() -> None:
    for where in ELSEWHERE.values():
        if "::" not in where:
            continue
        path, name = where.split("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{where} does not exist"
