"""The registry of schedulers: the names a scenario's `adversary.scheduler` takes.

`SCHEDULERS` holds the built-in ones. A name that is not built in is a plugin
(``byzlab.plugins``): an entry point of the group ``byzlab.schedulers`` or a
``"package.module:Name"`` reference. `scheduler_class` finds either, `make_scheduler` builds
one for a run's `AdversaryContext`; `option_fields` lists the fields a scenario may set for a
built-in one (its `[adversary.scheduler_options]`), which is also what the scenario checks
and the README's scheduler table read (a plugin declares its options as a pydantic
``Options`` model instead, see adversary/options.py).
"""

from __future__ import annotations

from dataclasses import Field, fields
from typing import Any, cast

from byzlab import plugins
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers.base import Scheduler
from byzlab.adversary.schedulers.coins import CoinAwareScheduler, FingerSuppressionScheduler
from byzlab.adversary.schedulers.oblivious import (
    ExponentialScheduler,
    FifoScheduler,
    HoldScheduler,
    LatencyMatrixScheduler,
    PartitionScheduler,
    TargetedScheduler,
    UniformScheduler,
)
from byzlab.adversary.schedulers.rules import RuleScheduler
from byzlab.adversary.schedulers.votes import KeepersScheduler, SplitVoteScheduler

__all__ = ["SCHEDULERS", "make_scheduler", "option_fields", "scheduler_class"]

SCHEDULERS: dict[str, type[Scheduler]] = {
    "fifo": FifoScheduler,
    "random": UniformScheduler,
    "hold-f": HoldScheduler,
    "split-vote": SplitVoteScheduler,
    "exponential": ExponentialScheduler,
    "latency-matrix": LatencyMatrixScheduler,
    "targeted": TargetedScheduler,
    "partition": PartitionScheduler,
    "coin-aware": CoinAwareScheduler,
    "finger-suppression": FingerSuppressionScheduler,
    "keepers": KeepersScheduler,
    "rules": RuleScheduler,
}


def option_fields(cls: type[Scheduler]) -> list[Field[Any]]:
    """The fields of a scheduler class that a scenario may set (its options): everything
    beyond the base class, except private and internal bookkeeping."""
    base = {f.name for f in fields(Scheduler)}
    return [
        f
        for f in fields(cls)
        if f.name not in base and not f.name.startswith("_") and not f.metadata.get("internal")
    ]


def scheduler_class(name: str) -> type[Scheduler]:
    """The class of the scheduler `name`: built in, else a plugin. Raises ValueError (one
    line) for a name that is neither, or a plugin that cannot be imported or is not a
    scheduler (a class with ``delay``, `byzlab.api.DeliveryPolicy`)."""
    if name in SCHEDULERS:
        return SCHEDULERS[name]
    if not plugins.is_known("scheduler", name):
        raise ValueError(
            f"unknown scheduler {name!r}; choose one of: {', '.join(sorted(SCHEDULERS))}, "
            'an installed plugin or a "package.module:Name" reference'
        )
    return cast(type[Scheduler], plugins.load_class("scheduler", name, "delay", "describe"))


def make_scheduler(name: str, ctx: AdversaryContext, **options: Any) -> Scheduler:
    """The scheduler `name` (built in or a plugin), built for the run `ctx` with its
    `options`."""
    return scheduler_class(name)(ctx, **options)
