"""The adversary as one process: a TCP relay that schedules frames and runs the corrupted nodes.

Every honest node keeps one TCP connection to this proxy (a star, see
``byzlab.network.tcp``), so every protocol message between two nodes passes through it.
The proxy is HPZ's adversary made concrete (Huang, Pettie, Zhu, "Byzantine Agreement with
Optimal Resilience via Statistical Fraud Detection", arXiv 2206.15335), with exactly the
model's powers:

* *Scheduling*: every frame is held for the delay the simulator's scheduler objects choose,
  at most delta (``delivery.py``).
* *Full information*: MAC'd frames are readable; the proxy decodes them whenever a scheduler
  or a corrupted node may look at the messages, and feeds them to the shared
  full-information view (``runtime.py``). Honest nodes also report their state snapshots
  on the side channel (``sidechannel.py``).
* *Corruption*: the Byzantine nodes run inside the proxy with the simulator's strategy
  objects and their own keys (``corrupted.py``).
* *No forgery*: the proxy holds no honest link key, so it relays honest frames byte for
  byte (``runtime.py``, ``tamper``).

Modules, one concept each:

* ``config``: proxy.json (``ProxyConfig``, ``ByzantineSpec``, ``InjectSpec``).
* ``clock``: wall-clock seconds since the start and virtual time (units of delta).
* ``stats``: the counters, continued across restarts, and the statistics file.
* ``sidechannel``: hellos (ordered per run) and the honest nodes' snapshots.
* ``connections``: accepting nodes, the pre-authentication limits, writing to nodes.
* ``delivery``: holding frames for the scheduler's delay; ordering and memory bounds.
* ``recording``: the relayed frames, spooled for the run's message trace.
* ``corrupted``: the corrupted nodes and their strategies.
* ``inject``: test-only hostile input written by the proxy itself.
* ``runtime``: the event loop, the route of every frame, the start and end of a run.
* ``main``: the process entry point (``byzlab proxy``, ``python -m byzlab.adversary.proxy``).
"""
