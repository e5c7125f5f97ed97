"""docs/tutorial-plugins.md ("Write your own attack"), checked as a reader would use it.

* Every Python or TOML block of the tutorial is preceded by the path of the file it shows
  (a line ```` `examples/plugins/...`: ````) and must be that file, byte for byte; every
  source file of the example package must be shown.
* The example plugins are what the tutorial says: each module under 60 lines, importing
  nothing of byzlab but ``byzlab.api``.
* Every command of the tutorial's ``sh`` blocks runs, in order, from a directory that stands
  in for the checkout (a copy of ``examples/plugins`` and ``.venv`` linked to this
  interpreter's environment), so that the tutorial's edit of a plugin touches the copy only.
  ``pip install -e examples/plugins`` installs the copy into the venv; it is uninstalled
  afterwards whatever happens. A command must exit 0, or the status a comment on its line
  names (``# exit status 2``). A ``json`` block after an ``sh`` block shows part of what the
  block's last command printed: every key it shows must be there with that value (a list's
  elements must each match one printed). A ``text`` block shows lines the block's commands
  printed (compared with runs of spaces collapsed). Beyond what the tutorial shows, each run
  must show its plugins acting (`EFFECTS`): node 2, which the scheduler slows, decides last,
  and honest nodes reject the corrupted node's votes. The docker command needs an engine and
  byzlab's image; without them it is skipped with the reason (after every other command has
  run and passed), and with ``BYZLAB_REQUIRE_DOCKER=1`` (CI) the test fails instead.
* What the tutorial argues of coin-vote holds in the simulator (agreement, validity and
  halting for every seed under equivocation, crashes and split votes, n = 6 and 11), it
  refuses n <= 5f, and its decoder takes any object without raising and accepts exactly
  what its encoder produces.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab.api import DecodeError, ParamsError
from tests.simutil import describe, run_sim
from tests.test_readme_examples import _docker_missing  # the README's docker check, shared

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial-plugins.md"
PACKAGE = ROOT / "examples" / "plugins"
DISTRIBUTION = "byzlab-example-plugins"
REQUIRE_DOCKER = os.environ.get("BYZLAB_REQUIRE_DOCKER") == "1"
COMMAND_TIMEOUT_S = 600
MAX_LINES = 60

FENCE = re.compile(r"^```(?P<kind>[a-z]*)\s*$")
SHOWS_FILE = re.compile(r"^`(?P<path>examples/plugins/[^`]+)`:$")
EXIT_STATUS = re.compile(r"#.*\bexit status (?P<status>\d+)\b")
SEED = re.compile(r"--seed (\d+)|^seed = (\d+)$", re.MULTILINE)


@dataclass
class Block:
    kind: str
    line: int  # of the opening fence, from 1
    text: str
    shows: str | None = None  # the file it shows, if any


@dataclass
class Command:
    line: int
    text: str
    status: int
    outputs: list[Block] = field(default_factory=list)  # the blocks after its sh block
    last_of_block: bool = False


def blocks(doc: str = "") -> list[Block]:
    lines = (doc or TUTORIAL.read_text()).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next(k for k in range(i + 1, len(lines)) if lines[k] == "```")
        before = [line for line in lines[:i] if line.strip()]
        shows = SHOWS_FILE.match(before[-1]) if before else None
        text = "".join(f"{line}\n" for line in lines[i + 1 : end])
        out.append(Block(match["kind"], i + 1, text, shows["path"] if shows else None))
        i = end + 1
    return out


def commands() -> list[Command]:
    """The tutorial's commands in order, each with the output blocks that follow its block."""
    out: list[Command] = []
    current: list[Command] = []
    for block in blocks():
        if block.kind == "sh":
            current = []
            for offset, line in enumerate(block.text.splitlines(), start=1):
                if line.strip():
                    status = EXIT_STATUS.search(line)
                    text = line.split("  #")[0].strip()
                    current.append(
                        Command(block.line + offset, text, int(status["status"]) if status else 0)
                    )
            current[-1].last_of_block = True
            out += current
        elif block.kind in ("json", "text") and current:
            for command in current:
                command.outputs.append(block)
    return out


# -- what the files are ------------------------------------------------------------------


def package_files() -> set[str]:
    skip = ("__pycache__", ".egg-info", "build")
    return {
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file()
        and p.suffix in (".py", ".toml")
        and not any(part.endswith(skip) for part in p.parts)
    }


