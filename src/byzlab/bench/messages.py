"""Benchmark 8, the message trace in the simulator: what recording ``messages.parquet`` costs.

Each scenario is an HPZ run with split inputs under uniform random delays, at n = 4, 7 and
16 (4 and 7 with ``--quick``), the sizes at which ``[run] messages = "auto"`` records
(docs/messages.md). The same seeds run twice in this process, with recording off and on,
on the Python engine (the one that records); the figures are medians over the seeds:
deliveries per second either way and the slowdown, the recording's own cost per delivery,
the file's bytes per delivery row (zstd parquet, payloads included) and the time to write it.
A run's delivery count is the simulator's (``SimResult.deliveries``), which is the number of
deliver rows.
"""

from __future__ import annotations

import time

from byzlab.adversary.assemble import assemble_simulator
from byzlab.bench.common import Context, Figure, Section
from byzlab.network.messagelog import MessageRecorder, MessagesMeta
from byzlab.network.sim import Simulator
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params
from byzlab.seeds import make_inputs

PROTOCOL = "hpz"
SCHEDULER = "random"


def _simulator(n: int, seed: int) -> Simulator:
    return assemble_simulator(
        Params.practical(n, (n - 1) // 3),
        protocol=BUILTIN_PROTOCOLS[PROTOCOL],
        inputs=make_inputs("split", n, seed),
        seed=seed,
        scheduler=SCHEDULER,
    )


def one_seed(ctx: Context, n: int, seed: int) -> dict[str, float]:
    """One seed at `n`, recording off then on: its rates, costs and file size."""
    off = _simulator(n, seed)
    started = time.perf_counter()
    plain = off.run()
    wall_off = time.perf_counter() - started

    on = _simulator(n, seed)
    recorder = MessageRecorder(on.protocol)
    on.record_messages(recorder)
    started = time.perf_counter()
    recorded = on.run()
    wall_on = time.perf_counter() - started
    if recorded.trace_hash != plain.trace_hash:
        raise RuntimeError(f"n={n} seed={seed}: recording changed the trace hash")

    path = ctx.tmp / f"messages-n{n}-s{seed}.parquet"
    meta = MessagesMeta(n, on.params.f, PROTOCOL, "delta", "sim")
    started = time.perf_counter()
    recorder.write(path, meta)
    wall_write = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    deliveries = recorded.deliveries
    return {
        "deliveries": deliveries,
        "rows": len(recorder),
        "off_per_s": deliveries / wall_off,
        "on_per_s": deliveries / wall_on,
        "slowdown": wall_on / wall_off,
        "record_us": (wall_on - wall_off) / deliveries * 1e6,
        "bytes_per_delivery": size / deliveries,
        "file_bytes": size,
        "write_ms": wall_write * 1e3,
        "write_us": wall_write / deliveries * 1e6,
    }


def run(ctx: Context) -> Section:
    section = Section("messages", "Message trace in the simulator: recording off and on")
    repeats = max(ctx.repeats, 3)
    for n in ctx.sizes((4, 7), (4, 7, 16)):
        label = f"n={n} {PROTOCOL}, {SCHEDULER}"
        samples: list[dict[str, float]] = []
        for seed in range(repeats):
            ctx.step(f"{label}, seed {seed + 1}/{repeats}")
            samples.append(one_seed(ctx, n, seed))
        section.rows.append({"n": n, "samples": samples})
        med = {
            key: section.record(f"{label}: {key}", [s[key] for s in samples]) for key in samples[0]
        }
        section.figures += [
            Figure(f"deliveries/s recording off, {label}", med["off_per_s"], "/s"),
            Figure(f"deliveries/s recording on, {label}", med["on_per_s"], "/s"),
            Figure(f"recording slowdown, {label}", med["slowdown"], "x"),
            Figure(f"recording cost per delivery, {label}", med["record_us"], "us"),
            Figure(f"messages.parquet bytes per delivery, {label}", med["bytes_per_delivery"], "B"),
            Figure(f"messages.parquet write time, {label}", med["write_ms"], "ms"),
            Figure(f"write time per delivery, {label}", med["write_us"], "us"),
        ]
    section.notes.append(
        "same seeds with recording off and on, Python engine; bytes and write time of the "
        "zstd parquet file per deliver row (send rows included in the file)"
    )
    return section
