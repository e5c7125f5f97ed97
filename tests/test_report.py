"""The paper-grade report: grouping, intervals, exponents only from four sizes, readable axes,
missing latency counted (never 0), the decision-time spread, simulator vs real, the attack
matrix heatmap, and every figure as PNG, SVG and PDF.

Figures are checked through their SVG, whose text stays text: tick labels are the <text> of
matplotlib's ``xtick_*``/``ytick_*`` groups, legends and captions are searchable strings.
"""

from __future__ import annotations

import json
import math
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from byzlab.orchestration import plots
from byzlab.orchestration.experiments_cli import report_command
from byzlab.orchestration.intervals import median_interval, slope_interval, wilson_interval
from byzlab.orchestration.matrix import matrix_command
from byzlab.orchestration.report import build_report, decision_spread, parse_group_by
from byzlab.orchestration.store import Store, StoreError
from tests.exputil import invoke, make_store

SVG = "{http://www.w3.org/2000/svg}"


def rows_for(
    sizes: tuple[int, ...],
    *,
    exponent: float = 1.5,
    seed: int = 0,
    schedulers: tuple[str, ...] = ("random",),
    runs: int = 4,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for scheduler in schedulers:
        for n in sizes:
            for s in range(runs):
                out.append(
                    {
                        "run_id": f"{scheduler}-{n}-{s}",
                        "backend": "sim",
                        "protocol": "hpz",
                        "n": n,
                        "f": (n - 1) // 3,
                        "seed": s,
                        "scheduler": scheduler,
                        "strategy": "coin-interval",
                        "agreed": True,
                        "latency_delta": 2.0 * n**exponent * math.exp(rng.gauss(0.0, 0.05)),
                        "messages": int(3 * n**3),
                        "bytes": int(40 * n**3),
                        "rbc_instances": 3 * n,
                        "coin_unanimous": s % 2,
                        "coin_split": 1,
                    }
                )
    return out


def tick_labels(svg: Path) -> list[tuple[list[str], list[str]]]:
    """Per axes of the figure that has ticks: its x and y tick label texts."""
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    found = []
    for axes in root.iter(f"{SVG}g"):
        if not (axes.get("id") or "").startswith("axes_"):
            continue
        labels: dict[str, list[str]] = {"x": [], "y": []}
        for group in axes.iter(f"{SVG}g"):
            gid = group.get("id") or ""
            for axis in ("x", "y"):
                if gid.startswith(f"{axis}tick_"):
                    texts = ["".join(t.itertext()).strip() for t in group.iter(f"{SVG}text")]
                    labels[axis] += [t for t in texts if t]
        if labels["x"] or labels["y"]:
            found.append((labels["x"], labels["y"]))
    return found


# --------------------------------------------------------------------------- intervals


def test_median_interval_is_the_order_statistic_one() -> None:
    xs = [float(v) for v in range(1, 11)]
    iv = median_interval(xs)
    assert iv is not None
    assert (iv.estimate, iv.low, iv.high) == (5.5, 2.0, 9.0)  # [x_(2), x_(9)] at k = 10
    assert iv.coverage == pytest.approx(1 - 2 * 11 / 1024)
    small = median_interval([3.0, 1.0, 2.0])
    assert small is not None and (small.low, small.high) == (1.0, 3.0)
    assert small.coverage == pytest.approx(0.75)  # three values: the range covers 1 - 2/8
    assert median_interval([]) is None


def test_wilson_interval_stays_inside_zero_one() -> None:
    none_agreed = wilson_interval(0, 10)
    assert none_agreed is not None
    assert none_agreed.low == 0.0 and none_agreed.high == pytest.approx(0.2775, abs=1e-4)
    half = wilson_interval(5, 10)
    assert half is not None and half.low == pytest.approx(0.2366, abs=1e-4)
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize("seed", range(5))
def test_slope_interval_covers_the_true_slope_of_noisy_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.log(np.repeat([4.0, 7.0, 10.0, 13.0, 16.0], 6))
    y = 1.5 * x + 0.3 + rng.normal(0.0, 0.05, len(x))
    slope, intercept = np.polyfit(x, y, 1)
    ci = slope_interval(x, y, float(slope), float(intercept))
    assert ci is not None and ci[0] < 1.5 < ci[1], f"seed={seed}: {ci}"
    assert ci[1] - ci[0] < 0.2, f"seed={seed}: {ci}"


# --------------------------------------------------------------------------- exponents


def test_no_exponent_from_three_sizes(tmp_path: Path) -> None:
    plot = plots.plot_latency_vs_n(rows_for((4, 7, 10)), tmp_path)
    svg = plot.svg.read_text(encoding="utf-8")
    assert "fewer than 4 sizes: no exponent" in svg
    assert "n^" not in svg
    fit = plots.fit_power_law([4, 7, 10], [1.0, 2.0, 3.0])
    assert fit is not None and fit.sizes == 3  # the fit exists; the figure declines to show it


def test_exponent_with_its_interval_from_four_sizes(tmp_path: Path) -> None:
    rows = rows_for((4, 7, 10, 13), seed=3)
    svg = plots.plot_latency_vs_n(rows, tmp_path).svg.read_text(encoding="utf-8")
    found = re.search(r"n\^(\d+\.\d\d) \(95% CI (\d+\.\d\d) to (\d+\.\d\d)\)", svg)
    assert found, "the exponent and its interval are not in the legend (seed=3)"
    exponent, lo, hi = (float(v) for v in found.groups())
    assert lo < 1.5 < hi and lo < exponent < hi, (exponent, lo, hi)
    assert "fewer than 4 sizes" not in svg


# --------------------------------------------------------------------------- axes


@pytest.mark.parametrize("exponent", [0.05, 1.5])
def test_every_axis_has_tick_labels_on_log_axes(tmp_path: Path, exponent: float) -> None:
    """A latency range inside one decade (exponent 0.05: 2.1 to 2.3 delta) has no power of
    ten in it; the y axis still gets labelled ticks."""
    rows = rows_for((4, 7, 10, 13), exponent=exponent)
    for plot in (
        plots.plot_latency_vs_n(rows, tmp_path),
        plots.plot_cost_vs_n(rows, tmp_path),
        plots.plot_agreement_vs_n(rows, tmp_path),
        plots.plot_latency_cdf(rows, tmp_path),
    ):
        axes = tick_labels(plot.svg)
        assert axes, plot.name
        for xs, ys in axes:
            assert len(xs) >= 2 and len(ys) >= 2, (plot.name, xs, ys)
        if plot.name != "latency_cdf":
            assert axes[0][0] == ["4", "7", "10", "13"], (plot.name, axes[0][0])


def test_timeline_labels_never_overlap() -> None:
    fig = Figure(figsize=(6, 2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_xlim(0, 100)
    ax.set_ylim(1, -2)
    labels = [(float(x), f"  coin {k + 1}: split") for k, x in enumerate(range(0, 100, 2))]
    fig.draw_without_rendering()
    left_out = plots._place_labels(ax, labels, (-0.6, -1.0, -1.4))
    placed = [t for t in ax.texts if t.get_text().startswith("  coin")]
    assert len(placed) + left_out == len(labels) and left_out > 0 and len(placed) >= 3
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_position()[1], t.get_window_extent(renderer)) for t in placed]
    for k, (lane, box) in enumerate(boxes):
        for lane2, box2 in boxes[k + 1 :]:
            if lane == lane2:
                assert box.x1 < box2.x0 or box2.x1 < box.x0, (lane, box, box2)


# --------------------------------------------------------------------------- grouping


def test_grouping_by_scheduler_draws_one_curve_per_scheduler(tmp_path: Path) -> None:
    rows = rows_for((4, 7, 10, 13), schedulers=("coin-aware", "split-vote", "random"))
    by_scheduler = parse_group_by("scheduler")
    assert list(by_scheduler.split(rows)) == ["coin-aware", "random", "split-vote"]
    svg = plots.plot_latency_vs_n(rows, tmp_path, by_scheduler).svg.read_text(encoding="utf-8")
    for scheduler in ("coin-aware", "random", "split-vote"):
        assert svg.count(f"{scheduler}: ∝ n^") == 1, scheduler
    # grouped by protocol, the three schedulers are one pooled curve, and the caption says so
    pooled = plots.plot_latency_vs_n(rows, tmp_path)
    assert pooled.svg.read_text(encoding="utf-8").count("hpz: ∝ n^") == 1
    assert "Pooled within a curve: scheduler (coin-aware, random, split-vote)" in pooled.caption
    assert "Nothing else varies" in plots.plot_latency_vs_n(rows, tmp_path, by_scheduler).caption
    two = parse_group_by("protocol, scheduler")
    assert two.columns == ("protocol", "scheduler") and two.label(rows[0]) == "hpz, coin-aware"
    with pytest.raises(StoreError, match="unknown column 'colour'; columns: run_id"):
        parse_group_by("colour")


# --------------------------------------------------------------------------- missing latency


def test_missing_latencies_are_excluded_and_counted(tmp_path: Path) -> None:
    rows = rows_for((4, 7, 10, 13), seed=1)
    agreed_only = plots.fit_power_law([r["n"] for r in rows], [r["latency_delta"] for r in rows])
    # a run that did not agree: latency 0 (as runs recorded it before), null or NaN
    broken = [
        dict(rows[0], run_id="zero", agreed=False, latency_delta=0.0),
        dict(rows[5], run_id="null", agreed=False, latency_delta=None),
        dict(rows[9], run_id="nan", agreed=False, latency_delta=float("nan")),
        dict(rows[12], run_id="late", agreed=False, latency_delta=500.0),
    ]
    plot = plots.plot_latency_vs_n([*rows, *broken], tmp_path)
    svg = plot.svg.read_text(encoding="utf-8")
    assert "[4 of 20 runs: no value]" in svg
    assert agreed_only is not None and f"n^{agreed_only.exponent:.2f}" in svg
    cdf = plots.plot_latency_cdf([*rows, *broken], tmp_path).svg.read_text(encoding="utf-8")
    assert "16 runs, 4 without latency" in cdf
    assert all(plots.latency(r) is None for r in broken)


# --------------------------------------------------------------------------- the report


def test_decision_spread_in_delta_on_every_backend() -> None:
    sim = {"backend": "sim", "decision_times": {"0": 4.5, "1": 7.0, "2": 5.0}}
    assert decision_spread(sim) == pytest.approx(2.5)
    real = {"backend": "local", "delta_s": 0.05, "decision_times": {"0": 0.1, "1": 0.2}}
    assert decision_spread(real) == pytest.approx(2.0)
    assert decision_spread({"backend": "sim", "decision_times": {"0": 1.0}}) is None


def test_sim_vs_real_pairs_the_same_scenario(tmp_path: Path) -> None:
    sim = rows_for((4, 7), runs=5)
    local = [
        dict(r, run_id=f"local-{r['run_id']}", backend="local", delta_s=0.05,
             latency_delta=r["latency_delta"] * 1.5)
        for r in sim
        if r["n"] == 4
    ]  # fmt: skip
    assert plots.plot_sim_vs_real(sim, tmp_path) is None
    plot = plots.plot_sim_vs_real([*sim, *local], tmp_path)
    assert plot is not None and plot.caption.startswith("1 scenario(s)")
    svg = plot.svg.read_text(encoding="utf-8")
    assert "local, delta 0.05 s" in svg and "hpz n=4 random/coin-interval" in svg
    assert all(len(xs) >= 2 and len(ys) >= 2 for xs, ys in tick_labels(plot.svg))


def test_matrix_into_a_store_gives_the_report_its_heatmap(tmp_path: Path) -> None:
    store = tmp_path / "store"
    make_store(store)
    page = build_report(store).path.read_text(encoding="utf-8")
    assert "No attack matrix in this store" in page
    args = [
        "--n", "4", "--seeds", "2", "--strategies", "coin-interval,equivocate",
        "--schedulers", "coin-aware,random", "--protocols", "hpz", "--jobs", "1",
        "--out", tmp_path / "m.csv", "--store", store,
    ]  # fmt: skip
    result = invoke(matrix_command, args)
    assert result.exit_code == 0, result.output
    assert "recorded 8 runs in" in result.output
    table = Store(store).matrix_table()
    assert table is not None and table.num_rows == 8
    # a second matrix with more seeds replaces the runs it repeats and keeps the others
    more = [*args[:2], "--seeds", "3", *args[4:]]
    assert invoke(matrix_command, more).exit_code == 0
    table = Store(store).matrix_table()
    assert table is not None and table.num_rows == 12
    rows = table.to_pylist()
    assert all(r["latency_delta"] is None for r in rows if not r["agreed"])
    info = build_report(store)
    page = info.path.read_text(encoding="utf-8")
    heatmaps = [p for p in info.figures if p.name.startswith("matrix_")]
    assert len(heatmaps) == 1, [p.name for p in info.figures]
    assert 'id="fig-matrix_1"' in page and "Attack matrix: hpz, n=4, f=1" in page
    svg = heatmaps[0].svg.read_text(encoding="utf-8")
    for name in ("coin-interval", "equivocate", "coin-aware", "random", "Agreement rate"):
        assert name in svg, name
    # a store holding only a matrix has a report too
    alone = tmp_path / "alone"
    only = [*args[:-1], alone]
    assert invoke(matrix_command, only).exit_code == 0
    assert any(p.name == "matrix_1" for p in build_report(alone).figures)


def test_report_exports_pdf_and_svg_and_links_them(tmp_path: Path) -> None:
    store = tmp_path / "store"
    make_store(store)
    result = invoke(report_command, [store, "--group-by", "scheduler,protocol"])
    assert result.exit_code == 0, result.output
    page = (store / "report.html").read_text(encoding="utf-8")
    names = re.findall(r'<figure id="fig-([a-z_0-9]+)"', page)
    assert {"latency_vs_n", "agreement_vs_n", "decision_spread", "timeline"} <= set(names)
    for name in names:
        pdf = store / "plots" / f"{name}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF"), pdf
        ET.fromstring((store / "plots" / f"{name}.svg").read_text(encoding="utf-8"))
        assert f'download="{name}.pdf"' in page and f'download="{name}.svg"' in page
    assert page.count('href="data:application/pdf;base64,') == len(names)
    assert "Curves are grouped by <b>scheduler, protocol</b>" in page
    assert "numbered from 1" in page and "no latency" in page
    # every run of TINY_SWEEP agreed; its decision spreads are in the table
    spreads = [
        decision_spread(json.loads(p.read_text())) for p in (store / "runs").glob("*/summary.json")
    ]
    assert spreads and all(s is not None and s >= 0 for s in spreads)
    bad = invoke(report_command, [store, "--group-by", "nodes"])
    assert bad.exit_code != 0 and "unknown column 'nodes'" in bad.output
