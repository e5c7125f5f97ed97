"""Merit-based sortition: EMA quality, percentile pull-up for inactive participants.

Source: J. M. D. Kruijssen, R. Valieva, K. Peluso, N. Emmons, S. N. Longmore, "Merit-Based
Sortition in Decentralized Systems" (Allora Foundation, 2024), arXiv:2411.07302. Section and
equation numbers in the modules are the paper's. One concept per module, every public name
importable from ``byzlab.sidecars.sortition``:

* ``model``: the algorithm (§2): the active set, the EMA quality and its targets, and one run
  against random sortition on the same draws;
* ``config``: the experiments of §3 and the readings of its evolving pool;
* ``sweep``: §3.4, merit-based against random sortition over the percentile, as z-scores;
* ``figures``: the paper's Figures 1-4 as PNG files;
* ``cli``: the ``byzlab sortition`` command group (``command``).
"""

from __future__ import annotations

from byzlab.sidecars.sortition.cli import command
from byzlab.sidecars.sortition.config import (
    EVOLVING_POOLS,
    EXPERIMENTS,
    SWEEP_EXPERIMENT,
    SortitionConfig,
    evolving_pool,
)
from byzlab.sidecars.sortition.figures import write_figures
from byzlab.sidecars.sortition.model import (
    SortitionRun,
    select_active,
    simulate,
    target_qualities,
    update_ema,
)
from byzlab.sidecars.sortition.sweep import (
    ZROW_COLUMNS,
    ZRow,
    percentile_sweep,
    z_score_table,
    zrows_csv,
)

__all__ = [
    "EVOLVING_POOLS",
    "EXPERIMENTS",
    "SWEEP_EXPERIMENT",
    "ZROW_COLUMNS",
    "SortitionConfig",
    "SortitionRun",
    "ZRow",
    "command",
    "evolving_pool",
    "percentile_sweep",
    "select_active",
    "simulate",
    "target_qualities",
    "update_ema",
    "write_figures",
    "z_score_table",
    "zrows_csv",
]
