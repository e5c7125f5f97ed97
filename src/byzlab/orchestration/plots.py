"""Figures of a result store: latency, agreement, cost, coins, spreads, heatmaps, one run.

Theory of operation
-------------------
Every figure is drawn with matplotlib's object-oriented API on the Agg canvas
(``Figure`` + ``FigureCanvasAgg``), never through ``pyplot``: no global figure registry, so
nothing leaks between figures or tests and nothing needs closing, and no GUI backend is ever
chosen. Each figure is saved three times: PNG (for the HTML report and quick looks), SVG and
PDF (for papers: ``\\includegraphics`` takes the PDF). The SVG's date metadata is dropped and
its ids are salted with a constant, and the PDF carries no creation date, so the same store
gives the same files. SVG text is kept as text (``svg.fonttype = none``) so it stays
searchable and editable; the PDF embeds its fonts as Type 42 (TrueType), which LaTeX and
journals accept.

Grouping. A sweep-wide figure draws one curve (or bar) per value of the ``Grouping``'s
columns (``byzlab report --group-by``, default the protocol). Every configuration column
that varies inside a curve (scheduler, strategy, backend, ...) is pooled there, and the
caption says which and with which values: results of different schedulers or strategies are
never merged silently. The curves of one n are dodged sideways a little so their error bars
do not hide each other.

Missing values. Latency is ``latency_delta`` (units of delta: virtual time in the simulator,
wall time / delta_s on real backends) of a run that agreed; a run that did not agree has none
(whatever the row holds), and neither has a run whose value is null or NaN. Such runs are
never drawn as 0: the legend counts them per curve.

Intervals (intervals.py, all 95%): error bars on a median are its distribution-free
order-statistic interval; on the agreement rate (one trial per run), the Wilson interval; on
the share of unanimous coins, whose flips come in runs (up to dozens per run, alike within
one), the Wilson interval over the effective number of flips the between-run variance
allows (a cluster interval: a run is the unit of evidence, not a flip).

Axes. Every plotted axis has tick labels: log axes get explicit ticks at 1-2-5 multiples of
powers of ten (or, over a range narrower than that, evenly spaced ones), printed plainly, and
n axes get a tick at every size swept. Legends sit outside the axes, where constrained layout
makes room for them, so they never cover data.

Growth exponents come from ``fit_power_law``: least squares of log(median y) on log n, one
point per size, with the slope's t-interval on sizes - 2 degrees of freedom. Not over every
run: the runs of one size are not independent draws around the line (a size has its own
offset from any power law, which more runs do not average away), and a fit over 4 sizes x
50 runs would claim 198 degrees of freedom and an interval several times too narrow. Runs
that did not agree have no latency and are left out of the medians; the latency figure says
so and gives, beside it, the exponent with each of them counted as slower than every run at
its n (``fit_power_law``'s ``unfinished``), so a bias from failures that are the slow runs
shows. A figure
prints an exponent only for a curve with at least ``MIN_SIZES_FOR_EXPONENT`` distinct sizes;
a line through two or three sizes says little about growth, and the legend says "fewer than
4 sizes: no exponent" instead. For messages and bytes the plot also draws reference slopes
for what the protocol should cost: one reliable broadcast is O(n^2) messages (n echoes and n
readies from each of n nodes), one iteration has every node broadcast, O(n^3), and a coin
flip's blackboard adds m rows of n writers, O(m n^3).

Numbering. Iterations and epochs are numbered from 1 everywhere (the figures, the timeline,
the report's tables): epoch e holds iterations (e-1)T+1 .. eT, and the counts in a run's row
(``iterations``, ``epochs``) are the last ones it reached.

Inputs: the runs table (store.py) for the sweep-wide figures, with an optional
``decision_spread_delta`` per row (the report computes it from each run's summary.json);
the matrix table (store.py) for the strategy x scheduler heatmaps; one run's ``trace.json``
(runtrace.py) for the weight vectors across epochs and the timeline.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from byzlab.orchestration.intervals import (
    Interval,
    cluster_proportion_interval,
    median_interval,
    slope_interval,
    wilson_interval,
)
from byzlab.orchestration.store import PARAM_COLUMNS

__all__ = [
    "COIN_INTERVAL",
    "DIMENSIONS",
    "MIN_SIZES_FOR_EXPONENT",
    "NUMBERING",
    "Grouping",
    "PlotFile",
    "PowerFit",
    "coin_flips",
    "fit_power_law",
    "latency",
    "plot_agreement_vs_n",
    "plot_coin_unanimity",
    "plot_cost_vs_n",
    "plot_decision_spread",
    "plot_latency_cdf",
    "plot_latency_vs_n",
    "plot_matrix_heatmap",
    "plot_sim_vs_real",
    "plot_timeline",
    "plot_weights",
    "sweep_plots",
]

Row = Mapping[str, Any]
Value = Callable[[Row], float | None]
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
MIN_SIZES_FOR_EXPONENT = 4

#: The protocol parameters a run used, each a column of the store (resolved values).
PARAMETERS = tuple(name for name, _ in PARAM_COLUMNS)

#: The configuration columns a curve may pool, in the order a caption names them.
DIMENSIONS = (
    "protocol",
    "backend",
    "delta_s",
    "scheduler",
    "strategy",
    "inputs",
    "corrupted",
    "preset",
    *PARAMETERS,
)

_MEDIAN_BARS = (
    "Error bars: 95% interval of the median (order statistics, distribution-free; at a "
    "point with fewer than 6 runs, the range of its runs)."
)
COIN_INTERVAL = (
    "95% interval over runs, not flips: the flips of one run share its seed, schedule and "
    "weights, so it is Wilson's interval over the effective number of flips that the "
    "variance between runs allows (a cluster interval, Korn and Graubard 1998), and one "
    "flip per run where every flip was unanimous or every one split."
)
_FIT_METHOD = (
    "The legend's growth exponent is the slope of a least-squares line through the "
    "per-size medians on log-log axes (one point per n, not per run: runs of one size share "
    "its offset from any power law), with its 95% t-interval on sizes - 2 degrees of "
    f"freedom; it is given for curves with at least {MIN_SIZES_FOR_EXPONENT} sizes."
)
NUMBERING = "Iterations and epochs are numbered from 1 (epoch e = iterations (e-1)T+1 .. eT)."


@dataclass(frozen=True)
class PlotFile:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    pdf: Path


@dataclass(frozen=True)
class PowerFit:
    """y ~ coefficient * x ** exponent, by least squares on (log x, log median y), one point
    per distinct x."""

    exponent: float
    coefficient: float
    r2: float  # of the fit to the per-size medians
    points: int  # runs that made the medians
    sizes: int  # distinct x values: the points of the fit
    exponent_ci: tuple[float, float] | None  # 95% t-interval of the slope, sizes - 2 dof

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.coefficient * np.power(x, self.exponent), dtype=np.float64)


def fit_power_law(
    x: Iterable[float], y: Iterable[float], *, unfinished: Iterable[float] = ()
) -> PowerFit | None:
    """The log-log least-squares fit through the median y of each distinct x, or None
    without two distinct positive x values.

    Points with a non-positive or non-finite x or y are left out. ``unfinished`` holds the x
    of runs that have no y because they never finished (a run that did not agree has no
    latency): each counts at its x as slower than every run, which raises that size's
    median; a size where half of its runs or more did not finish has no median, and then
    there is no fit."""
    xs = np.asarray(list(x), dtype=np.float64)
    ys = np.asarray(list(y), dtype=np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    late = np.asarray([u for u in unfinished if math.isfinite(u) and u > 0], dtype=np.float64)
    xs = np.concatenate([xs[keep], late])
    ys = np.concatenate([ys[keep], np.full(len(late), math.inf)])
    ns = np.unique(xs)
    if len(ns) < 2:
        return None
    medians = np.array([np.median(ys[xs == n]) for n in ns])
    if not np.all(np.isfinite(medians)):
        return None
    lx, ly = np.log(ns), np.log(medians)
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (slope * lx + intercept)
    total = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 1.0
    ci = slope_interval(lx, ly, float(slope), float(intercept))
    return PowerFit(float(slope), float(math.exp(intercept)), r2, len(xs), len(ns), ci)


def _text(value: object) -> str:
    return "-" if value is None else str(value)


@dataclass(frozen=True)
class Grouping:
    """Which columns make a curve: one curve per distinct tuple of their values."""

    columns: tuple[str, ...] = ("protocol",)

    @property
    def name(self) -> str:
        return ", ".join(self.columns)

    def label(self, row: Row) -> str:
        return ", ".join(_text(row.get(c)) for c in self.columns)

    def split(self, rows: Iterable[Row]) -> dict[str, list[Row]]:
        groups: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            groups[self.label(r)].append(r)
        return dict(sorted(groups.items()))

    def pooled(self, rows: Sequence[Row]) -> str:
        """The caption's sentence on what each curve holds and what it pools: the columns
        with more than one value among the runs of one curve at one n."""
        head = f"One curve per {self.name} (--group-by {','.join(self.columns)})."
        points: dict[tuple[str, object], list[Row]] = defaultdict(list)
        for r in rows:
            points[(self.label(r), r.get("n"))].append(r)
        varying = []
        for column in DIMENSIONS:
            if column in self.columns:
                continue
            # pooled: two values in one curve at one n (a column that follows n, as the
            # number of corrupted nodes does with f, is not)
            if all(len({_text(r.get(column)) for r in point}) < 2 for point in points.values()):
                continue
            values = sorted({_text(r.get(column)) for r in rows})
            if len(values) > 1:
                shown = ", ".join(values) if len(values) <= 6 else f"{len(values)} values"
                varying.append(f"{column} ({shown})")
        if not varying:
            return f"{head} Nothing else varies between the runs of a curve."
        return (
            f"{head} Pooled within a curve: {'; '.join(varying)}. Group by those columns "
            "too to separate them."
        )


def latency(r: Row) -> float | None:
    """A run's latency in delta, or None: it did not agree, or its value is missing."""
    v = r.get("latency_delta")
    if not r.get("agreed") or not isinstance(v, int | float) or isinstance(v, bool):
        return None
    return float(v) if math.isfinite(v) and v > 0 else None


