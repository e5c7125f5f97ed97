"""Schedulers: the adversary's power over delivery order (HPZ §2, "Full Information & Scheduling").

A scheduler picks the delay of every message in [0, delta], in the simulator and behind the
TCP proxy alike. One module per family:

* ``base``: the `Scheduler` base class (built with its `AdversaryContext`; FIFO delays);
* ``oblivious``: delays from endpoints and time only (fifo, random, exponential,
  latency-matrix, targeted, partition, hold-f);
* ``votes``: full-information attacks on the Bracha vote phase (split-vote, keepers);
* ``coins``: full-information attacks on the coin's blackboards (coin-aware,
  finger-suppression);
* ``rules``: delays from rules in a scenario file (the rule language is adversary/triggers.py);
* ``registry``: the names a scenario uses, `make_scheduler` and `option_fields`.
"""

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
from byzlab.adversary.schedulers.registry import (
    SCHEDULERS,
    make_scheduler,
    option_fields,
    scheduler_class,
)
from byzlab.adversary.schedulers.rules import RuleScheduler
from byzlab.adversary.schedulers.votes import KeepersScheduler, SplitVoteScheduler

__all__ = [
    "SCHEDULERS",
    "CoinAwareScheduler",
    "ExponentialScheduler",
    "FifoScheduler",
    "FingerSuppressionScheduler",
    "HoldScheduler",
    "KeepersScheduler",
    "LatencyMatrixScheduler",
    "PartitionScheduler",
    "RuleScheduler",
    "Scheduler",
    "SplitVoteScheduler",
    "TargetedScheduler",
    "UniformScheduler",
    "make_scheduler",
    "option_fields",
    "scheduler_class",
]
