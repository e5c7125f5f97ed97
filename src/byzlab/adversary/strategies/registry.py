"""The registry of Byzantine strategies: the names a scenario's `adversary.strategy` takes.

`make_strategy` builds one by name for a corrupted node (its `NodeSpec`) in a run (its
`AdversaryContext`), with the scenario's `strategy_options` as keyword arguments.
"""

from __future__ import annotations

from typing import Any

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.strategies.base import ByzantineNode, NodeSpec
from byzlab.adversary.strategies.coins import (
    BiasedCoins,
    CoinInterval,
    MirrorMimic,
    RandomCoins,
    SigmaCorrelation,
)
from byzlab.adversary.strategies.simple import (
    Crash,
    Equivocate,
    InvalidValue,
    RandomValue,
    Silent,
    SplitHold,
)
from byzlab.adversary.strategies.votes import Deadlock, ForceDecide, SplitVoteVoter

__all__ = ["STRATEGIES", "make_strategy"]

STRATEGIES: dict[str, type[ByzantineNode]] = {
    cls.name: cls
    for cls in (
        Silent,
        Crash,
        RandomValue,
        InvalidValue,
        Equivocate,
        RandomCoins,
        BiasedCoins,
        MirrorMimic,
        CoinInterval,
        SplitVoteVoter,
        ForceDecide,
        Deadlock,
        SplitHold,
        SigmaCorrelation,
    )
}


def make_strategy(
    name: str, spec: NodeSpec, ctx: AdversaryContext, **options: Any
) -> ByzantineNode:
    """The strategy `name` of the registry for the corrupted node `spec`, in the run `ctx`."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown Byzantine strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}"
        ) from None
    return cls(spec, ctx, **options)
