"""Real containers: the docker backend, container faults, clean-up after a killed
orchestrator, docker-compose and a single-node swarm.

These need a Docker engine and the image (`byzlab image build`). Without them they are
skipped, with the reason, unless BYZLAB_REQUIRE_DOCKER=1, in which case they fail: CI sets
it, so a broken engine cannot pass as "skipped". Every assertion message names the run id
and the seed; a run's container logs are kept in results/<run-id>/work/logs/.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from byzlab.errors import DockerUnavailable
from byzlab.network.messagelog import read_messages
from byzlab.orchestration.backend import RunOutcome
from byzlab.orchestration.docker.engine import connect
from byzlab.orchestration.docker.labels import LABEL_RUN
from byzlab.orchestration.docker.run import run_docker
from byzlab.orchestration.results import SUMMARY_KEYS
from byzlab.orchestration.scenario import DEFAULT_IMAGE, parse_scenario

pytestmark = pytest.mark.docker

BYZLAB = str(Path(sys.executable).with_name("byzlab"))
REQUIRE = os.environ.get("BYZLAB_REQUIRE_DOCKER") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"BYZLAB_REQUIRE_DOCKER=1, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def client() -> Any:
    try:
        engine = connect(timeout=120)
    except DockerUnavailable as exc:
        _unavailable(str(exc))
    import docker.errors

    try:
        engine.images.get(DEFAULT_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"the image {DEFAULT_IMAGE} is missing: run `byzlab image build`")
    return engine


def about(outcome: RunOutcome) -> str:
    s = outcome.summary
    return (
        f"run_id={outcome.run_id} seed={s.get('seed')} stopped={outcome.stopped} "
        f"decisions={s.get('honest_decisions')} logs={outcome.out_dir / 'work' / 'logs'}"
    )


def labelled(client: Any, run_id: str) -> dict[str, list[str]]:
    """Containers and networks of one run that still exist."""
    flt = {"label": f"{LABEL_RUN}={run_id}"}
    return {
        "containers": [
            c.name for c in client.containers.list(all=True, filters=flt, ignore_removed=True)
        ],
        "networks": [n.name for n in client.networks.list(filters=flt)],
    }


def nodes_table(outcome: RunOutcome) -> list[dict[str, str]]:
    return list(csv.DictReader((outcome.out_dir / "nodes.csv").read_text().splitlines()))


# --------------------------------------------------------------------------- agreement


def test_n4_with_a_byzantine_node_agrees_in_containers(client: Any, tmp_path: Path) -> None:
    """`byzlab run --backend docker`: the default scenario (node 3 equivocates inside the
    proxy), the same result files as the local backend, and nothing left behind."""
    proc = subprocess.run(
        [BYZLAB, "run", "--backend", "docker", "--out", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = json.loads(proc.stdout) if proc.stdout.strip() else {}
    run_id = summary.get("run_id", "?")
    assert proc.returncode == 0, (run_id, proc.stderr[-3000:])
    outcome = RunOutcome(run_id, tmp_path / run_id, summary, summary["stopped"])
    assert summary["agreed"] and summary["valid"], about(outcome)
    assert outcome.stopped == "all-honest-halted", about(outcome)
    assert summary["backend"] == "docker" and summary["byzantine"] == {"3": "equivocate"}
    assert set(SUMMARY_KEYS) <= set(summary) and summary["crashed"] == {}
    assert summary["latency_s"] == max(summary["decision_times"].values()) > 0
    assert summary["spinup_s"] > 0 and summary["messages"] > 0
    out = outcome.out_dir
    for name in (
        "summary.json",
        "nodes.csv",
        "proxy-stats.json",
        "scenario.toml",
        "work/logs/proxy.log",
        *(f"traces/node-{i}.jsonl" for i in range(3)),
        *(f"work/logs/node-{i}.log" for i in range(3)),
    ):
        assert (out / name).is_file(), (name, about(outcome))
    rows = nodes_table(outcome)
    assert [r["role"] for r in rows] == ["honest"] * 3 + ["byzantine"]
    assert all(
        r["decision"] == str(summary["decision"]) and r["exit_code"] == "0" for r in rows[:3]
    ), about(outcome)
    events = [
        json.loads(line)["event"]
        for line in (out / "traces" / "node-0.jsonl").read_text().splitlines()
    ]
    assert {"start", "decide", "halt"} <= set(events), about(outcome)
    # n = 4 records its message trace: the spools came out of the containers whole, and
    # every message the proxy delivered has its deliver row (tests/test_messages_real.py)
    sources = summary["message_trace_sources"]
    assert summary["message_trace"] == "messages.parquet", about(outcome)
    assert set(sources["nodes"].values()) == {"complete"}, (sources, about(outcome))
    assert set(sources["proxy_spools"].values()) == {"complete"}, (sources, about(outcome))
    trace = read_messages(out / "messages.parquet").to_pylist()
    relayed = [r for r in trace if r["event"] == "deliver" and r["src"] != r["dst"]]
    stats = json.loads((out / "proxy-stats.json").read_text())
    assert len(relayed) == stats["messages_delivered"] > 0, about(outcome)
    assert not list(out.rglob("*.key")), "private keys must not stay on the host"
    assert labelled(client, run_id) == {"containers": [], "networks": []}, about(outcome)


def test_killed_container_is_a_crash_and_the_rest_agree(client: Any, tmp_path: Path) -> None:
    """n = 7, f = 2: one Byzantine node in the proxy and one node's container killed at the
    start; the five others agree, and the killed node is reported as crashed. A fault at
    0 s holds the start barrier until it is in place, so it lands before the first protocol
    message however fast the run or loaded the machine (applied_s is exactly 0)."""
    scn = parse_scenario(
        {
            "run": {"n": 7, "seed": 5, "timeout_s": 120},
            "adversary": {
                "scheduler": "random",
                "delta_s": 0.0,
                "byzantine": [{"node": 6, "strategy": "equivocate"}],
            },
            "docker": {"faults": [{"node": 1, "action": "kill", "at_s": 0.0}]},
        }
    )
    outcome = run_docker(scn, out_root=tmp_path, client=client)
    s = outcome.summary
    assert s["agreed"] and s["valid"] and outcome.exit_code == 0, about(outcome)
    assert s["crashed"] == {"1": "container-kill"}, about(outcome)
    assert set(s["honest_decisions"]) == {"0", "2", "3", "4", "5"}, about(outcome)
    assert s["faults"][0]["applied_s"] == 0.0 and s["faults"][0]["error"] is None, s["faults"]
    rows = {int(r["node"]): r for r in nodes_table(outcome)}
    assert rows[1]["role"] == "crashed" and rows[1]["exit_code"] == "137", rows[1]
    assert rows[6]["role"] == "byzantine"
    assert labelled(client, outcome.run_id) == {"containers": [], "networks": []}


def test_paused_container_resumes_and_decides_too(client: Any, tmp_path: Path) -> None:
    """A pause with a duration is a slow node, not a crash: it must decide as well. The
    pause is in place before the start (a fault at 0 s holds the start barrier), and the
    frozen node holds the run open until it is thawed (the proxy ends the run only when
    every honest node halted), so both ends of the fault happen whatever the timing."""
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 2, "timeout_s": 120},
            "adversary": {"scheduler": "random", "delta_s": 0.0},
            "docker": {"faults": [{"node": 2, "action": "pause", "at_s": 0.0, "duration_s": 1.0}]},
        }
    )
    outcome = run_docker(scn, out_root=tmp_path, client=client)
    s = outcome.summary
    assert s["agreed"] and s["crashed"] == {}, about(outcome)
    assert set(s["honest_decisions"]) == {"0", "1", "2", "3"}, about(outcome)
    fault = s["faults"][0]
    assert fault["error"] is None and fault["applied_s"] == 0.0, fault
    assert fault["undone_s"] >= fault["applied_s"] + 1.0, fault


def test_netem_fault_applies_or_says_why(client: Any, tmp_path: Path) -> None:
    """tc netem needs sch_netem in the host kernel; where it is missing the fault is
    reported in the summary (and the run goes on), not silently ignored. n = 4 under FIFO
    with delta 0 ends within milliseconds of the start: the fault at 0 s must hold the start
    until it is applied (applied_s exactly 0), not hope to land in time; its end (0.5 s)
    may fall after the node's container exited, which is moot, not an error."""
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 3, "timeout_s": 120},
            "adversary": {"scheduler": "fifo", "delta_s": 0.0},
            "docker": {
                "faults": [
                    {"node": 0, "action": "netem", "at_s": 0.0, "delay_ms": 20, "duration_s": 0.5}
                ]
            },
        }
    )
    outcome = run_docker(scn, out_root=tmp_path, client=client)
    assert outcome.summary["agreed"], about(outcome)
    fault = outcome.summary["faults"][0]
    assert fault["applied_s"] == 0.0, fault
    assert fault["error"] is None or "netem" in fault["error"], fault
    if fault["error"] is None:
        assert fault["undone_s"] is not None or fault["undo"].startswith("not needed"), fault


