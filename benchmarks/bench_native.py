"""Engines benchmark: simulator deliveries per second, Python and native side by side.

    python benchmarks/bench_native.py [--repeats 3] [--quick] [--out DIR]

This is ``byzlab bench --only engines`` (src/byzlab/bench/engines.py); every option of
``byzlab bench`` is accepted.
"""

from __future__ import annotations

import sys

from byzlab.bench.runner import bench_command

if __name__ == "__main__":
    bench_command(["--only", "engines", *sys.argv[1:]], prog_name="bench_native.py")
