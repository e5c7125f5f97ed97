"""Plugins from outside byzlab: found, validated, run in the simulator and on local processes,
recorded in summary.json, and replay refused once their code changes.

Two plugin packages are made from tests/data/plugin_attacks.py (a strategy that votes the
opposite of node 0's last vote, and a scheduler that delays everything to node 2 by delta):
one installed into the venv with pip and found through its entry points, one a plain module
on ``sys.path``/``PYTHONPATH`` named as ``module:Name``. Each run shows the plugins acted:
node 2 decides last, later by the delay (the scheduler), and honest nodes refuse the
corrupted node's votes (the strategy). Names carry a random token, so that parallel test
workers never share (or uninstall) each other's plugin.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from byzlab import plugins
from byzlab.adversary.schedulers import scheduler_class
from byzlab.adversary.strategies import strategy_class
from byzlab.cli import main
from byzlab.errors import DockerUnavailable
from byzlab.orchestration.dispatch import run_scenario
from byzlab.orchestration.replay import ReplayError, replay_run
from byzlab.orchestration.scenario import DEFAULT_IMAGE, ScenarioError, parse_scenario

SOURCE = Path(__file__).parent / "data" / "plugin_attacks.py"
SEED = 3


@dataclass(frozen=True)
class Plugin:
    """Names under which the two plugins are known, and where their code is."""

    strategy: str
    scheduler: str
    module: str
    source: Path
    distribution: str | None = None
    version: str | None = None


def _module_dir(root: Path, module: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, root / f"{module}.py")
    return root


@pytest.fixture(scope="module")
def ref_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    """The plugins as ``module:Name`` references to a module on sys.path (the node and
    proxy processes get it through PYTHONPATH)."""
    module = f"byzlab_refplug_{uuid.uuid4().hex[:8]}"
    root = _module_dir(tmp_path_factory.mktemp("refplug"), module)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield Plugin(f"{module}:OpposeNode0", f"{module}:DelayNode2", module, root / f"{module}.py")
    sys.path.remove(str(root))
    sys.modules.pop(module, None)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    """The plugins as a distribution installed into the venv with pip, registered under
    byzlab's entry-point groups (and one entry point that does not import); uninstalled
    afterwards."""
    token = uuid.uuid4().hex[:8]
    package, dist = f"byzlab_epplug_{token}", f"byzlab-epplug-{token}"
    root = tmp_path_factory.mktemp("epplug")
    (root / package).mkdir()
    (root / package / "__init__.py").write_text('"""Attacks, as an installable package."""\n')
    shutil.copy(SOURCE, root / package / "attacks.py")
    (root / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.3.1"

[tool.setuptools]
packages = ["{package}"]

[project.entry-points."byzlab.strategies"]
"oppose-node0-{token}" = "{package}.attacks:OpposeNode0"
"broken-{token}" = "{package}.missing:Nope"

[project.entry-points."byzlab.schedulers"]
"delay-node2-{token}" = "{package}.attacks:DelayNode2"
"""
    )
    # offline when the venv can build a wheel itself; else pip fetches setuptools to build
    isolation = [] if importlib.util.find_spec("wheel") is None else ["--no-build-isolation"]
    done = _pip("install", "--no-deps", *isolation, str(root))
    assert done.returncode == 0, f"pip install of {root} failed:\n{done.stdout}\n{done.stderr}"
    importlib.invalidate_caches()
    try:
        installed = importlib.import_module(package)
        yield Plugin(
            f"oppose-node0-{token}",
            f"delay-node2-{token}",
            f"{package}.attacks",
            Path(installed.__file__ or "").parent / "attacks.py",
            dist,
            "0.3.1",
        )
    finally:
        done = _pip("uninstall", "-y", dist)
        assert done.returncode == 0, f"pip uninstall {dist} failed:\n{done.stderr}"
        for name in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[name]


