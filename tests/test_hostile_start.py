"""A node that crashes before it says hello does not stop the run (hostile-input item 3).

The proxy starts a run when every honest node has said hello, or, once no hello has
arrived for ``start_grace_s``, as soon as n - f nodes can take part (connected honest
nodes plus the corrupted nodes it runs itself); the nodes that never connected are treated
as crashed and listed in its statistics (``never_connected``). Before the fix it waited
for every honest node, so one honest node killed (or stopped) before its hello meant the
run never started and every other node timed out.

The node is killed by the test right after its process is spawned (a ``LocalRun`` whose
``_spawn`` signals the victim as soon as ``Popen`` returns): the interpreter has not even
imported byzlab by then, let alone connected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from byzlab.orchestration.local import LocalRun
from byzlab.orchestration.scenario import parse_scenario

VICTIM = 1


class _CrashBeforeHello(LocalRun):
    """The local backend, except that one node gets ``sig`` the moment it is spawned."""

    def __init__(self, *args: Any, sig: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sig = sig

    def _spawn(self, name: str, module: str, config: Path) -> subprocess.Popen[bytes]:
        proc = super()._spawn(name, module, config)
        if name == f"node-{VICTIM}":
            os.killpg(proc.pid, self.sig)
        return proc


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["SIGKILL", "SIGSTOP"])
def test_a_node_crashed_before_its_hello_is_tolerated(tmp_path: Path, sig: int) -> None:
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 4, "timeout_s": 30},
            "adversary": {"scheduler": "random", "delta_s": 0.005},
        }
    )
    with _CrashBeforeHello(
        scn, out_root=tmp_path, sig=sig, proxy_options={"start_grace_s": 1.0}
    ) as lr:
        where = lr.describe()
        lr.start()
        procs = lr.node_procs()
        deadline = time.monotonic() + 60
        while any(p.poll() is None for i, p in procs.items() if i != VICTIM):
            assert time.monotonic() < deadline, where
            time.sleep(0.05)
        stats = lr.status()
        if sig == signal.SIGSTOP:
            assert procs[VICTIM].poll() is None, where  # stopped, not dead
            os.killpg(procs[VICTIM].pid, signal.SIGKILL)
        procs[VICTIM].wait()
        waited = lr.wait(timeout=30)
    outcome = lr.collect(waited)
    s = outcome.summary
    assert stats["started"] is True, where
    assert stats["never_connected"] == [VICTIM], (stats.get("never_connected"), where)
    assert stats["counts"]["started_without"] == 1, where
    assert s["crashed"] == {str(VICTIM): "killed"}, (s["crashed"], where)
    assert set(s["honest_decisions"]) == {"0", "2", "3"}, (s["honest_decisions"], where)
    assert s["agreed"] is True and s["valid"] is True, where
    # The proxy counts the absent node as crashed, so it announces the end to the others.
    assert stats["done"] is True, where


@pytest.mark.slow
def test_a_missing_node_is_not_left_out_beyond_the_fault_budget(tmp_path: Path) -> None:
    """With f = 1 already spent on a corrupted node, the proxy must not start without a
    crashed honest node: that would be two faults with f = 1, a run the protocol promises
    nothing about (a swarm run in CI started so and never ended). It keeps waiting, says so
    once, and the run times out unstarted."""
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 4, "timeout_s": 6},
            "adversary": {
                "scheduler": "random",
                "delta_s": 0.005,
                "byzantine": [{"node": 3, "strategy": "equivocate"}],
            },
        }
    )
    with _CrashBeforeHello(
        scn, out_root=tmp_path, sig=signal.SIGKILL, proxy_options={"start_grace_s": 1.0}
    ) as lr:
        where = lr.describe()
        lr.start()
        time.sleep(3.0)  # three grace periods with node 1 absent
        stats = lr.status()
        lr.stop_all()
        log = (lr.work / "logs" / "proxy.log").read_text()
    assert stats["started"] is False, (stats, where)
    assert stats["counts"].get("started_without", 0) == 0, (stats, where)
    assert log.count("still waiting") == 1, (log[-2000:], where)
    assert "starting without them" not in log, (log[-2000:], where)
