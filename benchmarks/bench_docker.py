"""Containers: time to spin up N containers and reach agreement, and the largest N that runs.

Run:  python benchmarks/bench_docker.py [--sizes 4,16,32] [--max-n 128] [--budget 300]

Needs a running Docker engine and the image (`byzlab image build`). For each N it runs the
docker backend (`byzlab run --backend docker`) once with one proxy container and N - f
honest node containers (f = floor((N-1)/3) Byzantine nodes, equivocating, inside the proxy;
with --honest, N node containers and no Byzantine node; random scheduler, delta_s = 5 ms)
and reports:

* spin-up: from the first Docker API call of the run (network, proxy, nodes: create, copy
  keys and config in, start) until the proxy's start barrier, i.e. every honest node's
  container runs and its node has connected to the proxy;
* agreement: the latency to agreement, from the start barrier to the last honest decision
  (what `byzlab run` reports as latency);
* total: the whole command, from the first API call to results written and every
  container and the network removed;
* teardown: stop, copy the outputs out, remove.

Then, with --max-n, it doubles N from the largest size until a run fails or takes longer
than --budget seconds, and bisects between the last size that ran and the first that did
not, to find the largest N this machine runs. Results go to --out as JSON as well.

Benchmarks report figures; tests never assert timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from byzlab.bench.limits import search_largest
from byzlab.errors import DockerUnavailable
from byzlab.orchestration.docker.engine import connect
from byzlab.orchestration.docker.run import DockerRun
from byzlab.orchestration.scenario import parse_scenario


def one_run(
    client: Any, out: Path, n: int, *, seed: int, timeout_s: float, honest: bool = False
) -> dict[str, Any]:
    f = (n - 1) // 3
    byzantine = [] if honest else [{"node": i, "strategy": "equivocate"} for i in range(n - f, n)]
    scn = parse_scenario(
        {
            "run": {"n": n, "f": f, "seed": seed, "timeout_s": timeout_s},
            "adversary": {"scheduler": "random", "delta_s": 0.005, "byzantine": byzantine},
        }
    )
    started = time.monotonic()
    run = DockerRun(scn, out_root=out, client=client)
    waited = "interrupted"
    try:
        run.start()
        waited = run.wait()
    finally:
        stopping = time.monotonic()
        run.stop_all()
        teardown = time.monotonic() - stopping
    outcome = run.collect(waited)
    s = outcome.summary
    return {
        "n": n,
        "f": f,
        "containers": n - len(byzantine) + 1,
        "agreed": bool(s["agreed"]),
        "valid": bool(s["valid"]),
        "stopped": outcome.stopped,
        "spinup_s": s.get("spinup_s"),
        "latency_s": s.get("latency_s"),
        "total_s": time.monotonic() - started,
        "teardown_s": teardown,
        "messages": s["messages"],
        "iterations": s["iterations"],
        "run_id": outcome.run_id,
    }


def fmt(row: dict[str, Any]) -> str:
    def sec(key: str) -> str:
        value = row.get(key)
        return "-" if value is None else f"{value:7.2f}"

    ok = "yes" if row["agreed"] and row["valid"] else f"NO ({row['stopped']})"
    return (
        f"{row['n']:>5} {row['containers']:>10} {sec('spinup_s')} s {sec('latency_s')} s "
        f"{sec('total_s')} s {sec('teardown_s')} s {row['messages']:>10,}  {ok}"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4,16,32")
    parser.add_argument(
        "--max-n", type=int, default=0, help="search the largest N up to this (0: skip the search)"
    )
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds one run may take in the search"
    )
    parser.add_argument(
        "--tolerance",
        type=int,
        default=1,
        help="stop the search when the first failing N is this close",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--honest",
        action="store_true",
        help="no Byzantine nodes: N node containers (default: the last f "
        "nodes equivocate inside the proxy, N - f node containers)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the run in progress removes its containers.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        client = connect()
    except DockerUnavailable as exc:
        print(f"bench_docker: {exc}", file=sys.stderr)
        return 1
    info = client.info()
    print(
        f"# {platform.node()}: {os.cpu_count()} CPUs, Docker {info.get('ServerVersion')}, "
        f"{info.get('MemTotal', 0) / 2**30:.1f} GiB, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        f"{'N':>5} {'containers':>10} {'spin-up':>9} {'agreement':>9} {'total':>9} "
        f"{'teardown':>9} {'messages':>10}  agreed"
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="byzlab-bench-docker-") as tmp:
        work = Path(tmp)
        for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
            row = one_run(
                client, work, n, seed=args.seed, timeout_s=args.budget, honest=args.honest
            )
            rows.append(row)
            print(fmt(row), flush=True)
        if args.max_n:

            def passed(row: dict[str, Any]) -> bool:
                return bool(row["agreed"] and row["valid"]) and row["total_s"] <= args.budget

            def attempt(n: int) -> bool:
                row = one_run(
                    client, work, n, seed=args.seed, timeout_s=args.budget, honest=args.honest
                )
                rows.append(row)
                print(fmt(row), flush=True)
                return passed(row)

            known = max((r["n"] for r in rows if passed(r)), default=None)
            start = min(2 * known, args.max_n) if known else 4
            good, bad = (
                (known, None)
                if known and known >= args.max_n
                else search_largest(
                    attempt, start, args.max_n, good=known, tolerance=args.tolerance
                )
            )
            print(
                f"# largest N that reached agreement within {args.budget:.0f} s: {good}"
                + ("" if bad is None else f" (N={bad} did not)"),
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench_docker-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"rows": rows, "cpus": os.cpu_count()}, indent=2) + "\n")
    print(f"# wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
