"""Real runs for the benchmarks: node processes over TCP through the adversary proxy.

* ``sample`` runs one honest scenario with the local backend (``run_local``) and returns
  what the benchmarks read from it: latency, messages, frames, iterations, the CPU seconds
  of the proxy and the nodes from the protocol's start to exit, and the peak resident set
  size of every process.
* Peak RSS: a node that reports its own peak (``max_rss_kib`` in its ``result.json``, its
  own ``VmHWM`` when it writes the result; the proxy likewise in its statistics) is
  taken at its word; otherwise the orchestrator reads ``VmHWM`` (the kernel's high-water
  mark of the resident set) from ``/proc/<pid>/status`` while the run goes, through
  ``run_local``'s status hook. A process that exits between two polls loses what it grew in
  its last poll interval, so polled figures are lower bounds, accurate to what a process
  allocates in ``rss_interval``.
* ``one_hop_delay``: node -> proxy -> node for a small frame with delta_s = 0, from two test
  clients holding real keys (one hop: a frame from one client to the other).
* ``Variant``: whose proxy and node processes run, this tree's or a baseline source tree's
  (``--baseline``), so that two versions are compared side by side in one session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from byzlab.atomicio import read_json
from byzlab.network.auth import LinkSender, link_keys_for
from byzlab.network.control import HELLO
from byzlab.network.framing import FrameDecoder, encode_frame, pack_batch
from byzlab.network.keys import generate_keys, load_private_key, load_roster
from byzlab.network.process import peak_rss_kib
from byzlab.network.timeline import RelayTimeline
from byzlab.node.messages import DecideMsg, encode
from byzlab.orchestration.backend import RunOutcome
from byzlab.orchestration.local import run_local
from byzlab.orchestration.plan import PROXY_MODULE, RunPlan, new_run_id
from byzlab.orchestration.scenario import Scenario, parse_scenario

__all__ = [
    "Row",
    "RssSampler",
    "Sample",
    "Variant",
    "honest_scenario",
    "keep_run",
    "measure",
    "one_hop_delay",
    "sample",
]


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


# --------------------------------------------------------------------------- peak RSS


class RssSampler:
    """``run_local``'s status hook: polls the peak RSS of a run's processes while it runs.

    It learns the pids from ``work/pids.json``, which the local backend writes as it starts
    each process, and keeps the largest ``VmHWM`` seen per process name."""

    def __init__(self, out_dir: Path, interval: float) -> None:
        self.pids_file = out_dir / "work" / "pids.json"
        self.interval = interval
        self.peak_kib: dict[str, int] = {}
        self._pids: dict[str, int] = {}
        self._next = 0.0

    def __call__(self, status: dict[str, Any]) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.interval
        honest = status.get("honest")
        if not (isinstance(honest, int) and len(self._pids) > honest):  # not all started yet
            pids = read_json(self.pids_file)
            if isinstance(pids, dict):
                self._pids = {str(k): int(v) for k, v in pids.items()}
        for name, pid in self._pids.items():
            kib = peak_rss_kib(pid)
            if kib is not None and kib > self.peak_kib.get(name, 0):
                self.peak_kib[name] = kib


# --------------------------------------------------------------------------- one run


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
    wall_s: float = 0.0
    stopped: str = ""
    run_id: str = ""
    node_rss_kib: list[int] = field(default_factory=list)
    proxy_rss_kib: int | None = None
    rss_source: str = ""
    kept: str = ""  # where a failed run's directory was kept
    # Messages/s through the proxy between 10 % and 90 % of them (network/timeline.py).
    sustained_msgs_per_s: float | None = None
    # Messages the proxy had relayed when the last honest node decided.
    messages_to_decision: float | None = None

    @property
    def msgs_per_s(self) -> float | None:
        """Messages relayed up to the last decision, per second of latency (both spans
        end there; the messages relayed while the nodes halt are left out). Without a
        relay timeline, every message of the run."""
        count = self.messages if self.messages_to_decision is None else self.messages_to_decision
        return count / self.latency_s if self.latency_s else None

    @property
    def node_rss_max_kib(self) -> float | None:
        return float(max(self.node_rss_kib)) if self.node_rss_kib else None

    @property
    def node_rss_median_kib(self) -> float | None:
        return statistics.median(self.node_rss_kib) if self.node_rss_kib else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "msgs_per_s": self.msgs_per_s}


def honest_scenario(
    n: int, delta_s: float, *, timeout_s: float, seed: int = 1, messages: str = "off"
) -> Scenario:
    """n honest nodes, split inputs, the FIFO scheduler: the benchmarks' baseline run
    (``messages``: whether it records its message trace, ``[run] messages``; off, so the
    transport, latency and memory figures stay comparable across sizes and with earlier
    ones: what the trace costs is measured on its own, ``--only messages`` and
    ``messages-real``)."""
    return parse_scenario(
        {
            "run": {
                "n": n,
                "seed": seed,
                "inputs": "split",
                "timeout_s": timeout_s,
                "messages": messages,
            },
            "adversary": {"scheduler": "fifo", "delta_s": delta_s},
        }
    )


def _cpu(result: Any) -> float | None:
    """CPU seconds from the protocol's start to the end of the process, if reported."""
    if not isinstance(result, dict):
        return None
    total, start = result.get("cpu_s"), result.get("cpu_start_s")
    if not isinstance(total, int | float) or not isinstance(start, int | float):
        return None
    return float(total) - float(start)


