"""The run plan: what a scenario fixes about one run, computed once for every backend.

A scenario (``scenario.py``) says what to run; a *plan* is that scenario resolved for one run:
its run id, the protocol parameters, every node's input, who is corrupted with which strategy,
which key pairs each process holds, and the exact ``node.json`` and ``proxy.json`` each
process reads. Every backend takes its plan from here (the simulator, local processes,
containers, compose files and the benchmarks), so a field added to the node or proxy
configuration is added once, and the backends differ only in *where* things are: the paths
and addresses passed to ``node_config`` and ``proxy_config`` (host paths for local
processes, ``/data`` inside a container, ``/run/secrets`` under compose).

Key pairs: a run has n + 1 of them, ids 0..n-1 for the nodes and id n for the proxy's side
channel, bound to the run id (``network/keys.py``). Honest node i holds only its own; the
proxy holds its own, those of the Byzantine nodes, which the adversary controls, and, when
the scenario has ``[[adversary.corrupt]]``, those of the honest nodes a rule could take over
(``corruptible``: the adversary needs a node's keys to run it after the takeover and to keep
its shadow replica, ``adversary/proxy/shadows.py``), and no other (``key_ids``).

Live metrics (``[metrics] port = P``, docs/metrics.md): the proxy serves them on port P and
honest node i on P + 1 + i (``metrics_port``), on the address the backend gives (loopback
for local processes, every address of a container).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.corruption import corruptible
from byzlab.adversary.schedulers import make_scheduler
from byzlab.adversary.view import AdversaryView
from byzlab.network.messagelog import records_messages
from byzlab.node.params import Params
from byzlab.orchestration.scenario import Scenario, build_params, resolve_inputs, scheduler_kwargs
from byzlab.seeds import derive_rng

__all__ = ["NODE_MODULE", "PROXY_MODULE", "RunPlan", "new_run_id"]

# The lean module entry points the processes run: importing the ``byzlab`` command line
# (rich, the sidecars, scipy) costs about a second of CPU per process, which dominates
# start-up at n = 64 (and at n = 32 in containers on two cores).
NODE_MODULE = "byzlab.network.tcp"
PROXY_MODULE = "byzlab.adversary.proxy"


def new_run_id(seed: int) -> str:
    """A fresh run id: when it started, its seed, and a random tail against collisions."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-s{seed}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunPlan:
    """One run of a single-instance scenario, resolved (see the module docs)."""

    scenario: Scenario
    run_id: str
    params: Params
    inputs: list[int]
    byzantine: dict[int, str]  # corrupted node -> its strategy
    corruptible: list[int]  # honest nodes an [[adversary.corrupt]] rule could take over

    @classmethod
    def of(cls, scenario: Scenario, *, run_id: str | None = None) -> RunPlan:
        adversary = scenario.adversary
        byzantine = {b.node: b.strategy for b in adversary.byzantine}
        honest = [i for i in range(scenario.n) if i not in byzantine]
        return cls(
            scenario=scenario,
            run_id=run_id or new_run_id(scenario.seed),
            params=build_params(scenario),
            inputs=resolve_inputs(scenario),
            byzantine=byzantine,
            corruptible=corruptible(adversary.corrupt, honest),
        )

    @property
    def n(self) -> int:
        return self.scenario.n

    @property
    def f(self) -> int:
        return self.scenario.f

    @property
    def seed(self) -> int:
        return self.scenario.seed

    @property
    def protocol(self) -> str:
        return self.scenario.run.protocol

    @property
    def delta_s(self) -> float:
        return self.scenario.adversary.delta_s

    @property
    def honest_ids(self) -> list[int]:
        return [i for i in range(self.n) if i not in self.byzantine]

    @property
    def scheduler(self) -> dict[str, Any]:
        """The scheduler as a run's summary records it on every backend: the ``describe()``
        of the scheduler built as the simulator builds it (byzlab.adversary.assemble)."""
        scn = self.scenario
        view = AdversaryView(self.params, sorted(self.byzantine))
        rng = derive_rng(self.seed, "scheduler")
        ctx = AdversaryContext(self.params, view, rng, protocol=scn.build_protocol())
        return make_scheduler(scn.adversary.scheduler, ctx, **scheduler_kwargs(scn)).describe()

    def _protocol_options(self) -> dict[str, Any]:
        """The ``protocol_options`` key of node.json and proxy.json, present only when the
        scenario sets some, as ``metrics_port`` is only when metrics are on."""
        options = self.scenario.run.protocol_options
        return {"protocol_options": dict(options)} if options else {}

    @property
    def records_messages(self) -> bool:
        """Whether the run records its message trace (``[run] messages``: on, off, or auto,
        which is up to 16 nodes; docs/messages.md)."""
        return records_messages(self.scenario.run.messages, self.n)

    def metrics_port(self, node: int | None) -> int:
        """Where ``node`` (the proxy for None) serves its metrics; 0 when they are off."""
        port = self.scenario.metrics.port
        if not port:
            return 0
        return port if node is None else port + 1 + node

    def key_ids(self, node: int | None) -> list[int]:
        """The ids of the private keys honest node ``node`` holds (the proxy's for None)."""
        return [self.n, *self.byzantine, *self.corruptible] if node is None else [node]

    def proxy_config(
        self,
        *,
        key_dir: str,
        port: int,
        stats_file: str,
        ready_file: str,
        host: str | None = None,
        messages_dir: str = "",
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``proxy.json``; ``host`` None listens on the proxy's default (127.0.0.1), and
        so do its metrics; ``messages_dir``, where the proxy spools its half of the message
        trace when the backend collects one ("" for none); ``options`` are further
        ``ProxyConfig`` fields (tests, benchmarks)."""
        adversary = self.scenario.adversary
        cfg: dict[str, Any] = {
            "params": self.params.to_dict(),
            "protocol": self.protocol,
            "inputs": self.inputs,
            "seed": self.seed,
            "run_id": self.run_id,
            "key_dir": key_dir,
            "port": port,
            "byzantine": [b.model_dump() for b in adversary.byzantine],
            "corrupt": [c.model_dump(exclude_none=True) for c in adversary.corrupt],
            "scheduler": adversary.scheduler,
            "scheduler_options": dict(adversary.scheduler_options),
            "delta_s": adversary.delta_s,
            "tamper": adversary.tamper,
            "stats_file": stats_file,
            "ready_file": ready_file,
        }
        cfg.update(self._protocol_options())
        if messages_dir:
            cfg["messages_dir"] = messages_dir  # only when on, as metrics_port
        if host is not None:
            cfg["host"] = host
        if self.metrics_port(None):
            cfg["metrics_port"] = self.metrics_port(None)
            if host is not None:
                cfg["metrics_host"] = host
        cfg.update(options or {})
        return cfg

    def node_config(
        self,
        i: int,
        *,
        key_dir: str,
        proxy_host: str,
        proxy_port: int,
        out_dir: str,
        metrics_host: str | None = None,
        messages: bool = False,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Honest node ``i``'s ``node.json``; its metrics (if on) listen on ``metrics_host``
        (None: the node's default, 127.0.0.1); ``messages``: it spools its half of the
        message trace (the backend collects one); ``options`` are further ``NodeConfig``
        fields."""
        cfg: dict[str, Any] = {
            "node": i,
            "params": self.params.to_dict(),
            "protocol": self.protocol,
            "input": self.inputs[i],
            "seed": self.seed,
            "run_id": self.run_id,
            "key_dir": key_dir,
            "proxy_host": proxy_host,
            "proxy_port": proxy_port,
            "out_dir": out_dir,
            "timeout_s": self.scenario.run.timeout_s,
            **self._protocol_options(),
        }
        if messages:
            cfg["messages"] = True
        if self.metrics_port(i):
            cfg["metrics_port"] = self.metrics_port(i)
            if metrics_host is not None:
                cfg["metrics_host"] = metrics_host
        cfg.update(options or {})
        return cfg
