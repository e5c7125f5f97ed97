"""The paper's Figures 1-4 for the sortition experiments, as PNG files (matplotlib, loaded lazily).

Figures 1-3 show one run each (EMA quality over epochs, how often each participant is active,
and the mean quality of the active set under merit-based and random sortition); Figure 4 is
the §3.4 percentile sweep with its z-scores, written with its table as CSV.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from byzlab.sidecars._checks import _count
from byzlab.sidecars.sortition.config import EVOLVING_POOLS, EXPERIMENTS, SWEEP_EXPERIMENT
from byzlab.sidecars.sortition.model import FloatArray, SortitionRun, simulate
from byzlab.sidecars.sortition.sweep import ZRow, z_score_table, zrows_csv


def _ema_series(x: FloatArray, alpha: float) -> FloatArray:
    out = np.empty_like(x)
    acc = math.nan
    for k, v in enumerate(x):
        if math.isnan(v):
            out[k] = acc
            continue
        acc = v if math.isnan(acc) else alpha * v + (1 - alpha) * acc
        out[k] = acc
    return out


def _run_figure(run: SortitionRun, title: str, path: Path, n_show: int = 50) -> None:
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection

    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(16, 4.6))
    try:
        n = run.median_quality.size
        cmap = colormaps["viridis"]
        colors = [cmap(0.1 + 0.8 * j / max(n - 1, 1)) for j in range(n)]
        show = min(n_show, run.config.n_epochs)
        segments: list[FloatArray] = []
        seg_colors = []
        seg_styles: list[str] = []
        for j in range(n):
            y = run.ema[:show, j]
            act = run.active[:show, j]
            ok = ~np.isnan(y[:-1]) & ~np.isnan(y[1:])
            for k in np.flatnonzero(ok):
                segments.append(np.array([[k, y[k]], [k + 1, y[k + 1]]]))
                seg_colors.append(colors[j])
                seg_styles.append("solid" if act[k + 1] else "dotted")
        if segments:
            ax0.add_collection(
                LineCollection(segments, colors=seg_colors, linestyles=seg_styles, linewidths=1)
            )
            ax0.autoscale()
        ax0.set_xlabel("epoch")
        ax0.set_ylabel("EMA quality Q (solid: active, dotted: inactive)")
        ax1.scatter(run.median_quality, run.active_fraction, c=colors, s=14)
        ax1.set_xlabel("median quality Q̃")
        ax1.set_ylabel("fraction of epochs active")
        alpha = run.config.alpha
        epochs = np.arange(run.config.n_epochs)
        ax2.plot(epochs, _ema_series(run.merit_mean, alpha), "-", label="merit-based")
        ax2.plot(epochs, _ema_series(run.random_mean, alpha), ":", label="random")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("EMA of mean T over active set")
        ax2.legend()
        for ax in (ax0, ax1, ax2):
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def _sweep_figure(rows: Sequence[ZRow], path: Path, title: str = "") -> None:
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    try:
        if title:
            fig.suptitle(title, fontsize=9)
        p = [r.percentile for r in rows]
        ax0.plot(p, [r.merit_mean for r in rows], "-", label="merit-based")
        ax0.plot(p, [r.random_mean for r in rows], ":", label="random")
        ax0.set_xlabel("percentile P [%]")
        ax0.set_ylabel("time-averaged mean T over active set")
        ax0.legend()
        z = np.array([r.z for r in rows])
        err = np.array([r.z_err for r in rows])
        ax1.plot(p, z, "-o", ms=3)
        if not np.all(np.isnan(err)):
            ax1.fill_between(p, z - err, z + err, alpha=0.3)
        for level in (1.0, 2.0):
            ax1.axhline(level, color="grey", ls="--", lw=0.8)
        ax1.set_xlabel("percentile P [%]")
        ax1.set_ylabel("z-score")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def write_figures(
    out_dir: str | Path,
    rng: np.random.Generator,
    *,
    n_epochs: int = 1000,
    n_percentiles: int = 50,
    replicates: int = 1,
    rows: Sequence[ZRow] | None = None,
    pool: str = SWEEP_EXPERIMENT,
) -> list[Path]:
    """Write the paper's figures as PNGs into ``out_dir`` and return their paths.

    ``figure1.png`` (8/5), ``figure2.png`` (80/50), ``figure3-<pool>.png`` for the growing,
    shrinking pools and each reading of the evolving one (:data:`EVOLVING_POOLS`), and
    ``figure4.png`` with its table ``figure4.csv``: the percentile sweep on ``pool`` (pass
    precomputed ``rows`` to skip recomputing it).
    """
    import matplotlib

    matplotlib.use("Agg")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    if pool not in EXPERIMENTS:
        raise ValueError(f"pool must be one of {', '.join(sorted(EXPERIMENTS))}, got {pool!r}")
    n_epochs = _count("n_epochs", n_epochs, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    names = {"fixed-8": "figure1.png", "fixed-80": "figure2.png"}
    names |= {key: f"figure3-{key}.png" for key in ("growing", "shrinking", *EVOLVING_POOLS)}
    for key, fname in names.items():
        cfg = replace(EXPERIMENTS[key], n_epochs=n_epochs)
        run = simulate(cfg, rng)
        title = f"{key}: N_init={cfg.n_init}, N_act={cfg.n_active}, P={cfg.percentile:g}%"
        _run_figure(run, title, out / fname)
        written.append(out / fname)
    if rows is None:
        rows = z_score_table(
            rng,
            n_percentiles=n_percentiles,
            replicates=replicates,
            n_epochs=n_epochs,
            base=EXPERIMENTS[pool],
        )
    reps = f", {replicates} pools per P" if replicates > 1 else ""
    _sweep_figure(rows, out / "figure4.png", f"merit vs random sortition on {pool}{reps}")
    (out / "figure4.csv").write_text(zrows_csv(rows))
    written += [out / "figure4.png", out / "figure4.csv"]
    return written
