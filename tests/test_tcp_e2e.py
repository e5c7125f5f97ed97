"""Real runs: node processes over TCP on 127.0.0.1 through the adversary proxy, real crypto.

Every assertion message names the run id and the seed (``about(outcome)``), and the run's
directory keeps every process's log under ``work/logs/``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from byzlab.adversary.strategies import NodeSpec
from byzlab.network.sim import Simulator
from byzlab.node.bracha import HPZ
from byzlab.orchestration.local import LocalRun, RunOutcome, run_local
from byzlab.orchestration.results import INCOMPLETE_FILE, SUMMARY_KEYS, run_state
from byzlab.orchestration.scenario import build_simulator, parse_scenario
from byzlab.seeds import derive_rng, ideal_coin_seed

BYZLAB = str(Path(sys.executable).with_name("byzlab"))
REAL_RUN_KEYS = {"latency_s", "decision_times", "git_commit", "backend", "run_id", "delta_s"}


def about(outcome: RunOutcome) -> str:
    """Context for assertion messages: enough to find the run and replay its scenario."""
    s = outcome.summary
    logs = outcome.out_dir / "work" / "logs"
    return (
        f"run_id={outcome.run_id} seed={s.get('seed')} stopped={outcome.stopped} "
        f"decisions={s.get('honest_decisions')} logs={logs}"
    )


def run(tmp_path: Path, data: dict[str, Any]) -> RunOutcome:
    return run_local(parse_scenario(data), out_root=tmp_path)


def node_result(outcome: RunOutcome, i: int) -> dict[str, Any]:
    data = json.loads(
        (outcome.out_dir / "work" / "nodes" / str(i) / "out" / "result.json").read_text()
    )
    assert isinstance(data, dict)
    return data


def assert_agreed(outcome: RunOutcome) -> None:
    s = outcome.summary
    assert s["agreed"] is True, about(outcome)
    assert s["valid"] is True, about(outcome)
    assert outcome.stopped == "all-honest-halted", about(outcome)
    assert outcome.exit_code == 0, about(outcome)


def assert_results_written(outcome: RunOutcome, n: int, byzantine: dict[int, str]) -> None:
    out = outcome.out_dir
    summary = json.loads((out / "summary.json").read_text())
    assert set(SUMMARY_KEYS) | REAL_RUN_KEYS <= set(summary), about(outcome)
    assert summary == outcome.summary
    assert summary["backend"] == "local" and summary["byzantine"] == {
        str(k): v for k, v in byzantine.items()
    }
    honest = [i for i in range(n) if i not in byzantine]
    assert set(summary["decision_times"]) == {str(i) for i in honest}, about(outcome)
    assert summary["latency_s"] == max(summary["decision_times"].values())
    assert summary["latency_delta"] == pytest.approx(summary["latency_s"] / summary["delta_s"])
    assert summary["messages"] > 0 and summary["bytes"] > 0 and summary["rbc_instances"] > 0
    rows = list(csv.DictReader((out / "nodes.csv").read_text().splitlines()))
    assert [int(r["node"]) for r in rows] == list(range(n))
    for r in rows:
        i = int(r["node"])
        if i in byzantine:
            assert r["role"] == "byzantine" and r["strategy"] == byzantine[i]
        else:
            assert r["role"] == "honest" and r["decision"] == str(summary["decision"])
            assert float(r["decision_time_s"]) >= 0 and r["exit_code"] == "0"
    for i in honest:
        events = [
            json.loads(line)["event"]
            for line in (out / "traces" / f"node-{i}.jsonl").read_text().splitlines()
        ]
        for expected in ("start", "decide", "halt", "trace-summary"):
            assert expected in events, (i, events, about(outcome))
        result = node_result(outcome, i)
        # Exact peak RSS from the node itself; Linux nodes run under SCHED_BATCH.
        assert isinstance(result["max_rss_kib"], int) and result["max_rss_kib"] > 10_000
        if sys.platform == "linux":
            assert result["scheduling"] == "batch", about(outcome)
    stats = json.loads((out / "proxy-stats.json").read_text())
    timeline = stats["relay_timeline"]
    assert timeline["total"] == sum(timeline["counts"]) == summary["messages"], about(outcome)
    assert (out / "proxy-stats.json").exists() and (out / "scenario.toml").exists()
    leftovers = [
        p.name for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".key")
    ]
    assert leftovers == [], about(outcome)


# --------------------------------------------------------------------------- agreement


def test_default_run_from_the_cli(tmp_path: Path) -> None:
    """`byzlab run` with no file: n=4, node 3 equivocating, random scheduler; exit 0.
    Run from tmp_path with the default relative `results/` dir, as the README does."""
    proc = subprocess.run(
        [BYZLAB, "run", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    run_dir = tmp_path / "results" / summary["run_id"]
    outcome = RunOutcome(summary["run_id"], run_dir, summary, summary["stopped"])
    assert_agreed(outcome)
    assert summary["scheduler"] == {"name": "random"} and summary["protocol"] == "hpz"
    assert summary["inputs"] == [1, -1, 1, -1]
    assert_results_written(outcome, 4, {3: "equivocate"})


@pytest.mark.slow
def test_n7_with_two_byzantine_nodes(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        {
            "run": {"n": 7, "seed": 7},
            "adversary": {
                "scheduler": "random",
                "delta_s": 0.005,
                "byzantine": [
                    {"node": 2, "strategy": "equivocate"},
                    {"node": 6, "strategy": "random-value"},
                ],
            },
        },
    )
    assert_agreed(outcome)
    assert_results_written(outcome, 7, {2: "equivocate", 6: "random-value"})
    # The equivocator's conflicting INITIALs went through the proxy, one per destination.
    assert outcome.summary["messages_by_kind"]["INITIAL"] > 0, about(outcome)


def test_tampered_copy_is_dropped_and_the_original_delivered(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        {
            "run": {"n": 4, "seed": 2},
            "adversary": {
                "tamper": "flip-byte",
                "byzantine": [{"node": 3, "strategy": "equivocate"}],
            },
        },
    )
    assert_agreed(outcome)
    assert outcome.summary["tampered_frames"] == 1, about(outcome)
    bad_mac = {i: node_result(outcome, i)["link_rejected"].get("bad_mac", 0) for i in range(3)}
    assert sum(bad_mac.values()) == 1, (bad_mac, about(outcome))
    victim = next(i for i, c in bad_mac.items() if c)
    res = node_result(outcome, victim)
    assert res["counters"]["frames_dropped"] >= 1 and res["drops"]["link-bad_mac"] == 1


# --------------------------------------------------------------------------- sim == run


def test_real_nodes_are_built_like_the_simulators() -> None:
    """Same per-node RNG streams and ideal-coin seed as the simulator, for every node."""
    scn = parse_scenario({"run": {"n": 7, "seed": 123}, "adversary": {"scheduler": "fifo"}})
    sim: Simulator = build_simulator(scn)
    for i, node in enumerate(sim.honest_nodes()):
        rng = derive_rng(123, "node", i)
        assert [node.rng.random() for _ in range(5)] == [rng.random() for _ in range(5)]
        assert node.ideal_seed == ideal_coin_seed(123)
    spec = NodeSpec(0, sim.params, HPZ(), 1, derive_rng(123, "node", 0), ideal_coin_seed(123))
    assert spec.honest().ideal_seed == sim.nodes[0].ideal_seed


@pytest.mark.slow
def test_sim_and_run_reach_the_same_decision_under_fifo(tmp_path: Path) -> None:
    """Honest nodes, FIFO, mixed inputs: `byzlab sim --scenario F` == `byzlab run F`.

    The inputs are mixed (validity does not fix the answer), but any n - f of them have a
    majority, so the decision does not depend on how ties between simultaneous deliveries
    are broken, which is the one thing real time cannot reproduce (see byzlab.network.tcp).
    """
    path = tmp_path / "fifo.toml"
    path.write_text(
        "[run]\nn = 7\nseed = 21\ninputs = [-1, -1, 1, -1, -1, 1, -1]\n"
        '[adversary]\nscheduler = "fifo"\ndelta_s = 0.005\n'
    )
    sim = subprocess.run(
        [BYZLAB, "sim", "--scenario", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    real = subprocess.run(
        [BYZLAB, "run", str(path), "--out", str(tmp_path / "r"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert real.returncode == 0, real.stderr
    a, b = json.loads(sim.stdout), json.loads(real.stdout)
    assert a["agreed"] and b["agreed"], (a["stopped"], b["run_id"])
    assert a["decision"] == b["decision"] == -1, f"seed=21 run_id={b['run_id']}"
    assert a["params"] == b["params"] and a["inputs"] == b["inputs"] and a["seed"] == b["seed"]
    assert b["scheduler"] == {"name": "fifo"}


# --------------------------------------------------------------------------- faults


@pytest.mark.slow
def test_nodes_survive_a_proxy_restart(tmp_path: Path) -> None:
    # delta_s = 0.1 s: the run needs about a second, so the kill lands mid-run.
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 6},
            "adversary": {
                "scheduler": "random",
                "delta_s": 0.1,
                "byzantine": [{"node": 3, "strategy": "equivocate"}],
            },
        }
    )
    with LocalRun(scn, out_root=tmp_path, proxy_options={"stats_interval_s": 0.02}) as lr:
        lr.start()
        deadline = time.monotonic() + 30
        while not lr.status().get("messages"):
            assert time.monotonic() < deadline, lr.describe()
            time.sleep(0.01)
        before = lr.status()
        assert not before.get("halted"), f"finished before the kill: {lr.describe()}"
        port = lr.port
        assert port is not None
        lr.kill_proxy()  # SIGKILL: no goodbye, frames in flight die with it
        time.sleep(0.2)
        assert lr.start_proxy(port=port) == port
        waited = lr.wait(timeout=60)
    outcome = lr.collect(waited)
    assert_agreed(outcome)
    assert outcome.summary["proxy_incarnations"] == 2, about(outcome)
    for i in range(3):
        res = node_result(outcome, i)
        assert res["counters"]["reconnects"] >= 1, (i, res["counters"], about(outcome))
        assert res["counters"]["resent_frames"] >= 1, (i, res["counters"], about(outcome))


@pytest.mark.slow
@pytest.mark.parametrize("restart", [False, True], ids=["stays-dead", "restarted"])
def test_a_node_killed_by_sigkill_counts_as_crashed_and_the_run_agrees(
    tmp_path: Path, restart: bool
) -> None:
    """SIGKILL of a node process mid-run: the proxy survives the dead connection, the node
    counts as a crash fault (toward f), and the remaining nodes agree.

    Restarted (network/tcp/incarnation.py, rejoin_as_crashed): the second process of the node finds its
    first incarnation's marker, sends nothing that could contradict what the first one sent
    (it does not even connect), and reports itself crashed."""
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 3 + 2 * restart, "timeout_s": 60},
            "adversary": {"scheduler": "random", "delta_s": 0.05},
        }
    )
    with LocalRun(scn, out_root=tmp_path, proxy_options={"stats_interval_s": 0.02}) as lr:
        lr.start()
        deadline = time.monotonic() + 30
        while not lr.status().get("messages"):
            assert time.monotonic() < deadline, lr.describe()
            time.sleep(0.01)
        victim = lr.node_procs()[1]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        if restart:
            connections = lr.status().get("counts", {}).get("connections")
            assert lr.restart_node(1).wait(timeout=30) == 0, lr.describe()
            assert lr.status().get("counts", {}).get("connections") == connections, (
                f"the restarted node connected to the proxy: {lr.describe()}"
            )
            log_text = (lr.work / "logs" / "node-1.log").read_text()
            assert "rejoins as crashed and sends nothing" in log_text, lr.describe()
        waited = lr.wait(timeout=60)
        proxy = lr.procs["proxy"]
        assert proxy.poll() in (None, 0), f"the proxy died with the node: {lr.describe()}"
    outcome = lr.collect(waited)
    reason = "restarted-after-crash" if restart else "killed"
    assert outcome.summary["crashed"] == {"1": reason}, about(outcome)
    # the proxy cannot tell a crashed node from a slow one, so it never announces "done":
    # the survivors halt and exit when their linger expires
    assert outcome.summary["agreed"] is True, about(outcome)
    assert outcome.summary["valid"] is True, about(outcome)
    assert set(outcome.summary["honest_decisions"]) == {"0", "2", "3"}, about(outcome)


def pid_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"  # a zombie is dead; only its exit status is left


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"]
)
def test_interrupting_the_orchestrator_leaves_no_processes(tmp_path: Path, sig: int) -> None:
    """Ctrl-C and SIGTERM: the orchestrator stops everything and writes an interrupted
    summary. SIGKILL: the children die with it (PR_SET_PDEATHSIG) and the run directory
    says it is incomplete: no summary.json, INCOMPLETE.json, and every file in it whole."""
    path = tmp_path / "slow.toml"
    # delta_s = 1 s: the run cannot finish before we interrupt it.
    path.write_text('[run]\nn = 4\nseed = 1\n[adversary]\nscheduler = "fifo"\ndelta_s = 1.0\n')
    proc = subprocess.Popen(
        [BYZLAB, "run", str(path), "--out", str(tmp_path / "r")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        pids: dict[str, int] = {}
        while time.monotonic() < deadline:
            found = list((tmp_path / "r").glob("*/work/pids.json"))
            stats = list((tmp_path / "r").glob("*/work/proxy/stats.json"))
            if found and stats:
                pids = json.loads(found[0].read_text())
                if len(pids) == 5 and json.loads(stats[0].read_text()).get("started"):
                    break
            time.sleep(0.05)
        assert len(pids) == 5, f"processes never all started: {pids} (seed=1)"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    run_id = found[0].parent.parent.name
    expected_status = -signal.SIGKILL if sig == signal.SIGKILL else 130
    assert proc.returncode == expected_status, (err.decode()[-2000:], run_id)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(pid_gone(p) for p in pids.values()):
        time.sleep(0.05)
    alive = {name: pid for name, pid in pids.items() if not pid_gone(pid)}
    assert alive == {}, f"orphans after {signal.Signals(sig).name}: {alive} (run {run_id})"
    run_dir = tmp_path / "r" / run_id
    if sig == signal.SIGKILL:
        assert run_state(run_dir) == "incomplete", run_id
        assert not (run_dir / "summary.json").exists(), run_id
        marker = json.loads((run_dir / INCOMPLETE_FILE).read_text())
        assert marker["run_id"] == run_id and marker["orchestrator_pid"] == proc.pid
        results = list(run_dir.glob("work/nodes/*/out/result.json"))
        assert len(results) == 4, run_id  # the nodes reported on their SIGTERM
        for path in run_dir.rglob("*.json"):
            json.loads(path.read_text())  # whole, never torn
        assert not [p for p in run_dir.rglob("*.tmp") if p.stat().st_size], run_id
        return
    assert run_state(run_dir) == "complete" and not (run_dir / INCOMPLETE_FILE).exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped"] == "interrupted" and summary["agreed"] is False


def test_node_and_proxy_report_bad_configs_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "node.json"
    bad.write_text(
        json.dumps(
            {
                "node": 0,
                "params": {},
                "protocol": "hpz",
                "input": 1,
                "seed": 0,
                "key_dir": "k",
                "proxy_port": 0,
                "out_dir": "o",
                "colour": "red",
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "byzlab.network.tcp", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "colour: unknown key" in proc.stderr and "proxy_port: must be >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [BYZLAB, "proxy", "--config", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "cannot be read" in proc.stderr
    assert os.listdir(tmp_path) == ["node.json"]


# --------------------------------------------------------------------------- fast paths


def test_an_undecoded_run_keeps_exact_statistics(tmp_path: Path) -> None:
    """Honest nodes under FIFO: the proxy relays without decoding (nobody inspects the
    messages) and still counts every message by kind, exactly."""
    n = 4
    outcome = run(
        tmp_path,
        {
            "run": {"n": n, "seed": 3, "inputs": [1, 1, -1, 1]},
            "adversary": {"scheduler": "fifo", "delta_s": 0.0},
        },
    )
    assert_agreed(outcome)
    s = outcome.summary
    by_kind = s["messages_by_kind"]
    assert sum(by_kind.values()) == s["messages"] == s["deliveries"], about(outcome)
    # Every message a node sent went through the proxy; every INITIAL went to n - 1 peers.
    sent = sum(node_result(outcome, i)["counters"]["messages_out"] for i in range(n))
    assert sent == s["messages"], about(outcome)
    assert by_kind["INITIAL"] == s["rbc_instances"] * (n - 1), about(outcome)
    stats = json.loads((outcome.out_dir / "proxy-stats.json").read_text())
    assert stats["counts"].get("undecodable_messages", 0) == 0
    for source in (stats, *(node_result(outcome, i) for i in range(n))):
        assert 0 <= source["cpu_start_s"] <= source["cpu_s"], about(outcome)


@pytest.mark.asyncio
async def test_the_inbox_is_bounded_by_frames_and_keeps_order() -> None:
    from byzlab.network.control import START
    from byzlab.network.tcp.buffers import Inbox

    inbox = Inbox(3)
    await inbox.put([b"1", b"2"])
    await inbox.put(START)
    await inbox.put([b"3", b"4"])  # at 2 of 3 frames: let in, crossing the bound
    assert len(inbox) == 4
    blocked = asyncio.create_task(inbox.put([b"5"]))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert await inbox.get() == [b"1", b"2"]
    assert await inbox.get() == START
    async with asyncio.timeout(5):
        await blocked
    assert await inbox.get() == [b"3", b"4"]
    assert await inbox.get() == [b"5"]
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    await inbox.put([b"6"])
    async with asyncio.timeout(5):
        assert await waiting == [b"6"]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux-only")
def test_batch_scheduling_switches_the_policy_of_the_calling_process() -> None:
    """In a child process, so the test runner keeps its own policy."""
    code = (
        "import os; from byzlab.network.process import batch_scheduling; "
        "ok = batch_scheduling(); print(ok, os.sched_getscheduler(0) == os.SCHED_BATCH)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.split() == ["True", "True"], proc.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_peak_rss_is_the_childs_own_not_its_parents() -> None:
    """A node forked by a big orchestrator and exec'd must report its own peak: Linux's
    ru_maxrss would carry the parent's resident set across the exec."""
    ballast = bytearray(300 * 1024 * 1024)  # the "orchestrator": 300 MiB resident
    ballast[::4096] = b"x" * len(ballast[::4096])
    code = "from byzlab.network.process import max_rss_kib; print(max_rss_kib())"
    # preexec_fn forces fork + exec, as the local backend starts its nodes.
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        preexec_fn=lambda: None,
    )
    del ballast
    assert 1_000 < int(proc.stdout) < 200 * 1024, proc.stdout
