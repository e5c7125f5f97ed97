"""One receiver that stops reading must not stall everybody else (hostile-input item 2).

The attack, on real processes: n = 7, f = 2. Node 6 is corrupted (run by the proxy) and
node 5 is honest but stops reading (SIGSTOP: a crash fault). At the start the corrupted
node sends node 5 frames of 1 MiB with valid MACs, more than the proxy will queue for one
destination (``max_queue_bytes``, 8 MiB here so the test moves 16 MiB, not 320 MiB; the
mechanism is the same as with the default 256 MiB). Before the fix the proxy then made
every *sender* to node 5 wait for node 5, i.e. it stopped reading every honest node
(all of them broadcast to node 5): no protocol message was relayed and every honest
node timed out. Now frames over a destination's cap are dropped for that destination
alone and counted, and the five running honest nodes (n - f) decide.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from byzlab.orchestration.local import LocalRun
from byzlab.orchestration.scenario import parse_scenario

CAP = 8 << 20


@pytest.mark.slow
def test_a_stalled_receiver_flooded_by_a_corrupted_node_does_not_stall_the_run(
    tmp_path: Path,
) -> None:
    victim, byz = 5, 6
    scn = parse_scenario(
        {
            "run": {"n": 7, "seed": 11, "timeout_s": 30},
            "adversary": {
                "scheduler": "random",
                "delta_s": 0.002,
                "byzantine": [{"node": byz, "strategy": "silent"}],
            },
        }
    )
    inject = {
        "target": victim,
        "from_node": byz,
        "done_file": str(tmp_path / "done.json"),
        "garbage_frames": 0,
        "forged_frames": 0,
        "invalid_frames": 0,
        "oversized": False,
        "hold_start": False,
        "stall_frames": 2 * CAP >> 20,
    }
    with LocalRun(
        scn,
        out_root=tmp_path / "r",
        proxy_options={"inject": inject, "max_queue_bytes": CAP},
        node_options={"linger_s": 1.0},
    ) as lr:
        where = lr.describe()
        lr.start()
        deadline = time.monotonic() + 30
        while lr.status().get("connected") != 6:
            assert time.monotonic() < deadline, where
            time.sleep(0.02)
        procs = lr.node_procs()
        os.killpg(procs[victim].pid, signal.SIGSTOP)  # stops reading; never resumes
        lr.signal_proxy(signal.SIGUSR1)  # start, and flood node 5
        deadline = time.monotonic() + 60
        while any(p.poll() is None for i, p in procs.items() if i != victim):
            assert time.monotonic() < deadline, where
            time.sleep(0.05)
        os.killpg(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait()
        waited = lr.wait(timeout=30)
        stats = lr.status()
    outcome = lr.collect(waited)
    s = outcome.summary
    assert s["crashed"] == {str(victim): "killed"}, where
    assert set(s["honest_decisions"]) == {"0", "1", "2", "3", "4"}, (s["honest_decisions"], where)
    assert s["agreed"] is True and s["valid"] is True, where
    assert stats["injected"]["stall_frames"] == 16, stats["injected"]
    counts = stats["counts"]
    assert counts["dropped_over_cap"] >= 1, (counts, where)
    assert stats["overflowed"] == {str(victim): counts["dropped_over_cap"]}, where
    # Never more than the cap (plus the transport's buffer) held for the stalled node.
    assert stats["queue_peak_bytes"][str(victim)] <= CAP, (stats["queue_peak_bytes"], where)
