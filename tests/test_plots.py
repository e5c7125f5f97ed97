"""Figures: power-law fits on synthetic data, every figure written as PNG and SVG."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from byzlab.orchestration import plots
from byzlab.orchestration.runtrace import run_recorded
from byzlab.orchestration.scenario import load_scenario
from byzlab.orchestration.store import Store
from tests.exputil import EXAMPLES, make_store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_PNG_BYTES = 5_000


def check_files(plot: plots.PlotFile) -> str:
    """The PNG is a real, non-trivial image and the SVG parses; returns the SVG text."""
    data = plot.png.read_bytes()
    assert data.startswith(PNG_MAGIC), plot.png
    assert len(data) > MIN_PNG_BYTES, (plot.png, len(data))
    text = plot.svg.read_text(encoding="utf-8")
    root = ET.fromstring(text)
    assert root.tag.endswith("svg"), plot.svg
    return text


def synthetic_rows(exponent: float, *, seed: int, noise: float = 0.05) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for n in (4, 7, 10, 16, 31):
        for s in range(4):
            latency = 2.0 * n**exponent * math.exp(rng.gauss(0.0, noise))
            rows.append(
                {
                    "run_id": f"r{n}-{s}",
                    "backend": "sim",
                    "protocol": "hpz",
                    "n": n,
                    "f": (n - 1) // 3,
                    "seed": s,
                    "scheduler": "random",
                    "agreed": True,
                    "latency_delta": latency,
                    "messages": int(3 * n**3),
                    "bytes": int(40 * n**3),
                    "rbc_instances": 3 * n,
                    "coin_unanimous": s % 2,
                    "coin_split": 1 - s % 2,
                }
            )
    return rows


# --------------------------------------------------------------------------- fits


@pytest.mark.parametrize("exponent", [0.5, 1.0, 2.0, 3.0])
def test_fit_recovers_the_exponent_of_exact_power_laws(exponent: float) -> None:
    ns = np.array([4.0, 7.0, 10.0, 31.0, 64.0])
    fit = plots.fit_power_law(ns, 3.5 * ns**exponent)
    assert fit is not None
    assert fit.exponent == pytest.approx(exponent, abs=1e-9)
    assert fit.coefficient == pytest.approx(3.5, rel=1e-9) and fit.r2 == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_on_noisy_data_is_close(seed: int) -> None:
    rows = synthetic_rows(1.5, seed=seed)
    fit = plots.fit_power_law([r["n"] for r in rows], [r["latency_delta"] for r in rows])
    assert fit is not None and fit.points == 20
    assert abs(fit.exponent - 1.5) < 0.1, f"seed={seed}: fitted {fit.exponent}"


def test_fit_needs_two_distinct_positive_n() -> None:
    assert plots.fit_power_law([4, 4, 4], [1.0, 2.0, 3.0]) is None
    assert plots.fit_power_law([4, 7], [1.0, 0.0]) is None  # zero latency is dropped
    fit = plots.fit_power_law([4, 7, 0, 10], [16.0, 49.0, 5.0, 100.0])
    assert fit is not None and fit.exponent == pytest.approx(2.0) and fit.points == 3


def test_the_legend_prints_the_fitted_exponent(tmp_path: Path) -> None:
    rows = synthetic_rows(1.5, seed=4, noise=0.0)
    svg = check_files(plots.plot_latency_vs_n(rows, tmp_path))
    assert "n^1.50" in svg, "the fitted exponent is not in the legend"
    svg = check_files(plots.plot_cost_vs_n(rows, tmp_path))
    assert svg.count("n^3.00") >= 2 and "n^2.00" in svg  # messages, bytes, per-RBC fits
    assert "O(n²)" in svg and "O(m n³)" in svg  # the theory annotation


# --------------------------------------------------------------------------- figures


def test_sweep_figures_from_a_real_store(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    rows = Store(tmp_path / "store").table().to_pylist()
    figures = plots.sweep_plots(rows, tmp_path / "plots")
    assert [f.name for f in figures] == [
        "latency_cdf",
        "latency_vs_n",
        "cost_vs_n",
        "coin_unanimity",
    ]
    for figure in figures:
        check_files(figure)
    assert "hpz" in figures[0].svg.read_text() and "bracha-local" in figures[0].svg.read_text()


def test_figures_without_data_still_render(tmp_path: Path) -> None:
    rows = [dict(r, agreed=False, latency_delta=None) for r in synthetic_rows(1.0, seed=0)]
    cdf = check_files(plots.plot_latency_cdf(rows, tmp_path))
    assert "no run agreed" in cdf
    coins = check_files(
        plots.plot_coin_unanimity([dict(r, coin_unanimous=0, coin_split=0) for r in rows], tmp_path)
    )
    assert "no coin flips" in coins


def test_run_figures_from_a_recorded_attack(tmp_path: Path) -> None:
    scn = load_scenario(EXAMPLES / "attack-timeline.toml")
    trace = run_recorded(scn).trace
    assert trace["coins"] and len(trace["epoch_weights"]) >= 2, f"seed={scn.seed}"
    weights = check_files(plots.plot_weights(trace, tmp_path, "attack"))
    assert "bad (Byzantine) nodes" in weights
    timeline = check_files(plots.plot_timeline(trace, tmp_path, "attack"))
    assert "epoch 1" in timeline and "coin 1" in timeline and "Byzantine: " in timeline
    # an epoch nobody could weigh is a gap, not a crash
    gappy = dict(trace, epoch_weights=[trace["epoch_weights"][0], None])
    check_files(plots.plot_weights(gappy, tmp_path, "gappy"))


def test_svg_output_is_reproducible(tmp_path: Path) -> None:
    rows = synthetic_rows(2.0, seed=1)
    a = plots.plot_latency_cdf(rows, tmp_path / "a").svg.read_bytes()
    b = plots.plot_latency_cdf(rows, tmp_path / "b").svg.read_bytes()
    assert a == b
