"""Real runs over TCP through the adversary proxy: throughput, latency vs causal depth, scale.

Run:  python benchmarks/bench_tcp.py [--repeats 3] [--sizes 16,32,64] [--budget 240]
                                     [--baseline SRC] [--json FILE] [--out DIR]

Measures, on this machine, with real node processes, the real proxy and real MACs:

1. *One-hop delay*: the median time for a small frame to go node -> proxy -> node with
   delta_s = 0 (ping-pong between two test clients holding real keys; half the round trip).
2. *Throughput*: protocol messages per second through the proxy for n = 7, 16 and 32
   (honest nodes, FIFO scheduler, delta_s = 0, i.e. as fast as the processes go):
   messages relayed / wall-clock latency to agreement. With it, the CPU split: CPU seconds
   of the proxy and of all nodes together from the start of the protocol to the end of
   the process (start-up, imports and key loading excluded), and that per message.
3. *Latency vs causal depth*: the simulator's latency under FIFO is the causal depth of
   the run in hops (every message takes exactly delta). A real FIFO run with delay delta_s
   should then take about depth x (delta_s + one-hop delay) if processing kept up; the
   table prints both and their ratio (above 1: processing and queueing on top of the hops).
   Real runs can take more iterations than the simulator where the simulator's decision
   hinges on how simultaneous deliveries are ordered (see network/tcp.py); the iteration
   count of each run is printed, and the last column compares only the runs that took as
   many iterations as the simulator (the prediction's premise).
4. *Scale*: the largest n in --sizes that completes within --budget seconds each
   (honest, FIFO, delta_s = 0), stopping at the first size that does not.

Every figure is the median of --repeats runs. These machines are noisy (other jobs share
the two cores), so compare versions *side by side in one session*: with ``--baseline SRC``
(a source tree holding ``byzlab/``, e.g. ``git worktree add /tmp/base <commit>`` then
``--baseline /tmp/base/src``) every measurement is taken for the baseline's proxy and node
processes and for this tree's, alternately, and the tables show both. The orchestrator is
always this tree's. Baselines that do not report CPU time show "-" there.

Benchmarks report figures; tests never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class Variant:
    """Whose proxy and node processes run: this tree's, or a baseline source tree's."""

    name: str
    pythonpath: str | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Child processes started inside import byzlab from this variant's tree."""
        saved = os.environ.get("PYTHONPATH")
        if self.pythonpath is not None:
            os.environ["PYTHONPATH"] = self.pythonpath
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved


@dataclass
class Sample:
    """One real run."""

    n: int
    delta_s: float
    agreed: bool
    latency_s: float | None
    messages: int
    frames: int
    iterations: int
    proxy_cpu_s: float | None
    nodes_cpu_s: float | None

    @property
    def msgs_per_s(self) -> float | None:
        return self.messages / self.latency_s if self.latency_s else None


@dataclass
class Row:
    """The median of several samples of one configuration for one variant."""

    variant: str
    n: int
    delta_s: float
    samples: list[Sample] = field(default_factory=list)

    def median(self, key: str, *, iterations: int | None = None) -> float | None:
        values = [v for s in self.samples if (v := _value(s, key)) is not None
                  and (iterations is None or s.iterations == iterations)]
        return statistics.median(values) if values else None

    def agreed(self) -> str:
        return f"{sum(s.agreed for s in self.samples)}/{len(self.samples)}"

    def iterations(self) -> str:
        return ",".join(str(s.iterations) for s in self.samples)


def _value(sample: Sample, key: str) -> float | None:
    value = getattr(sample, key)
    return None if value is None else float(value)


def real_run(out: Path, n: int, delta_s: float, *, timeout_s: float = 240.0,
             seed: int = 1) -> tuple[RunOutcome, Any]:
    scn = parse_scenario({"run": {"n": n, "seed": seed, "inputs": "split",
                                  "timeout_s": timeout_s},
                          "adversary": {"scheduler": "fifo", "delta_s": delta_s}})
    return run_local(scn, out_root=out), scn