def _not_agreed(r: Row) -> bool:
    return not r.get("agreed")


def _num(key: str, *, agreed_only: bool = False) -> Value:
    def get(r: Row) -> float | None:
        v = r.get(key)
        if agreed_only and not r.get("agreed"):
            return None
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            return None
        return float(v)

    return get


def _per_rbc(r: Row) -> float | None:
    m, k = r.get("messages"), r.get("rbc_instances")
    return float(m) / float(k) if isinstance(m, int) and isinstance(k, int) and k > 0 else None


# --------------------------------------------------------------------------- helpers


def _figure(width: float = 7.0, height: float = 4.5, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> PlotFile:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg, pdf = (out_dir / f"{name}.{ext}" for ext in ("png", "svg", "pdf"))
    fig.savefig(png, dpi=110, metadata={"Software": None})
    # text stays text (searchable, editable in a paper); fixed ids and no date: reproducible
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "byzlab"}):
        fig.savefig(svg, metadata={"Date": None})
    with rc_context({"pdf.fonttype": 42}):
        fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None})
    return PlotFile(name, title, caption, png, svg, pdf)


def _empty(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True, color="#555555"
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _grouped(
    rows: Sequence[Row], grouping: Grouping | None, width: float, height: float
) -> tuple[Grouping, Figure, Axes, dict[str, list[Row]]]:
    """A one-panel figure's start: the grouping (default: by protocol), the figure, its
    axes, and the rows split into curves."""
    grouping = grouping or Grouping()
    fig, (ax,) = _figure(width, height)
    return grouping, fig, ax, grouping.split(rows)


def _colors(labels: Iterable[str]) -> dict[str, str]:
    return {label: _PALETTE[k % len(_PALETTE)] for k, label in enumerate(labels)}


def _plain(value: float, _pos: object = None) -> str:
    return f"{value:g}"


def _log_ticks(ax: Axes, which: str) -> None:
    """Explicit, labelled ticks on a log axis: 1-2-5 multiples of powers of ten when at least
    three fall in the range, else evenly spaced ones (a narrow range has no decade tick)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    lo, hi = min(lo, hi), max(lo, hi)
    ticks: list[float] = []
    if lo > 0:
        for mantissas in ((1.0,), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0, 7.0)):
            ticks = [
                m * 10.0**k
                for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                for m in mantissas
                if lo <= m * 10.0**k <= hi
            ]
            if len(ticks) >= 3:
                break
        if len(ticks) < 3:
            ticks = [float(t) for t in MaxNLocator(nbins=4).tick_values(lo, hi) if lo <= t <= hi]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_locator(NullLocator())


def _n_axis(ax: Axes, rows: Sequence[Row], *, log_y: bool) -> None:
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ns = sorted({int(r["n"]) for r in rows if r.get("n")})
    if ns:
        pad = 1.12
        ax.set_xlim(ns[0] / pad, ns[-1] * pad)
        ax.xaxis.set_major_locator(FixedLocator([float(n) for n in ns]))
        ax.xaxis.set_major_formatter(FuncFormatter(_plain))
        ax.xaxis.set_minor_locator(NullLocator())
    if log_y:
        _log_ticks(ax, "y")
    ax.set_xlabel("n (nodes)")
    ax.grid(alpha=0.3, which="major")


def _legend_outside(ax: Axes, title: str | None = None, **kwargs: Any) -> None:
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        title=title,
        title_fontsize="small",
        frameon=False,
        **kwargs,
    )


def _legend_below(ax: Axes) -> None:
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="x-small", frameon=False, ncols=1
    )


def _dodge(k: int, count: int) -> float:
    """The factor that shifts curve k of count sideways on a log n axis."""
    return float(1.0 + 0.03 * (k - (count - 1) / 2))


def _fmt_exp(fit: PowerFit | None) -> str:
    if fit is None or fit.sizes < MIN_SIZES_FOR_EXPONENT:
        return f"fewer than {MIN_SIZES_FOR_EXPONENT} sizes: no exponent"
    if fit.exponent_ci is None:
        return f"∝ n^{fit.exponent:.2f}"
    lo, hi = fit.exponent_ci
    return f"∝ n^{fit.exponent:.2f} (95% CI {lo:.2f} to {hi:.2f})"


def _if_slowest(
    group: Sequence[Row], pts: Sequence[tuple[float, float]], unfinished: Callable[[Row], bool]
) -> str:
    """The legend's second line for a curve with runs that did not finish: the exponent with
    each of them counted as slower than every run at its n, which the fit without them
    cannot see (failures that are the slow runs bias it down)."""
    late = [float(r["n"]) for r in group if r.get("n") and unfinished(r)]
    if not late:
        return ""
    fit = fit_power_law([p[0] for p in pts], [p[1] for p in pts], unfinished=late)
    head = f"\n  {len(late)} that did not agree counted as slowest: "
    if fit is not None:
        return head + _fmt_exp(fit)
    # a size's median is infinite once its unfinished runs are as many as its finished ones
    half = sorted({n for n in late if late.count(n) >= sum(1 for p in pts if p[0] == n)})
    return head + f"no median at n = {', '.join(f'{n:g}' for n in half)}"


def _medians_vs_n(
    ax: Axes,
    groups: Mapping[str, Sequence[Row]],
    value: Value,
    colors: Mapping[str, str],
    *,
    fit: bool,
    positive: bool,
    unfinished: Callable[[Row], bool] | None = None,
) -> dict[str, PowerFit | None]:
    """Per curve: every run as a faint dot, the median per n with its interval, the medians
    joined, and (with ``fit``) the power law through the medians when at least four sizes
    exist. The legend label counts the runs without a value, and with ``unfinished`` (which
    runs lack a value because they never finished) gives the exponent with those counted as
    slowest too."""
    fits: dict[str, PowerFit | None] = {}
    for k, (label, group) in enumerate(groups.items()):
        pts = [
            (float(r["n"]), v)
            for r in group
            if r.get("n") and (v := value(r)) is not None and (v > 0 or not positive)
        ]
        missing = len(group) - len(pts)
        note = f" [{missing} of {len(group)} runs: no value]" if missing else ""
        color = colors[label]
        if not pts:
            ax.plot([], [], "o", color=color, label=f"{label}: no value in {len(group)} runs")
            continue
        shift = _dodge(k, len(groups))
        xs = np.array([p[0] for p in pts])
        ys = np.array([p[1] for p in pts])
        ax.scatter(xs * shift, ys, s=12, alpha=0.3, color=color, linewidths=0)
        ns = np.unique(xs)
        intervals = [iv for n in ns if (iv := median_interval(ys[xs == n])) is not None]
        estimates = np.array([iv.estimate for iv in intervals])
        errors = np.array([iv.errorbar() for iv in intervals]).T
        the_fit = fit_power_law(xs, ys) if fit else None
        fits[label] = the_fit
        text = f"{label}: {_fmt_exp(the_fit)}" if fit else label
        if unfinished is not None and the_fit and the_fit.sizes >= MIN_SIZES_FOR_EXPONENT:
            note += _if_slowest(group, pts, unfinished)
        ax.errorbar(
            ns * shift,
            estimates,
            yerr=errors,
            fmt="o-",
            color=color,
            markersize=5,
            linewidth=1,
            capsize=3,
            label=text + note,
        )
        if the_fit is not None and the_fit.sizes >= MIN_SIZES_FOR_EXPONENT:
            grid = np.geomspace(ns.min(), ns.max(), 50)
            ax.plot(grid, the_fit(grid), "--", color=color, linewidth=1, alpha=0.8)
    return fits


# --------------------------------------------------------------------------- sweep figures


def plot_latency_cdf(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> PlotFile:
    grouping, fig, ax, groups = _grouped(rows, grouping, 8.5, 4.5)
    colors = _colors(groups)
    drawn = False
    for label, group in groups.items():
        values = sorted(v for r in group if (v := latency(r)) is not None)
        missing = len(group) - len(values)
        note = f"{len(values)} runs" + (f", {missing} without latency" if missing else "")
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
        _legend_outside(ax, grouping.name)
    else:
        _empty(ax, "no run agreed: no latency to plot")
    ax.set_title(f"Latency to agreement (CDF per {grouping.name})")
    return _save(
        fig,
        out_dir,
        "latency_cdf",
        f"Latency CDF per {grouping.name}",
        "Empirical CDF of the latency to agreement over all runs of each curve; a run "
        "without latency (it did not agree) never reaches the curve, so a curve ends below 1 "
        f"by their share. {grouping.pooled(rows)}",
    )


def plot_latency_vs_n(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> PlotFile:
    grouping, fig, ax, groups = _grouped(rows, grouping, 9.0, 4.8)
    fits = _medians_vs_n(
        ax, groups, latency, _colors(groups), fit=True, positive=True, unfinished=_not_agreed
    )
    if fits:
        _n_axis(ax, rows, log_y=True)
        ax.set_ylabel("latency to agreement (units of delta)")
        _legend_outside(ax, f"{grouping.name}: log-log least squares")
    else:
        _empty(ax, "no run agreed: no latency to plot")
    ax.set_title("Latency vs n (dots: runs; markers: medians; dashed: fit)")
    return _save(
        fig,
        out_dir,
        "latency_vs_n",
        "Latency vs n",
        "Latency to agreement against n on log-log axes. "
        + _MEDIAN_BARS
        + " "
        + _FIT_METHOD
        + " Runs that did not agree have no latency: they are counted in the legend, not "
        "drawn, and left out of the medians and the fit, so the exponent is that of the runs "
        "that agreed; where failures are the slow runs that biases it down, so a curve with "
        "such runs also gives, on a second legend line, the exponent with each of them "
        "counted as slower than every run at its n (the median of all runs; none where half "
        "of a size's runs or more did not agree). " + grouping.pooled(rows),
    )


def plot_agreement_vs_n(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> PlotFile:
    grouping, fig, ax, groups = _grouped(rows, grouping, 9.0, 4.5)
    colors = _colors(groups)
    for k, (label, group) in enumerate(groups.items()):
        by_n: dict[int, list[bool]] = defaultdict(list)
        for r in group:
            if r.get("n"):
                by_n[int(r["n"])].append(bool(r.get("agreed")))
        ns = sorted(by_n)
        intervals = [wilson_interval(sum(by_n[n]), len(by_n[n])) for n in ns]
        shown = [(n, iv) for n, iv in zip(ns, intervals, strict=True) if iv is not None]
        if not shown:
            continue
        ax.errorbar(
            np.array([n for n, _ in shown], dtype=np.float64) * _dodge(k, len(groups)),
            [iv.estimate for _, iv in shown],
            yerr=np.array([iv.errorbar() for _, iv in shown]).T,
            fmt="o-",
            color=colors[label],
            capsize=3,
            markersize=5,
            linewidth=1,
            label=f"{label} ({sum(len(by_n[n]) for n in ns)} runs)",
        )
    if groups:
        _n_axis(ax, rows, log_y=False)
        ax.set_ylim(-0.03, 1.05)
        ax.set_ylabel("agreement rate (fraction of runs)")
        _legend_outside(ax, grouping.name)
    else:
        _empty(ax, "no runs")
    ax.set_title("Agreement rate vs n")
    return _save(
        fig,
        out_dir,
        "agreement_vs_n",
        "Agreement rate vs n",
        "The fraction of runs in which every honest node decided the same valid value, per "
        "n. Error bars: 95% Wilson interval. " + grouping.pooled(rows),
    )


def _guide(
    ax: Axes, rows: Sequence[Row], value: Value, slope: float, label: str, style: str
) -> None:
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


def plot_cost_vs_n(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> PlotFile:
    grouping = grouping or Grouping()
    fig, axes = _figure(14.0, 6.2, ncols=3)
    groups = grouping.split(rows)
    colors = _colors(groups)
    panels = (
        (axes[0], _num("messages"), "messages per run (count)", 3.0, "n^3: one iteration"),
        (axes[1], _num("bytes"), "bytes per run (bytes)", 3.0, "n^3 (x m for a blackboard)"),
        (axes[2], _per_rbc, "messages per RBC instance (count)", 2.0, "n^2: one RBC"),
    )
    for ax, value, ylabel, slope, guide_label in panels:
        fits = _medians_vs_n(ax, groups, value, colors, fit=True, positive=True)
        if not fits:
            _empty(ax, f"no {ylabel.split(' (')[0]} recorded")
            continue
        _guide(ax, rows, value, slope, f"theory {guide_label}", "--")
        if slope == 3.0:
            _guide(ax, rows, value, 2.0, "n^2 reference", ":")
        _n_axis(ax, rows, log_y=True)
        ax.set_ylabel(ylabel)
        _legend_below(ax)
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
        "against n on log-log axes. " + _MEDIAN_BARS + " " + _FIT_METHOD + " Dashed grey: the "
        "theory's slopes (RBC O(n²) per broadcast, so O(n³) per iteration; the blackboard "
        "O(m n³) per coin flip). " + grouping.pooled(rows),
    )


def coin_flips(r: Row) -> tuple[int, int]:
    """A run's coin flips: (unanimous, total)."""
    unanimous = int(r.get("coin_unanimous") or 0)
    return unanimous, unanimous + int(r.get("coin_split") or 0)


def plot_coin_unanimity(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> PlotFile:
    grouping = grouping or Grouping()
    shares = {
        label: share
        for label, group in grouping.split(rows).items()
        if (share := cluster_proportion_interval(coin_flips(r) for r in group)) is not None
    }
    keys = list(shares)
    fig, (ax,) = _figure(max(6.0, 2.5 + 1.1 * len(keys)), 4.8)
    if not keys:
        _empty(ax, "no coin flips in these runs:\nevery run decided before it needed a coin")
    else:
        colors = _colors(keys)
        xs = np.arange(len(keys))
        intervals = [shares[k].interval for k in keys]
        fractions = [iv.estimate for iv in intervals]
        ax.bar(xs, fractions, width=0.6, color=[colors[k] for k in keys], alpha=0.85)
        ax.errorbar(
            xs,
            fractions,
            yerr=np.array([iv.errorbar() for iv in intervals]).T,
            fmt="none",
            ecolor="black",
            capsize=4,
        )
        pad = 0.5 + 0.5 * max(0, 3 - len(keys))  # a lone bar should not fill the figure
        ax.set_xlim(-pad, len(keys) - 1 + pad)
        for x, k in zip(xs, keys, strict=True):
            share = shares[k]
            # inside the bar's foot: never on the error bar, never on a neighbour's label
            ax.text(
                float(x),
                0.02,
                f"{share.successes}/{share.trials}\n{share.clusters} runs",
                ha="center",
                va="bottom",
                fontsize="small",
            )
        ax.set_xticks(xs)
        ax.set_xticklabels(keys, fontsize="small", rotation=20, ha="right")
        ax.set_xlabel(grouping.name)
        ax.set_ylim(0, 1.08)
        ax.set_ylabel("unanimous coin flips (fraction)")
        ax.grid(axis="y", alpha=0.3)
    ax.set_title("Unanimous coin flips (every honest node saw the same outcome)")
    return _save(
        fig,
        out_dir,
        "coin_unanimity",
        "Unanimous coin flips",
        "Per curve: the fraction of coin flips (iterations that needed a coin) whose "
        "outcome every honest node that flipped it saw the same way (bar labels: "
        "unanimous/total, and the runs that flipped). Error bars: "
        + COIN_INTERVAL
        + " "
        + grouping.pooled(rows),
    )


def plot_decision_spread(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> PlotFile:
    grouping, fig, ax, groups = _grouped(rows, grouping, 9.0, 4.5)
    value = _num("decision_spread_delta", agreed_only=True)
    _medians_vs_n(ax, groups, value, _colors(groups), fit=False, positive=False)
    if any(value(r) is not None for r in rows):
        _n_axis(ax, rows, log_y=False)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("first to last honest decision (units of delta)")
        _legend_outside(ax, grouping.name)
    else:
        _empty(ax, "no run with every honest node's decision time")
    ax.set_title("Per-node decision-time spread vs n")
    return _save(
        fig,
        out_dir,
        "decision_spread",
        "Decision-time spread",
        "Per run that agreed: the time from the first honest node's decision to the last "
        "one's, from the run's recorded decision times (virtual time in the simulator, wall "
        "time / delta_s on real backends). " + _MEDIAN_BARS + " " + grouping.pooled(rows),
    )


def sweep_plots(
    rows: Sequence[Row], out_dir: Path, grouping: Grouping | None = None
) -> list[PlotFile]:
    """The sweep-wide figures every report has, from the rows of a runs table."""
    return [
        plot_latency_cdf(rows, out_dir, grouping),
        plot_latency_vs_n(rows, out_dir, grouping),
        plot_cost_vs_n(rows, out_dir, grouping),
        plot_coin_unanimity(rows, out_dir, grouping),
    ]


# --------------------------------------------------------------------------- simulator vs real

#: What makes two runs the same scenario on two backends (the seed aside): the configuration
#: columns, the protocol's parameters among them (delta_s only exists on a real backend).
SCENARIO_KEY = (
    "protocol",
    "n",
    "f",
    "scheduler",
    "strategy",
    "inputs",
    "corrupted",
    "preset",
    *PARAMETERS,
)


def plot_sim_vs_real(rows: Sequence[Row], out_dir: Path) -> PlotFile | None:
    """Median latency of each scenario on the simulator against the same scenario on a real
    backend; None when no scenario ran on both."""
    sim: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    real: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for r in rows:
        key = tuple(r.get(c) for c in SCENARIO_KEY)
        v = latency(r)
        if v is None:
            continue
        if r.get("backend") == "sim":
            sim[key].append(v)
        else:
            real[(*key, r.get("backend"), r.get("delta_s"))].append(v)
    pairs: list[tuple[tuple[Any, ...], Interval, Interval]] = []
    for rkey, values in sorted(real.items(), key=lambda kv: tuple(map(_text, kv[0]))):
        sim_iv = median_interval(sim.get(rkey[: len(SCENARIO_KEY)], []))
        real_iv = median_interval(values)
        if sim_iv is not None and real_iv is not None:
            pairs.append((rkey, sim_iv, real_iv))
    if not pairs:
        return None
    fig, (ax,) = _figure(9.0, 5.5)
    backends = sorted({f"{k[-2]}, delta {_text(k[-1])} s" for k, _, _ in pairs})
    colors = _colors(backends)
    for key, sim_iv, real_iv in pairs:
        series = f"{key[-2]}, delta {_text(key[-1])} s"
        ax.errorbar(
            [sim_iv.estimate],
            [real_iv.estimate],
            xerr=np.array([sim_iv.errorbar()]).T,
            yerr=np.array([real_iv.errorbar()]).T,
            fmt="o",
            color=colors[series],
            capsize=3,
        )
        ax.annotate(
            f"{key[0]} n={key[1]} {key[3]}/{key[4]}",
            (sim_iv.estimate, real_iv.estimate),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize="xx-small",
        )
    top = max(max(a.high, b.high) for _, a, b in pairs) * 1.1
    ax.plot([0, top], [0, top], ":", color="#444444", linewidth=1)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("simulator: virtual time to agreement (units of delta)")
    ax.set_ylabel("real backend: wall time to agreement / delta")
    ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], marker="o", linestyle="none", color=colors[b], label=b) for b in backends
    ]
    handles.append(Line2D([], [], linestyle=":", color="#444444", label="equal latency"))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        frameon=False,
    )
    ax.set_title("Simulator vs real latency, same scenario")
    return _save(
        fig,
        out_dir,
        "sim_vs_real",
        "Simulator vs real latency",
        f"{len(pairs)} scenario(s) (same {', '.join(SCENARIO_KEY[: -len(PARAMETERS)])} and "
        f"protocol parameters {', '.join(PARAMETERS)}) that ran both in the "
        "simulator and on a real backend: median latency of the agreed runs on each, virtual "
        "time in delta against wall time / delta. " + _MEDIAN_BARS + " Above the dotted line "
        "the real run was slower than the simulator's causal depth: processing and queueing.",
    )


