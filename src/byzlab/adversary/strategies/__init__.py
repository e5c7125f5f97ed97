"""Byzantine strategies: small objects that replace a corrupted node's behaviour.

A strategy has the same interface as an honest node (`start`, `receive`, returning effects)
and is built with the run's `AdversaryContext`. Corrupted nodes share one `AdversaryView`
(adversary/view.py): the adversary is full-information and coordinates all f of them. A
corrupted node may also be as slow as it likes: several strategies hold their own messages
back until the honest ones they react to are out, which the model allows (only honest
messages are bound by delta), and buffer what they receive before feeding it to the honest
node inside them, which lets them choose, within what validation accepts, the view they
carry and therefore the coin outcome they must vote. One module per family:

* ``base``: `NodeSpec`, `ByzantineNode` and the wrappers that rewrite an honest node's sends;
* ``simple``: crash and omission (silent, crash, split-hold), equivocation, and invalid
  transitions that validation must reject (random-value, invalid-value);
* ``votes``: vote attacks on the Bracha phase (split-vote, force-decide, deadlock);
* ``coins``: coin attacks on the HPZ blackboards (random-coins, biased-coins, mirror-mimic,
  coin-interval, sigma-correlation; HPZ §2.1-2.2, Lemma 6);
* ``planner``: the corrupted writers' shared plan for the last word on an even board;
* ``registry``: the names a scenario uses and `make_strategy`.

Adaptive corruption (taking over an honest node's keys and state mid-run) is a rule of the
whole adversary, see `AdaptiveCorruption` in adversary/corruption.py.
"""

from byzlab.adversary.strategies.base import ByzantineNode, NodeSpec
from byzlab.adversary.strategies.coins import (
    BiasedCoins,
    CoinInterval,
    MirrorMimic,
    RandomCoins,
    SigmaCorrelation,
)
from byzlab.adversary.strategies.planner import plan_last_word
from byzlab.adversary.strategies.registry import STRATEGIES, make_strategy, strategy_class
from byzlab.adversary.strategies.simple import (
    Crash,
    Equivocate,
    InvalidValue,
    RandomValue,
    Silent,
    SplitHold,
)
from byzlab.adversary.strategies.votes import Deadlock, ForceDecide, SplitVoteVoter

__all__ = [
    "STRATEGIES",
    "BiasedCoins",
    "ByzantineNode",
    "CoinInterval",
    "Crash",
    "Deadlock",
    "Equivocate",
    "ForceDecide",
    "InvalidValue",
    "MirrorMimic",
    "NodeSpec",
    "RandomCoins",
    "RandomValue",
    "SigmaCorrelation",
    "Silent",
    "SplitHold",
    "SplitVoteVoter",
    "make_strategy",
    "plan_last_word",
    "strategy_class",
]