def _cpu(result: Any) -> float | None:
    """CPU seconds from the protocol's start to the end of the process, if reported."""
    if not isinstance(result, dict):
        return None
    total, start = result.get("cpu_s"), result.get("cpu_start_s")
    if not isinstance(total, int | float) or not isinstance(start, int | float):
        return None
    return float(total) - float(start)


def sample(out: Path, n: int, delta_s: float, *, timeout_s: float = 240.0) -> Sample:
    outcome, _ = real_run(out, n, delta_s, timeout_s=timeout_s)
    s = outcome.summary
    stats = read_json(outcome.out_dir / "proxy-stats.json") or {}
    nodes: float | None = 0.0
    for i in range(n):
        cpu = _cpu(read_json(outcome.out_dir / "work" / "nodes" / str(i) / "out" /
                             "result.json"))
        nodes = None if cpu is None or nodes is None else nodes + cpu
    return Sample(n=n, delta_s=delta_s, agreed=bool(s["agreed"] and s["valid"]),
                  latency_s=s["latency_s"], messages=int(s["messages"]),
                  frames=int(stats.get("frames_relayed", 0)),
                  iterations=int(s["iterations"]), proxy_cpu_s=_cpu(stats),
                  nodes_cpu_s=nodes)


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
    tmp = Path(tempfile.mkdtemp(prefix="hop-", dir=tmp))
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
    # Half the round trip is one hop; skip the warm-up.
    return statistics.median(times[rounds // 10:])


# --------------------------------------------------------------------------- tables


def _fmt(value: float | None, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def _measure(variants: list[Variant], out: Path, n: int, delta_s: float, repeats: int,
             *, timeout_s: float = 240.0) -> list[Row]:
    rows = [Row(v.name, n, delta_s) for v in variants]
    for _ in range(repeats):
        for variant, row in zip(variants, rows, strict=True):  # alternate: same noise
            with variant.active():
                row.samples.append(sample(out, n, delta_s, timeout_s=timeout_s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--throughput-sizes", default="7,16,32",
                        help="n for the throughput table")
    parser.add_argument("--sizes", default="16,32,64", help="n to try for the scale test")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds allowed per scale run")
    parser.add_argument("--baseline", default=None, metavar="SRC",
                        help="also measure the proxy and nodes of this source tree")
    parser.add_argument("--json", type=Path, default=None, help="write every sample here")
    parser.add_argument("--out", type=Path, default=None, help="keep run results here")
    parser.add_argument("--skip", default="", help="comma list of: hop,throughput,latency,"
                        "scale")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    variants = [Variant("after")]
    if args.baseline:
        src = str(Path(args.baseline).resolve())
        if not (Path(src) / "byzlab").is_dir():
            parser.error(f"--baseline {src}: no byzlab package there")
        variants.insert(0, Variant("before", src))
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}, load {os.getloadavg()[0]:.1f}")
    report: dict[str, Any] = {"variants": [asdict(v) for v in variants]}
    with tempfile.TemporaryDirectory(prefix="bench-tcp-") as tmpdir:
        out = args.out or Path(tmpdir)
        tmp = Path(tmpdir)

        hops: dict[str, float] = {}
        for variant in variants:
            with variant.active():
                hops[variant.name] = statistics.median(
                    one_hop_delay(tmp) for _ in range(1 if "hop" in skip else args.repeats))
        report["one_hop_s"] = hops
        print("\none-hop delay node -> proxy -> node (delta_s = 0, median): " + ", ".join(
            f"{name} {hop * 1e6:.0f} us" for name, hop in hops.items()))

        if "throughput" not in skip:
            print(f"\nthroughput: honest, fifo, delta_s = 0, median of {args.repeats}; CPU "
                  "from the protocol's start to exit")
            print(f"{'n':>4} {'variant':>8} {'messages':>10} {'frames':>8} {'latency s':>10} "
                  f"{'msgs/s':>10} {'proxy cpu s':>11} {'nodes cpu s':>11} "
                  f"{'us cpu/msg':>10}  iterations")
            report["throughput"] = []
            for n in (int(x) for x in args.throughput_sizes.split(",")):
                for row in _measure(variants, out, n, 0.0, args.repeats):
                    messages = row.median("messages")
                    proxy, nodes = row.median("proxy_cpu_s"), row.median("nodes_cpu_s")
                    per_msg = ((proxy + nodes) / messages * 1e6
                               if proxy is not None and nodes is not None and messages
                               else None)
                    print(f"{n:>4} {row.variant:>8} {_fmt(messages, ',.0f', 10)} "
                          f"{_fmt(row.median('frames'), ',.0f', 8)} "
                          f"{_fmt(row.median('latency_s'), '.3f', 10)} "
                          f"{_fmt(row.median('msgs_per_s'), ',.0f', 10)} "
                          f"{_fmt(proxy, '.3f', 11)} {_fmt(nodes, '.3f', 11)} "
                          f"{_fmt(per_msg, '.1f', 10)}  {row.iterations()} "
                          f"(agreed {row.agreed()})")
                    report["throughput"].append(asdict(row))

        if "latency" not in skip:
            print(f"\nlatency vs simulator causal depth: honest, fifo, median of {args.repeats};"
                  " predicted = depth x (delta_s + one hop)")
            print(f"{'n':>4} {'delta_s':>8} {'variant':>8} {'depth':>6} {'real s':>8} "
                  f"{'predicted s':>12} {'ratio':>6}  {'iterations':<10} {'same-iter ratio':>15}")
            report["latency"] = []
            for n, delta_s in ((4, 0.005), (7, 0.005), (16, 0.005), (7, 0.02)):
                scn = parse_scenario({"run": {"n": n, "seed": 1, "inputs": "split"},
                                      "adversary": {"scheduler": "fifo"}})
                sim = build_simulator(scn).run()
                depth = sim.latency_delta
                for row in _measure(variants, out, n, delta_s, args.repeats):
                    real = row.median("latency_s")
                    predicted = depth * (delta_s + hops[row.variant])
                    ratio = real / predicted if real is not None else None
                    same = row.median("latency_s", iterations=sim.iterations)
                    same_ratio = same / predicted if same is not None else None
                    print(f"{n:>4} {delta_s:>8.3f} {row.variant:>8} {depth:>6.1f} "
                          f"{_fmt(real, '.3f', 8)} {predicted:>12.3f} {_fmt(ratio, '.2f', 6)}"
                          f"  {row.iterations():<10} {_fmt(same_ratio, '.2f', 15)}")
                    report["latency"].append({**asdict(row), "depth": depth,
                                              "sim_iterations": sim.iterations,
                                              "predicted_s": predicted, "ratio": ratio,
                                              "same_iteration_ratio": same_ratio})

        if "scale" not in skip:
            print(f"\nscale: honest, fifo, delta_s = 0, budget {args.budget:.0f} s per run")
            print(f"{'n':>4} {'variant':>8} {'messages':>12} {'latency s':>10} {'msgs/s':>10} "
                  f"{'wall s':>8}  result")
            report["scale"] = []
            for variant in variants:
                largest = None
                with variant.active():
                    for n in (int(x) for x in args.sizes.split(",")):
                        started = time.monotonic()
                        got = sample(out, n, 0.0, timeout_s=args.budget)
                        wall = time.monotonic() - started
                        print(f"{n:>4} {variant.name:>8} {got.messages:>12,} "
                              f"{_fmt(got.latency_s, '.2f', 10)} "
                              f"{_fmt(got.msgs_per_s, ',.0f', 10)} {wall:>8.1f}  "
                              f"{'agreed' if got.agreed else 'failed'}")
                        report["scale"].append({"variant": variant.name, **asdict(got),
                                                "wall_s": wall})
                        if not got.agreed:
                            break
                        largest = n
                print(f"{variant.name}: largest n completed within the budget: {largest}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
