"""Real runs over TCP through the adversary proxy: throughput, latency vs causal depth, scale.

Run:  python benchmarks/bench_tcp.py [--sizes 16,32,64] [--budget 240] [--out DIR]

Measures, on this machine, with real node processes, the real proxy and real MACs:

1. *Throughput*: protocol messages per second through the proxy for n = 7 and n = 16
   (honest nodes, FIFO scheduler, delta_s = 0, i.e. as fast as the processes go):
   messages relayed / wall-clock latency to agreement.
2. *One-hop delay*: the median time for a small frame to go node -> proxy -> node with
   delta_s = 0 (ping-pong between two test clients holding real keys; half the round trip).
3. *Latency vs causal depth*: the simulator's latency under FIFO is the causal depth of
   the run in hops (every message takes exactly delta). A real FIFO run with delay delta_s
   should then take about depth x (delta_s + one-hop delay) if processing kept up; the
   table prints both and their ratio (above 1: processing and queueing on top of the hops).
4. *Scale*: the largest n in --sizes that completes within --budget seconds each
   (honest, FIFO, delta_s = 0), stopping at the first size that does not.

Benchmarks report figures; tests never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from byzlab.network.auth import LinkSender, link_keys_for
from byzlab.network.framing import FrameDecoder, encode_frame, pack_batch
from byzlab.network.keys import generate_keys, load_private_key, load_roster
from byzlab.network.tcp import HELLO
from byzlab.node.messages import DecideMsg, encode
from byzlab.node.params import Params
from byzlab.orchestration.local import RunOutcome, run_local
from byzlab.orchestration.results import read_json
from byzlab.orchestration.scenario import build_simulator, parse_scenario


def real_run(out: Path, n: int, delta_s: float, *, timeout_s: float = 240.0,
             seed: int = 1) -> tuple[RunOutcome, Any]:
    scn = parse_scenario({"run": {"n": n, "seed": seed, "inputs": "split",
                                  "timeout_s": timeout_s},
                          "adversary": {"scheduler": "fifo", "delta_s": delta_s}})
    return run_local(scn, out_root=out), scn


# --------------------------------------------------------------------------- one hop


async def _one_hop(port: int, key_dir: Path, n: int, rounds: int) -> list[float]:
    roster = load_roster(key_dir)
    conns = []
    senders: list[dict[int, LinkSender]] = []
    for i in range(n):
        keys = link_keys_for(i, load_private_key(key_dir, i), roster)
        s = {d: LinkSender(sender=i, receiver=d, key=k.send_key)
             for d, k in keys.items() if d != i}
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_frame(s[n].seal(pack_batch([{"t": HELLO, "node": i}]))))
        await writer.drain()
        conns.append((reader, writer, FrameDecoder()))
        senders.append(s)

    async def next_frame(k: int) -> bytes:
        reader, _, decoder = conns[k]
        while True:
            items = decoder.feed(await reader.read(65536))
            if items:
                item = items[0]
                assert isinstance(item, bytes)
                return item

    for k in range(n):
        await next_frame(k)  # start
    payload = pack_batch([encode(DecideMsg(1))])
    times = []
    try:
        for r in range(rounds):
            a, b = (0, 1) if r % 2 == 0 else (1, 0)
            t = time.perf_counter()
            conns[a][1].write(encode_frame(senders[a][b].seal(payload)))
            await next_frame(b)
            times.append(time.perf_counter() - t)
    finally:
        for _, writer, _ in conns:
            writer.close()
            await writer.wait_closed()
    return times


def one_hop_delay(tmp: Path, rounds: int = 400) -> float:
    n = 4
    key_dir = tmp / "hop-keys"
    generate_keys(n + 1, key_dir, "bench-hop")
    config = {"params": Params.practical(n, 1).to_dict(), "protocol": "hpz",
              "inputs": [1, -1, 1, -1], "seed": 0, "key_dir": str(key_dir),
              "scheduler": "fifo", "delta_s": 0.0, "stats_file": str(tmp / "hop-stats.json"),
              "ready_file": str(tmp / "hop-ready.json")}
    (tmp / "hop.json").write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, "-m", "byzlab.adversary.proxy", "--config",
                             str(tmp / "hop.json")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while not isinstance(ready := read_json(tmp / "hop-ready.json"), dict):
            time.sleep(0.02)
        times = asyncio.run(_one_hop(int(ready["port"]), key_dir, n, rounds))
    finally:
        proc.terminate()
        proc.wait()
    return statistics.median(times[rounds // 10:])  # skip warm-up


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="16,32,64", help="n to try for the scale test")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds allowed per scale run")
    parser.add_argument("--out", type=Path, default=None, help="keep run results here")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="bench-tcp-") as tmpdir:
        out = args.out or Path(tmpdir)
        tmp = Path(tmpdir)

        hop = one_hop_delay(tmp)
        print(f"\none-hop delay node -> proxy -> node (delta_s = 0, median): "
              f"{hop * 1e6:.0f} us")

        print("\nthroughput: honest, fifo, delta_s = 0")
        print(f"{'n':>4} {'messages':>10} {'frames':>8} {'latency s':>10} {'msgs/s':>10} "
              f"{'wall s':>7}  agreed")
        for n in (7, 16):
            outcome, _ = real_run(out, n, 0.0)
            s = outcome.summary
            lat = s["latency_s"] or float("nan")
            stats = read_json(outcome.out_dir / "proxy-stats.json") or {}
            print(f"{n:>4} {s['messages']:>10,} {stats.get('frames_relayed', 0):>8,} "
                  f"{lat:>10.3f} {s['messages'] / lat:>10,.0f} {s['wall_time_s']:>7.1f}  "
                  f"{s['agreed']}")

        print("\nlatency vs simulator causal depth: honest, fifo")
        print(f"{'n':>4} {'delta_s':>8} {'depth':>6} {'real s':>8} {'predicted s':>12} "
              f"{'ratio':>6}")
        for n, delta_s in ((4, 0.005), (7, 0.005), (16, 0.005), (7, 0.02)):
            outcome, scn = real_run(out, n, delta_s)
            depth = build_simulator(scn).run().latency_delta
            real = outcome.summary["latency_s"] or float("nan")
            predicted = depth * (delta_s + hop)
            print(f"{n:>4} {delta_s:>8.3f} {depth:>6.1f} {real:>8.3f} {predicted:>12.3f} "
                  f"{real / predicted:>6.2f}")

        print(f"\nscale: honest, fifo, delta_s = 0, budget {args.budget:.0f} s per run")
        print(f"{'n':>4} {'messages':>12} {'latency s':>10} {'wall s':>8}  result")
        largest = None
        for n in (int(x) for x in args.sizes.split(",")):
            started = time.monotonic()
            outcome, _ = real_run(out, n, 0.0, timeout_s=args.budget)
            wall = time.monotonic() - started
            s = outcome.summary
            lat = s["latency_s"]
            ok = s["agreed"] and s["valid"]
            print(f"{n:>4} {s['messages']:>12,} "
                  f"{'-' if lat is None else f'{lat:.2f}':>10} {wall:>8.1f}  "
                  f"{'agreed' if ok else outcome.stopped}")
            if not ok:
                break
            largest = n
        print(f"\nlargest n completed within the budget: {largest}")


if __name__ == "__main__":
    main()
