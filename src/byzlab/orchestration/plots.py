"""Figures of a result store: latency, growth exponents, cost, coins, weights, timelines.

Theory of operation
-------------------
Every figure is drawn with matplotlib's object-oriented API on the Agg canvas
(``Figure`` + ``FigureCanvasAgg``), never through ``pyplot``: no global figure registry, so
nothing leaks between figures or tests and nothing needs closing, and no GUI backend is ever
chosen. Each figure is saved twice, as PNG (for the HTML report and quick looks) and as SVG
(for papers; its date metadata is dropped and its ids are salted with a constant, so the
same store gives the same file).

SVG text is kept as text (``svg.fonttype = none``) so it stays searchable and editable.

Two kinds of input:

* the runs table (store.py), for the sweep-wide figures. Latency is ``latency_delta`` (units
  of delta: virtual time in the simulator, wall time / delta_s on real backends), taken
  over the runs that agreed; the others are counted in the legend, never silently dropped;
* one run's ``trace.json`` (runtrace.py), for the weight vectors across epochs and the
  timeline of iterations, epochs, coins and decisions.

Growth exponents come from ``fit_power_law``: least squares of log y on log n over every run
(not over per-n means, so each run weighs the same). The exponent is printed in the legend;
for messages and bytes the plot also draws reference slopes for what the protocol should
cost: one reliable broadcast is O(n^2) messages (n echoes and n readies from each of n
nodes), one iteration has every node broadcast, O(n^3), and a coin flip's blackboard
adds m rows of n writers, O(m n^3).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = [
    "PlotFile",
    "PowerFit",
    "fit_power_law",
    "plot_coin_unanimity",
    "plot_cost_vs_n",
    "plot_latency_cdf",
    "plot_latency_vs_n",
    "plot_timeline",
    "plot_weights",
    "sweep_plots",
]

Row = Mapping[str, Any]
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#d62728",
)
GOOD = "#1f77b4"
BAD = "#d62728"


@dataclass(frozen=True)
class PlotFile:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path


@dataclass(frozen=True)
class PowerFit:
    """y ~ coefficient * x ** exponent, by least squares on (log x, log y)."""

    exponent: float
    coefficient: float
    r2: float
    points: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.coefficient * np.power(x, self.exponent), dtype=np.float64)


def fit_power_law(x: Iterable[float], y: Iterable[float]) -> PowerFit | None:
    """The log-log least-squares fit, or None without two distinct positive x values."""
    xs = np.asarray(list(x), dtype=np.float64)
    ys = np.asarray(list(y), dtype=np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    xs, ys = xs[keep], ys[keep]
    if len(np.unique(xs)) < 2:
        return None
    lx, ly = np.log(xs), np.log(ys)
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (slope * lx + intercept)
    total = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 1.0
    return PowerFit(float(slope), float(math.exp(intercept)), r2, len(xs))


# --------------------------------------------------------------------------- helpers


def _figure(width: float = 7.0, height: float = 4.5, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> PlotFile:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=110, metadata={"Software": None})
    # text stays text (searchable, editable in a paper); fixed ids and no date: reproducible
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "byzlab"}):
        fig.savefig(svg, metadata={"Date": None})
    return PlotFile(name, title, caption, png, svg)


def _empty(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True, color="#555555"
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _series_label(row: Row, multi_backend: bool) -> str:
    label = str(row.get("protocol"))
    return f"{label} ({row.get('backend')})" if multi_backend else label


def _by_series(rows: Sequence[Row]) -> dict[str, list[Row]]:
    multi = len({r.get("backend") for r in rows}) > 1
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[_series_label(r, multi)].append(r)
    return dict(sorted(groups.items()))


def _colors(labels: Iterable[str]) -> dict[str, str]:
    return {label: _PALETTE[k % len(_PALETTE)] for k, label in enumerate(labels)}


def _latency(r: Row) -> float | None:
    v = r.get("latency_delta")
    return float(v) if r.get("agreed") and isinstance(v, int | float) and v > 0 else None


def _fmt_exp(fit: PowerFit | None) -> str:
    return "one n only: no fit" if fit is None else f"∝ n^{fit.exponent:.2f}"


# --------------------------------------------------------------------------- sweep figures


def plot_latency_cdf(rows: Sequence[Row], out_dir: Path) -> PlotFile:
    fig, (ax,) = _figure()
    groups = _by_series(rows)
    colors = _colors(groups)
    drawn = False
    for label, group in groups.items():
        values = sorted(v for r in group if (v := _latency(r)) is not None)
        missing = len(group) - len(values)
        note = f"{len(values)} runs" + (f", {missing} did not agree" if missing else "")
        if not values:
            continue
        ys = np.arange(1, len(values) + 1) / len(group)
        ax.step(
            [values[0], *values],
            [0.0, *ys],
            where="post",
            color=colors[label],
            label=f"{label} ({note})",
        )
        drawn = True
    if drawn:
        ax.set_xlabel("latency to agreement (units of delta)")
        ax.set_ylabel("fraction of runs agreed by then")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    else:
        _empty(ax, "no run agreed: no latency to plot")
    ax.set_title("Latency to agreement (CDF per protocol)")
    return _save(
        fig,
        out_dir,
        "latency_cdf",
        "Latency CDF per protocol",
        "Empirical CDF of the latency to agreement over all runs of each protocol "
        "(runs that did not agree never reach the curve's top).",
    )


def _scatter_fit(
    ax: Axes, groups: Mapping[str, Sequence[Row]], value: Any, colors: Mapping[str, str]
) -> dict[str, PowerFit | None]:
    fits: dict[str, PowerFit | None] = {}
    for label, group in groups.items():
        pts = [
            (float(r["n"]), v)
            for r in group
            if (v := value(r)) is not None and v > 0 and r.get("n")
        ]
        if not pts:
            continue
        xs = np.array([p[0] for p in pts])
        ys = np.array([p[1] for p in pts])
        fit = fit_power_law(xs, ys)
        fits[label] = fit
        color = colors[label]
        ax.scatter(xs, ys, s=14, alpha=0.35, color=color, linewidths=0)
        ns = np.unique(xs)
        medians = [float(np.median(ys[xs == n])) for n in ns]
        ax.plot(ns, medians, "o", color=color, markersize=5)
        if fit is not None:
            grid = np.geomspace(ns.min(), ns.max(), 50)
            ax.plot(grid, fit(grid), "-", color=color, label=f"{label}: {_fmt_exp(fit)}")
        else:
            ax.plot([], [], "o", color=color, label=f"{label}: {_fmt_exp(None)}")
    return fits


def _log_axes(ax: Axes, rows: Sequence[Row]) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ns = sorted({int(r["n"]) for r in rows if r.get("n")})
    if ns:
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.minorticks_off()
    ax.set_xlabel("n (nodes)")
    ax.grid(alpha=0.3, which="both")


def plot_latency_vs_n(rows: Sequence[Row], out_dir: Path) -> PlotFile:
    fig, (ax,) = _figure()
    groups = _by_series(rows)
    fits = _scatter_fit(ax, groups, _latency, _colors(groups))
    if fits:
        _log_axes(ax, rows)
        ax.set_ylabel("latency to agreement (units of delta)")
        ax.legend(fontsize="small", title="log-log least squares", title_fontsize="small")
    else:
        _empty(ax, "no run agreed: no latency to plot")
    ax.set_title("Latency vs n (dots: runs, circles: medians, lines: fits)")
    return _save(
        fig,
        out_dir,
        "latency_vs_n",
        "Latency vs n",
        "Latency to agreement against n on log-log axes; the legend gives the "
        "growth exponent fitted by least squares over all agreed runs.",
    )


def _guide(ax: Axes, rows: Sequence[Row], value: Any, slope: float, label: str, style: str) -> None:
    pts = [(float(r["n"]), v) for r in rows if (v := value(r)) is not None and v > 0]
    if not pts:
        return
    n0 = min(p[0] for p in pts)
    n1 = max(p[0] for p in pts)
    if n1 <= n0:
        return
    y0 = float(np.exp(np.mean([math.log(v) for n, v in pts if n == n0])))
    grid = np.geomspace(n0, n1, 20)
    ax.plot(grid, y0 * (grid / n0) ** slope, style, color="#444444", linewidth=1, label=label)


def _num(key: str) -> Any:
    def get(r: Row) -> float | None:
        v = r.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    return get


def _per_rbc(r: Row) -> float | None:
    m, k = r.get("messages"), r.get("rbc_instances")
    return float(m) / float(k) if isinstance(m, int) and isinstance(k, int) and k > 0 else None


def plot_cost_vs_n(rows: Sequence[Row], out_dir: Path) -> PlotFile:
    fig, axes = _figure(14.0, 4.6, ncols=3)
    groups = _by_series(rows)
    colors = _colors(groups)
    panels = (
        (axes[0], _num("messages"), "messages per run", 3.0, "n^3: one iteration (n RBCs)"),
        (axes[1], _num("bytes"), "bytes per run", 3.0, "n^3 (x m for a blackboard)"),
        (axes[2], _per_rbc, "messages per RBC instance", 2.0, "n^2: one RBC"),
    )
    for ax, value, ylabel, slope, guide_label in panels:
        fits = _scatter_fit(ax, groups, value, colors)
        if not fits:
            _empty(ax, f"no {ylabel} recorded")
            continue
        _guide(ax, rows, value, slope, f"theory {guide_label}", "--")
        if slope == 3.0:
            _guide(ax, rows, value, 2.0, "n^2 reference", ":")
        _log_axes(ax, rows)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize="x-small")
    axes[0].set_title("Messages vs n")
    axes[1].set_title("Bytes vs n")
    axes[2].set_title("Messages per reliable broadcast")
    fig.suptitle(
        "Cost vs n. Theory: RBC O(n²) messages per broadcast; blackboard O(m n³) per coin flip",
        fontsize="medium",
    )
    return _save(
        fig,
        out_dir,
        "cost_vs_n",
        "Messages and bytes vs n",
        "Messages and bytes per run, and messages per reliable-broadcast instance, "
        "against n on log-log axes with fitted exponents. Dashed: the theory's "
        "slopes (RBC O(n²) per broadcast, so O(n³) per iteration; the blackboard "
        "O(m n³) per coin flip).",
    )


def plot_coin_unanimity(rows: Sequence[Row], out_dir: Path) -> PlotFile:
    fig, (ax,) = _figure(max(6.0, 1.2 + 0.9 * 6), 4.5)
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        key = (str(r.get("protocol")), str(r.get("scheduler")))
        groups[key][0] += int(r.get("coin_unanimous") or 0)
        groups[key][1] += int(r.get("coin_split") or 0)
    keys = sorted(k for k, (u, s) in groups.items() if u + s > 0)
    if not keys:
        _empty(ax, "no coin flips in these runs:\nevery run decided before it needed a coin")
    else:
        colors = _colors(sorted({k[0] for k in keys}))
        fractions = [groups[k][0] / sum(groups[k]) for k in keys]
        xs = np.arange(len(keys))
        ax.bar(xs, fractions, width=0.6, color=[colors[k[0]] for k in keys])
        pad = 0.5 + 0.5 * max(0, 3 - len(keys))  # a lone bar should not fill the figure
        ax.set_xlim(-pad, len(keys) - 1 + pad)
        for x, k, frac in zip(xs, keys, fractions, strict=True):
            u, s = groups[k]
            ax.text(float(x), frac + 0.02, f"{u}/{u + s}", ha="center", fontsize="small")
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{p}\n{s}" for p, s in keys], fontsize="small")
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("fraction of coin flips that were unanimous")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(
            handles=[Patch(color=c, label=p) for p, c in colors.items()],
            fontsize="small",
            loc="lower right",
        )
    ax.set_title("Unanimous coin flips (every honest node saw the same outcome)")
    return _save(
        fig,
        out_dir,
        "coin_unanimity",
        "Unanimous coin flips",
        "Per protocol and scheduler: the fraction of iterations whose coin every "
        "honest node that flipped it saw the same way (labels: unanimous/total).",
    )


def sweep_plots(rows: Sequence[Row], out_dir: Path) -> list[PlotFile]:
    """The sweep-wide figures, from the rows of a runs table."""
    return [
        plot_latency_cdf(rows, out_dir),
        plot_latency_vs_n(rows, out_dir),
        plot_cost_vs_n(rows, out_dir),
        plot_coin_unanimity(rows, out_dir),
    ]


# --------------------------------------------------------------------------- one run


def _run_title(trace: Mapping[str, Any], run_id: str) -> str:
    byz = trace.get("byzantine") or {}
    strategies = "+".join(sorted(set(byz.values()))) or "no corrupted nodes"
    return (
        f"{run_id}\n{trace.get('protocol')}, n={trace.get('n')}, f={trace.get('f')}, "
        f"{strategies}, seed={trace.get('seed')}"
    )


def plot_weights(trace: Mapping[str, Any], out_dir: Path, run_id: str) -> PlotFile:
    fig, (ax,) = _figure()
    weights = trace.get("epoch_weights") or []
    if all(w is None for w in weights):
        weights = []
    byz = {int(k) for k in (trace.get("byzantine") or {})}
    if not weights:
        _empty(
            ax,
            f"no weight vectors: protocol {trace.get('protocol')} has no weights"
            if trace.get("protocol") != "hpz"
            else "no epoch completed",
        )
    else:
        # an epoch whose weights no honest node knew (the run ended as it began) is a gap
        table = np.asarray(
            [
                w if w is not None else [np.nan] * len(next(x for x in weights if x is not None))
                for w in weights
            ],
            dtype=np.float64,
        )
        epochs = np.arange(table.shape[0])
        n = table.shape[1]
        for j in range(n):
            bad = j in byz
            offset = (j - (n - 1) / 2) * 0.004  # keep equal weights visible side by side
            ax.plot(
                epochs,
                table[:, j] + offset,
                "-o",
                color=BAD if bad else GOOD,
                alpha=0.9 if bad else 0.6,
                markersize=4,
                linewidth=1.2,
                zorder=3 if bad else 2,
            )
        ax.set_xticks(epochs)
        ax.set_xlabel("epoch")
        ax.set_ylabel("consensus weight")
        ax.set_ylim(-0.05, 1.08)
        ax.grid(alpha=0.3)
        ax.legend(
            handles=[
                Line2D([], [], color=GOOD, marker="o", label="good (honest) nodes"),
                Line2D([], [], color=BAD, marker="o", label="bad (Byzantine) nodes"),
            ],
            fontsize="small",
            loc="lower left",
        )
    ax.set_title(f"Weights across epochs: {_run_title(trace, run_id)}", fontsize="small")
    return _save(
        fig,
        out_dir,
        "weights",
        "Weight vector across epochs",
        "Each node's consensus weight in each epoch (HPZ §3.3): blacklisting lowers "
        "the weight of nodes whose coin columns correlate negatively; honest nodes "
        "in blue, Byzantine in red.",
    )


def plot_timeline(trace: Mapping[str, Any], out_dir: Path, run_id: str) -> PlotFile:
    n = int(trace.get("n") or 0)
    fig, (ax,) = _figure(11.0, max(3.2, 1.2 + 0.42 * (n + 1)))
    T = int(trace.get("T") or 1)
    end = float(trace.get("end_time") or 0.0)
    starts = {int(k): v for k, v in (trace.get("iteration_starts") or {}).items()}
    halts = {int(k): float(v) for k, v in (trace.get("halts") or {}).items()}
    byz = {int(k): v for k, v in (trace.get("byzantine") or {}).items()}
    horizon = max([end, *halts.values(), 1e-9])
    epochs_seen: set[int] = set()
    first_start: dict[int, float] = {}
    for i, log in starts.items():
        stop = halts.get(i, end)
        for k, (t, at) in enumerate(log):
            until = log[k + 1][1] if k + 1 < len(log) else stop
            epoch = (int(t) - 1) // T
            epochs_seen.add(epoch)
            first_start[int(t)] = min(first_start.get(int(t), math.inf), float(at))
            width = max(float(until) - float(at), horizon * 0.002)
            ax.broken_barh(
                [(float(at), width)],
                (i - 0.35, 0.7),
                facecolors=_PALETTE[epoch % len(_PALETTE)],
                edgecolor="white",
                alpha=0.55,
            )
            if width > horizon * 0.035:
                ax.text(
                    float(at) + width / 2, i, f"t={t}", ha="center", va="center", fontsize="x-small"
                )
    for i, strategy in byz.items():
        ax.broken_barh(
            [(0.0, horizon)], (i - 0.35, 0.7), facecolors="#eeeeee", edgecolor="#999999", hatch="//"
        )
        ax.text(
            horizon * 0.01, i, f"Byzantine: {strategy}", va="center", fontsize="x-small", color=BAD
        )
    for d in trace.get("decisions") or []:
        ax.plot(
            d["time"],
            d["node"],
            marker="*",
            markersize=13,
            linestyle="none",
            color="#2ca02c" if d["value"] == 1 else "#9467bd",
            markeredgecolor="black",
            zorder=5,
        )
    for i, at in halts.items():
        ax.plot(at, i, marker="|", markersize=16, color="black", zorder=5)
    for e in sorted(epochs_seen):
        t0 = e * T + 1
        if e > 0 and t0 in first_start:
            ax.axvline(first_start[t0], color="#555555", linestyle="--", linewidth=1)
            ax.text(first_start[t0], -0.9, f" epoch {e}", fontsize="x-small", va="center")
    for coin in trace.get("coins") or []:
        t = int(coin["iteration"])
        at = first_start.get(t + 1)
        if at is None:
            continue
        values = set(coin["outputs"].values())
        text = f"coin {t}: {next(iter(values)):+d}" if coin["unanimous"] else f"coin {t}: split"
        ax.plot(
            at,
            -0.5,
            marker="o" if coin["unanimous"] else "X",
            linestyle="none",
            color="#2ca02c" if coin["unanimous"] else BAD,
            markersize=7,
        )
        ax.text(at, -0.5, "  " + text, fontsize="x-small", va="center")
    ax.set_ylim(n - 0.4, -1.3)
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [f"node {i}" + (" (B)" if i in byz else "") for i in range(n)], fontsize="small"
    )
    ax.set_xlim(0, horizon * 1.02)
    ax.set_xlabel("virtual time (units of delta)")
    ax.grid(axis="x", alpha=0.3)
    handles: list[Artist] = []
    handles += [
        Patch(color=_PALETTE[e % len(_PALETTE)], alpha=0.55, label=f"epoch {e}")
        for e in sorted(epochs_seen)[:6]
    ]
    handles += [
        Line2D(
            [],
            [],
            marker="*",
            color="#2ca02c",
            linestyle="none",
            markersize=10,
            markeredgecolor="black",
            label="decides +1",
        ),
        Line2D(
            [],
            [],
            marker="*",
            color="#9467bd",
            linestyle="none",
            markersize=10,
            markeredgecolor="black",
            label="decides -1",
        ),
        Line2D([], [], marker="|", color="black", linestyle="none", markersize=10, label="halts"),
        Line2D([], [], marker="o", color="#2ca02c", linestyle="none", label="coin unanimous"),
        Line2D([], [], marker="X", color=BAD, linestyle="none", label="coin split"),
    ]
    ax.legend(handles=handles, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Timeline: {_run_title(trace, run_id)}", fontsize="small")
    return _save(
        fig,
        out_dir,
        "timeline",
        "Timeline of one run",
        "Per node: the iterations it played (bars, coloured by epoch), when it "
        "decided (stars) and halted (bars); on top, each iteration's coin outcome, "
        "placed where the next iteration began, and the epoch boundaries.",
    )
