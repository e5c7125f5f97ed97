"""The adversary proxy as a real process, driven by test clients that speak the wire format.

The clients hold real node keys and do what an honest node does on the wire (hello,
frames sealed per destination, snapshots), so these tests check the proxy's contract
directly: it relays bytes unchanged after the scheduled delay, refuses frames a node
sends in someone else's name, holds the start until every honest node is connected,
and ends the run when every honest node has halted. The flood test sends a real node
hostile frames through the proxy's test-only injection and checks that it neither
crashes nor grows; the last test checks the state oracle handed to strategies.
"""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byzlab.adversary.proxy.config import ByzantineSpec, ProxyConfig
from byzlab.adversary.proxy.runtime import Proxy
from byzlab.adversary.strategies import STRATEGIES, ByzantineNode
from byzlab.atomicio import read_json
from byzlab.network.auth import LinkFrame, LinkReceiver, LinkSender, link_keys_for
from byzlab.network.control import DONE, HELLO, SNAPSHOT, START
from byzlab.network.framing import FrameDecoder, FrameError, encode_frame, pack_batch, unpack_batch
from byzlab.network.keys import generate_keys, load_private_key
from byzlab.node.messages import DecideMsg, Kind, Message, RbcMsg, Vote, encode
from byzlab.node.params import Params
from byzlab.orchestration.local import LocalRun
from byzlab.orchestration.scenario import parse_scenario

N = 4


class Client:
    """A test stand-in for node ``me``: real keys, real TCP, no protocol logic."""

    def __init__(self, me: int, key_dir: Path) -> None:
        roster_keys = link_keys_for(me, load_private_key(key_dir, me), _roster(key_dir))
        self.me = me
        self.senders = {
            d: LinkSender(sender=me, receiver=d, key=k.send_key)
            for d, k in roster_keys.items()
            if d != me
        }
        self.link = LinkReceiver(
            receiver=me, keys={s: roster_keys[s].recv_key for s in range(N) if s != me}
        )
        self.control = LinkReceiver(receiver=me, keys={N: roster_keys[N].recv_key})
        self.decoder = FrameDecoder()
        self.pending: list[bytes] = []
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.send(N, [{"t": HELLO, "node": self.me, "started": False, "snapshot": None}])
        await self.writer.drain()

    def send(self, dst: int, items: list[object]) -> bytes:
        body = self.senders[dst].seal(pack_batch(items))
        self.writer.write(encode_frame(body))
        return body

    async def frame(self, within: float = 5.0) -> bytes:
        async with asyncio.timeout(within):
            while not self.pending:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("proxy closed the connection")
                for item in self.decoder.feed(data):
                    assert not isinstance(item, FrameError), item
                    self.pending.append(item)
        return self.pending.pop(0)

    async def control_item(self, within: float = 5.0) -> str:
        body = await self.frame(within)
        opened = self.control.open(body)
        assert isinstance(opened, LinkFrame), opened
        items = unpack_batch(opened.payload)
        assert isinstance(items, list) and isinstance(items[0], dict)
        return str(items[0]["t"])

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _roster(key_dir: Path) -> Any:
    from byzlab.network.keys import load_roster

    return load_roster(key_dir)


