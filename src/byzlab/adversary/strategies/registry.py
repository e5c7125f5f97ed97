"""The registry of Byzantine strategies: the names a scenario's `adversary.strategy` takes.

`STRATEGIES` holds the built-in ones. A name that is not built in is a plugin
(``byzlab.plugins``): an entry point of the group ``byzlab.strategies`` or a
``"package.module:Name"`` reference. `strategy_class` finds either, `make_strategy` builds
one for a corrupted node (its `NodeSpec`) in a run (its `AdversaryContext`), with the
scenario's options as keyword arguments.
"""

from __future__ import annotations

from typing import Any, cast

from byzlab import plugins
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

__all__ = ["STRATEGIES", "make_strategy", "strategy_class"]

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


def strategy_class(name: str) -> type[ByzantineNode]:
    """The class of the strategy `name`: built in, else a plugin. Raises ValueError (one
    line) for a name that is neither, or a plugin that cannot be imported or is not a
    strategy (a class with ``start`` and ``receive``, `byzlab.api.Strategy`)."""
    if name in STRATEGIES:
        return STRATEGIES[name]
    if not plugins.is_known("strategy", name):
        raise ValueError(
            f"unknown Byzantine strategy {name!r}; choose one of: "
            f"{', '.join(sorted(STRATEGIES))}, an installed plugin or a "
            '"package.module:Name" reference'
        )
    cls = plugins.load_class("strategy", name, "start", "receive")
    return cast(type[ByzantineNode], cls)


def make_strategy(
    name: str, spec: NodeSpec, ctx: AdversaryContext, **options: Any
) -> ByzantineNode:
    """The strategy `name` (built in or a plugin) for the corrupted node `spec`, in the run
    `ctx`. The node is named `name`, the reference the scenario or command line gave (a
    plugin's ``module:Name`` or entry point), so that results name it as the user did on
    every backend."""
    node = strategy_class(name)(spec, ctx, **options)
    node.name = name
    return node
