"""Benchmark 7, the engines: simulator deliveries per second on one core, the Python engine
and the native one side by side in one run (docs/native.md).

Each scenario is an honest "bracha-local" run with split inputs, the one protocol family the
native engine runs today, under fifo and uniform random delays, at n = 4, 16 and 64 (4 and
16 with ``--quick``). Both engines run the same seeds in this process; a figure is the median
of deliveries / wall seconds over the seeds, and the speedup is the ratio of the medians.
Wall time includes assembling the simulator's Python objects, which the native engine reads
its starting state from. The Python engine's n = 64 runs are long (minutes), so they stop
at a delivery cap (its figure is then the rate over the first deliveries, which the note
says); the native engine always runs to the end. The issue's target is a 15x speedup.
"""

from __future__ import annotations

import time
from typing import Any

from byzlab import native
from byzlab.adversary.assemble import assemble_simulator
from byzlab.adversary.engine import native_support, run_simulator
from byzlab.bench.common import Context, Figure, Section
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params
from byzlab.seeds import make_inputs

TARGET_SPEEDUP = 15.0
SCHEDULERS = ("fifo", "random")
# the Python engine's delivery cap per n: whole runs up to n = 16, a prefix beyond
PYTHON_CAP = {64: 400_000}


def one_run(n: int, scheduler: str, seed: int, engine: str) -> tuple[float, int]:
    """(wall seconds, deliveries) of one honest bracha-local run on `engine`."""
    sim = assemble_simulator(
        Params.practical(n, (n - 1) // 3),
        protocol=BUILTIN_PROTOCOLS["bracha-local"],
        inputs=make_inputs("split", n, seed),
        seed=seed,
        scheduler=scheduler,
        max_deliveries=PYTHON_CAP.get(n, 50_000_000) if engine == "python" else 50_000_000,
    )
    if engine == "native" and native_support(sim) is not None:
        raise RuntimeError(native_support(sim))
    started = time.perf_counter()
    result = run_simulator(sim, engine, explain=False)
    return time.perf_counter() - started, result.deliveries


def run(ctx: Context) -> Section:
    section = Section("engines", "Engines: Python and native (one core)")
    repeats = max(ctx.repeats, 3)
    engines = ["python"] if native.extension() is None else ["python", "native"]
    if len(engines) == 1:
        section.notes.append(f"native: skipped: {native.missing_reason()}")
    for n in ctx.sizes((4, 16), (4, 16, 64)):
        for scheduler in SCHEDULERS:
            label = f"n={n} bracha-local, {scheduler}"
            rates: dict[str, float | None] = {}
            row: dict[str, Any] = {"n": n, "scheduler": scheduler}
            for engine in engines:
                samples = []
                for seed in range(repeats):
                    ctx.step(f"{label}, {engine}, seed {seed + 1}/{repeats}")
                    wall, deliveries = one_run(n, scheduler, seed, engine)
                    samples.append(deliveries / wall)
                rates[engine] = section.record(f"{label}: {engine} deliveries_per_s", samples)
                row[f"{engine}_deliveries_per_s"] = samples
            section.rows.append(row)
            python, fast = rates.get("python"), rates.get("native")
            speedup = fast / python if python and fast else None
            if speedup is not None:
                section.record(f"{label}: speedup", [speedup])
            capped = f"Python capped at {PYTHON_CAP[n]:,} deliveries" if n in PYTHON_CAP else ""
            section.figures.append(Figure(f"deliveries/s python, {label}", python, "/s"))
            section.figures.append(Figure(f"deliveries/s native, {label}", fast, "/s"))
            section.figures.append(
                Figure(
                    f"native speedup, {label}",
                    speedup,
                    "x",
                    f">= {TARGET_SPEEDUP:g}",
                    None if speedup is None else speedup >= TARGET_SPEEDUP,
                    capped,
                )
            )
    return section
