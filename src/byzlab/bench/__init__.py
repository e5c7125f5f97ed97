"""`byzlab bench`: the benchmark suite (simulator core, transport, latency, scaling, size
limits, memory).

Theory of operation
-------------------
Each benchmark is one module with a ``run(ctx) -> Section`` function; ``runner.py`` holds
the click command that runs the chosen ones in order, shows progress, prints one table and
writes ``bench.json`` (``bench-quick.json`` with ``--quick``) and PNG plots under ``--out``.

* ``sim_core``: simulator deliveries per second on one core, and a cProfile of the hot path.
* ``transport``: protocol messages per second through the adversary proxy with real node
  processes (n = 7 and 16), and the per-frame cost of authentication and encoding.
* ``latency``: honest FIFO runs on loopback against the simulator's causal-depth prediction.
* ``scaling``: messages, bytes and latency against n for HPZ, local-coin Bracha and the ideal
  coin in the simulator, with fitted exponents checked against the theory's growth.
* ``limits``: the largest n each backend completes within a time budget.
* ``memory``: peak resident set size per node process against n.

Every figure is the median of several runs, and comparisons (real against predicted, HPZ
against its baselines, MAC against signatures, this tree against ``--baseline``) are taken
side by side in one session, because the machines that run this are shared and noisy.
Benchmarks report figures and whether they meet their targets; nothing here fails on a
timing.
"""
