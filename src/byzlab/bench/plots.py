"""PNG figures of the benchmark sections: scaling curves and the theory checks (log-log with
fitted exponents), latency real against predicted, and memory against n.

Drawn like orchestration/plots.py: matplotlib's object-oriented API on the Agg canvas, never
pyplot, so nothing is global and no GUI backend is chosen. Each function takes a finished
``Section`` and returns the file names it wrote into ``out``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from byzlab.bench.common import Section, median
from byzlab.orchestration.plots import fit_power_law

__all__ = ["PLOTTERS", "plot_latency", "plot_memory", "plot_scaling"]

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#d62728")


def _figure(ncols: int, width: float = 5.0, height: float = 4.2) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * ncols, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def _save(fig: Figure, out: Path, name: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, dpi=110, metadata={"Software": None})
    return name


def _series(
    ax: Axes,
    xs: Sequence[float],
    ys: Sequence[float | None],
    color: str,
    label: str,
    *,
    scatter: bool = True,
) -> None:
    """Every point faintly, the median per x as markers, and the fitted power law."""
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and y > 0]
    if not pts:
        return
    if scatter:
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, alpha=0.3, color=color)
    grid = sorted({p[0] for p in pts})
    mids = [median(y for x, y in pts if x == g) or 0.0 for g in grid]
    fit = fit_power_law([p[0] for p in pts], [p[1] for p in pts])
    tag = "" if fit is None else f" (n^{fit.exponent:.2f})"
    ax.plot(grid, mids, "o", color=color, label=f"{label}{tag}")
    if fit is not None:
        line = np.geomspace(grid[0], grid[-1], 30)
        ax.plot(line, fit(line), "-", color=color, linewidth=1)


def _theory(ax: Axes, xs: Sequence[float], formula: Callable[[float], float], label: str) -> None:
    grid = sorted(set(xs))
    if grid:
        ax.plot(grid, [formula(x) for x in grid], "--", color="#444444", linewidth=1, label=label)


def _log(ax: Axes, xlabel: str, ylabel: str, title: str, ticks: Iterable[float]) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    grid = sorted(set(ticks))
    if grid:  # label the sizes measured, in plain numbers
        ax.set_xticks(grid)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small")


def plot_scaling(section: Section, out: Path, prefix: str) -> list[str]:
    from byzlab.bench.scaling import PROTOCOLS, blackboard_messages, rbc_messages

    runs = [r for r in section.rows if r["scan"] == "n"]
    fig, axes = _figure(3)
    for color, protocol in zip(COLORS, PROTOCOLS, strict=False):
        mine = [r for r in runs if r["protocol"] == protocol]
        for ax, key in zip(axes, ("messages", "bytes", "latency_delta"), strict=True):
            _series(ax, [r["n"] for r in mine], [r[key] for r in mine], color, protocol)
    for ax, key, title in zip(
        axes,
        ("messages", "bytes", "latency_delta (delta)"),
        ("Messages per run", "Bytes per run", "Latency to agreement"),
        strict=True,
    ):
        _log(ax, "n", key, title, [r["n"] for r in runs])
    fig.suptitle(
        f"Scaling with n: simulator, honest, {section.extra.get('scheduler')} "
        "scheduler; fitted exponents in the legend",
        fontsize="medium",
    )
    names = [_save(fig, out, f"{prefix}-scaling.png")]

    fig, axes = _figure(3)
    for color, protocol in zip(COLORS, PROTOCOLS, strict=False):
        mine = [r for r in runs if r["protocol"] == protocol]
        _series(axes[0], [r["n"] for r in mine], [r["msgs_per_rbc"] for r in mine], color, protocol)
    _theory(axes[0], [r["n"] for r in runs], lambda n: rbc_messages(int(n)), "theory (n-1)(2n+1)")
    _log(
        axes[0], "n", "messages per broadcast", "Reliable broadcast: O(n²)", [r["n"] for r in runs]
    )
    hpz = [r for r in runs if r["protocol"] == "hpz"]
    _series(axes[1], [r["n"] for r in hpz], [r["bb_msgs_per_flip"] for r in hpz], COLORS[0], "hpz")
    m0 = {r["n"]: r["m0"] for r in hpz}
    m = hpz[0]["m"] if hpz else 8
    _theory(
        axes[1],
        [r["n"] for r in hpz],
        lambda n: blackboard_messages(int(n), m, m0[int(n)]),
        "theory n(m+m0)(n-1)(2n+1)",
    )
    _log(
        axes[1],
        "n",
        "blackboard messages per coin flip",
        f"Blackboard vs n (m={m}): O(m n³)",
        [r["n"] for r in hpz],
    )
    scan = [r for r in section.rows if r["scan"] == "m"]
    _series(
        axes[2], [r["m"] for r in scan], [r["bb_msgs_per_flip"] for r in scan], COLORS[0], "hpz"
    )
    m0_of = {r["m"]: (r["n"], r["m0"]) for r in scan}
    _theory(
        axes[2],
        [r["m"] for r in scan],
        lambda x: blackboard_messages(m0_of[int(x)][0], int(x), m0_of[int(x)][1]),
        "theory",
    )
    n_scan = scan[0]["n"] if scan else "?"
    _log(
        axes[2],
        "m (rows of an even blackboard)",
        "blackboard messages per coin flip",
        f"Blackboard vs m (n={n_scan}): O(m n³)",
        [r["m"] for r in scan],
    )
    fig.suptitle(
        "Cost against the theory (dashed); fitted exponents in the legend "
        "(the x-axis variable's power)",
        fontsize="medium",
    )
    names.append(_save(fig, out, f"{prefix}-scaling-theory.png"))
    return names


def plot_latency(section: Section, out: Path, prefix: str) -> list[str]:
    if not section.rows:
        return []
    fig, axes = _figure(2)
    variants = sorted({r["variant"] for r in section.rows})
    for i, variant in enumerate(variants):
        rows = [r for r in section.rows if r["variant"] == variant]
        label = "" if len(variants) == 1 else f" [{variant}]"
        xs: list[float] = []
        real: list[float | None] = []
        for r in rows:
            for s in r["samples"]:
                xs.append(r["n"])
                real.append(s["latency_s"])
        _series(axes[0], xs, real, COLORS[2 * i % len(COLORS)], f"real{label}")
        axes[0].plot(
            [r["n"] for r in rows],
            [r["predicted_s"] for r in rows],
            "s--",
            color=COLORS[(2 * i + 1) % len(COLORS)],
            label=f"predicted: depth x (delta_s + one hop){label}",
        )
        floored = [r for r in rows if r.get("compute_floor_s") is not None]
        if floored:
            axes[0].plot(
                [r["n"] for r in floored],
                [r["compute_floor_s"] for r in floored],
                "^:",
                color=COLORS[(2 * i + 1) % len(COLORS)],
                label=f"compute floor: the simulator's time / cores{label}",
            )
        axes[1].plot(
            [r["n"] for r in rows],
            [r["ratio"] for r in rows],
            "o-",
            color=COLORS[2 * i % len(COLORS)],
            label=f"real / predicted{label}",
        )
        bounded = [r for r in floored if r.get("ratio_to_bound") is not None]
        if bounded:
            axes[1].plot(
                [r["n"] for r in bounded],
                [r["ratio_to_bound"] for r in bounded],
                "^:",
                color=COLORS[(2 * i + 1) % len(COLORS)],
                label=f"real / max(predicted, floor){label}",
            )
    sizes = [r["n"] for r in section.rows]
    _log(axes[0], "n", "latency to agreement (s)", "Honest FIFO on loopback vs simulator", sizes)
    from byzlab.bench.latency import TARGET_RATIO

    axes[1].axhline(TARGET_RATIO, color="#d62728", linestyle=":", label="target")
    _log(axes[1], "n", "real / predicted", f"Ratio (target <= {TARGET_RATIO:g})", sizes)
    fig.suptitle(f"Latency, delta_s = {section.extra.get('delta_s')} s", fontsize="medium")
    return [_save(fig, out, f"{prefix}-latency.png")]


def plot_memory(section: Section, out: Path, prefix: str) -> list[str]:
    if not section.rows:
        return []
    fig, axes = _figure(1, width=6.5)
    ax = axes[0]
    variants = sorted({r["variant"] for r in section.rows})
    series: list[tuple[str, Callable[[dict[str, Any]], float | None]]] = [
        ("node, median over nodes", lambda s: median(s["node_rss_kib"])),
        ("node, largest", lambda s: max(s["node_rss_kib"], default=None)),
        ("proxy", lambda s: s["proxy_rss_kib"]),
    ]
    k = 0
    for variant in variants:
        rows = [r for r in section.rows if r["variant"] == variant]
        for label, get in series:
            xs, ys = [], []
            for r in rows:
                for s in r["samples"]:
                    v = get(s)
                    xs.append(r["n"])
                    ys.append(None if v is None else v / 1024.0)
            name = label if len(variants) == 1 else f"{label} [{variant}]"
            _series(ax, xs, ys, COLORS[k % len(COLORS)], name)
            k += 1
    _log(
        ax,
        "n",
        "peak RSS (MiB)",
        "Peak resident set size per process",
        [r["n"] for r in section.rows],
    )
    return [_save(fig, out, f"{prefix}-memory.png")]


PLOTTERS: dict[str, Callable[[Section, Path, str], list[str]]] = {
    "scaling": plot_scaling,
    "latency": plot_latency,
    "memory": plot_memory,
}