def _scenario(plugin: Plugin, **run: Any) -> Any:
    return parse_scenario(
        {
            "run": {"n": 4, "seed": SEED, "timeout_s": 120, **run},
            "adversary": {
                "delta_s": 0.2,
                "scheduler": plugin.scheduler,
                "byzantine": [{"node": 3, "strategy": plugin.strategy}],
            },
        }
    )


def _hash(*files: tuple[str, Path]) -> str:
    """The provenance hash of byzlab.plugins.source_hash, computed here independently."""
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _check_acted(summary: dict[str, Any], plugin: Plugin, *, margin: float, what: str) -> None:
    times = {int(k): float(v) for k, v in summary["decision_times"].items()}
    assert summary["agreed"] and summary["valid"], f"{what}, seed {SEED}: {summary}"
    assert set(times) == {0, 1, 2}, f"{what}, seed {SEED}: {times}"
    others = min(times[0], times[1])
    # the scheduler: node 2 hears everything a delta late, so it decides last, that late
    assert times[2] - others >= margin, f"{what}, seed {SEED}: node 2 not delayed: {times}"
    # the strategy: its votes past the first step contradict their support, and are refused
    refused = sum(summary["rejected"].values())
    assert refused > 0, f"{what}, seed {SEED}: no vote of node 3 refused: {summary['rejected']}"
    recorded = {p["kind"]: p for p in summary["plugins"]}
    assert set(recorded) == {"strategy", "scheduler"}, f"{what}: {summary['plugins']}"
    for kind, ref in (("strategy", plugin.strategy), ("scheduler", plugin.scheduler)):
        entry = recorded[kind]
        assert entry["ref"] == ref and entry["module"] == plugin.module, f"{what}: {entry}"
        assert (entry["distribution"], entry["version"]) == (plugin.distribution, plugin.version)
        assert entry["sha256"] == plugins.provenance(kind, ref).sha256, f"{what}: {entry}"


def test_reference_plugins_act_in_the_simulator(ref_plugin: Plugin, tmp_path: Path) -> None:
    outcome = run_scenario(_scenario(ref_plugin), "sim", out_root=tmp_path)
    _check_acted(outcome.summary, ref_plugin, margin=1.0, what="sim, module:Name")
    entry = outcome.summary["plugins"][0]
    assert entry["sha256"] == _hash((f"{ref_plugin.module}.py", ref_plugin.source)), entry


def test_entry_point_plugins_act_in_the_simulator(installed_plugin: Plugin, tmp_path: Path) -> None:
    outcome = run_scenario(_scenario(installed_plugin), "sim", out_root=tmp_path)
    _check_acted(outcome.summary, installed_plugin, margin=1.0, what="sim, entry points")