class ProxyProcess:
    def __init__(self, tmp: Path, **overrides: Any) -> None:
        self.key_dir = tmp / "keys"
        generate_keys(N + 1, self.key_dir, "proxy-test")
        self.stats_file = tmp / "stats.json"
        self.ready_file = tmp / "ready.json"
        config = {
            "params": Params.practical(N, 1).to_dict(),
            "protocol": "hpz",
            "inputs": [1, -1, 1, -1],
            "seed": 5,
            "key_dir": str(self.key_dir),
            "scheduler": "fifo",
            "delta_s": 0.2,
            "stats_file": str(self.stats_file),
            "ready_file": str(self.ready_file),
            "stats_interval_s": 0.05,
            **overrides,
        }
        path = tmp / "proxy.json"
        path.write_text(json.dumps(config))
        self.log = tmp / "proxy.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "byzlab.adversary.proxy", "--config", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while not isinstance(ready := read_json(self.ready_file), dict):
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.02)
        self.port = int(ready["port"])

    def stats(self) -> dict[str, Any]:
        data = read_json(self.stats_file)
        return data if isinstance(data, dict) else {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    p = ProxyProcess(tmp_path)
    try:
        yield p
    finally:
        p.stop()


@pytest_asyncio.fixture
async def clients(proxy: ProxyProcess) -> AsyncIterator[list[Client]]:
    made = [Client(i, proxy.key_dir) for i in range(N)]
    try:
        yield made
    finally:
        for c in made:
            if hasattr(c, "writer"):
                await c.close()


async def wait_stats(
    proxy: ProxyProcess, key: str, predicate: Any, within: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        stats = proxy.stats()
        if predicate(stats.get(key)):
            return stats
        assert time.monotonic() < deadline, (key, stats, proxy.log.read_text()[-2000:])
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- wire contract


@pytest.mark.asyncio
async def test_start_waits_for_every_honest_node(
    proxy: ProxyProcess, clients: list[Client]
) -> None:
    for c in clients[:3]:
        await c.connect(proxy.port)
    await wait_stats(proxy, "connected", lambda v: v == 3)
    with pytest.raises(TimeoutError):
        await clients[0].frame(within=0.3)
    await clients[3].connect(proxy.port)
    for c in clients:
        assert await c.control_item() == START
    assert proxy.stats()["started"] is True or (
        await wait_stats(proxy, "started", lambda v: v is True)
    )


@pytest.mark.asyncio
async def test_frames_are_relayed_unchanged_after_the_scheduled_delay(
    proxy: ProxyProcess, clients: list[Client]
) -> None:
    for c in clients:
        await c.connect(proxy.port)
    for c in clients:
        assert await c.control_item() == START
    sent_at = time.monotonic()
    body = clients[0].send(1, [encode(DecideMsg(1))])
    received = await clients[1].frame()
    elapsed = time.monotonic() - sent_at
    assert received == body  # byte for byte: the proxy cannot and does not alter it
    assert elapsed >= 0.2 * 0.95, elapsed  # fifo: every frame takes delta_s = 0.2 s
    opened = clients[1].link.open(received)
    assert isinstance(opened, LinkFrame) and opened.sender == 0
    stats = await wait_stats(proxy, "messages", lambda v: v == 1)
    assert stats["messages_by_kind"] == {"DECIDE": 1} and stats["bytes"] == len(body) + 4


@pytest.mark.asyncio
async def test_a_node_cannot_send_in_another_nodes_name(
    proxy: ProxyProcess, clients: list[Client]
) -> None:
    for c in clients:
        await c.connect(proxy.port)
    for c in clients:
        assert await c.control_item() == START
    # Client 0 sends a frame that claims to come from node 2 (sealed with 2's key even,
    # which an honest-key thief could do): it arrives on 0's connection, so it is refused.
    forged = clients[2].senders[1].seal(pack_batch([encode(DecideMsg(1))]))
    clients[0].writer.write(encode_frame(forged))
    # And one of its own frames, readdressed to an id outside the run.
    own = clients[0].senders[1].seal(pack_batch([encode(DecideMsg(1))]))
    clients[0].writer.write(encode_frame(own[:5] + (9).to_bytes(4, "big") + own[9:]))
    await clients[0].writer.drain()
    stats = await wait_stats(proxy, "drops", lambda v: bool(v) and len(v) == 2)
    assert stats["drops"] == {"wrong-sender": 1, "bad-destination": 1}
    with pytest.raises(TimeoutError):
        await clients[1].frame(within=0.5)


async def refused(port: int, frame_body: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(encode_frame(frame_body))
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the proxy closed the connection
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.asyncio
async def test_a_bad_hello_is_refused(proxy: ProxyProcess, clients: list[Client]) -> None:
    # Not addressed to the proxy at all.
    await refused(proxy.port, b"\x01" + bytes(40))
    # Addressed right, claiming node 1, but the MAC is not node 1's.
    await refused(proxy.port, struct.pack("!BIIQ", 1, 1, N, 1) + b"\x91\x80" + bytes(16))
    # Sealed with node 0's real key, but the hello names node 2.
    hello = clients[0].senders[N].seal(pack_batch([{"t": HELLO, "node": 2}]))
    await refused(proxy.port, hello)
    stats = await wait_stats(proxy, "drops", lambda v: bool(v) and len(v) == 3)
    assert stats["drops"] == {"hello-bad-route": 1, "hello-bad_mac": 1, "hello-malformed": 1}
    assert stats["connected"] == 0 and stats["started"] is False


@pytest.mark.asyncio
async def test_done_when_every_honest_node_halted_then_exit(
    proxy: ProxyProcess, clients: list[Client]
) -> None:
    for c in clients:
        await c.connect(proxy.port)
    for c in clients:
        assert await c.control_item() == START
    for c in clients:
        c.send(N, [{"t": SNAPSHOT, "s": {"node": c.me, "decision": 1, "halted": True}}])
        await c.writer.drain()
    for c in clients:
        assert await c.control_item() == DONE
    for c in clients:
        await c.close()
    del clients[:]
    assert proxy.proc.wait(timeout=10) == 0, proxy.log.read_text()
    final = proxy.stats()
    assert final["final"] is True and final["done"] is True and final["halted"] == N


# --------------------------------------------------------------------------- hostile input


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


@pytest.mark.slow
def test_garbage_oversized_and_invalid_frames_neither_crash_nor_grow_a_node(tmp_path: Path) -> None:
    done_file = tmp_path / "inject-done.json"
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 8},
            "adversary": {
                "scheduler": "random",
                "byzantine": [{"node": 3, "strategy": "equivocate"}],
            },
        }
    )
    inject = {
        "target": 0,
        "from_node": 3,
        "done_file": str(done_file),
        "garbage_frames": 4000,
        "forged_frames": 1000,
        "invalid_frames": 4000,
    }
    with LocalRun(scn, out_root=tmp_path / "r", proxy_options={"inject": inject}) as lr:
        where = lr.describe()
        lr.start()
        deadline = time.monotonic() + 30
        while lr.status().get("connected") != 3:
            assert time.monotonic() < deadline, where
            time.sleep(0.02)
        pid = lr.procs["node-0"].pid
        time.sleep(0.3)  # let start-up allocations settle
        before = vm_rss_kib(pid)
        lr.signal_proxy(signal.SIGUSR1)  # flood
        while (
            not done_file.exists()
            or lr.status().get("connected") != 3
            or lr.status().get("counts", {}).get("connections", 0) < 4
        ):
            assert time.monotonic() < deadline, (where, lr.status())
            time.sleep(0.02)
        time.sleep(0.5)  # the node works through what it had read before the reset
        assert lr.procs["node-0"].poll() is None, f"node 0 died: {where}"
        after = vm_rss_kib(pid)
        lr.signal_proxy(signal.SIGUSR1)  # now run the protocol
        waited = lr.wait(timeout=60)
    outcome = lr.collect(waited)
    s = outcome.summary
    assert s["agreed"] and s["valid"], where
    assert after - before < 50 * 1024, f"RSS grew {before} -> {after} KiB ({where})"
    injected = json.loads(done_file.read_text())
    assert injected == {"garbage": 4000, "forged": 1000, "invalid": 4000, "oversized": 1}
    res = json.loads((lr.node_dir(0) / "out" / "result.json").read_text())
    drops = res["drops"]
    assert drops["framing-oversized"] == 1, (drops, where)
    assert res["counters"]["reconnects"] >= 1, where
    assert drops["link-bad_mac"] >= 1000, (drops, where)  # forged, and garbage that parsed
    for reason in ("batch-malformed", "batch-not_a_batch", "batch-too_many_items"):
        assert drops.get(reason, 0) >= 1, (reason, drops, where)
    assert res["counters"]["messages_invalid"] >= 10_000, (res["counters"], where)
    assert res["decode_errors"]["not-a-list"] >= 1 and res["decode_errors"]["bad-origin"] >= 1
    assert res["rbc_dropped"], (res["rbc_dropped"], where)  # INITIAL not from its origin, etc.
    assert res["rejected"].get("duplicate-decide", 0) >= 1, (res["rejected"], where)
    trace = (outcome.out_dir / "traces" / "node-0.jsonl").read_text().splitlines()
    assert len(trace) < 2000, "the trace is capped per event kind"
    assert json.loads(trace[-1])["suppressed"]["invalid-message"] > 0


