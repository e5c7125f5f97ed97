"""Shared helpers: build and run simulator scenarios; every failure message names the seed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from byzlab.adversary.schedulers import Scheduler, make_scheduler
from byzlab.adversary.strategies import NodeSpec, make_strategy
from byzlab.network.sim import SimResult, Simulator, make_inputs
from byzlab.node.params import Params


def build_sim(
    n: int,
    f: int,
    *,
    seed: int,
    protocol: str = "hpz",
    strategy: str | None = None,
    byzantine_ids: Sequence[int] | None = None,
    scheduler: str | Scheduler = "random",
    inputs: str | list[int] = "split",
    strategy_kwargs: dict[str, Any] | None = None,
    **param_overrides: Any,
) -> Simulator:
    params = Params.practical(n, f, **param_overrides)
    ids = list(byzantine_ids) if byzantine_ids is not None else list(range(n - f, n))
    byzantine = {}
    if strategy is not None:
        kwargs = strategy_kwargs or {}

        def factory(spec: NodeSpec) -> Any:
            return make_strategy(strategy, spec, **kwargs)

        byzantine = {i: factory for i in ids}
    sched = make_scheduler(scheduler) if isinstance(scheduler, str) else scheduler
    values = make_inputs(inputs, n, seed) if isinstance(inputs, str) else inputs
    return Simulator(
        params, protocol=protocol, inputs=values, seed=seed, scheduler=sched, byzantine=byzantine
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
