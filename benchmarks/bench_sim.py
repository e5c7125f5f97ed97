"""Simulator benchmark: deliveries per second on one core, time for one n=7 HPZ agreement,
and a cProfile of the hot path.

    python benchmarks/bench_sim.py [--profile] [--repeats 5]

Each figure is the median of several runs (these machines are noisy). Timings are reported,
never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time

from byzlab.adversary.schedulers import make_scheduler
from byzlab.adversary.strategies import make_strategy
from byzlab.network.sim import Simulator, make_inputs
from byzlab.node.params import Params


def one_run(n: int, f: int, seed: int, protocol: str = "hpz", scheduler: str = "random",
            strategy: str | None = None, inputs: str = "split") -> tuple[float, int, dict]:
    params = Params.practical(n, f)
    byz = {}
    if strategy:
        byz = {i: (lambda spec: make_strategy(strategy, spec)) for i in range(n - f, n)}
    sim = Simulator(params, protocol=protocol, inputs=make_inputs(inputs, n, seed), seed=seed,
                    scheduler=make_scheduler(scheduler), byzantine=byz)
    started = time.perf_counter()
    result = sim.run()
    return time.perf_counter() - started, result.deliveries, result.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    scenarios = [
        ("n=7 hpz split, random sched", dict(n=7, f=2, scheduler="random")),
        ("n=7 hpz split-vote sched", dict(n=7, f=2, scheduler="split-vote")),
        ("n=7 hpz crash, random sched", dict(n=7, f=2, strategy="crash")),
        ("n=10 hpz split-vote sched", dict(n=10, f=3, scheduler="split-vote")),
        ("n=13 hpz crash, random sched", dict(n=13, f=4, strategy="crash")),
        ("n=16 hpz split-vote sched", dict(n=16, f=5, scheduler="split-vote")),
    ]
    for label, kw in scenarios:
        times, rates, lat = [], [], []
        for seed in range(args.repeats):
            wall, deliveries, summary = one_run(seed=seed, **kw)  # type: ignore[arg-type]
            times.append(wall)
            rates.append(deliveries / wall)
            lat.append(summary["latency_delta"])
        rows.append({"scenario": label, "median_wall_s": statistics.median(times),
                     "median_deliveries_per_s": statistics.median(rates),
                     "median_latency_delta": statistics.median(lat)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'scenario':34} {'wall (s)':>10} {'deliveries/s':>14} {'latency (delta)':>16}")
        for r in rows:
            print(f"{r['scenario']:34} {r['median_wall_s']:10.3f} "
                  f"{r['median_deliveries_per_s']:14,.0f} {r['median_latency_delta']:16.1f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_run(16, 5, seed=0, scheduler="split-vote")
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
