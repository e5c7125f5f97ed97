"""``byzlab trace RUN_DIR``: one run's messages, coins, weights and iterations, as a
self-contained interactive HTML page or as text.

The modules, in the order the data flows: ``rundir`` reads and checks a run directory
(``summary.json``, ``trace.json``, ``messages.parquet``), ``messages`` reads the message trace
and decodes its payloads, ``facts`` derives what both outputs show (counts, refusals, the
blackboards as each node came to hold them), ``text`` prints it (``--summary``), ``page`` writes
the HTML with the package's ``viewer.js`` and ``viewer.css`` inline, and ``command`` is the
command. docs/trace-viewer.md explains each panel.
"""
