"""byzlab: a testbed for asynchronous Byzantine agreement.

The Huang–Pettie–Zhu optimal-resilience protocol runs as pure state machines (`byzlab.node`)
inside a deterministic simulator (`byzlab.network.sim`) and, unchanged, on real processes.
"""

__version__ = "0.1.0"
