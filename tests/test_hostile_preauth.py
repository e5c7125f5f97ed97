"""Pre-authentication memory: 1,000 connections that never finish a hello cannot grow the
proxy (hostile-input item 1).

An unprivileged local user can connect to the proxy's port as often as it likes. Before
a hello is authenticated the proxy must hold next to nothing per connection: the first
frame may be at most ``PREAUTH_MAX_FRAME`` (16 KiB; a hello is about 200 bytes), a longer
length prefix is refused at once (``framing-oversized``), and at most
``max_pending_hellos`` connections wait for their hello at a time (the oldest is closed
when one more arrives, counted as ``hello-evicted``).

The bound asserted: the proxy's peak resident set (VmHWM, reported in its statistics as
``max_rss_kib``) grows by less than ``GROWTH_BOUND_MIB`` = 32 MiB over its idle peak while
500 connections send a 1 MiB length prefix and a whole body but its last byte, and 500
more trickle an 8 KiB first frame that never completes, all held open together. Before
the fix it buffered about 1 MiB per connection for the 10 s hello timeout: 1,000
connections took it from 58 MiB to 1.2 GiB. Then four clients with real keys connect
(the trickling connections still open), the run starts and relays.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest

from byzlab.network.control import START
from byzlab.network.framing import MAX_FRAME
from byzlab.node.messages import DecideMsg, encode
from tests.test_hostile_util import Client, ProxyProc, status_kib

N = 4
LARGE = 500  # connections announcing a 1 MiB first frame
TRICKLE = 500  # connections trickling an 8 KiB first frame that never completes
GROWTH_BOUND_MIB = 32


async def _open(port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    return sock


async def _send(sock: socket.socket, data: bytes) -> bool:
    """True if everything was written; False if the proxy closed the connection first."""
    try:
        await asyncio.get_running_loop().sock_sendall(sock, data)
    except (ConnectionError, OSError):
        return False
    return True


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_thousand_pending_connections_keep_the_proxy_small(tmp_path: Path) -> None:
    proxy = ProxyProc(tmp_path, N)
    socks: list[socket.socket] = []
    clients = [Client(i, proxy.key_dir, N) for i in range(N)]
    try:
        idle = (await proxy.wait_stats(lambda s: s.get("max_rss_kib")))["max_rss_kib"]
        large = struct.pack("!I", MAX_FRAME) + bytes(MAX_FRAME - 1)  # all but the last byte
        trickle = struct.pack("!I", 8192) + bytes(8191)
        async with asyncio.timeout(180):
            sends = []
            for k in range(LARGE + TRICKLE):  # each writes as soon as it is connected
                socks.append(await _open(proxy.port))
                data = large if k < LARGE else trickle
                sends.append(asyncio.create_task(_send(socks[-1], data)))
            sent = await asyncio.gather(*sends)
            await asyncio.sleep(1.0)  # all 1,000 held open at once
            assert proxy.proc is not None and proxy.proc.poll() is None, "the proxy died"
            stats = await proxy.wait_stats(lambda s: s.get("connected") == 0)
            peak_during = status_kib(proxy.pid, "VmHWM")
            # The run still works, with the trickling connections still open.
            for c in clients:
                await c.connect(proxy.port)
            for c in clients:
                assert await c.control_item() == START
            body = clients[0].send(1, [encode(DecideMsg(1))])
            assert await clients[1].frame() == body
        for s in socks:
            s.close()
        socks.clear()
        reasons = (
            "framing-oversized",
            "hello-evicted",
            "hello-timeout",
            "hello-missing",
            "framing-truncated",
        )

        def refused(stats: dict[str, object]) -> int:
            drops = stats.get("drops")
            assert isinstance(drops, dict)
            return sum(int(drops.get(r, 0)) for r in reasons)

        stats = await proxy.wait_stats(lambda s: refused(s) >= LARGE + TRICKLE)
        print(f"proxy peak RSS: idle {idle} KiB, under attack {peak_during} KiB; {stats['drops']}")
        growth_mib = (peak_during - idle) / 1024
        assert growth_mib < GROWTH_BOUND_MIB, (
            f"proxy peak RSS grew {growth_mib:.0f} MiB (idle peak {idle} KiB, "
            f"{sum(sent)} of {len(sent)} connections fully written)",
            stats.get("drops"),
        )
        drops = stats["drops"]
        assert 1 <= drops.get("framing-oversized", 0) <= LARGE, drops
        # The trickling connections wait at most max_pending_hellos (256) at a time: the
        # others were closed, and counted.
        assert drops.get("hello-evicted", 0) >= TRICKLE - 256, drops
        # Every one of the 1,000 connections was refused once, under one reason.
        assert refused(stats) == LARGE + TRICKLE, drops
        assert "hello-missing" not in drops, drops  # an oversized prefix is not "missing"
        assert stats["messages"] == 1, stats
    finally:
        for s in socks:
            s.close()
        for c in clients:
            await c.close()
        proxy.stop()
