"""Benchmark 9, the message trace on real runs: what recording costs the proxy and the nodes
per delivery, and what the trace takes on disk (docs/messages.md).

Honest local runs (split inputs, FIFO, ``delta_s = 0``: as fast as the processes go) at
n = 4, 7 and 16 (4 alone with ``--quick``), each ``repeats`` times with ``[run] messages``
off and on, alternating so that both share the machine's noise. A delivery is a message the
proxy relayed to its receiver (its ``messages`` count; honest FIFO runs drop none). Per
delivery, medians over the repeats:

* CPU of the proxy, and of all nodes together, from the protocol's start to the end of each
  process (``realrun.sample``), recording off and on, and the difference: what recording
  costs (the proxy spools each frame twice, every node each message it took);
* bytes of the spools the processes wrote (the proxy's and every node's), and of the merged
  ``messages.parquet`` (zstd) per row;
* the orchestrator's merge (``realtrace.merge_real_trace``: reading the spools, splitting
  and decoding the frames, writing the parquet), timed again on the run's own spools, per
  delivery.

The CPU figures of one run are noisy at n = 4 (a run lasts a few tens of milliseconds); the
medians over the repeats and the larger sizes are the ones to read.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from byzlab.atomicio import read_json
from byzlab.bench.common import Context, Figure, Section
from byzlab.bench.realrun import Sample, sample
from byzlab.network.messagelog import FILE_NAME
from byzlab.network.tcp.verdicts import SPOOL_NAME
from byzlab.orchestration.plan import RunPlan
from byzlab.orchestration.realtrace import PROXY_SPOOLS, merge_real_trace
from byzlab.orchestration.scenario import load_scenario

SETTINGS = ("off", "on")


def _per(value: float | None, count: int, scale: float = 1.0) -> float | None:
    return None if value is None or count <= 0 else value * scale / count


def _trace_figures(run_dir: Path, n: int, deliveries: int) -> dict[str, float | None]:
    """Bytes of the spools and of the parquet per delivery, and the merge's time per
    delivery (µs), from a recorded run's directory."""
    spools = [*(run_dir / "work" / "proxy" / PROXY_SPOOLS).glob("*.spool")]
    spools += [p for p in (run_dir / "work" / "nodes").glob(f"*/out/{SPOOL_NAME}")]
    spool_bytes = sum(p.stat().st_size for p in spools)
    summary = read_json(run_dir / "summary.json")
    sources = summary.get("message_trace_sources") if isinstance(summary, dict) else None
    rows = sources.get("rows", 0) if isinstance(sources, dict) else 0
    stats = read_json(run_dir / "proxy-stats.json")
    start = stats.get("start_wall") if isinstance(stats, dict) else None
    plan = RunPlan.of(load_scenario(run_dir / "scenario.toml"))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        merge_real_trace(
            out_dir=Path(scratch),
            proxy_spools=run_dir / "work" / "proxy" / PROXY_SPOOLS,
            node_outs={i: run_dir / "work" / "nodes" / str(i) / "out" for i in plan.honest_ids},
            protocol=plan.scenario.build_protocol(),
            n=n,
            f=plan.f,
            backend="local",
            start_wall=float(start) if isinstance(start, int | float) else None,
        )
        merge_s = time.perf_counter() - started
    parquet = (run_dir / FILE_NAME).stat().st_size
    return {
        "spool_bytes_per_delivery": _per(spool_bytes, deliveries),
        "parquet_bytes_per_row": _per(parquet, rows),
        "merge_us_per_delivery": _per(merge_s, deliveries, 1e6),
    }


def run(ctx: Context) -> Section:
    section = Section("messages-real", "Message trace on real runs: cost per delivery")
    if "local" not in ctx.backends:
        section.notes.append("skipped: needs the local backend (--backends)")
        return section
    for n in ctx.sizes((4,), (4, 7, 16)):
        samples: dict[str, list[Sample]] = {s: [] for s in SETTINGS}
        trace: list[dict[str, float | None]] = []
        for r in range(ctx.repeats):
            for setting in SETTINGS:
                ctx.step(f"n={n} messages {setting} run {r + 1}/{ctx.repeats}")
                got = sample(
                    ctx.tmp,
                    n,
                    0.0,
                    timeout_s=ctx.timeout_s,
                    keep_failed=ctx.failed_runs,
                    messages=setting,
                )
                samples[setting].append(got)
                if setting == "on" and got.agreed:
                    trace.append(_trace_figures(ctx.tmp / got.run_id, n, got.messages))
        row: dict[str, Any] = {"n": n}
        for setting in SETTINGS:
            runs = samples[setting]
            proxy = section.record(
                f"n{n}.{setting}.proxy_us_per_delivery",
                [_per(s.proxy_cpu_s, s.messages, 1e6) for s in runs],
            )
            nodes = section.record(
                f"n{n}.{setting}.nodes_us_per_delivery",
                [_per(s.nodes_cpu_s, s.messages, 1e6) for s in runs],
            )
            row[setting] = {
                "proxy_us_per_delivery": proxy,
                "nodes_us_per_delivery": nodes,
                "agreed": f"{sum(s.agreed for s in runs)}/{len(runs)}",
                "samples": [s.to_json() for s in runs],
            }
        for key in ("spool_bytes_per_delivery", "parquet_bytes_per_row", "merge_us_per_delivery"):
            row[key] = section.record(f"n{n}.{key}", [t[key] for t in trace])
        off, on = (
            None
            if row[s]["proxy_us_per_delivery"] is None or row[s]["nodes_us_per_delivery"] is None
            else row[s]["proxy_us_per_delivery"] + row[s]["nodes_us_per_delivery"]
            for s in SETTINGS
        )
        row["overhead_us_per_delivery"] = None if off is None or on is None else on - off
        section.rows.append(row)
        label = f"n={n}"
        section.figures += [
            Figure(f"{label} proxy CPU/delivery, off", row["off"]["proxy_us_per_delivery"], "µs"),
            Figure(f"{label} proxy CPU/delivery, on", row["on"]["proxy_us_per_delivery"], "µs"),
            Figure(f"{label} nodes CPU/delivery, off", row["off"]["nodes_us_per_delivery"], "µs"),
            Figure(f"{label} nodes CPU/delivery, on", row["on"]["nodes_us_per_delivery"], "µs"),
            Figure(f"{label} recording cost/delivery", row["overhead_us_per_delivery"], "µs"),
            Figure(f"{label} spool bytes/delivery", row["spool_bytes_per_delivery"], "B"),
            Figure(f"{label} parquet bytes/row", row["parquet_bytes_per_row"], "B"),
            Figure(f"{label} merge time/delivery", row["merge_us_per_delivery"], "µs"),
        ]
    section.notes.append(
        "CPU per delivery: proxy and all nodes from the protocol's start to exit, over the "
        "messages the proxy delivered; medians of the repeats, recording off and on "
        "alternating; the cost is on minus off (negative = within the noise)"
    )
    return section
