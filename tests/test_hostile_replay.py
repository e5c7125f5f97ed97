"""A hello captured earlier in the run is refused after a proxy restart (hostile-input
item 5).

The proxy's anti-replay state (``auth.LinkReceiver``) lives in the process, so a restarted
proxy had forgotten every hello it accepted: a hello recorded earlier in the same run (same
run id, so the MAC still verifies) was accepted again and the connection that sent it took
the node's place, closing the real node's connection. Now the proxy accepts a hello only
if its sequence number is above every hello (and side-channel frame) it has accepted from
that node in the run, and it writes that high-water mark to its statistics file *before*
the hello takes effect, so a restart (even by SIGKILL) remembers it.

Everything is real: the proxy process is SIGKILLed and started again on the same port and
statistics file; the hellos are sealed with the node's real key.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from byzlab.network.control import START
from tests.test_hostile_util import Client, ProxyProc

N = 4


async def _replay(port: int, frame: bytes) -> bool:
    """Send a recorded hello on a fresh connection; True if the proxy closed it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame)
        await writer.drain()
        try:
            async with asyncio.timeout(5):
                return await reader.read() == b""
        except TimeoutError:
            return False  # still open: the proxy took it for the node
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.asyncio
async def test_a_recorded_hello_is_refused_after_a_proxy_restart(tmp_path: Path) -> None:
    proxy = ProxyProc(tmp_path, N)
    clients = [Client(i, proxy.key_dir, N) for i in range(N)]
    try:
        recorded = await clients[0].connect(proxy.port)  # what an eavesdropper keeps
        await proxy.wait_stats(lambda s: s.get("connected") == 1)
        proxy.kill()
        await clients[0].close()
        proxy.start()  # same port, same statistics file: incarnation 2
        # Before the real node is back.
        assert await _replay(proxy.port, recorded), "a recorded hello was accepted"
        # The real node reconnects with a fresh hello; a replay must not displace it.
        await clients[0].connect(proxy.port)
        await proxy.wait_stats(lambda s: s.get("connected") == 1)
        assert await _replay(proxy.port, recorded), "a recorded hello displaced the node"
        for c in clients[1:]:
            await c.connect(proxy.port)
        for c in clients:  # node 0's own connection is still the one the proxy uses
            assert await c.control_item() == START
        stats = await proxy.wait_stats(lambda s: s.get("started") is True)
        assert stats["drops"] == {"hello-replay": 2}, stats["drops"]
        assert stats["incarnation"] == 2 and stats["connected"] == N, stats
    finally:
        for c in clients:
            await c.close()
        proxy.stop()


@pytest.mark.asyncio
async def test_an_unused_older_hello_cannot_displace_the_node(tmp_path: Path) -> None:
    """A hello sealed earlier but never delivered (held back by whoever captured it) has a
    lower sequence number than the node's latest one: within the anti-replay window it was
    accepted, once, and displaced the node."""
    proxy = ProxyProc(tmp_path, N)
    clients = [Client(i, proxy.key_dir, N) for i in range(N)]
    try:
        held_back = clients[0].hello()  # sealed, never delivered by the network
        await clients[0].connect(proxy.port)  # the node's next hello: a higher seq
        await proxy.wait_stats(lambda s: s.get("connected") == 1)
        assert await _replay(proxy.port, held_back), "an older hello displaced the node"
        for c in clients[1:]:
            await c.connect(proxy.port)
        for c in clients:
            assert await c.control_item() == START
        stats = await proxy.wait_stats(lambda s: s.get("started") is True)
        assert stats["drops"] == {"hello-replay": 1}, stats["drops"]
        assert stats["counts"]["connections"] == N, stats["counts"]  # none displaced
    finally:
        for c in clients:
            await c.close()
        proxy.stop()
