"""Real runs over TCP through the adversary proxy: throughput, latency vs causal depth, scale.

    python benchmarks/bench_tcp.py [--repeats 3] [--budget 600] [--baseline SRC] [--out DIR]

Now part of the suite: this is ``byzlab bench --only transport,latency,limits --backends
local`` (src/byzlab/bench/transport.py, latency.py and limits.py, on real node processes,
the real proxy and real MACs); every option of ``byzlab bench`` is accepted. With
``--baseline SRC`` (a source tree holding ``byzlab/``, e.g. ``git worktree add /tmp/base
<commit>`` then ``--baseline /tmp/base/src``) every real run is taken for the baseline's
proxy and node processes and for this tree's, alternately, and the table shows both.
"""

from __future__ import annotations

import sys

from byzlab.bench.runner import bench_command

if __name__ == "__main__":
    bench_command(
        ["--only", "transport,latency,limits", "--backends", "local", *sys.argv[1:]],
        prog_name="bench_tcp.py",
    )
