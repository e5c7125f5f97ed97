"""Helpers for the hostile-network tests (no tests here): a real proxy process that can be
killed and restarted on the same port and statistics file, and a stand-in client that
holds a real node's keys and speaks the wire format (hello, sealed frames, snapshots).

Everything runs on 127.0.0.1 with real sockets and real MACs; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from byzlab.atomicio import read_json
from byzlab.network.auth import LinkFrame, LinkReceiver, LinkSender, link_keys_for
from byzlab.network.control import HELLO
from byzlab.network.framing import FrameDecoder, FrameError, encode_frame, pack_batch, unpack_batch
from byzlab.network.keys import generate_keys, load_private_key, load_roster
from byzlab.node.params import Params


def strict_json(path: Path) -> Any:
    """Parse a JSON file as RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{path}: {token} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


class ProxyProc:
    """The proxy as a real process (``python -m byzlab.adversary.proxy``)."""

    def __init__(
        self, tmp: Path, n: int = 4, *, run_id: str = "hostile-test", **overrides: Any
    ) -> None:
        self.tmp = tmp
        self.n = n
        self.key_dir = tmp / "keys"
        generate_keys(n + 1, self.key_dir, run_id)
        self.stats_file = tmp / "stats.json"
        self.ready_file = tmp / "ready.json"
        f = (n - 1) // 3
        self.config: dict[str, Any] = {
            "params": Params.practical(n, f).to_dict(),
            "protocol": "hpz",
            "inputs": [1 if i % 2 == 0 else -1 for i in range(n)],
            "seed": 5,
            "run_id": run_id,
            "key_dir": str(self.key_dir),
            "scheduler": "fifo",
            "delta_s": 0.0,
            "stats_file": str(self.stats_file),
            "ready_file": str(self.ready_file),
            "stats_interval_s": 0.05,
            **overrides,
        }
        self.log = tmp / "proxy.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> int:
        path = self.tmp / "proxy.json"
        path.write_text(json.dumps({**self.config, "port": self.port}))
        self.ready_file.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "byzlab.adversary.proxy", "--config", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while (
            not isinstance(ready := read_json(self.ready_file), dict)
            or ready.get("pid") != self.proc.pid
        ):
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.02)
        self.port = int(ready["port"])
        return self.port

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stats(self) -> dict[str, Any]:
        data = read_json(self.stats_file)
        return data if isinstance(data, dict) else {}

    def kill(self) -> None:
        """SIGKILL: no goodbye, nothing flushed."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    async def wait_stats(self, predicate: Any, within: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            stats = self.stats()
            if stats and predicate(stats):
                return stats
            assert time.monotonic() < deadline, (stats, self.log.read_text()[-3000:])
            await asyncio.sleep(0.02)


class Client:
    """A stand-in for node ``me``: its real keys, a real TCP connection, no protocol."""

    def __init__(self, me: int, key_dir: Path, n: int) -> None:
        keys = link_keys_for(me, load_private_key(key_dir, me), load_roster(key_dir))
        self.me = me
        self.n = n
        self.senders = {
            d: LinkSender(sender=me, receiver=d, key=k.send_key) for d, k in keys.items() if d != me
        }
        self.control_key = keys[n].recv_key
        self.decoder = FrameDecoder()
        self.pending: list[bytes] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def hello(self, **extra: Any) -> bytes:
        """A sealed hello frame (length prefix included): what a node sends first."""
        item = {"t": HELLO, "node": self.me, "started": False, "snapshot": None, **extra}
        return encode_frame(self.senders[self.n].seal(pack_batch([item])))

    async def connect(self, port: int, hello: bytes | None = None) -> bytes:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.decoder = FrameDecoder()
        self.pending = []
        self.control = LinkReceiver(receiver=self.me, keys={self.n: self.control_key})
        frame = self.hello() if hello is None else hello
        self.writer.write(frame)
        await self.writer.drain()
        return frame

    def send(self, dst: int, items: list[object]) -> bytes:
        assert self.writer is not None
        body = self.senders[dst].seal(pack_batch(items))
        self.writer.write(encode_frame(body))
        return body

    async def frame(self, within: float = 10.0) -> bytes:
        assert self.reader is not None
        async with asyncio.timeout(within):
            while not self.pending:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("the proxy closed the connection")
                for item in self.decoder.feed(data):
                    assert not isinstance(item, FrameError), item
                    self.pending.append(item)
        return self.pending.pop(0)

    async def control_item(self, within: float = 10.0) -> str:
        body = await self.frame(within)
        opened = self.control.open(body)
        assert isinstance(opened, LinkFrame), opened
        items = unpack_batch(opened.payload)
        assert isinstance(items, list) and isinstance(items[0], dict)
        return str(items[0]["t"])

    async def closed_by_peer(self, within: float = 10.0) -> bool:
        """True if the proxy closes this connection within ``within`` seconds."""
        assert self.reader is not None
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except (ConnectionError, OSError):
            return True
        return True

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
            self.writer = None


def finite(x: object) -> bool:
    return not isinstance(x, float) or math.isfinite(x)
