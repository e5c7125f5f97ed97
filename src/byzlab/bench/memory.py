"""Benchmark 6, memory: peak resident set size per node process against n.

Honest FIFO runs with delta_s = 0 on local processes. For every node process its peak RSS:
what the node reports about itself (``max_rss_kib`` in its result.json) when it does, else
``VmHWM`` from /proc polled every ``POLL_S`` seconds while it runs (see realrun.py: a lower
bound, short by what a process allocates in its last poll interval). Per run the median and
the largest over the nodes, and the proxy's; per n the median over ``repeats`` runs, and the
exponent of per-node RSS against n.
"""

from __future__ import annotations

from byzlab.bench.common import Context, Figure, Section
from byzlab.bench.realrun import measure
from byzlab.orchestration.plots import fit_power_law

QUICK_SIZES = (4, 7)
FULL_SIZES = (4, 7, 16, 32, 64)
POLL_S = 0.1
MIB = 1024.0


def run(ctx: Context) -> Section:
    section = Section("memory", "Memory: peak RSS per node process")
    if "local" not in ctx.backends:
        section.notes.append("skipped: needs the local backend (--backends)")
        return section
    sources: set[str] = set()
    points: dict[str, list[tuple[int, float]]] = {v.name: [] for v in ctx.variants}
    for n in ctx.sizes(QUICK_SIZES, FULL_SIZES):
        rows = measure(
            ctx.variants,
            ctx.tmp,
            n,
            0.0,
            ctx.repeats,
            timeout_s=ctx.timeout_s,
            rss_interval=POLL_S,
            keep_failed=ctx.failed_runs,
            step=ctx.step,
        )
        for variant, row in zip(ctx.variants, rows, strict=True):
            tag = ctx.variant_label(variant, f"n={n}")
            per_node = section.record(
                f"{tag}: node_rss_median_mib",
                [None if (v := s.node_rss_median_kib) is None else v / MIB for s in row.samples],
            )
            largest = section.record(
                f"{tag}: node_rss_max_mib",
                [None if (v := s.node_rss_max_kib) is None else v / MIB for s in row.samples],
            )
            proxy = section.record(
                f"{tag}: proxy_rss_mib",
                [None if s.proxy_rss_kib is None else s.proxy_rss_kib / MIB for s in row.samples],
            )
            sources.update(s.rss_source for s in row.samples)
            if per_node is not None:
                points[variant.name].append((n, per_node))
            section.rows.append(row.to_json())
            section.figures.append(
                Figure(
                    ctx.variant_label(variant, f"peak RSS per node, n={n}"),
                    per_node,
                    "MiB",
                    note=f"largest node {_mib(largest)}, proxy {_mib(proxy)}; "
                    f"agreed {row.agreed()}",
                )
            )
    for variant in ctx.variants:
        fit = fit_power_law(
            [p[0] for p in points[variant.name]], [p[1] for p in points[variant.name]]
        )
        if fit is not None:
            section.medians[ctx.variant_label(variant, "fit: node RSS exponent")] = fit.exponent
            section.figures.append(
                Figure(
                    ctx.variant_label(variant, "exponent: node RSS vs n"),
                    fit.exponent,
                    "",
                    note="log-log least squares",
                )
            )
    section.extra["rss_source"] = sorted(sources)
    if "polled" in sources or "mixed" in sources:
        section.notes.append(
            f"node peak RSS polled from /proc/<pid>/status VmHWM every "
            f"{POLL_S:g} s (nodes did not report their own peak): a lower bound"
        )
    if "unavailable" in sources:
        section.notes.append("peak RSS unavailable for some runs (no /proc and no report)")
    return section


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} MiB"
