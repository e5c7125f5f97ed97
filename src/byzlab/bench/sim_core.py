"""Benchmark 1, the simulator core: message deliveries per second on one core, and a
cProfile of the hot path.

Each scenario runs ``repeats`` times (seeds 0, 1, ...) in this process, single-threaded;
the figure is the median of deliveries / wall seconds. The headline scenario is n = 16 under
the split-vote scheduler: every run flips a coin, so blackboard writes and their validation
are on the path, not only the three Bracha steps. The profile is one run of the headline
scenario under cProfile (which slows it down; its deliveries/s is not a figure), sorted by
own time.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from typing import Any

from byzlab.adversary.assemble import assemble_simulator
from byzlab.bench.common import Context, Figure, Section
from byzlab.network.sim import SimResult
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params
from byzlab.seeds import make_inputs

TARGET_DELIVERIES_PER_S = 300_000
HEADLINE = "n=16 hpz, split-vote sched"

# (label, n, f, scheduler, Byzantine strategy for the last f nodes), quick ones first.
SCENARIOS: tuple[tuple[str, int, int, str, str | None], ...] = (
    ("n=7 hpz, random sched", 7, 2, "random", None),
    (HEADLINE, 16, 5, "split-vote", None),
    ("n=7 hpz, split-vote sched", 7, 2, "split-vote", None),
    ("n=7 hpz crash, random sched", 7, 2, "random", "crash"),
    ("n=10 hpz, split-vote sched", 10, 3, "split-vote", None),
    ("n=13 hpz crash, random sched", 13, 4, "random", "crash"),
)
QUICK_SCENARIOS = 2


def one_run(
    n: int,
    f: int,
    seed: int,
    *,
    protocol: str = "hpz",
    scheduler: str = "random",
    strategy: str | None = None,
    inputs: str = "split",
) -> tuple[float, SimResult]:
    """(wall seconds, result) of one simulator run."""
    params = Params.practical(n, f)
    sim = assemble_simulator(
        params,
        protocol=BUILTIN_PROTOCOLS[protocol],
        inputs=make_inputs(inputs, n, seed),
        seed=seed,
        scheduler=scheduler,
        byzantine=dict.fromkeys(range(n - f, n), strategy) if strategy else None,
    )
    started = time.perf_counter()
    result = sim.run()
    return time.perf_counter() - started, result


def profile(n: int, f: int, scheduler: str, *, top: int = 20) -> list[dict[str, Any]]:
    """The ``top`` functions of one run by own time, under cProfile."""
    profiler = cProfile.Profile()
    profiler.enable()
    one_run(n, f, seed=0, scheduler=scheduler)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return [
        {
            "function": f"{name} ({file.rsplit('/', 1)[-1]}:{line})",
            "calls": nc,
            "tottime_s": round(tt, 4),
            "cumtime_s": round(ct, 4),
            "share": round(tt / total, 4),
        }
        for (file, line, name), (_cc, nc, tt, ct, _callers) in rows
    ]


def run(ctx: Context) -> Section:
    section = Section("sim", "Simulator core (one core)")
    repeats = max(ctx.repeats, 3)
    scenarios = SCENARIOS[:QUICK_SCENARIOS] if ctx.quick else SCENARIOS
    for label, n, f, scheduler, strategy in scenarios:
        walls, rates, lat = [], [], []
        for seed in range(repeats):
            ctx.step(f"{label}, seed {seed + 1}/{repeats}")
            wall, result = one_run(n, f, seed, scheduler=scheduler, strategy=strategy)
            walls.append(wall)
            rates.append(result.deliveries / wall)
            lat.append(result.latency_delta)
        rate = section.record(f"{label}: deliveries_per_s", rates)
        section.record(f"{label}: wall_s", walls)
        section.record(f"{label}: latency_delta", lat)
        section.rows.append(
            {
                "scenario": label,
                "n": n,
                "f": f,
                "scheduler": scheduler,
                "strategy": strategy,
                "wall_s": walls,
                "deliveries_per_s": rates,
                "latency_delta": lat,
            }
        )
        if label == HEADLINE:
            section.figures.append(
                Figure(
                    f"deliveries/s, {label}",
                    rate,
                    "/s",
                    f">= {TARGET_DELIVERIES_PER_S:,}",
                    None if rate is None else rate >= TARGET_DELIVERIES_PER_S,
                    f"median of {repeats} seeds",
                )
            )
        else:
            section.figures.append(Figure(f"deliveries/s, {label}", rate, "/s"))
    ctx.step("cProfile of the hot path")
    top = profile(16, 5, "split-vote")
    section.extra["profile"] = {"scenario": HEADLINE, "sort": "tottime", "top": top}
    hot = ", ".join(f"{r['function'].split(' (')[0]} {r['share']:.0%}" for r in top[:3])
    section.notes.append(f"hot path ({HEADLINE}, own time): {hot}")
    return section
