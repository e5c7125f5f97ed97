"""The rule language of the `rules` scheduler: "delay node 3's ECHOs during coin stage 2 of
iteration 5".

A rule is a predicate over one message in flight plus a delay (in units of delta). Predicates
are built from small leaves and compose with `all` (AND), `any` (OR) and `not`, so they can
be written in a scenario file:

    [adversary]
    scheduler = "rules"
    [adversary.scheduler_options]
    rules = [
      { when = { all = [ { sender = 3 }, { kind = "ECHO" }, { stage = "coin-2" },
                         { iteration = 5 } ] }, delay = 1.0 },
      { when = { not = { kind = "INITIAL" } }, delay = 0.1 },
    ]

Leaves: sender, receiver, origin (the RBC instance's broadcaster), kind (INITIAL, ECHO,
READY, DECIDE), step (1-4), stage ("vote", "coin-1" = stage-1 vote and odd board, "coin-2" =
even board), iteration, board, after / before (virtual time in units of delta). A leaf whose
value is a list matches any of them. The first rule that matches sets the delay; messages no
rule matches get uniform delays in [0, delta] (the scheduler that applies the rules is
adversary/schedulers/rules.py). A rule that cannot be compiled raises `RuleError`
(byzlab.errors) naming the offending part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from byzlab.errors import RuleError
from byzlab.node.messages import DecideMsg, Message, RbcMsg, Vote, Write

Predicate = Callable[[int, int, Message, float], bool]
_KINDS = {"INITIAL": 0, "ECHO": 1, "READY": 2, "DECIDE": 3}
_LEAVES = (
    "sender",
    "receiver",
    "origin",
    "kind",
    "step",
    "stage",
    "iteration",
    "board",
    "after",
    "before",
)


def _stage(msg: Message) -> str | None:
    if isinstance(msg, DecideMsg):
        return None
    item = msg.item
    if isinstance(item, Vote):
        return "coin-1" if item.step == 4 else "vote"
    return "coin-1" if item.board % 2 == 1 else "coin-2"


def _iteration(msg: Message) -> int | None:
    if isinstance(msg, RbcMsg):
        item = msg.item
        return item.iteration if isinstance(item, Vote) else (item.board + 1) // 2
    return None


def _as_set(value: Any, path: str) -> frozenset[Any]:
    values = value if isinstance(value, list) else [value]
    return frozenset(values)


def compile_predicate(spec: Any, path: str = "when") -> Predicate:
    """Turn a nested mapping into a predicate; raise RuleError naming the bad path."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise RuleError(
            f"{path}: expected a table with exactly one key "
            f"(all, any, not, or one of {', '.join(_LEAVES)})"
        )
    ((key, value),) = spec.items()
    where = f"{path}.{key}"
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}: expected a non-empty list of conditions")
        parts = [compile_predicate(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if key == "all":
            return lambda s, d, m, t: all(p(s, d, m, t) for p in parts)
        return lambda s, d, m, t: any(p(s, d, m, t) for p in parts)
    if key == "not":
        inner = compile_predicate(value, where)
        return lambda s, d, m, t: not inner(s, d, m, t)
    if key in ("after", "before"):
        if not isinstance(value, int | float):
            raise RuleError(f"{where}: expected a number (virtual time in units of delta)")
        bound = float(value)
        if key == "after":
            return lambda s, d, m, t: t >= bound
        return lambda s, d, m, t: t < bound
    if key not in _LEAVES:
        raise RuleError(
            f"{where}: unknown condition; use all, any, not or one of {', '.join(_LEAVES)}"
        )
    wanted = _as_set(value, where)
    if key == "kind":
        bad = [v for v in wanted if v not in _KINDS]
        if bad:
            raise RuleError(f"{where}: {bad[0]!r} is not one of {', '.join(_KINDS)}")
        kinds = frozenset(_KINDS[v] for v in wanted)
        return lambda s, d, m, t: (3 if isinstance(m, DecideMsg) else m.kind) in kinds
    if key == "stage":
        bad = [v for v in wanted if v not in ("vote", "coin-1", "coin-2")]
        if bad:
            raise RuleError(f"{where}: {bad[0]!r} is not one of vote, coin-1, coin-2")
        return lambda s, d, m, t: _stage(m) in wanted
    if any(not isinstance(v, int) or isinstance(v, bool) for v in wanted):
        raise RuleError(f"{where}: expected an integer or a list of integers")
    if key == "sender":
        return lambda s, d, m, t: s in wanted
    if key == "receiver":
        return lambda s, d, m, t: d in wanted
    if key == "origin":
        return lambda s, d, m, t: isinstance(m, RbcMsg) and m.origin in wanted
    if key == "step":
        return lambda s, d, m, t: (
            isinstance(m, RbcMsg) and isinstance(m.item, Vote) and m.item.step in wanted
        )
    if key == "board":
        return lambda s, d, m, t: (
            isinstance(m, RbcMsg) and isinstance(m.item, Write) and m.item.board in wanted
        )
    return lambda s, d, m, t: _iteration(m) in wanted


@dataclass
class Rule:
    """A compiled rule: messages matching `when` take `delay` (units of delta)."""

    when: Predicate
    delay: float


def compile_rules(rules: Sequence[Any]) -> list[Rule]:
    """Compile a scenario's list of `{ when = ..., delay = ... }` tables, in order; raise
    RuleError naming the first bad rule."""
    compiled = []
    for i, rule in enumerate(rules):
        path = f"rules[{i}]"
        if not isinstance(rule, Mapping) or set(rule) != {"when", "delay"}:
            raise RuleError(f"{path}: expected {{ when = ..., delay = ... }}")
        delay = rule["delay"]
        if not isinstance(delay, int | float) or not 0 <= delay <= 1:
            raise RuleError(f"{path}.delay: expected a number in [0, 1] (units of delta)")
        compiled.append(Rule(compile_predicate(rule["when"], f"{path}.when"), float(delay)))
    return compiled
