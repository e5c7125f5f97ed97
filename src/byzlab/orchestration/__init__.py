"""From a scenario file to a finished run: scenarios, launch backends, results.

* ``scenario.py``: the TOML scenario model (validated with pydantic, one line per problem).
* ``local.py``: the local backend: N node processes and one adversary proxy on loopback.
* ``results.py``: atomic result files, summary.json, nodes.csv, the trace hash.
"""
