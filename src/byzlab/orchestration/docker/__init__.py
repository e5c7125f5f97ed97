"""The docker backend: one container per process of a run, on a private bridge network.

``run.py`` runs a plan in containers (its docstring is the theory of operation);
``engine.py`` connects to the Docker engine; ``labels.py`` labels every object a run creates;
``archive.py`` copies files into and out of containers; ``faults.py`` applies container
faults; ``clean.py`` removes what runs left behind.
"""