# --------------------------------------------------------------------------- state oracle


class Peeker(ByzantineNode):
    """A strategy that wants the adversary's state oracle (declares ``oracle``)."""

    name = "peeker"
    oracle: Mapping[int, Mapping[str, Any]] | None = None


def test_strategies_with_an_oracle_attribute_get_a_read_only_live_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(STRATEGIES, "peeker", Peeker)
    key_dir = tmp_path / "keys"
    generate_keys(N + 1, key_dir, "oracle-test")
    config = ProxyConfig(
        params=Params.practical(N, 1).to_dict(),
        protocol="hpz",
        inputs=[1, -1, 1, -1],
        seed=1,
        key_dir=str(key_dir),
        stats_file=str(tmp_path / "s.json"),
        ready_file=str(tmp_path / "r.json"),
        byzantine=[ByzantineSpec(node=3, strategy="peeker")],
    )
    proxy = Proxy(config)
    strategy = proxy.byzantine.actors[3].strategy
    assert isinstance(strategy, Peeker) and isinstance(strategy.oracle, MappingProxyType)
    proxy.side.set_snapshot(0, 5, {"node": 0, "phase": "vote", "halted": False})
    assert strategy.oracle[0]["phase"] == "vote"  # live: sees what the proxy learns
    with pytest.raises(TypeError):
        strategy.oracle[0] = {}  # type: ignore[index]


