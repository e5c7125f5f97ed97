"""From a validated scenario to what runs: its parameters, its inputs, and its simulator.

The simulator is assembled by ``byzlab.adversary.assemble`` (the one assembler), with the
scenario's scheduler and strategies and their options.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from byzlab.adversary.options import plugin_kwargs
from byzlab.adversary.schedulers import make_scheduler, scheduler_class
from byzlab.adversary.strategies import make_strategy, strategy_class
from byzlab.errors import ScenarioError
from byzlab.node.params import Params
from byzlab.orchestration.scenario.model import CorruptEntry, Scenario

if TYPE_CHECKING:
    from byzlab.adversary.assemble import ObserverFactory, SchedulerFactory, StrategyFactory

__all__ = [
    "build_params",
    "build_simulator",
    "resolve_inputs",
    "scheduler_factory",
    "scheduler_kwargs",
    "strategy_factory",
]


def scheduler_kwargs(scn: Scenario) -> dict[str, Any]:
    """The scenario's scheduler options as its constructor takes them."""
    adv = scn.adversary
    return plugin_kwargs(scheduler_class(adv.scheduler), adv.scheduler_options)


def scheduler_factory(name: str, options: Mapping[str, Any]) -> SchedulerFactory:
    """The scheduler ``name`` with its TOML ``options``, for the assembler."""
    return functools.partial(make_scheduler, name, **plugin_kwargs(scheduler_class(name), options))


def strategy_factory(name: str, options: Mapping[str, Any]) -> StrategyFactory:
    """The strategy ``name`` with its TOML ``options``, for the assembler."""
    return functools.partial(make_strategy, name, **plugin_kwargs(strategy_class(name), options))


def corruption_factory(entry: CorruptEntry) -> ObserverFactory:
    """An [[adversary.corrupt]] entry as the assembler's observer factory."""
    from byzlab.adversary.corruption import AdaptiveCorruption

    return functools.partial(
        AdaptiveCorruption,
        **entry.model_dump(exclude_none=True),
    )


def build_params(scn: Scenario) -> Params:
    n, f = scn.run.n, scn.f
    overrides = scn.params.overrides()
    if scn.run.preset == "theory":
        return Params.theory(n, f, **overrides)
    if scn.run.preset == "proof":
        return Params.proof(n, f, **overrides)
    return Params.practical(n, f, **overrides)


def _one_instance(scn: Scenario) -> None:
    """Refuse to run a [committee]/[sortition] scenario as if it were one plain instance."""
    if scn.multi_instance:
        raise ScenarioError(
            [
                "a [committee]/[sortition] scenario is a sequence of agreement instances on a "
                "pool of nodes: run it with `byzlab run FILE --backend sim|local` "
                "(orchestration/instances.py)"
            ]
        )


def resolve_inputs(scn: Scenario) -> list[int]:
    """The n input values: a named pattern (seeded for "random") or the explicit list."""
    from byzlab.seeds import make_inputs

    _one_instance(scn)

    inputs = scn.run.inputs
    if isinstance(inputs, str):
        return make_inputs(inputs, scn.run.n, scn.seed)
    return list(inputs)


def build_simulator(
    scn: Scenario, *, max_time: float | None = None, scheduler: SchedulerFactory | None = None
) -> Any:
    """A ``Simulator`` for this scenario (delta = 1 virtual unit); ``scheduler`` replaces the
    scenario's (a search's schedule over it, byzlab.adversary.schedule)."""
    from byzlab.adversary.assemble import assemble_simulator

    _one_instance(scn)
    return assemble_simulator(
        build_params(scn),
        protocol=scn.build_protocol(),
        inputs=resolve_inputs(scn),
        seed=scn.seed,
        scheduler=scheduler
        or scheduler_factory(scn.adversary.scheduler, scn.adversary.scheduler_options),
        byzantine={
            b.node: strategy_factory(b.strategy, b.options) for b in scn.adversary.byzantine
        },
        max_time=max_time,
        observers=[corruption_factory(c) for c in scn.adversary.corrupt],
    )
