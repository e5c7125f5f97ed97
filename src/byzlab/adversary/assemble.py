"""Assembling a simulator run: the adversary's objects, the honest nodes, then the simulator.

The one place that builds a `Simulator` (byzlab.network.sim), which knows the adversary only
through the runtime's interfaces: this module makes the run's full-information
`AdversaryView`, its `AdversaryContext`, the scheduler (whose stream is
``derive_rng(seed, "scheduler")``), the corrupted nodes' strategies and the honest nodes
(node i's stream is ``derive_rng(seed, "node", i)``, the ideal coin's seed
``ideal_coin_seed(seed)``, see byzlab.seeds), in that order, and hands them to the simulator.

A scheduler is named (a registry name, built with no options) or given as a factory taking
the context (``functools.partial(make_scheduler, name, **options)``, or a custom scheduler
class); likewise a strategy is a registry name or a factory taking the node's `NodeSpec` and
the context. Observers that act for the adversary (adaptive corruption) are factories taking
the context and the honest nodes' specs. The protocol is an object (byzlab.node.protocol): it
builds the honest nodes, and a scheduler or strategy that does not apply to it refuses to be
built, with one line (byzlab.adversary.applies).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping, Sequence

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers import Scheduler, make_scheduler
from byzlab.adversary.strategies import ByzantineNode, NodeSpec, make_strategy
from byzlab.adversary.view import AdversaryView
from byzlab.network.sim import Simulator
from byzlab.node.params import Params
from byzlab.node.protocol import Protocol, fault_refusal
from byzlab.runtime.interfaces import Process
from byzlab.seeds import derive_rng, ideal_coin_seed

SchedulerFactory = Callable[[AdversaryContext], Scheduler]
StrategyFactory = Callable[[NodeSpec, AdversaryContext], ByzantineNode]
Observer = Callable[[Simulator, float], None]


class ObserverFactory(typing.Protocol):
    """Makes an observer of the run from the adversary's context and the specs of the honest
    nodes as the run built them (their live random streams: adaptive corruption continues a
    node from them)."""

    def __call__(self, ctx: AdversaryContext, *, specs: Mapping[int, NodeSpec]) -> Observer: ...


def assemble_simulator(
    params: Params,
    *,
    protocol: Protocol,
    inputs: Sequence[int],
    seed: int,
    scheduler: str | SchedulerFactory = "random",
    byzantine: Mapping[int, str | StrategyFactory] | None = None,
    delta: float = 1.0,
    max_time: float | None = None,
    max_deliveries: int = 50_000_000,
    timeout_s: float | None = None,
    observers: Sequence[ObserverFactory] = (),
) -> Simulator:
    """A simulator for one run; `byzantine` maps each corrupted node to its strategy."""
    n = params.n
    byzantine = dict(byzantine or {})
    if len(inputs) != n:
        raise ValueError(f"inputs has {len(inputs)} values for n={n}")
    if len(byzantine) > params.f:
        raise ValueError(f"{len(byzantine)} Byzantine nodes exceed f={params.f}")
    refused = fault_refusal("f", protocol, n, params.f)
    if refused:
        raise ValueError(refused)
    if any(not 0 <= i < n for i in byzantine):
        raise ValueError(f"Byzantine node ids {sorted(byzantine)} out of range")
    # one full-information view shared by the scheduler and every corrupted node
    view = AdversaryView(params, sorted(byzantine))
    ctx = AdversaryContext(params, view, derive_rng(seed, "scheduler"), delta, protocol=protocol)
    policy = make_scheduler(scheduler, ctx) if isinstance(scheduler, str) else scheduler(ctx)
    ideal = ideal_coin_seed(seed)
    nodes: list[Process] = []
    corrupted: dict[int, str] = {}
    specs: dict[int, NodeSpec] = {}
    for i in range(n):
        spec = NodeSpec(i, params, protocol, inputs[i], derive_rng(seed, "node", i), ideal)
        strategy = byzantine.get(i)
        if strategy is None:
            specs[i] = spec
            nodes.append(spec.honest())
            continue
        node = (
            make_strategy(strategy, spec, ctx) if isinstance(strategy, str) else strategy(spec, ctx)
        )
        corrupted[i] = node.name
        nodes.append(node)
    return Simulator(
        params,
        protocol=protocol,
        inputs=inputs,
        seed=seed,
        nodes=nodes,
        corrupted=corrupted,
        scheduler=policy,
        adversary=view,
        delta=delta,
        max_time=max_time,
        max_deliveries=max_deliveries,
        timeout_s=timeout_s,
        observers=[make(ctx, specs=specs) for make in observers],
    )
