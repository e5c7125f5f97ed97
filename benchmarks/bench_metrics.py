"""What live metrics cost: the proxy's relay rate with metrics off, on, and on while scraped.

    python benchmarks/bench_metrics.py [--n 10] [--runs 3] [--interval 0.1] [--out DIR]

Real runs (local backend: node processes, the proxy, real MACs) of the same scenario in
three modes: metrics off (the default), on but never scraped, and on with every endpoint
(the proxy and each node) scraped every ``--interval`` seconds by a thread of this process,
as a Prometheus server would. The figure is the proxy's sustained relay rate in messages/s
(``relay_timeline.sustained_rate`` in proxy-stats.json: the middle 80 % of the messages,
without the start and the tail), the median over ``--runs`` seeds, and the run's wall time.
The modes take turns seed by seed, so a change in the machine's load hits all three alike.
A figure, not a test: nothing is asserted except that every run agrees.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from byzlab.orchestration.local import run_local
from byzlab.orchestration.scenario import parse_scenario

MODES = ("off", "on", "scraped")


def _free_port_run(count: int) -> int:
    """A base port with ``count`` free ports from it (checked now)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()


def _scrape_until(
    stop: threading.Event, ports: list[int], interval: float, done: list[int]
) -> None:
    while not stop.is_set():
        for port in ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                    r.read()
                done[0] += 1
            except OSError:
                pass  # not up yet, or gone already
        stop.wait(interval)


def one_run(n: int, seed: int, mode: str, interval: float, out: Path) -> dict[str, Any]:
    base = _free_port_run(n + 1) if mode != "off" else 0
    data: dict[str, Any] = {
        "run": {"n": n, "seed": seed, "timeout_s": 300},
        "adversary": {"scheduler": "fifo", "delta_s": 0.005},
    }
    if base:
        data["metrics"] = {"port": base}
    stop = threading.Event()
    scrapes = [0]
    scraper = None
    if mode == "scraped":
        ports = [base + k for k in range(n + 1)]
        scraper = threading.Thread(target=_scrape_until, args=(stop, ports, interval, scrapes))
        scraper.start()
    t0 = time.monotonic()
    try:
        outcome = run_local(parse_scenario(data), out_root=out)
    finally:
        stop.set()
        if scraper is not None:
            scraper.join()
    wall = time.monotonic() - t0
    stats = json.loads((outcome.out_dir / "proxy-stats.json").read_text())
    if outcome.summary.get("agreed") is not True:
        raise SystemExit(f"{mode} seed {seed}: the run did not agree ({outcome.out_dir})")
    return {
        "mode": mode,
        "seed": seed,
        "messages": stats["messages"],
        "sustained_msgs_per_s": stats["relay_timeline"]["sustained_rate"],
        "latency_s": outcome.summary.get("latency_s"),
        "wall_s": round(wall, 2),
        "scrapes": scrapes[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between scrapes")
    ap.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.runs):
            for mode in MODES:
                row = one_run(args.n, seed, mode, args.interval, Path(tmp))
                print(json.dumps(row), flush=True)
                rows.append(row)
    summary = {}
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        rates = [r["sustained_msgs_per_s"] for r in mine if r["sustained_msgs_per_s"]]
        summary[mode] = {
            "median_sustained_msgs_per_s": round(statistics.median(rates)) if rates else None,
            "median_latency_s": statistics.median(r["latency_s"] for r in mine),
            "scrapes": sum(r["scrapes"] for r in mine),
        }
    print(json.dumps({"n": args.n, "runs": args.runs, "interval_s": args.interval, **summary}))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_metrics.json").write_text(
            json.dumps({"runs": rows, "summary": summary}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
