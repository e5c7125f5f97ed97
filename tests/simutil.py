"""Shared helpers: build and run simulator scenarios; every failure message names the seed."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from byzlab.adversary.assemble import ObserverFactory, SchedulerFactory, assemble_simulator
from byzlab.adversary.strategies import make_strategy
from byzlab.network.sim import SimResult, Simulator
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params
from byzlab.node.protocol import Protocol
from byzlab.seeds import make_inputs


def build_sim(
    n: int,
    f: int,
    *,
    seed: int,
    protocol: str | Protocol = "hpz",
    strategy: str | None = None,
    byzantine_ids: Sequence[int] | None = None,
    scheduler: str | SchedulerFactory = "random",
    inputs: str | list[int] = "split",
    strategy_kwargs: dict[str, Any] | None = None,
    observers: Sequence[ObserverFactory] = (),
    **param_overrides: Any,
) -> Simulator:
    params = Params.practical(n, f, **param_overrides)
    ids = list(byzantine_ids) if byzantine_ids is not None else list(range(n - f, n))
    byzantine = {}
    if strategy is not None:
        factory = functools.partial(make_strategy, strategy, **(strategy_kwargs or {}))
        byzantine = dict.fromkeys(ids, factory)
    values = make_inputs(inputs, n, seed) if isinstance(inputs, str) else inputs
    return assemble_simulator(
        params,
        protocol=BUILTIN_PROTOCOLS[protocol] if isinstance(protocol, str) else protocol,
        inputs=values,
        seed=seed,
        scheduler=scheduler,
        byzantine=byzantine,
        observers=observers,
    )


def run_sim(n: int, f: int, **kwargs: Any) -> tuple[Simulator, SimResult]:
    sim = build_sim(n, f, **kwargs)
    return sim, sim.run()


def describe(result: SimResult) -> str:
    return (
        f"seed={result.seed} protocol={result.protocol} byzantine={result.byzantine} "
        f"scheduler={result.scheduler} stopped={result.stopped} "
        f"decisions={result.honest_decisions}"
    )