def test_the_code_shown_is_the_files_themselves() -> None:
    shown: dict[str, Block] = {}
    for block in blocks():
        if block.kind in ("python", "toml"):
            assert block.shows, (
                f"docs/tutorial-plugins.md:{block.line}: a {block.kind} block that shows no file"
            )
        if block.shows:
            assert block.shows not in shown, f"{block.shows} is shown twice"
            shown[block.shows] = block
            assert block.text == (ROOT / block.shows).read_text(), (
                f"docs/tutorial-plugins.md:{block.line} is not {block.shows} as it is: "
                "include the file verbatim"
            )
    assert set(shown) == package_files(), "every file of examples/plugins is shown, and only those"


def test_each_plugin_module_is_small_and_imports_only_byzlab_api() -> None:
    modules = sorted((PACKAGE / "src").rglob("*.py"))
    assert modules
    for path in modules:
        lines = path.read_text().count("\n")
        assert lines < MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if name == "byzlab" or name.startswith("byzlab."):
                    assert name == "byzlab.api", f"{path.relative_to(ROOT)} imports {name}"


def _forget_the_package() -> None:
    # other tests meet the package where the tutorial installs it, not as imported here
    for name in [m for m in sys.modules if m.split(".")[0] == "byzlab_examples"]:
        del sys.modules[name]


