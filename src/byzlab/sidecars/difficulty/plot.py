"""The step response as a PNG: winning rate against equilibrium, and its amplitude per segment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from byzlab.sidecars.difficulty.simulation import StepResponse, oscillation_amplitude


def plot_step_response(
    results: Mapping[str, Mapping[str, StepResponse]],
    path: str | Path,
    *,
    segment: int = 2016,
) -> Path:
    """Write a PNG: winning rate vs equilibrium (top) and per-segment amplitude (bottom).

    ``results`` maps a hashrate kind to the output of :func:`step_response`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results must not be empty")
    out = Path(path)
    kinds = list(results)
    fig, axes = plt.subplots(2, len(kinds), figsize=(6.5 * len(kinds), 8), squeeze=False)
    try:
        for col, kind in enumerate(kinds):
            runs = results[kind]
            top, bottom = axes[0][col], axes[1][col]
            eq_drawn = False
            for name, r in runs.items():
                height = np.arange(r.winning_rate.size)
                w0 = r.equilibrium[0]
                top.plot(height, r.winning_rate / w0, lw=0.8, label=name)
                if not eq_drawn:
                    top.plot(height, r.equilibrium / w0, color="orange", lw=2, label="equilibrium")
                    eq_drawn = True
                amp = oscillation_amplitude(r, min(segment, r.winning_rate.size))
                bottom.plot(np.arange(amp.size), amp, marker="o", ms=3, label=name)
            top.set_yscale("log")
            top.set_xlabel("block height")
            top.set_ylabel("winning rate / initial equilibrium")
            top.set_title(f"{kind} hashrate")
            top.legend(fontsize=8)
            bottom.set_xlabel(f"segment of {segment} blocks")
            bottom.set_ylabel("max |log(w / w_eq)|")
            bottom.legend(fontsize=8)
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)
    return out
