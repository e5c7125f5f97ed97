"""The `rules` scheduler: delays set by rules written in a scenario file.

Each rule is a predicate over one message in flight plus a delay in units of delta; the rule
language (leaves, all/any/not, its errors) is adversary/triggers.py. The first rule that
matches a message sets its delay; messages no rule matches get uniform delays in [0, delta].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from byzlab.adversary.schedulers.base import Scheduler
from byzlab.adversary.triggers import Rule, compile_rules
from byzlab.node.messages import Message

__all__ = ["RuleScheduler"]


@dataclass
class RuleScheduler(Scheduler):
    name: str = "rules"
    needs = "the Bracha engine's messages (rules match kinds, steps and boards)"
    description: str = "rule-based triggers composed with all/any/not, first match sets delay"
    inspects_messages: bool = True
    rules: list[dict[str, Any]] = field(default_factory=list)
    compiled: list[Rule] = field(default_factory=list, metadata={"internal": True})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.compiled = compile_rules(self.rules)

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        t = now / self.delta
        for rule in self.compiled:
            if rule.when(src, dst, msg, t):
                return rule.delay * self.delta
        return self.rng.random() * self.delta