# --------------------------------------------------------------------------- attack matrix


def plot_matrix_heatmap(cells: Sequence[Row], out_dir: Path, name: str, title: str) -> PlotFile:
    """Agreement rate and median latency per strategy x scheduler, from the matrix table's
    runs of one protocol, n and f."""
    strategies = sorted({str(c["strategy"]) for c in cells})
    schedulers = sorted({str(c["scheduler"]) for c in cells})
    runs: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for c in cells:
        runs[(str(c["strategy"]), str(c["scheduler"]))].append(c)
    rate = np.full((len(strategies), len(schedulers)), np.nan)
    lat = np.full_like(rate, np.nan)
    rate_text: dict[tuple[int, int], str] = {}
    lat_text: dict[tuple[int, int], str] = {}
    for (s, sch), group in runs.items():
        i, j = strategies.index(s), schedulers.index(sch)
        iv = wilson_interval(sum(1 for r in group if r.get("agreed")), len(group))
        if iv is not None:
            rate[i, j] = iv.estimate
            rate_text[(i, j)] = f"{iv.estimate:.0%}\n[{iv.low:.0%}, {iv.high:.0%}]"
        med = median_interval(v for r in group if (v := latency(r)) is not None)
        if med is not None:
            lat[i, j] = med.estimate
            lat_text[(i, j)] = f"{med.estimate:.3g}\n[{med.low:.3g}, {med.high:.3g}]"
        else:
            lat_text[(i, j)] = "none\nagreed"
    width = 4.0 + 2.4 * len(schedulers)
    fig, axes = _figure(width, 2.2 + 0.55 * len(strategies), ncols=2)
    panels = (
        (axes[0], rate, rate_text, "RdYlGn", (0.0, 1.0), "agreement rate (fraction of runs)"),
        (axes[1], lat, lat_text, "viridis", None, "median latency (units of delta)"),
    )
    for ax, data, texts, cmap, limits, label in panels:
        finite = data[np.isfinite(data)]
        lo, hi = limits or ((float(finite.min()), float(finite.max())) if finite.size else (0, 1))
        image = ax.imshow(
            np.ma.masked_invalid(data),
            cmap=colormaps[cmap].with_extremes(bad="#dddddd"),
            vmin=lo,
            vmax=hi if hi > lo else lo + 1,
        )
        for (i, j), text in texts.items():
            ax.text(j, i, text, ha="center", va="center", fontsize="x-small", color="black")
        ax.set_xticks(range(len(schedulers)))
        ax.set_xticklabels(schedulers, rotation=30, ha="right", fontsize="small")
        ax.set_yticks(range(len(strategies)))
        ax.set_yticklabels(strategies, fontsize="small")
        ax.set_xlabel("scheduler")
        ax.set_ylabel("strategy")
        fig.colorbar(image, ax=ax, label=label, shrink=0.9)
    axes[0].set_title("Agreement rate")
    axes[1].set_title("Median latency to agreement")
    fig.suptitle(title, fontsize="medium")
    seeds = max((len(g) for g in runs.values()), default=0)
    return _save(
        fig,
        out_dir,
        name,
        f"Attack matrix: {title}",
        f"byzlab matrix, strategy x scheduler, up to {seeds} seeds per cell. Left: the "
        "agreement rate with its 95% Wilson interval; right: the median latency of the "
        "agreed runs with its 95% order-statistic interval (grey: no run agreed).",
    )


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
        epochs = np.arange(1, table.shape[0] + 1)  # numbered from 1, as everywhere
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
        ax.set_xlabel(f"epoch (from 1; epoch e = iterations (e-1)T+1 .. eT, T = {trace.get('T')})")
        ax.set_ylabel("consensus weight (1 = full)")
        ax.set_ylim(-0.05, 1.08)
        ax.grid(alpha=0.3)
        ax.legend(
            handles=[
                Line2D([], [], color=GOOD, marker="o", label="good (honest) nodes"),
                Line2D([], [], color=BAD, marker="o", label="bad (Byzantine) nodes"),
            ],
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            frameon=False,
        )
    ax.set_title(f"Weights across epochs: {_run_title(trace, run_id)}", fontsize="small")
    return _save(
        fig,
        out_dir,
        "weights",
        "Weight vector across epochs",
        "Each node's consensus weight in each epoch (HPZ §3.3): blacklisting lowers "
        "the weight of nodes whose coin columns correlate negatively; honest nodes "
        "in blue, Byzantine in red. " + NUMBERING,
    )