def _sustained(stats: Any) -> float | None:
    """The proxy's sustained relay rate (10 %-90 % of the messages), if it reported one."""
    timeline = stats.get("relay_timeline") if isinstance(stats, dict) else None
    rate = timeline.get("sustained_rate") if isinstance(timeline, dict) else None
    return float(rate) if isinstance(rate, int | float) and rate > 0 else None


def _relayed_by_decision(stats: Any, starts: list[float], latency_s: float | None) -> float | None:
    """Messages the proxy had relayed when the last honest node decided: the summary's
    latency runs from the first node's start, the proxy's timeline from its own start."""
    timeline = stats.get("relay_timeline") if isinstance(stats, dict) else None
    proxy_start = stats.get("start_wall") if isinstance(stats, dict) else None
    if (
        not isinstance(timeline, dict)
        or not isinstance(proxy_start, int | float)
        or not starts
        or latency_s is None
    ):
        return None
    try:
        relayed = RelayTimeline.from_json(timeline)
    except (KeyError, TypeError, ValueError):
        return None
    return relayed.count_until(min(starts) + latency_s - proxy_start)


def _own_rss(result: Any) -> int | None:
    """The peak RSS (KiB) a process reported about itself, if it did."""
    own = result.get("max_rss_kib") if isinstance(result, dict) else None
    return own if isinstance(own, int) and not isinstance(own, bool) and own > 0 else None


def keep_run(run_dir: Path, keep_failed: Path | None) -> str:
    """Move a failed run's directory into ``keep_failed``; where it went ("" if nowhere)."""
    if keep_failed is None or not run_dir.is_dir():
        return ""
    keep_failed.mkdir(parents=True, exist_ok=True)
    return str(shutil.move(run_dir, keep_failed / run_dir.name))


def sample(
    out: Path,
    n: int,
    delta_s: float,
    *,
    timeout_s: float = 240.0,
    rss_interval: float = 0.25,
    keep_failed: Path | None = None,
    messages: str = "off",
) -> Sample:
    """One honest FIFO run of n nodes on local processes, measured (``messages``: its
    ``[run] messages``). A run that does not agree is moved to ``keep_failed`` (if given),
    logs and all, for a post-mortem."""
    scn = honest_scenario(n, delta_s, timeout_s=timeout_s, messages=messages)
    run_id = new_run_id(scn.seed)
    sampler = RssSampler(out.resolve() / run_id, rss_interval)
    started = time.monotonic()
    outcome: RunOutcome = run_local(scn, out_root=out, run_id=run_id, on_status=sampler)
    wall = time.monotonic() - started
    if outcome.stopped == "interrupted":  # run_local turns Ctrl-C and SIGTERM into this
        raise KeyboardInterrupt
    s = outcome.summary
    stats = read_json(outcome.out_dir / "proxy-stats.json") or {}
    nodes: float | None = 0.0
    rss: list[int] = []
    reported = 0
    starts: list[float] = []
    for i in range(n):
        result = read_json(outcome.out_dir / "work" / "nodes" / str(i) / "out" / "result.json")
        if isinstance(result, dict) and isinstance(result.get("start_time"), int | float):
            starts.append(float(result["start_time"]))
        cpu = _cpu(result)
        nodes = None if cpu is None or nodes is None else nodes + cpu
        own = _own_rss(result)
        if own is not None:
            rss.append(own)
            reported += 1
        elif (polled := sampler.peak_kib.get(f"node-{i}")) is not None:
            rss.append(polled)
    source = (
        ("reported" if reported == len(rss) else "polled" if not reported else "mixed")
        if rss
        else "unavailable"
    )
    agreed = bool(s["agreed"] and s["valid"])
    kept = "" if agreed else keep_run(outcome.out_dir, keep_failed)
    return Sample(
        n=n,
        delta_s=delta_s,
        agreed=agreed,
        latency_s=s["latency_s"],
        messages=int(s["messages"]),
        frames=int(stats.get("frames_relayed", 0)),
        iterations=int(s["iterations"]),
        proxy_cpu_s=_cpu(stats),
        nodes_cpu_s=nodes,
        wall_s=wall,
        stopped=outcome.stopped,
        run_id=outcome.run_id,
        node_rss_kib=rss,
        proxy_rss_kib=_own_rss(stats) or sampler.peak_kib.get("proxy"),
        rss_source=source,
        kept=kept,
        sustained_msgs_per_s=_sustained(stats),
        messages_to_decision=_relayed_by_decision(stats, starts, s["latency_s"]),
    )


