"""From a scenario file to a finished run: the experiments layer.

A scenario (``scenario/``: the TOML model, its checks, loading and building) is resolved once
into a run plan (``plan``); a backend (``backend``: the one interface and lifecycle) executes
it: ``simrun`` in the simulator, ``local`` as processes on this machine, ``docker`` in
containers, ``swarm`` as services over a swarm's hosts (``processes`` holds what the process
backends share; ``dispatch`` turns a backend's name into a run). Every backend writes the same
results directory (``results``). Around single runs: pools of instances (``instances``),
sweeps (``sweep``), the attack matrix (``matrix``), the result store (``store``), replays
(``replay``, ``runtrace``), plots and the HTML report (``plots``, ``report``), the container
image (``image``) and compose/stack files (``compose``). docs/architecture.md has the module map.
"""