# --------------------------------------------------------------------------- what is decoded


def _proxy(tmp_path: Path, **overrides: Any) -> Proxy:
    key_dir = tmp_path / "keys"
    if not key_dir.exists():
        generate_keys(N + 1, key_dir, "inspect-test")
    config = ProxyConfig(
        **{
            "params": Params.practical(N, 1).to_dict(),
            "protocol": "hpz",
            "inputs": [1, -1, 1, -1],
            "seed": 1,
            "key_dir": str(key_dir),
            "stats_file": str(tmp_path / "s.json"),
            "ready_file": str(tmp_path / "r.json"),
            **overrides,
        }
    )
    return Proxy(config)


_PROXIES: dict[str, tuple[Proxy, tempfile.TemporaryDirectory[str]]] = {}


def _fresh(name: str) -> Proxy:
    """A proxy object with empty statistics, built once per test session (keys are slow)."""
    if name not in _PROXIES:
        tmp = tempfile.TemporaryDirectory(prefix="proxy-test-")  # removed at exit
        _PROXIES[name] = (_proxy(Path(tmp.name)), tmp)
    proxy = _PROXIES[name][0]
    proxy.record.kind_counts = [0] * 4
    proxy.record.kind_bytes = [0] * 4
    proxy.record.initials = set()
    proxy.record.counts.clear()
    return proxy


def test_messages_are_decoded_exactly_when_someone_may_inspect_them(tmp_path: Path) -> None:
    assert _proxy(tmp_path).inspect is False  # honest nodes, fifo
    assert _proxy(tmp_path, scheduler="random").inspect is False
    assert _proxy(tmp_path, scheduler="split-vote").inspect is True
    corrupted = _proxy(tmp_path, byzantine=[ByzantineSpec(node=3, strategy="equivocate")])
    assert corrupted.inspect is True
    # The scheduler and the strategies share one full-information view, fed with every
    # message the proxy decodes (as in the simulator).
    assert corrupted.scheduler.view is corrupted.view
    assert corrupted.byzantine.actors[3].strategy.view is corrupted.view
    vote = RbcMsg(int(Kind.INITIAL), 0, 1, Vote(1, 1, -1))
    assert corrupted._decode_payload(0, pack_batch([encode(vote)])) == [vote]
    assert corrupted.view.votes[(1, 1)] == {0: -1}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.builds(
            RbcMsg,
            st.integers(0, 2),
            st.integers(0, N - 1),
            st.integers(1, 50),
            st.builds(
                Vote,
                st.integers(1, 9),
                st.integers(1, 4),
                st.integers(-1, 1),
                st.integers(0, 15),
                st.none() | st.just((1, 2, 3, 4)),
            ),
        )
        | st.builds(DecideMsg, st.sampled_from([-1, 1])),
        max_size=40,
    )
)
def test_census_counts_what_decoding_counts(msgs: list[Message]) -> None:
    """Honest frames: counting without decoding gives the statistics decoding gives."""
    counted, decoded = _fresh("counted"), _fresh("decoded")
    payload = pack_batch([encode(m) for m in msgs])
    # A broadcast round: the same payload to three peers, then another payload; the
    # census remembers the last payload's tally, and every copy must still count.
    other = pack_batch([encode(DecideMsg(1))])
    for body in (payload, payload, bytes(payload), other, payload):
        expected = 1 if body is other else len(msgs)
        assert counted.record.census(memoryview(body)) == expected
        decoded.record.count(decoded._decode_payload(0, body))
    for p in (counted, decoded):
        p.record.counts["messages"] = 4 * len(msgs) + 1
    a, b = counted.stats(), decoded.stats()
    for key in ("messages_by_kind", "bytes_by_kind", "rbc_instances", "rbc_initials"):
        assert a[key] == b[key], key
    assert counted.record.counts["undecodable_messages"] == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(1 << 63), (1 << 64) - 1)
            | st.floats()
            | st.text(max_size=3)
            | st.binary(max_size=5),
            lambda inner: st.lists(inner, max_size=10),
            max_leaves=20,
        ),
        max_size=10,
    )
)
def test_census_never_raises_on_garbage(items: list[object]) -> None:
    proxy = _fresh("garbage")
    counted = proxy.record.census(memoryview(pack_batch(items)))
    assert counted + proxy.record.counts["undecodable_messages"] == len(items)
    assert proxy.record.census(memoryview(b"\xc1")) == 0
    assert proxy.record.counts["undecodable_frames"] == 1