@dataclass
class Row:
    """The samples of one configuration for one variant."""

    variant: str
    n: int
    delta_s: float
    samples: list[Sample] = field(default_factory=list)

    def values(self, key: str, *, iterations: int | None = None) -> list[float | None]:
        out: list[float | None] = []
        for s in self.samples:
            if iterations is None or s.iterations == iterations:
                value = getattr(s, key)
                out.append(None if value is None else float(value))
        return out

    def median(self, key: str, *, iterations: int | None = None) -> float | None:
        values = [v for v in self.values(key, iterations=iterations) if v is not None]
        return statistics.median(values) if values else None

    def agreed(self) -> str:
        return f"{sum(s.agreed for s in self.samples)}/{len(self.samples)}"

    def iterations(self) -> str:
        return ",".join(str(s.iterations) for s in self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "n": self.n,
            "delta_s": self.delta_s,
            "samples": [s.to_json() for s in self.samples],
        }


def measure(
    variants: list[Variant],
    out: Path,
    n: int,
    delta_s: float,
    repeats: int,
    *,
    timeout_s: float = 240.0,
    rss_interval: float = 0.25,
    keep_failed: Path | None = None,
    step: Callable[[str], None] = lambda text: None,
) -> list[Row]:
    """``repeats`` runs of each variant, alternating between them so they share the noise."""
    rows = [Row(v.name, n, delta_s) for v in variants]
    for r in range(repeats):
        for variant, row in zip(variants, rows, strict=True):
            label = variant.name if len(variants) > 1 else ""
            step(f"n={n} delta_s={delta_s:g} {label} run {r + 1}/{repeats}".replace("  ", " "))
            with variant.active():
                row.samples.append(
                    sample(
                        out,
                        n,
                        delta_s,
                        timeout_s=timeout_s,
                        rss_interval=rss_interval,
                        keep_failed=keep_failed,
                    )
                )
    return rows


# --------------------------------------------------------------------------- one hop


async def _one_hop(port: int, key_dir: Path, n: int, rounds: int) -> list[float]:
    roster = load_roster(key_dir)
    conns = []
    senders: list[dict[int, LinkSender]] = []
    for i in range(n):
        keys = link_keys_for(i, load_private_key(key_dir, i), roster)
        s = {d: LinkSender(sender=i, receiver=d, key=k.send_key) for d, k in keys.items() if d != i}
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
    """Median seconds for one small frame node -> proxy -> node (delta_s = 0)."""
    n = 4
    tmp = Path(tempfile.mkdtemp(prefix="hop-", dir=tmp))
    key_dir = tmp / "hop-keys"
    plan = RunPlan.of(honest_scenario(n, 0.0, timeout_s=30.0, seed=0), run_id="bench-hop")
    generate_keys(n + 1, key_dir, plan.run_id)
    config = plan.proxy_config(
        key_dir=str(key_dir),
        port=0,
        stats_file=str(tmp / "hop-stats.json"),
        ready_file=str(tmp / "hop-ready.json"),
    )
    (tmp / "hop.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", PROXY_MODULE, "--config", str(tmp / "hop.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not isinstance(ready := read_json(tmp / "hop-ready.json"), dict):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the proxy for the one-hop test did not start (status {proc.poll()})"
                )
            time.sleep(0.02)
        times = asyncio.run(_one_hop(int(ready["port"]), key_dir, n, rounds))
    finally:
        proc.terminate()
        proc.wait()
    # Each timing is one hop (a -> proxy -> b); skip the warm-up.
    return statistics.median(times[rounds // 10 :])
