"""Simulator benchmark: deliveries per second on one core, with a cProfile of the hot path.

    python benchmarks/bench_sim.py [--repeats 5] [--quick] [--out DIR]

Now part of the suite: this is ``byzlab bench --only sim`` (src/byzlab/bench/sim_core.py);
every option of ``byzlab bench`` is accepted. The profile is always taken (``--profile`` is
accepted for compatibility and changes nothing).
"""

from __future__ import annotations

import sys

from byzlab.bench.runner import bench_command

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--profile"]
    bench_command(["--only", "sim", *args], prog_name="bench_sim.py")
