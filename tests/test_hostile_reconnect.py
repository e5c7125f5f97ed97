"""An endpoint that accepts and closes cannot make a node reconnect in a hot loop
(hostile-input item 6).

A real node process (``python -m byzlab.network.tcp``) is pointed at a listener that
accepts every connection and closes it at once. The node's backoff used to be reset as
soon as TCP connect succeeded and it reconnected at once after every session, so it
reconnected 1,100-2,100 times and re-sent 135k-233k frames in 5.5 s. Now the backoff is
reset only when a session is established (an authenticated frame from the proxy arrived on
it); a session that ends before that counts as a failed attempt.

The bound is derived from the backoff schedule, not from a timing race: after k failed
attempts the node sleeps at least ``0.5 * min(initial * 2**(k-1), max)`` (the jitter factor
is in [0.5, 1.5)), so within the E seconds measured between the first and the last
connection it cannot have made more than ``max_attempts(E)`` of them; a slower machine
only makes fewer. The test allows twice that, plus two.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from byzlab.network.keys import generate_keys
from byzlab.node.params import Params

INITIAL_S = 0.02  # NodeConfig defaults
MAX_S = 1.0
RUN_S = 4.0


def max_attempts(elapsed: float, initial: float = INITIAL_S, cap: float = MAX_S) -> int:
    """The most connection attempts the backoff schedule allows in ``elapsed`` seconds."""
    attempts, spent, delay = 1, 0.0, initial
    while True:
        spent += 0.5 * delay  # the shortest sleep the jitter can give
        if spent > elapsed:
            return attempts
        attempts += 1
        delay = min(delay * 2, cap)


def test_max_attempts_follows_the_schedule() -> None:
    assert max_attempts(0.0) == 1
    assert max_attempts(0.01) == 2  # 0.5 * 0.02
    assert max_attempts(0.03) == 3  # + 0.5 * 0.04
    # 0.01+0.02+0.04+0.08+0.16+0.32 = 0.63, then 0.5 a time (capped at 1 s, jitter 0.5)
    assert max_attempts(0.631) == 7 and max_attempts(1.131) == 8


def write_node_config(tmp_path: Path, port: int) -> Path:
    n = 4
    key_dir = tmp_path / "keys"
    generate_keys(n + 1, key_dir, "reconnect-test")
    config = {
        "node": 0,
        "params": Params.practical(n, 1).to_dict(),
        "protocol": "hpz",
        "input": 1,
        "seed": 0,
        "run_id": "reconnect-test",
        "key_dir": str(key_dir),
        "proxy_port": port,
        "out_dir": str(tmp_path / "out"),
        "timeout_s": RUN_S,
        "backoff_initial_s": INITIAL_S,
        "backoff_max_s": MAX_S,
    }
    path = tmp_path / "node.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.asyncio
async def test_a_node_backs_off_from_an_endpoint_that_accepts_and_closes(tmp_path: Path) -> None:
    accepted: list[float] = []

    async def accept_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(time.monotonic())
        writer.close()

    server = await asyncio.start_server(accept_and_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = write_node_config(tmp_path, port)
    log = (tmp_path / "node.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "byzlab.network.tcp",
        "--config",
        str(config),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(60):
            status = await proc.wait()  # the node gives up after timeout_s
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
        server.close()
        await server.wait_closed()
    assert status == 0, (tmp_path / "node.log").read_text()[-3000:]
    assert len(accepted) >= 2, "the node never came back after the first close"
    elapsed = accepted[-1] - accepted[0]
    bound = 2 * max_attempts(elapsed) + 2
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert len(accepted) <= bound, (
        f"{len(accepted)} connections in {elapsed:.2f} s (schedule allows "
        f"{max_attempts(elapsed)}); node counters {result['counters']}"
    )
    assert result["stop_reason"] == "timeout"
    assert result["counters"]["sessions_failed"] >= len(accepted) - 1, result["counters"]