def plot_timeline(trace: Mapping[str, Any], out_dir: Path, run_id: str) -> PlotFile:
    n = int(trace.get("n") or 0)
    fig, (ax,) = _figure(11.0, max(3.6, 1.6 + 0.42 * (n + 1)))
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
    # epochs are numbered from 1 in the figure (index e is epoch e + 1), as everywhere
    epoch_labels = [
        (first_start[e * T + 1], f" epoch {e + 1}")
        for e in sorted(epochs_seen)
        if e > 0 and e * T + 1 in first_start
    ]
    for at, _ in epoch_labels:
        ax.axvline(at, color="#555555", linestyle="--", linewidth=1)
    coin_labels = []
    for coin in trace.get("coins") or []:
        t = int(coin["iteration"])
        at = first_start.get(t + 1)
        if at is None:
            continue
        values = set(coin["outputs"].values())
        text = f"coin {t}: {next(iter(values)):+d}" if coin["unanimous"] else f"coin {t}: split"
        ax.plot(
            at,
            _COIN_MARKERS,
            marker="o" if coin["unanimous"] else "X",
            linestyle="none",
            color="#2ca02c" if coin["unanimous"] else BAD,
            markersize=7,
        )
        coin_labels.append((at, text))
    ax.set_ylim(n - 0.4, _EPOCH_LANE - 0.35)
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [f"node {i}" + (" (B)" if i in byz else "") for i in range(n)], fontsize="small"
    )
    ax.set_xlim(0, horizon * 1.02)
    ax.set_xlabel("virtual time (units of delta)")
    ax.grid(axis="x", alpha=0.3)
    handles: list[Artist] = []
    handles += [
        Patch(color=_PALETTE[e % len(_PALETTE)], alpha=0.55, label=f"epoch {e + 1}")
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
    ax.legend(
        handles=handles,
        fontsize="x-small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    ax.set_title(f"Timeline: {_run_title(trace, run_id)}", fontsize="small")
    fig.draw_without_rendering()  # settle the layout, so label widths measure true
    left_out = _place_labels(ax, coin_labels, _COIN_LANES)
    left_out += _place_labels(ax, epoch_labels, (_EPOCH_LANE,))
    omitted = (
        f" {left_out} label(s) were left out where they would overlap (their markers and "
        "lines stay)."
        if left_out
        else ""
    )
    return _save(
        fig,
        out_dir,
        "timeline",
        "Timeline of one run",
        "Per node: the iterations it played (bars, coloured by epoch), when it "
        "decided (stars) and halted (bars); on top, each iteration's coin outcome, "
        "placed where the next iteration began, and the epoch boundaries (dashed). "
        + NUMBERING
        + omitted,
    )


#: The timeline's lanes above node 0 (y grows downwards): coin markers, up to three rows of
#: coin labels above them, then the epoch labels.
_COIN_MARKERS = -0.6
_COIN_LANES = (-1.0, -1.4, -1.8)
_EPOCH_LANE = -2.2


def _place_labels(ax: Axes, labels: Sequence[tuple[float, str]], lanes: Sequence[float]) -> int:
    """Write each (x, text), centred on x, on the first lane where it overlaps no earlier
    label, in x order; returns how many fit on none and were left out."""
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    right_edge = dict.fromkeys(lanes, -math.inf)
    left_out = 0
    for x, text in sorted(labels):
        artist = ax.text(
            x, lanes[0], text, fontsize="x-small", ha="center", va="center", clip_on=True
        )
        box = artist.get_window_extent(renderer)
        lane = next((y for y in lanes if box.x0 > right_edge[y] + 2.0), None)
        if lane is None:
            artist.remove()
            left_out += 1
            continue
        artist.set_y(lane)
        right_edge[lane] = box.x1
    return left_out
