"""The swarm backend: a run as services of a Docker swarm, its nodes spread over its hosts.

Theory of operation
-------------------
``byzlab run SCENARIO --backend swarm [--docker-host URL]`` runs the same processes as the
docker backend (``docker/run.py``), the adversary proxy and one process per honest node, as
swarm services, and writes the same results layout. The orchestrator talks to one engine
only, a swarm manager (``DOCKER_HOST``, or ``--docker-host``); everything else goes
through the swarm.

1. *Hosts and placement* (``placement.py``): the swarm's ready and active hosts; the honest
   nodes go round-robin over them (``[swarm] placement = "spread"``, the default) or where
   a ``[swarm.placement]`` table pins them; the proxy goes on the manager. Every service is
   pinned by a ``node.id`` constraint, so the layout is decided here, recorded in the
   summary (``hosts``, ``placement``), and a host the swarm does not have is refused before
   anything is created. The image is named by its id: each host runs its own copy of it
   (``docker save | docker load`` keeps the id) without asking a registry first.
2. *Secrets and configs.* The n + 1 key pairs are generated in a private directory and
   uploaded as swarm secrets (the roster and one per private key); the host keeps none.
   Node i's task mounts the roster and its own key, the proxy's its own and the Byzantine
   nodes' keys, all in ``/run/secrets``. ``node.json`` and ``proxy.json`` (from the run plan)
   are swarm configs, one per process, mounted in ``/run/byzlab``; copies stay in
   ``results/<run-id>/work/``.
3. *Network.* One overlay network per run, ``internal`` (the nodes only ever talk to the
   proxy). The proxy's service is created first; once its task has written its ready file,
   the nodes' services are created with the proxy task's address on that network in their
   ``node.json``.
4. *Progress.* The proxy's container is on the manager's engine, so its statistics are read
   from it as in the docker backend; the nodes' tasks are watched through the swarm's task
   list (one API call) and its node list. A node whose host goes down is a crash fault:
   summary key ``crashed`` (``host-down``), role ``crashed`` in nodes.csv, left out of the
   agreement check. The surviving nodes then end by themselves ``linger_s`` after halting,
   since the proxy, which waits for every honest node, never announces "done".
5. *Reporting back* (``reporter.py``). A node's task may run on any host, and only the
   manager is reachable, so each node's outputs come back through its task's log: the task
   runs the node under a small wrapper (uploaded as a config) that, once the node has
   exited, writes its ``result.json`` and ``trace.jsonl`` to stdout as an archive between
   marker lines; the orchestrator reads the service's log through the manager
   (``docker service logs``) and splits it into the node's own log and its outputs. The
   alternatives need more: a volume exists on one host only, copying from containers
   needs every host's engine, and sending outputs through the proxy would put result
   collection into the node process and the adversary's proxy. A node on a host that went
   down reports nothing; it is counted as crashed.
6. *Stop and clean up, always* (success, failure, Ctrl-C, SIGTERM): tasks still running are
   stopped with SIGTERM (an update of their service to a command that ends at once: a swarm
   cannot stop one task, and scaling to zero would delete its log with it), the proxy's
   container is stopped and its statistics and log copied out, the nodes' logs read, and
   then every service, secret, config and the network of the run is removed. Every object
   carries the labels of the docker backend (``byzlab.run``, ``byzlab.role``,
   ``byzlab.node``, ``byzlab.owner``), so a test can list what is left and ``byzlab docker
   clean`` removes what a killed orchestrator left behind.
7. *Collect*: the common files (``processes.py``), with ``backend = "swarm"``, ``crashed``,
   ``spinup_s`` (first API call to the proxy's start barrier), ``hosts`` and ``placement``.

No memory check: the processes are spread over hosts whose memory the manager does not
report. Container faults (``[docker] faults``) are the docker backend's; losing a host is
the fault a swarm run models, and a test does it with the multi-host lab
(``scripts/multihost-lab stop-host K``, ``docs/multihost.md``).
"""