@pytest.mark.parametrize("which", ["ref_plugin", "installed_plugin"])
def test_plugins_act_on_local_processes(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    plugin: Plugin = request.getfixturevalue(which)
    outcome = run_scenario(_scenario(plugin), "local", out_root=tmp_path)
    # half of delta_s: what is left of the delay after the wall clock's noise
    _check_acted(outcome.summary, plugin, margin=0.1, what=f"local run {outcome.run_id}")


@pytest.fixture(scope="module")
def docker_image() -> str:
    """The image the containers run (as tests/test_docker_e2e.py: skipped without an engine
    or the image, failed instead when BYZLAB_REQUIRE_DOCKER=1)."""
    from byzlab.orchestration.docker.engine import connect

    try:
        engine = connect(timeout=120)
        engine.images.get(DEFAULT_IMAGE)
    except Exception as exc:  # no engine (DockerUnavailable) or no image (ImageNotFound)
        reason = str(exc) if isinstance(exc, DockerUnavailable) else f"no {DEFAULT_IMAGE}"
        if os.environ.get("BYZLAB_REQUIRE_DOCKER") == "1":
            pytest.fail(f"BYZLAB_REQUIRE_DOCKER=1, but {reason}")
        pytest.skip(reason)
    return DEFAULT_IMAGE


@pytest.mark.docker
@pytest.mark.parametrize("which", ["ref_plugin", "installed_plugin"])
def test_plugins_act_in_containers(
    which: str, docker_image: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The plugin's code (and its distribution's entry points) is copied into every
    container and found there under the same name, with no image to rebuild."""
    plugin: Plugin = request.getfixturevalue(which)
    outcome = run_scenario(_scenario(plugin), "docker", out_root=tmp_path)
    what = f"docker run {outcome.run_id} ({docker_image}), logs in {outcome.out_dir}/work/logs"
    _check_acted(outcome.summary, plugin, margin=0.1, what=what)


def test_byzlab_sim_and_strategies_take_plugins(installed_plugin: Plugin) -> None:
    result = CliRunner().invoke(main, ["strategies"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    for name in (installed_plugin.strategy, installed_plugin.scheduler):
        assert name in flat, result.output
    assert f"plugin: {installed_plugin.distribution} 0.3.1" in flat, result.output
    assert "does not load" in flat, result.output  # the broken entry point says so
    args = ["sim", "--seed", str(SEED), "--json", "--byzantine", installed_plugin.strategy]
    args += ["--byzantine-nodes", "3", "--scheduler", installed_plugin.scheduler]
    result = CliRunner().invoke(main, [*args, "--scheduler-option", "target=1"])
    assert result.exit_code == 0, f"seed {SEED}: {result.output}"
    result = CliRunner().invoke(main, [*args, "--strategy-option", "watch='x'"])
    assert result.exit_code == 2, result.output
    assert "--strategy-option watch: expected an integer, got string 'x'" in result.output


def test_replay_refuses_a_run_whose_plugin_changed_or_is_gone(tmp_path: Path) -> None:
    module = f"byzlab_replayplug_{uuid.uuid4().hex[:8]}"
    root = _module_dir(tmp_path / "code", module)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        plugin = Plugin(f"{module}:OpposeNode0", f"{module}:DelayNode2", module, root)
        outcome = run_scenario(_scenario(plugin), "sim", out_root=tmp_path / "runs")
        assert replay_run(str(outcome.out_dir)).ok, f"seed {SEED}: {outcome.out_dir}"
        source = root / f"{module}.py"
        source.write_text(source.read_text() + "\n# tuned after the run\n")
        with pytest.raises(ReplayError) as changed:
            replay_run(str(outcome.out_dir))
        line = str(changed.value)
        assert "\n" not in line, line
        assert line.startswith(f"run {outcome.run_id} cannot be replayed: "), line
        assert f'scheduler plugin "{module}:DelayNode2" (module {module}) changed' in line
        source.unlink()
        with pytest.raises(ReplayError, match=f'strategy plugin "{module}:OpposeNode0" is missing'):
            replay_run(str(outcome.out_dir))
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module, None)


# --------------------------------------------------------------------------- error lines


def _one_line_error(call: Any, *args: str) -> str:
    with pytest.raises(ValueError, match=r"\S") as caught:  # PluginError or an unknown name
        call(*args)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def test_every_plugin_error_is_one_line(tmp_path: Path) -> None:
    assert (
        _one_line_error(strategy_class, "no_such_pkg_zz.mod:Thing")
        == "cannot import \"no_such_pkg_zz.mod:Thing\": No module named 'no_such_pkg_zz'"
    )
    assert (
        _one_line_error(scheduler_class, "json:Nope")
        == "cannot import \"json:Nope\": module 'json' has no attribute 'Nope'"
    )
    assert _one_line_error(plugins.resolve, "strategy", "json:") == (
        '"json:" is not a reference of the form "package.module:Name"'
    )
    assert _one_line_error(strategy_class, "json:dumps") == (
        'strategy "json:dumps" is not a class, so it is not a strategy'
    )
    assert _one_line_error(scheduler_class, "json:JSONDecoder") == (
        'scheduler "json:JSONDecoder" has no delay, describe, so it is not a scheduler'
    )
    assert _one_line_error(strategy_class, "no-such-strategy").startswith(
        "unknown Byzantine strategy 'no-such-strategy'; choose one of: "
    )
    module = f"byzlab_boom_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text('raise RuntimeError("boom\\nat import")\n')
    sys.path.insert(0, str(tmp_path))
    try:
        assert _one_line_error(strategy_class, f"{module}:X") == (
            f'cannot import "{module}:X": RuntimeError: boom at import'
        )
    finally:
        sys.path.remove(str(tmp_path))


def test_protocol_plugin_errors_are_one_line() -> None:
    assert _one_line_error(plugins.protocol, "json:dumps") == (
        'protocol "json:dumps" is not a byzlab.node.protocol.Protocol (it has no name, node, '
        "encode, decoder, wire_size, kind, trace_fields, value_of, equivocal)"
    )
    assert _one_line_error(plugins.protocol, "no-such-protocol").startswith(
        "unknown protocol 'no-such-protocol'; choose one of: "
    )


def test_a_broken_entry_point_is_one_line(installed_plugin: Plugin) -> None:
    name = installed_plugin.strategy.replace("oppose-node0", "broken")
    package = installed_plugin.module.split(".")[0]
    assert _one_line_error(strategy_class, name) == (
        f"strategy {name!r} (entry point {package}.missing:Nope): cannot import "
        f"\"{package}.missing:Nope\": No module named '{package}.missing'"
    )


def _problems(table: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"run": {"n": 4}, "adversary": table})
    return caught.value.problems


def test_scenario_errors_name_the_field(ref_plugin: Plugin) -> None:
    assert _problems({"scheduler": "no_such_pkg_zz:S"}) == [
        "adversary.scheduler: cannot import \"no_such_pkg_zz:S\": No module named 'no_such_pkg_zz'"
    ]
    assert _problems({"byzantine": [{"node": 3, "strategy": "json:dumps"}]}) == [
        'adversary.byzantine[0].strategy: strategy "json:dumps" is not a class, so it is not '
        "a strategy"
    ]
    entry = {"node": 3, "strategy": ref_plugin.strategy, "options": {"watch": "x", "more": 1}}
    assert _problems({"byzantine": [entry]}) == [
        "adversary.byzantine[0].options.watch: expected an integer, got string 'x'",
        "adversary.byzantine[0].options.more: unknown key; expected one of: watch",
    ]
    assert _problems({"scheduler": ref_plugin.scheduler, "scheduler_options": {"target": -1}}) == [
        "adversary.scheduler_options.target: must be >= 0, got -1"
    ]


def test_byzlab_sim_refuses_a_bad_plugin_in_one_line() -> None:
    result = CliRunner().invoke(main, ["sim", "--byzantine", "no_such_pkg_zz:X"])
    assert result.exit_code == 2, result.output
    assert "cannot import \"no_such_pkg_zz:X\": No module named 'no_such_pkg_zz'" in result.output
    assert "Traceback" not in result.output, result.output
    result = CliRunner().invoke(main, ["sim", "--scheduler", "fast"])
    assert result.exit_code == 2, result.output
    assert "'fast' is not one of " in result.output, result.output
    assert 'an installed scheduler plugin or a "package.module:Name" reference' in " ".join(
        result.output.split()
    )


def test_a_plugin_s_hash_covers_the_package_it_sits_in(tmp_path: Path) -> None:
    """An edit to a helper beside the plugin module changes the recorded hash (replay then
    refuses the run), as an edit to the module itself does."""
    package = tmp_path / "hashpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("DELAY = 1.0\n")
    (package / "sched.py").write_text(
        "from hashpkg.helper import DELAY\n\n\nclass Slow:\n    name = 'slow'\n    delay = DELAY\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        before = plugins.provenance("scheduler", "hashpkg.sched:Slow")
        (package / "helper.py").write_text("DELAY = 0.5\n")
        after = plugins.provenance("scheduler", "hashpkg.sched:Slow")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "hashpkg" or m.startswith("hashpkg.")]:
            del sys.modules[name]
    assert before.module == after.module == "hashpkg.sched"
    assert before.sha256 != after.sha256
