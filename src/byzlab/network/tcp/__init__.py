"""One honest node as an OS process: the protocol core over TCP, through the adversary proxy.

Topology: a star. Every node holds exactly one TCP connection, to the adversary proxy
(``byzlab.adversary.proxy``), and every frame between two nodes travels through it. That is
the asynchronous model made literal: the adversary sees every message and chooses when each
one is delivered, and nothing else in the system can deliver a message. A full mesh would
need the adversary to interpose on n(n-1) connections to get the same power; the star gives
it with n connections, one place to measure traffic, and no port per node.

What the proxy cannot do is forge or alter honest traffic. For each destination d != me a
node seals its frames with the per-direction link key K(me->d) (``network/auth.py``): the
proxy holds no honest link key, so a frame it invents or modifies fails the MAC at d. The
proxy *can* read every payload (MAC, not encryption: HPZ's adversary is full-information).
Frames addressed to the proxy's own id ``n`` carry the side channel (``network/control.py``):
a hello when connecting and ``HonestNode.snapshot()`` dicts (periodically and whenever the
phase, iteration, decision or halted flag changes), MAC'd with K(me->n) so the proxy knows
which node said what. The proxy's own frames to a node (``start``, ``done``) are MAC'd with
K(n->me).

Messages to self never touch the network: a ``Broadcast`` is sent to the n - 1 others and
handed back to the local state machine at once, as in the simulator.

CPU scheduling. With more processes than cores, the proxy (on the path of every hop) must
not lose its core to each node it wakes: nodes run under SCHED_BATCH where the OS offers it
(``network/process.batch_scheduling``; ``batch_scheduling: false`` in node.json turns it
off), which keeps their share of the CPU but stops them preempting on wake-up. The result
records the policy.

A FIFO run with honest nodes reaches the simulator's decision whenever that decision does
not hinge on the order of *simultaneous* deliveries: the simulator breaks ties between
messages due at the same virtual time by send order, a global lockstep that real processes
cannot reproduce. (With split inputs and n = 4 the quorum a node waits for depends on
exactly such ties; deferring self-deliveries the way the simulator does was tried and only
moved the outcome around.) Effects are interpreted by the one ``EffectInterpreter``
(``byzlab.runtime.interpreter``); the node's own copy of a broadcast goes back to it at once,
which the delivery-order contract in ``byzlab.node.effects`` allows.

Modules, one concept each:

* ``config``: node.json (``NodeConfig``).
* ``buffers``: the resend buffer and the inbox, the node's two bounded queues.
* ``connection``: the one connection to the proxy (connect, hello, re-send, read, write).
* ``runtime``: the event loop around the ``HonestNode`` (protocol, side channel, outputs).
* ``incarnation``: a node process started again within a run rejoins as crashed.
* ``verdicts``: what the node did with each message it took, for the message trace.
* ``main``: the process entry point (``byzlab node``, ``python -m byzlab.network.tcp``).
"""
