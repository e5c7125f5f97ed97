"""Smaller hostile-input cases against a real proxy process (hostile-input item 8).

* An oversized length prefix as a connection's first frame is a framing error, counted as
  ``framing-oversized`` (it used to be counted as ``hello-missing``, which hid it).
* A holder of an honest node's key can put NaN or Infinity into its snapshots; the proxy
  copied them into its statistics file, which then was not JSON (``NaN`` is not a JSON
  token). Snapshots are validated (finite numbers, bounded keys, strings and integers)
  and a bad one is dropped and counted (``side-bad-snapshot``, ``hello-bad-snapshot``).
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from byzlab.network.control import SNAPSHOT, START, clean_snapshot
from byzlab.network.framing import MAX_FRAME
from tests.test_hostile_util import Client, ProxyProc, strict_json

N = 4


async def _first_frame_refused(port: int, data: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # the proxy closed the connection
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.asyncio
async def test_an_oversized_first_prefix_is_counted_as_framing_oversized(tmp_path: Path) -> None:
    proxy = ProxyProc(tmp_path, N)
    try:
        await _first_frame_refused(proxy.port, struct.pack("!I", MAX_FRAME + 1) + bytes(64))
        await _first_frame_refused(proxy.port, struct.pack("!I", 0xFFFFFFFF))
        stats = await proxy.wait_stats(lambda s: sum(s.get("drops", {}).values()) >= 2)
        assert stats["drops"] == {"framing-oversized": 2}, stats["drops"]
    finally:
        proxy.stop()


@pytest.mark.asyncio
async def test_non_finite_snapshot_values_never_reach_the_statistics(tmp_path: Path) -> None:
    proxy = ProxyProc(tmp_path, N)
    clients = [Client(i, proxy.key_dir, N) for i in range(N)]
    try:
        bad = {"node": 0, "phase": "vote", "x": float("nan"), "y": float("inf")}
        await clients[0].connect(proxy.port, clients[0].hello(snapshot=bad))
        for c in clients[1:]:
            await c.connect(proxy.port)
        for c in clients:
            assert await c.control_item() == START
        hostile = [
            {"node": 0, "x": float("nan")},
            {"node": 0, "x": float("-inf")},
            {"node": 0, "big": 1 << 64},  # msgpack refuses to pack it; use the bound below
            {"node": 0, "k" * 65: 1},
            {"node": 0, "s": "v" * 65},
            {f"k{i}": i for i in range(65)},
        ]
        for snap in hostile:
            try:
                clients[0].send(N, [{"t": SNAPSHOT, "s": snap}])
            except (OverflowError, TypeError):
                continue  # not even encodable: nothing to send
        clients[1].send(N, [{"t": SNAPSHOT, "s": {"node": 1, "phase": "vote", "x": 2.5}}])
        for c in clients[:2]:
            assert c.writer is not None
            await c.writer.drain()
        stats = await proxy.wait_stats(
            lambda s: (
                s.get("snapshots", {}).get("1", {}).get("x") == 2.5
                and s.get("drops", {}).get("side-bad-snapshot", 0) >= 5
            )
        )
        data = strict_json(proxy.stats_file)  # valid JSON: no NaN, no Infinity
        assert data["snapshots"].get("0") is None, data["snapshots"]
        assert stats["drops"]["hello-bad-snapshot"] == 1, stats["drops"]
        assert stats["drops"]["side-bad-snapshot"] == 5, stats["drops"]
        assert stats["connected"] == N  # a bad snapshot costs the snapshot, not the node
    finally:
        for c in clients:
            await c.close()
        proxy.stop()
    final = strict_json(proxy.stats_file)
    assert final["final"] is True


def test_clean_snapshot_accepts_finite_bounded_primitives_only() -> None:
    good = {
        "node": 1,
        "phase": "vote",
        "iteration": 3,
        "x": -0.5,
        "decision": None,
        "halted": False,
    }
    assert clean_snapshot(good) == good
    for bad in (
        {"x": float("nan")},
        {"x": float("inf")},
        {"x": float("-inf")},
        {"x": 1 << 64},
        {"x": -(1 << 64)},
        {"x": [1]},
        {1: 1},
        {"x": "v" * 65},
        {"k" * 65: 1},
        {f"k{i}": 0 for i in range(65)},
        ["x"],
    ):
        assert clean_snapshot(bad) is None, bad