@pytest.fixture
def coin_vote(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The example package's coinvote module, imported from the repository's copy."""
    monkeypatch.syspath_prepend(str(PACKAGE / "src"))
    try:
        yield importlib.import_module("byzlab_examples.coinvote")
    finally:
        _forget_the_package()


@pytest.mark.parametrize(("n", "f"), [(6, 1), (11, 2)])
@pytest.mark.parametrize("strategy", ["equivocate", "silent", "crash"])
@pytest.mark.parametrize("scheduler", ["random", "split-vote"])
def test_coin_vote_agrees_validly_under_attack(
    coin_vote: Any, n: int, f: int, strategy: str, scheduler: str
) -> None:
    """What the tutorial argues, run: every seed agrees on a valid value and halts."""
    rounds = []
    for seed in range(40):
        inputs = "all-plus" if seed % 4 == 0 else "split"  # unanimous inputs test validity
        _, result = run_sim(
            n,
            f,
            seed=seed,
            protocol=coin_vote.CoinVote(),
            strategy=strategy,
            scheduler=scheduler,
            inputs=inputs,
        )
        assert result.stopped == "all-honest-halted", describe(result)
        assert result.agreed and result.valid, describe(result)
        rounds.append(result.iterations)
    assert max(rounds) <= 10, f"a run took {max(rounds)} rounds"


def test_coin_vote_refuses_more_faults_than_it_tolerates(coin_vote: Any) -> None:
    with pytest.raises(ParamsError, match="coin-vote needs n > 5f, got n = 10, f = 2"):
        run_sim(10, 2, seed=0, protocol=coin_vote.CoinVote())


@settings(max_examples=400, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.binary(max_size=4),
        lambda inner: st.lists(inner, max_size=4),
        max_leaves=8,
    )
)
def test_coin_vote_decoder_takes_only_its_own_encodings(obj: object) -> None:
    """Whatever a peer sends, the decoder answers without raising, and what it accepts is
    exactly what `encode` produces."""
    sys.path.insert(0, str(PACKAGE / "src"))
    try:
        wire = importlib.import_module("byzlab_examples.coinvote.wire")
    finally:
        sys.path.remove(str(PACKAGE / "src"))
        _forget_the_package()
    decoded = wire.decode(obj)
    if not isinstance(decoded, DecodeError):
        assert wire.encode(decoded) == obj
        assert wire.decode(wire.encode(decoded)) == decoded


# -- the commands ------------------------------------------------------------------------


def _node2_last(summary: dict[str, Any]) -> None:
    times = {int(k): v for k, v in summary["decision_times"].items()}
    assert times[2] == max(times.values()), f"node 2 did not decide last: {times}"


def _votes_rejected(summary: dict[str, Any]) -> None:
    assert summary["rejected"], "no vote of the corrupted node was rejected"


def _coin_vote_ran(summary: dict[str, Any]) -> None:
    assert summary["protocol"] == "coin-vote"
    assert {"EST", "PROP", "DONE"} <= set(summary["messages_by_kind"]), summary["messages_by_kind"]
    assert summary["agreed"] and summary["valid"]


def _recorded(*refs: str) -> Callable[[dict[str, Any]], None]:
    def check(summary: dict[str, Any]) -> None:
        plugins = {p["ref"]: p for p in summary["plugins"]}
        for ref in refs:
            assert plugins[ref]["distribution"] == DISTRIBUTION, plugins
            assert len(plugins[ref]["sha256"]) == 64, plugins

    return check


# what each run must show of its plugins beyond the tutorial's excerpts, by its command's
# distinctive words
EFFECTS: dict[str, list[Callable[[dict[str, Any]], None]]] = {
    "--n 4 --seed 1 --byzantine byzlab_examples.opposite:Opposite": [_votes_rejected],
    "--protocol byzlab_examples.coinvote:CoinVote --byzantine equivocate": [_coin_vote_ran],
    "run examples/plugins/attack.toml": [
        _node2_last,
        _votes_rejected,
        _recorded("slow-node", "opposite-of-0"),
    ],
    "run examples/plugins/coin-vote.toml": [_coin_vote_ran, _recorded("coin-vote", "slow-node")],
}


def _contains(actual: Any, shown: Any) -> bool:
    if isinstance(shown, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in shown.items()
        )
    if isinstance(shown, list):
        return isinstance(actual, list) and all(any(_contains(a, s) for a in actual) for s in shown)
    return bool(actual == shown)


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


@contextlib.contextmanager
def _uninstalled_afterwards() -> Iterator[None]:
    """The example package is not installed before, and is not left installed after."""
    if _pip("show", DISTRIBUTION).returncode == 0:
        _pip("uninstall", "-y", DISTRIBUTION)  # left by an interrupted run of this test
    try:
        yield
    finally:
        _pip("uninstall", "-y", DISTRIBUTION)


def _checkout_stand_in(tmp_path: Path) -> Path:
    shutil.copytree(
        PACKAGE,
        tmp_path / "examples" / "plugins",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return tmp_path


def _run(command: Command, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COLUMNS"] = "200"  # `byzlab strategies` draws its table this wide
    return subprocess.run(
        ["bash", "-c", command.text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def _check(command: Command, done: subprocess.CompletedProcess[str], printed: str) -> None:
    seeds = ", ".join(a or b for a, b in SEED.findall(command.text)) or "the scenario's"
    where = f"docs/tutorial-plugins.md:{command.line} (seed {seeds}): {command.text}"
    assert done.returncode == command.status, (
        f"{where}\nexit status {done.returncode}, expected {command.status}\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    summary: dict[str, Any] | None = None
    if "--json" in command.text and done.returncode == 0:
        summary = json.loads(done.stdout)
    for block in command.outputs:
        if block.kind == "json" and command.last_of_block:
            assert summary is not None, f"{where}: a json block after a command without --json"
            assert _contains(summary, json.loads(block.text)), (
                f"{where}: the output differs from docs/tutorial-plugins.md:{block.line}\n"
                f"{json.dumps(summary, indent=1)[:4000]}"
            )
        if block.kind == "text" and command.last_of_block:
            for line in block.text.splitlines():
                assert _squeeze(line) in _squeeze(printed), (
                    f"{where}: no line {line!r} in what the block's commands printed:\n{printed}"
                )
    for words, checks in EFFECTS.items():
        if words in command.text and command.status == 0:
            assert summary is not None, where
            for check in checks:
                try:
                    check(summary)
                except AssertionError as exc:
                    raise AssertionError(f"{where}: {exc}") from None


def test_every_command_runs_and_the_plugins_act(tmp_path: Path) -> None:
    cwd = _checkout_stand_in(tmp_path)
    todo = commands()
    assert any("pip install -e examples/plugins" in c.text for c in todo)
    skipped = None
    with _uninstalled_afterwards():
        printed = ""
        for command in todo:
            if "--backend docker" in command.text:
                skipped = _docker_missing()
                if skipped and REQUIRE_DOCKER:
                    pytest.fail(f"BYZLAB_REQUIRE_DOCKER=1, but {skipped}")
                if skipped:
                    continue
            done = _run(command, cwd)
            printed += done.stdout + done.stderr
            _check(command, done, printed)
            if command.last_of_block:
                printed = ""
    if skipped:
        pytest.skip(f"every command ran but the docker one: {skipped}")
