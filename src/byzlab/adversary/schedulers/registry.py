"""The registry of schedulers: the names a scenario's `adversary.scheduler` takes.

`make_scheduler` builds one by name for a run's `AdversaryContext`; `option_fields` lists the
fields a scenario may set for it (its `[adversary.scheduler_options]`), which is also what the
scenario checks and the README's scheduler table read.
"""

from __future__ import annotations

from dataclasses import Field, fields
from typing import Any

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

__all__ = ["SCHEDULERS", "make_scheduler", "option_fields"]

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


def make_scheduler(name: str, ctx: AdversaryContext, **options: Any) -> Scheduler:
    """The scheduler `name` of the registry, built for the run `ctx` with its `options`."""
    try:
        factory = SCHEDULERS[name]
    except KeyError:
        raise ValueError(
            f"unknown scheduler {name!r}; choose one of: {', '.join(sorted(SCHEDULERS))}"
        ) from None
    return factory(ctx, **options)
