"""Attacks on the network layer, each run once on real processes, with their figures.

    python benchmarks/bench_attacks_infra.py [--out DIR] [--only NAME,...]

Everything on 127.0.0.1: the real proxy process, real node processes (local backend),
real MACs. The attacks are those of the "Hold under attack" issue; the tests that pin
them down are ``tests/test_hostile_*.py``. Figures, not assertions:

* ``preauth``: 1,000 connections that never finish a hello (500 announce a 1 MiB first
  frame and send all of it but the last byte, 500 trickle an 8 KiB first frame), all
  held open together: the proxy's peak RSS (VmHWM) idle and under attack, and how the
  connections were refused.
* ``stall``: n = 7; node 5 stops reading (SIGSTOP) and corrupted node 6 sends it 320 frames
  of 1 MiB with valid MACs, with the default ``max_queue_bytes`` (256 MiB): whether the five
  running honest nodes decide, their latency, what was dropped, and the proxy's peak RSS.
* ``crash-before-hello``: n = 4, node 1 killed right after it is spawned: whether the run
  decides, how long the start waited (``start_grace_s``, default 10 s) and the latency.
* ``replay``: a hello recorded in incarnation 1 played to the restarted proxy, before
  and after the node is back: how many were refused.
* ``reconnect``: a node against an endpoint that accepts and closes, for 5 s: connection
  attempts, and what the backoff schedule allows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_hostile_reconnect import max_attempts, write_node_config  # noqa: E402
from tests.test_hostile_util import Client, ProxyProc, status_kib  # noqa: E402

from byzlab.network.control import START  # noqa: E402
from byzlab.network.framing import MAX_FRAME  # noqa: E402
from byzlab.orchestration.local import LocalRun  # noqa: E402
from byzlab.orchestration.scenario import parse_scenario  # noqa: E402

# --------------------------------------------------------------------------- preauth


async def _preauth(tmp: Path) -> dict[str, Any]:
    proxy = ProxyProc(tmp, 4)
    socks: list[socket.socket] = []
    loop = asyncio.get_running_loop()

    async def send(sock: socket.socket, data: bytes) -> bool:
        try:
            await loop.sock_sendall(sock, data)
        except (ConnectionError, OSError):
            return False
        return True

    try:
        idle = status_kib(proxy.pid, "VmHWM")
        large = struct.pack("!I", MAX_FRAME) + bytes(MAX_FRAME - 1)
        trickle = struct.pack("!I", 8192) + bytes(8191)
        sends = []
        started = time.monotonic()
        for k in range(1000):
            sock = socket.socket()
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", proxy.port))
            socks.append(sock)
            sends.append(asyncio.create_task(send(sock, large if k < 500 else trickle)))
        written = sum(await asyncio.gather(*sends))
        await asyncio.sleep(1.0)
        peak = status_kib(proxy.pid, "VmHWM")
        rss_held = status_kib(proxy.pid, "VmRSS")
        clients = [Client(i, proxy.key_dir, 4) for i in range(4)]
        for c in clients:
            await c.connect(proxy.port)
        works = all([await c.control_item() == START for c in clients])
        for c in clients:
            await c.close()
        for s in socks:
            s.close()
        await asyncio.sleep(1.0)
        stats = proxy.stats()
        return {
            "connections": 1000,
            "fully_written": written,
            "attack_s": round(time.monotonic() - started, 2),
            "idle_peak_rss_mib": round(idle / 1024, 1),
            "peak_rss_mib": round(peak / 1024, 1),
            "growth_mib": round((peak - idle) / 1024, 1),
            "rss_while_held_mib": round(rss_held / 1024, 1),
            "rss_after_mib": round(status_kib(proxy.pid, "VmRSS") / 1024, 1),
            "run_starts_afterwards": works,
            "drops": stats.get("drops"),
        }
    finally:
        for s in socks:
            s.close()
        proxy.stop()


# --------------------------------------------------------------------------- stall


def _round(x: object) -> object:
    return round(x, 3) if isinstance(x, float) else x


def _wait_for(cond: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _stall(tmp: Path, frames: int = 320) -> dict[str, Any]:
    victim, byz = 5, 6
    scn = parse_scenario(
        {
            "run": {"n": 7, "seed": 11, "timeout_s": 60},
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
        "done_file": str(tmp / "done.json"),
        "garbage_frames": 0,
        "forged_frames": 0,
        "invalid_frames": 0,
        "oversized": False,
        "hold_start": False,
        "stall_frames": frames,
    }
    with LocalRun(
        scn, out_root=tmp / "r", proxy_options={"inject": inject}, node_options={"linger_s": 1.0}
    ) as lr:
        lr.start()
        _wait_for(lambda: lr.status().get("connected") == 6, 60, "the nodes")
        procs = lr.node_procs()
        os.killpg(procs[victim].pid, signal.SIGSTOP)
        lr.signal_proxy(signal.SIGUSR1)
        _wait_for(
            lambda: all(p.poll() is not None for i, p in procs.items() if i != victim),
            120,
            "the running nodes to exit",
        )
        proxy_pid = lr.procs["proxy"].pid
        peak = status_kib(proxy_pid, "VmHWM")
        stats = lr.status()
        os.killpg(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait()
        outcome = lr.collect(lr.wait(timeout=30))
    s = outcome.summary
    return {
        "n": 7,
        "flood_frames": frames,
        "frame_mib": 1,
        "max_queue_mib": 256,
        "decided": sorted(s["honest_decisions"]),
        "agreed": s["agreed"],
        "valid": s["valid"],
        "latency_s": _round(s.get("latency_s")),
        "crashed": s.get("crashed"),
        "messages_relayed": stats.get("messages"),
        "dropped_over_cap": stats["counts"].get("dropped_over_cap", 0),
        "dropped_over_cap_mib": round(stats["counts"].get("dropped_over_cap_bytes", 0) / 2**20, 1),
        "queue_peak_mib": {
            k: round(v / 2**20, 1) for k, v in stats.get("queue_peak_bytes", {}).items()
        },
        "proxy_peak_rss_mib": round(peak / 1024, 1),
    }


# --------------------------------------------------------------------------- crash before hello


class _KillAtSpawn(LocalRun):
    def _spawn(self, name: str, module: str, config: Path) -> subprocess.Popen[bytes]:
        proc = super()._spawn(name, module, config)
        if name == "node-1":
            os.killpg(proc.pid, signal.SIGKILL)
        return proc


def _crash_before_hello(tmp: Path) -> dict[str, Any]:
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": 4, "timeout_s": 60},
            "adversary": {"scheduler": "random", "delta_s": 0.005},
        }
    )
    with _KillAtSpawn(scn, out_root=tmp) as lr:
        began = time.monotonic()
        began_wall = time.time()
        lr.start()
        outcome = lr.collect(lr.wait(timeout=90))
        stats = json.loads((outcome.out_dir / "proxy-stats.json").read_text())
    s = outcome.summary
    return {
        "n": 4,
        "agreed": s["agreed"],
        "valid": s["valid"],
        "decided": sorted(s["honest_decisions"]),
        "crashed": s.get("crashed"),
        "never_connected": stats.get("never_connected"),
        "start_grace_s": stats.get("start_grace_s"),
        "start_after_s": round(stats["start_wall"] - began_wall, 2)
        if stats.get("start_wall")
        else None,
        "latency_s": _round(s.get("latency_s")),
        "wall_s": round(time.monotonic() - began, 2),
    }


# --------------------------------------------------------------------------- replay


async def _replay(tmp: Path) -> dict[str, Any]:
    proxy = ProxyProc(tmp, 4)
    clients = [Client(i, proxy.key_dir, 4) for i in range(4)]

    async def replayed(frame: bytes) -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(frame)
        try:
            async with asyncio.timeout(5):
                return await reader.read() != b""
        except TimeoutError:
            return True  # kept open: accepted
        finally:
            writer.close()

    try:
        recorded = await clients[0].connect(proxy.port)
        await proxy.wait_stats(lambda s: s.get("connected") == 1)
        proxy.kill()
        await clients[0].close()
        proxy.start()
        before = await replayed(recorded)
        await clients[0].connect(proxy.port)
        await proxy.wait_stats(lambda s: s.get("connected") == 1)
        after = await replayed(recorded)
        await asyncio.sleep(0.2)
        return {
            "accepted_before_node_back": before,
            "accepted_after_node_back": after,
            "drops": proxy.stats().get("drops"),
        }
    finally:
        for c in clients:
            await c.close()
        proxy.stop()


# --------------------------------------------------------------------------- reconnect


async def _reconnect(tmp: Path) -> dict[str, Any]:
    accepted: list[float] = []

    async def accept_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(time.monotonic())
        writer.close()

    server = await asyncio.start_server(accept_and_close, "127.0.0.1", 0)
    config = write_node_config(tmp, server.sockets[0].getsockname()[1])
    data = json.loads(config.read_text())
    data["timeout_s"] = 5.5
    config.write_text(json.dumps(data))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "byzlab.network.tcp",
        "--config",
        str(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await proc.wait()
    server.close()
    await server.wait_closed()
    result = json.loads((tmp / "out" / "result.json").read_text())
    elapsed = accepted[-1] - accepted[0] if accepted else 0.0
    return {
        "window_s": 5.5,
        "attempts": len(accepted),
        "between_first_and_last_s": round(elapsed, 2),
        "schedule_allows": max_attempts(elapsed),
        "node_counters": result["counters"],
    }


ATTACKS: dict[str, Callable[[Path], Any]] = {
    "preauth": lambda tmp: asyncio.run(_preauth(tmp)),
    "stall": _stall,
    "crash-before-hello": _crash_before_hello,
    "replay": lambda tmp: asyncio.run(_replay(tmp)),
    "reconnect": lambda tmp: asyncio.run(_reconnect(tmp)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--only", default=",".join(ATTACKS), help=f"comma-separated, of {', '.join(ATTACKS)}"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="byzlab-attacks-") as tmp:
        for name in args.only.split(","):
            where = Path(tmp) / name
            where.mkdir()
            began = time.monotonic()
            results[name] = ATTACKS[name](where)
            results[name]["bench_s"] = round(time.monotonic() - began, 1)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "attacks_infra.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out / 'attacks_infra.json'}")


if __name__ == "__main__":
    main()