@pytest.mark.parametrize("scheduler", ["fifo", "split-vote"])
@pytest.mark.asyncio
async def test_relayed_statistics_do_not_depend_on_decoding(tmp_path: Path, scheduler: str) -> None:
    proxy = ProxyProcess(tmp_path, scheduler=scheduler, delta_s=0.01)
    made = [Client(i, proxy.key_dir) for i in range(N)]
    try:
        for c in made:
            await c.connect(proxy.port)
        for c in made:
            assert await c.control_item() == START
        batch = [
            encode(RbcMsg(int(Kind.INITIAL), 0, 1, Vote(1, 1, 1))),
            encode(RbcMsg(int(Kind.ECHO), 2, 1, Vote(1, 1, -1))),
            encode(RbcMsg(int(Kind.READY), 2, 1, Vote(1, 1, -1, view=(1, 2, 3, 4)))),
            encode(DecideMsg(1)),
        ]
        bodies = [made[0].send(d, batch) for d in (1, 2, 3)]
        for d in (1, 2, 3):
            assert await made[d].frame() == bodies[d - 1]
        stats = await wait_stats(proxy, "messages_delivered", lambda v: v == 12)
        assert stats["messages"] == 12 and stats["frames_relayed"] == 3
        assert stats["messages_by_kind"] == {"INITIAL": 3, "ECHO": 3, "READY": 3, "DECIDE": 3}
        assert stats["bytes_by_kind"] == {"INITIAL": 42, "ECHO": 42, "READY": 81, "DECIDE": 9}
        assert stats["rbc_instances"] == 1 and stats["bytes"] == sum(len(b) + 4 for b in bodies)
    finally:
        for c in made:
            await c.close()
        proxy.stop()


FRAGILE = '''"""A protocol plugin whose decoder raises on what it should refuse (a test double of a
careless plugin: mmr, except that a non-list message raises TypeError)."""
from byzlab.api import DecodeError
from byzlab.protocols.mmr import MMR


class Fragile(MMR):
    def decoder(self, n):
        decode = super().decoder(n)

        def careless(obj):
            if not isinstance(obj, list):
                raise TypeError("expected a list")
            return decode(obj)

        return careless
'''


@pytest.mark.slow
def test_a_plugin_decoder_that_raises_does_not_crash_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin's decoder is code byzlab has not seen, fed by peers that may be Byzantine: one
    that raises on a crafted message (here any non-list) must cost that message, counted as
    ``decoder-raised-TypeError``, not the node process (byzlab.plugins.decoder)."""
    (tmp_path / "fragileplug.py").write_text(FRAGILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    done_file = tmp_path / "inject-done.json"
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 8, "protocol": "fragileplug:Fragile"},
            "adversary": {
                "scheduler": "random",
                "byzantine": [{"node": 3, "strategy": "equivocate"}],
            },
        }
    )
    inject = {
        "target": 0,
        "from_node": 3,
        "done_file": str(done_file),
        "garbage_frames": 0,
        "forged_frames": 0,
        "invalid_frames": 200,
        "oversized": False,
    }
    with LocalRun(scn, out_root=tmp_path / "r", proxy_options={"inject": inject}) as lr:
        where = lr.describe()
        lr.start()
        deadline = time.monotonic() + 30
        while lr.status().get("connected") != 3:
            assert time.monotonic() < deadline, where
            time.sleep(0.02)
        lr.signal_proxy(signal.SIGUSR1)  # the hostile frames
        while not done_file.exists():
            assert time.monotonic() < deadline, (where, lr.status())
            time.sleep(0.02)
        time.sleep(0.3)  # node 0 works through them
        assert lr.procs["node-0"].poll() is None, f"node 0 died: {where}"
        lr.signal_proxy(signal.SIGUSR1)  # now run the protocol
        waited = lr.wait(timeout=60)
    outcome = lr.collect(waited)
    s = outcome.summary
    assert s["agreed"] and s["valid"], (s, where)
    res = json.loads((lr.node_dir(0) / "out" / "result.json").read_text())
    assert res["decode_errors"].get("decoder-raised-TypeError", 0) >= 1, (res, where)