# --------------------------------------------------------------------------- clean-up


def test_clean_removes_everything_after_the_orchestrator_is_killed(
    client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "slow.toml"
    # delta_s = 5 s under FIFO: the run needs about half a minute; we kill it long before.
    path.write_text('[run]\nn = 4\nseed = 1\n[adversary]\nscheduler = "fifo"\ndelta_s = 5.0\n')
    out = tmp_path / "r"
    with open(tmp_path / "stderr.log", "wb") as err:
        proc = subprocess.Popen(
            [BYZLAB, "run", str(path), "--backend", "docker", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    run_id = ""
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = [p.name for p in out.glob("*") if p.is_dir()]
            if runs:
                run_id = runs[0]
                if len(labelled(client, run_id)["containers"]) == 5:  # proxy + 4 nodes
                    break
            assert proc.poll() is None, (tmp_path / "stderr.log").read_text()
            time.sleep(0.2)
        assert run_id and len(labelled(client, run_id)["containers"]) == 5, (
            f"containers never all started (run {run_id})"
        )
        proc.send_signal(signal.SIGKILL)  # no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = labelled(client, run_id)
    assert len(left["containers"]) == 5 and len(left["networks"]) == 1, left
    keys = [
        p
        for p in out.rglob("*")
        if p.is_file() and (p.suffix == ".key" or b'"private_key"' in p.read_bytes())
    ]
    assert keys == [], f"private keys in the results tree after SIGKILL: {keys}"
    clean = subprocess.run(
        [BYZLAB, "docker", "clean"], capture_output=True, text=True, timeout=180, check=False
    )
    assert clean.returncode == 0, clean.stderr
    assert run_id in clean.stdout, clean.stdout
    assert labelled(client, run_id) == {"containers": [], "networks": []}, clean.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_removes_its_containers(client: Any, tmp_path: Path, sig: int) -> None:
    path = tmp_path / "slow.toml"
    path.write_text('[run]\nn = 4\nseed = 1\n[adversary]\nscheduler = "fifo"\ndelta_s = 5.0\n')
    out = tmp_path / "r"
    with open(tmp_path / "stderr.log", "wb") as err:
        proc = subprocess.Popen(
            [BYZLAB, "run", str(path), "--backend", "docker", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    run_id = ""
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            stats = list(out.glob("*/work"))
            run_id = stats[0].parent.name if stats else ""
            if run_id and len(labelled(client, run_id)["containers"]) == 5:
                break
            assert proc.poll() is None, (tmp_path / "stderr.log").read_text()
            time.sleep(0.2)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (tmp_path / "stderr.log").read_text()[-2000:]
    assert labelled(client, run_id) == {"containers": [], "networks": []}, run_id
    summary = json.loads((out / run_id / "summary.json").read_text())
    assert summary["stopped"] == "interrupted" and summary["agreed"] is False


# --------------------------------------------------------------------------- compose, swarm


def _compose_binary() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        _unavailable("docker-compose is not installed (apt-get install docker-compose)")
    assert found is not None
    return found


@pytest.mark.parametrize("n", [4, 32])
def test_compose_file_for_n_validates(client: Any, tmp_path: Path, n: int) -> None:
    out = tmp_path / f"docker-compose.{n}.yml"
    made = subprocess.run(
        [BYZLAB, "compose", "--n", str(n), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    check = subprocess.run(
        [_compose_binary(), "-f", str(out), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert sorted(check.stdout.split()) == sorted(
        ["proxy", *(f"node-{i}" for i in range(n) if i != 3)]
    )


def test_the_repository_compose_file_runs_the_default_scenario(client: Any, tmp_path: Path) -> None:
    """`byzlab compose --init && docker-compose up` from a copy of the repository's file."""
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "docker-compose.yml", tmp_path / "docker-compose.yml")
    init = subprocess.run(
        [BYZLAB, "compose", "--init"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    project = f"byzlabtest{os.getpid()}"
    compose = [_compose_binary(), "-p", project, "-f", str(tmp_path / "docker-compose.yml")]
    try:
        up = subprocess.run(
            [*compose, "up", "--no-color"], capture_output=True, text=True, timeout=300, check=False
        )
        assert up.returncode == 0, up.stderr[-3000:]
        logs = up.stdout
        assert "every honest node halted; done" in logs, logs[-3000:]
        decisions = {
            line.rsplit("decided ", 1)[1].split()[0]
            for line in logs.splitlines()
            if ": decided " in line
        }
        assert len(decisions) == 1 and sum(": decided " in ln for ln in logs.splitlines()) == 3
    finally:
        subprocess.run(
            [*compose, "down", "--remove-orphans"], capture_output=True, timeout=120, check=False
        )


@pytest.fixture
def swarm(client: Any) -> Iterator[Any]:
    """A single-node swarm, left again afterwards (only if this test made it)."""
    active = client.info().get("Swarm", {}).get("LocalNodeState") == "active"
    gateway = client.networks.list(names=["docker_gwbridge"])
    if not active:
        client.swarm.init()
    try:
        yield client
    finally:
        if not active:
            client.swarm.leave(force=True)
            if not gateway:  # swarm init made it, and leaving does not remove it
                for network in client.networks.list(names=["docker_gwbridge"]):
                    with contextlib.suppress(Exception):
                        network.remove()


def _service_logs(stack: str, service: str) -> str:
    proc = subprocess.run(
        ["docker", "service", "logs", "--raw", f"{stack}_{service}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout + proc.stderr


def _stack_tasks(stack: str) -> list[str]:
    """`docker stack ps` as lines "name state error" (the error is empty unless the task
    failed), for diagnostics and to spot a task the swarm could not start."""
    proc = subprocess.run(
        [
            "docker",
            "stack",
            "ps",
            "--no-trunc",
            "--format",
            "{{.Name}} {{.CurrentState}} {{.Error}}",
            stack,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return (proc.stdout + proc.stderr).strip().splitlines()


def _remove_stack(swarm: Any, stack: str) -> None:
    subprocess.run(["docker", "stack", "rm", stack], capture_output=True, timeout=120, check=False)
    deadline = time.monotonic() + 60
    flt = {"label": f"com.docker.stack.namespace={stack}"}
    while time.monotonic() < deadline and (
        swarm.containers.list(all=True, filters=flt, ignore_removed=True)
        or swarm.networks.list(filters=flt)
    ):
        time.sleep(0.5)
    assert not swarm.services.list(filters=flt)


def _deploy_until_agreement(swarm: Any, out: Path, honest: list[int]) -> dict[int, str]:
    """Deploy the compose file `out` as a stack, wait until the proxy logs that every honest
    node halted, and return each honest node's logged decision; the stack is removed after.

    A task the swarm itself could not start (its state "Rejected", or "Failed" before the
    process ran, with the engine's error: e.g. libnetwork's "error creating vxlan interface:
    file exists" on a swarm that was just re-formed) is the engine's fault, not the compose
    file's: the stack is then deployed once more, and a failure shows every task's state
    and error and every service's log either way. (The proxy does not start without that
    node when the Byzantine node already uses f, see adversary/proxy/runtime.py.)"""
    engine_failures: list[str] = []
    for attempt in (1, 2):
        stack = f"byzlabtest{os.getpid()}a{attempt}"
        deploy = subprocess.run(
            ["docker", "stack", "deploy", "-c", str(out), stack],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            assert deploy.returncode == 0, deploy.stderr
            deadline = time.monotonic() + 180
            proxy_log = ""
            not_started: list[str] = []
            while time.monotonic() < deadline:
                proxy_log = _service_logs(stack, "proxy")
                if "stopped (done)" in proxy_log:
                    break
                not_started = [
                    t
                    for t in _stack_tasks(stack)
                    if " Rejected " in t or "starting container failed" in t or "sandbox" in t
                ]
                if not_started:
                    break
                time.sleep(1)
            if not_started and attempt == 1:
                engine_failures += not_started
                continue
            where = "\n".join(
                [f"engine failures before: {engine_failures}", *_stack_tasks(stack)]
                + [f"--- node-{i}:\n{_service_logs(stack, f'node-{i}')[-1500:]}" for i in honest]
            )
            assert "every honest node halted; done" in proxy_log, (proxy_log[-3000:], where)
            decisions = {}
            for i in honest:
                log = _service_logs(stack, f"node-{i}")
                found = [
                    line.rsplit("decided ", 1)[1].split()[0]
                    for line in log.splitlines()
                    if ": decided " in line
                ]
                assert found, (i, log[-2000:], where)
                decisions[i] = found[0]
            return decisions
        finally:
            _remove_stack(swarm, stack)
    raise AssertionError("unreachable: the second attempt returns or fails")


def _compose(out: Path, *args: str, env: dict[str, str] | None = None) -> None:
    made = subprocess.run(
        [BYZLAB, "compose", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert made.returncode == 0, made.stderr


def test_swarm_stack_of_n4_reaches_agreement(swarm: Any, tmp_path: Path) -> None:
    """The compose file for n = 4 deploys unchanged with `docker stack deploy`; the proxy
    logs that every honest node halted and all three nodes log the same decision."""
    if shutil.which("docker") is None:
        _unavailable("the docker command line is not installed")
    out = tmp_path / "docker-compose.4.yml"
    _compose(out, "--n", "4")
    decisions = _deploy_until_agreement(swarm, out, [0, 1, 2])
    assert len(set(decisions.values())) == 1, decisions


PLUGIN_PACKAGE = {
    "__init__.py": (
        '"""A plugin package that exists only on the host: a strategy and a protocol."""\n'
        "from byzlab.api import ByzantineNode\n"
        "from byzlab.protocols.mmr import MMR as Relabelled\n\n\n"
        "class Quiet(ByzantineNode):\n"
        '    name = "quiet"\n'
        '    description = "never sends anything"\n'
    ),
}


def test_swarm_stack_ships_the_scenarios_plugins(swarm: Any, tmp_path: Path) -> None:
    """A scenario whose protocol and strategy are plugins found only on the host (a package
    on the host's PYTHONPATH, not in the image) runs as a stack: the compose file ships
    their code (plugins.zip, a secret on every container's PYTHONPATH), the nodes run the
    plugin protocol (mmr under another reference) and the proxy the plugin strategy."""
    if shutil.which("docker") is None:
        _unavailable("the docker command line is not installed")
    root = tmp_path / "plugroot"
    (root / "hostonlyplug").mkdir(parents=True)
    for name, text in PLUGIN_PACKAGE.items():
        (root / "hostonlyplug" / name).write_text(text)
    scenario = tmp_path / "plug.toml"
    scenario.write_text(
        '[run]\nn = 4\nseed = 5\nprotocol = "hostonlyplug:Relabelled"\n'
        '[adversary]\nscheduler = "random"\n'
        '[[adversary.byzantine]]\nnode = 3\nstrategy = "hostonlyplug:Quiet"\n'
    )
    out = tmp_path / "docker-compose.plug.yml"
    _compose(out, "--scenario", str(scenario), env={**os.environ, "PYTHONPATH": str(root)})
    assert (tmp_path / "docker-compose.plug.d" / "plugins.zip").is_file()
    decisions = _deploy_until_agreement(swarm, out, [0, 1, 2])
    assert len(set(decisions.values())) == 1, decisions


# --------------------------------------------------------------------------- memory


def test_a_run_that_cannot_fit_in_the_engine_is_refused(client: Any, tmp_path: Path) -> None:
    """n = 1024 containers need far more memory than this engine has: one line with the
    estimate and the engine's memory, exit status 2, and no container, network or results
    directory created (the seed marks this run's id)."""
    from byzlab.orchestration.resources import estimate_memory

    memory_mib = int(client.info()["MemTotal"]) / (1024 * 1024)
    if estimate_memory(1024, 1024, backend="docker").total_mib <= memory_mib:
        pytest.skip("this engine could host n = 1024 containers")
    scenario = tmp_path / "huge.toml"
    scenario.write_text('[run]\nn = 1024\nseed = 7919\n[adversary]\nscheduler = "fifo"\n')
    out = tmp_path / "r"
    proc = subprocess.Popen(
        [BYZLAB, "run", str(scenario), "--backend", "docker", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A refusing orchestrator never creates `out`; one that does is starting 1024
        # containers (the bug): stop it at once and remove what it made.
        while proc.poll() is None:
            if out.exists():
                proc.kill()
                proc.communicate()
                subprocess.run(
                    [BYZLAB, "docker", "clean"], capture_output=True, timeout=600, check=False
                )
                pytest.fail(f"the run was started (results in {out}) instead of refused")
            time.sleep(0.02)
        _, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    ours = [
        c.name
        for c in client.containers.list(all=True, filters={"label": LABEL_RUN}, ignore_removed=True)
        if "-s7919-" in c.name
    ]
    assert ours == [] and not out.exists(), (ours, err[-2000:])
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, err[-3000:]
    assert "GiB" in lines[0] and "Docker engine" in lines[0], lines[0]


def test_unwritable_results_path_is_one_line(client: Any, tmp_path: Path) -> None:
    """A results path under a regular file (root cannot write there either): one line with
    the path and ENOTDIR, exit status 4, and no container or network created."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x\n")
    out = blocker / "r"
    proc = subprocess.run(
        [BYZLAB, "run", "--backend", "docker", "--seed", "7907", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Apart from a warning that the image is older than the working tree, one line.
    lines = [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and not line.startswith("warning: ")
    ]
    assert proc.returncode == 4 and len(lines) == 1, proc.stderr[-3000:]
    assert str(out) in lines[0] and "ENOTDIR" in lines[0], lines[0]
    ours = [
        c.name
        for c in client.containers.list(all=True, filters={"label": LABEL_RUN}, ignore_removed=True)
        if "-s7907-" in c.name
    ]
    assert ours == [], ours


def test_the_image_carries_the_native_engine(client: Any) -> None:
    """An image built where cargo and maturin are (CI's) imports byzlab_native, and a
    bracha-local run in a container goes native with the host's trace hash."""
    from byzlab.orchestration.image import native_toolchain_missing

    missing = native_toolchain_missing()
    if missing is not None and os.environ.get("BYZLAB_REQUIRE_NATIVE") != "1":
        pytest.skip(f"{missing}: the image is built without the native engine")
    args = ["sim", "--protocol", "bracha-local", "--n", "7", "--seed", "11", "--json"]
    imported = client.containers.run(
        DEFAULT_IMAGE,
        ["-c", "import byzlab_native; print(byzlab_native.__version__)"],
        entrypoint="python",
        remove=True,
    ).decode()
    assert imported.strip(), "the image has no byzlab_native (seed=11)"
    container = client.containers.run(
        DEFAULT_IMAGE, [*args, "--engine", "native"], remove=True, stderr=True
    ).decode()
    assert "running the Python engine" not in container, f"seed=11: {container}"
    host = subprocess.run(
        [BYZLAB, *args, "--engine", "python"], capture_output=True, text=True, check=True
    ).stdout
    hashes = [json.loads(out[out.index("{") :])["trace_hash"] for out in (container, host)]
    assert hashes[0] == hashes[1], f"seed=11: container (native) {hashes[0]}, host {hashes[1]}"
