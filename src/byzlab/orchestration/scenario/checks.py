"""Cross-field rules of a scenario: what pydantic cannot see on one field alone.

f < n/3, the inputs list has n entries, Byzantine node ids are in range, distinct and at most
f, strategy and scheduler options exist and have the right types (checked against the real
constructors, so a new strategy option needs no change here), hold no nan or infinity, stay
within ``_STRATEGY_LIMITS`` / ``_SCHEDULER_LIMITS`` and name nodes in 0..n-1; the parameters
form a valid ``Params``; the multi-instance and docker tables agree with the rest. Every
problem is one "path: message" line (``cross_check`` returns them all).
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from byzlab import plugins
from byzlab.adversary.applies import refusal
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.options import option_hints, options_model, options_problems, plugin_kwargs
from byzlab.adversary.schedulers import make_scheduler, option_fields, scheduler_class
from byzlab.adversary.strategies import ByzantineNode, NodeSpec, make_strategy, strategy_class
from byzlab.adversary.view import AdversaryView
from byzlab.errors import _describe
from byzlab.node.params import ParamsError
from byzlab.node.protocol import fault_refusal
from byzlab.orchestration.scenario.build import build_params, scheduler_kwargs
from byzlab.orchestration.scenario.model import (
    MAX_ITERATION,
    MAX_VIRTUAL_TIME,
    SORTITION_POOL_KEYS,
    ByzantineEntry,
    ParamsSection,
    Scenario,
)

__all__ = [
    "cross_check",
    "protocol_option_problems",
    "scheduler_option_problems",
    "strategy_option_problems",
]

# Strategy options whose values are node ids (adversary/strategies/).
_PLAYER_ID_OPTIONS = frozenset({"targets"})


def _check_value(hint: Any, value: object) -> str | None:
    """None if ``value`` (as ``plugin_kwargs`` passes it) fits the annotation ``hint``
    (strictly), else a reason."""
    if hint is None:
        return None
    if isinstance(hint, type) and hint is float and type(value) is int:
        return None
    try:
        TypeAdapter(hint).validate_python(value, strict=True)
    except ValidationError:
        return f"expected {_hint_words(hint)}, got {_describe(value)}"
    return None


def _hint_words(hint: Any) -> str:
    text = repr(hint).replace("typing.", "")
    if "frozenset[int]" in text:
        return "a list of node ids"
    return {
        "float | None": "a number",
        "int | None": "an integer",
        "<class 'float'>": "a number",
        "<class 'int'>": "an integer",
    }.get(text, text)


def strategy_option_problems(entry: ByzantineEntry, where: str) -> list[str]:
    """The strategy's options checked one by one, one "``where``.options.KEY: message" line
    per problem."""
    cls: type[ByzantineNode] = strategy_class(entry.strategy)
    model = options_model(cls)
    if model is not None:  # a plugin's own options model
        return options_problems(model, entry.options, f"{where}.options.")
    params = {
        name: p
        for name, p in inspect.signature(cls.__init__).parameters.items()
        # `ctx` is the run's adversary context and `inner` how adaptive corruption hands
        # over a live node, not scenario options
        if name not in ("self", "spec", "ctx", "inner")
        and p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    hints = option_hints(cls)
    kwargs = plugin_kwargs(cls, entry.options)
    problems = []
    for key, value in entry.options.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "(none)"
            problems.append(
                f"{where}.options.{key}: unknown option for strategy {entry.strategy!r}; "
                f"known: {known}"
            )
            continue
        reason = (
            _check_value(hints.get(key), kwargs[key])
            or _nonfinite(value)
            or _out_of_limits(_STRATEGY_LIMITS.get((entry.strategy, key)), value)
        )
        if reason:
            problems.append(f"{where}.options.{key}: {reason}")
    return problems


# Numeric options and their limits: (low, low included, high, what). Options that the
# constructors check themselves (targeted.slowdown, coin-aware.hold, latency-matrix.matrix,
# finger-suppression.allow >= 0, rules[].delay) still get the finiteness check.
_Limit = tuple[float, bool, float, str]
_STRATEGY_LIMITS: dict[tuple[str, str], _Limit] = {
    ("crash", "at_time"): (0, True, MAX_VIRTUAL_TIME, "virtual time, units of delta"),
    ("crash", "at_iteration"): (1, True, MAX_ITERATION, "an iteration"),
    ("crash", "at_step"): (1, True, 4, "a step of the iteration"),
}
_SCHEDULER_LIMITS: dict[tuple[str, str], _Limit] = {
    ("exponential", "mean"): (0, False, 100, "a multiple of delta"),
    ("latency-matrix", "jitter"): (0, True, 1, "a fraction of delta"),
    ("targeted", "slowdown"): (0, True, 1, "a fraction of delta"),
    ("partition", "heal_at"): (0, True, MAX_VIRTUAL_TIME, "virtual time, units of delta"),
    ("finger-suppression", "allow"): (0, True, MAX_ITERATION, "bias cells"),
}
# Options that name nodes: every id in 0..n-1; hold-f holds at most f of them (it stands for
# the f nodes whose messages the adversary may hold back; more would be another scheduler).
_SCHEDULER_NODE_OPTIONS = {("hold-f", "held"), ("targeted", "nodes"), ("partition", "group")}


def _nonfinite(value: object, path: str = "") -> str | None:
    """A reason if ``value`` holds nan or an infinity anywhere (TOML has both)."""
    if isinstance(value, float) and not math.isfinite(value):
        where = f" (at {path})" if path else ""
        return f"must be a finite number, got {value!r}{where}"
    items: list[tuple[str, object]] = []
    if isinstance(value, list | tuple):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    for sub, v in items:
        reason = _nonfinite(v, sub)
        if reason:
            return reason
    return None


def _out_of_limits(limit: _Limit | None, value: object) -> str | None:
    if limit is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    low, closed, high, what = limit
    if (value < low if closed else value <= low) or value > high:
        left = "[" if closed else "("
        return f"must be in {left}{low:g}, {high:g}] ({what}), got {value!r}"
    return None


def _node_list_problem(scheduler: str, key: str, value: object, n: int, f: int) -> str | None:
    if not isinstance(value, list):
        return None
    bad = [x for x in value if isinstance(x, int) and not 0 <= x < n]
    if bad:
        return f"node {bad[0]} is out of range 0..{n - 1}"
    if scheduler == "hold-f" and key == "held" and len(set(value)) > f:
        return (
            f"{len(set(value))} held nodes, but hold-f holds at most f={f} "
            "(the nodes whose messages arrive last)"
        )
    return None


def scheduler_option_problems(
    scheduler: str, options: dict[str, Any], n: int, f: int, where: str
) -> list[str]:
    """The scheduler's options checked one by one, one "``where``KEY: message" line per
    problem (a scenario's ``adversary.scheduler_options``, or ``byzlab sim``'s
    ``--scheduler-option``)."""
    cls = scheduler_class(scheduler)
    model = options_model(cls)
    if model is not None:  # a plugin's own options model
        return options_problems(model, options, where)
    hints = option_hints(cls)
    allowed = {f.name: hints.get(f.name) for f in option_fields(cls)}
    kwargs = plugin_kwargs(cls, options)
    problems = []
    for key, value in options.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "(none)"
            problems.append(
                f"{where}{key}: unknown option for scheduler {scheduler!r}; known: {known}"
            )
            continue
        reason = (
            _check_value(allowed[key], kwargs[key])
            or _nonfinite(value)
            or _out_of_limits(_SCHEDULER_LIMITS.get((scheduler, key)), value)
        )
        if not reason and (scheduler, key) in _SCHEDULER_NODE_OPTIONS:
            reason = _node_list_problem(scheduler, key, value, n, f)
        if reason:
            problems.append(f"{where}{key}: {reason}")
    return problems


def protocol_option_problems(name: str, options: dict[str, Any], where: str) -> list[str]:
    """A plugin protocol's options (a scenario's ``run.protocol_options``, or ``byzlab sim``'s
    ``--protocol-option``): one "``where``KEY: message" line per field its ``Options`` model
    refuses, else the one line of the constructor's refusal (a built-in protocol takes none)."""
    if not options:
        return []
    target = plugins.resolve("protocol", name) if plugins.is_protocol_plugin(name) else None
    model = options_model(target) if isinstance(target, type) else None
    problems = options_problems(model, options, where) if model is not None else []
    if not problems:
        try:
            plugins.protocol(name, options)
        except plugins.PluginError as exc:
            problems.append(f"{where.rstrip('. ')}: {exc}")
    return problems


def cross_check(scn: Scenario) -> list[str]:
    n, f = scn.run.n, scn.f
    problems = protocol_option_problems(
        scn.run.protocol, scn.run.protocol_options, "run.protocol_options."
    )
    if problems:  # no protocol to check the rest against
        return problems
    if 3 * f >= n:
        problems.append(
            f"run.f: f={f} is too large for n={n}: Byzantine agreement needs f < n/3 "
            f"(the largest allowed f is {(n - 1) // 3})"
        )
    # a protocol may tolerate fewer faults than n/3 (Ben-Or's needs n > 5f)
    refused = fault_refusal("run.f", scn.build_protocol(), n, f)
    if refused:
        problems.append(refused)
    inputs = scn.run.inputs
    if isinstance(inputs, tuple) and len(inputs) != n and not scn.multi_instance:
        problems.append(f"run.inputs: the list has {len(inputs)} values but n={n}")
    problems += _byzantine_problems(scn.adversary.byzantine, "adversary.byzantine", n, "node")
    if len(scn.adversary.byzantine) > f:
        problems.append(
            f"adversary.byzantine: {len(scn.adversary.byzantine)} Byzantine nodes exceed f={f}"
        )
    adv = scn.adversary
    problems += scheduler_option_problems(
        adv.scheduler, adv.scheduler_options, n, f, "adversary.scheduler_options."
    )
    problems += _corrupt_problems(scn)
    problems += applicability_problems(scn)
    problems += _docker_problems(scn)
    problems += [p for p in [_fault_count_problem(scn)] if p]
    problems += _swarm_problems(scn)
    problems += _multi_instance_problems(scn)
    if problems:
        return problems
    # Everything is individually fine: now the parameter set and the constructors as a whole.
    try:
        params = build_params(scn)
    except (ParamsError, TypeError) as exc:
        return [_params_problem(str(exc))]
    protocol = scn.build_protocol()
    ctx = AdversaryContext(params, AdversaryView(params, scn.byzantine_map()), protocol=protocol)
    try:
        make_scheduler(scn.adversary.scheduler, ctx, **scheduler_kwargs(scn))
    except (TypeError, ValueError) as exc:
        problems.append(f"adversary.scheduler_options: {exc}")
    entries = [
        (f"adversary.byzantine[{k}]", b.node, b) for k, b in enumerate(scn.adversary.byzantine)
    ]
    # a pool node's strategy drives players whose ids the draw decides: try it as player 0,
    # and refuse options that name players (they would mean a different node every draw)
    for k, b in enumerate(scn.pool_byzantine):
        where = f"{_pool_table(scn)}.byzantine[{k}]"
        named = sorted(set(b.options) & _PLAYER_ID_OPTIONS)
        if named:
            problems.append(
                f"{where}.options.{named[0]}: names player ids, but a pool "
                "node's players get new ids in every instance's draw; leave it "
                "out (the strategy then picks its own)"
            )
        else:
            entries.append((where, 0, b))
    for where, node, b in entries:
        try:
            spec = NodeSpec(node, params, protocol, 1, random.Random(0))
            make_strategy(
                b.strategy, spec, ctx, **plugin_kwargs(strategy_class(b.strategy), b.options)
            )
        except (TypeError, ValueError) as exc:
            problems.append(f"{where}.options: {exc}")
    return problems


def _byzantine_problems(
    entries: Sequence[ByzantineEntry], table: str, size: int, noun: str
) -> list[str]:
    """Ids in range 0..size-1 (unchecked when size is 0: unknown), each corrupted once, and
    strategy options that exist with the right types."""
    problems: list[str] = []
    seen: dict[int, int] = {}
    for k, b in enumerate(entries):
        where = f"{table}[{k}]"
        if size and b.node >= size:
            problems.append(f"{where}.node: {noun} {b.node} is out of range 0..{size - 1}")
        if b.node in seen:
            problems.append(
                f"{where}.node: {noun} {b.node} is already corrupted by {table}[{seen[b.node]}]"
            )
        seen.setdefault(b.node, k)
        problems += strategy_option_problems(b, where)
    return problems


def applicability_problems(scn: Scenario) -> list[str]:
    """The scheduler and every strategy the scenario names must apply to its protocol
    (byzlab.adversary.applies): one line per pairing that does not."""
    protocol = scn.build_protocol()
    adv = scn.adversary
    named: list[tuple[str, str, type]] = [
        ("adversary.scheduler", adv.scheduler, scheduler_class(adv.scheduler))
    ]
    strategies = [
        *((f"adversary.byzantine[{k}].strategy", b.strategy) for k, b in enumerate(adv.byzantine)),
        *((f"adversary.corrupt[{k}].strategy", c.strategy) for k, c in enumerate(adv.corrupt)),
        *(
            (f"{_pool_table(scn)}.byzantine[{k}].strategy", b.strategy)
            for k, b in enumerate(scn.pool_byzantine)
        ),
    ]
    named += [(where, name, strategy_class(name)) for where, name in strategies]
    return [p for where, name, cls in named if (p := refusal(where, name, cls, protocol))]


def _corrupt_problems(scn: Scenario) -> list[str]:
    """[[adversary.corrupt]] rules: each option fits its rule, named nodes are honest ids,
    and the strategy's options are valid (how many nodes all faults take together is
    `_fault_count_problem`'s)."""
    adv = scn.adversary
    n = scn.run.n
    byzantine = {b.node for b in adv.byzantine}
    problems: list[str] = []
    for k, c in enumerate(adv.corrupt):
        where = f"adversary.corrupt[{k}]"
        if c.rule != "at-time":
            unused = [key for key in ("at_time", "nodes") if key in c.model_fields_set]
            problems += [f"{where}.{key}: only the at-time rule takes it" for key in unused]
        for node in c.nodes or []:
            if not 0 <= node < n:
                problems.append(f"{where}.nodes: node {node} is out of range 0..{n - 1}")
            elif node in byzantine:
                problems.append(f"{where}.nodes: node {node} is already Byzantine")
        if c.nodes is not None and c.count > len(c.nodes):
            problems.append(f"{where}.count: {c.count} corruptions but only {len(c.nodes)} nodes")
        entry = ByzantineEntry(node=0, strategy=c.strategy, options=c.options)
        problems += strategy_option_problems(entry, where)
    if adv.corrupt and scn.multi_instance:
        problems.append(
            "adversary.corrupt: adaptive corruption is not supported in "
            "[committee]/[sortition] runs"
        )
    return problems


def _pool_table(scn: Scenario) -> str:
    """Where the pool of a multi-instance run is described."""
    return "committee" if scn.committee is not None else "sortition"


def _multi_instance_problems(scn: Scenario) -> list[str]:
    """[committee]/[sortition] rules: the sections agree with each other and with [run],
    pool node ids are in range and distinct, and the active set fits in the pool."""
    com, srt = scn.committee, scn.sortition
    if com is None and srt is None:
        return []
    problems: list[str] = []
    players_key = "committee.seats" if com is not None else "sortition.active"
    players = com.seats if com is not None else srt.active if srt is not None else 0
    if scn.run.n != players:
        problems.append(
            f"run.n: n={scn.run.n}, but a [committee]/[sortition] run has {players_key} = "
            f"{players} players per instance; leave run.n out"
        )
    pool = scn.pool_size
    if com is not None and srt is not None:
        for key, instead in SORTITION_POOL_KEYS.items():
            if key in srt.model_fields_set:
                problems.append(
                    f"sortition.{key}: with [committee] the pool is the "
                    f"committee's; set {instead} instead"
                )
        staked = sum(1 for s in com.stakes if s > 0)
        if srt.active > staked:
            problems.append(
                f"sortition.active: {srt.active} active nodes, but only {staked} "
                "pool nodes have stake (committee.stakes)"
            )
    elif srt is not None:
        if srt.pool is None:
            problems.append(
                "sortition.pool: required key is missing (the number of pool "
                "nodes; without [committee] each active node runs one player)"
            )
        elif srt.active > srt.pool:
            problems.append(
                f"sortition.active: {srt.active} active nodes exceed the pool of "
                f"sortition.pool = {srt.pool}"
            )
    table = _pool_table(scn)
    problems += _byzantine_problems(scn.pool_byzantine, f"{table}.byzantine", pool, "pool node")
    byzantine = {b.node for b in scn.pool_byzantine}
    honest = [j for j in range(pool) if j not in byzantine and (com is None or com.stakes[j] > 0)]
    if pool and byzantine and not honest:
        problems.append(
            f"{table}.byzantine: every pool node that can take part is Byzantine; "
            "an instance needs honest players"
        )
    if scn.adversary.byzantine:
        problems.append(
            f"adversary.byzantine: in a [committee]/[sortition] run the corrupted "
            f"players are those of the Byzantine pool nodes ({table}.byzantine); "
            "leave adversary.byzantine empty"
        )
    if scn.docker.faults:
        problems.append(
            "docker.faults: container faults are not supported in [committee]/[sortition] runs"
        )
    inputs = scn.run.inputs
    if isinstance(inputs, tuple) and pool and len(inputs) != pool:
        problems.append(
            f"run.inputs: a [committee]/[sortition] run takes one input per pool "
            f"node: the list has {len(inputs)} values but the pool has {pool} "
            "nodes"
        )
    return problems


_NETEM_FIELDS = ("delay_ms", "jitter_ms", "loss_pct")


def _docker_problems(scn: Scenario) -> list[str]:
    """[docker] rules: targets are honest nodes, one trigger each, and fields fit the action
    (crashed nodes count toward f in `_fault_count_problem`)."""
    problems: list[str] = []
    n = scn.run.n
    byzantine = {b.node: k for k, b in enumerate(scn.adversary.byzantine)}
    for k, fault in enumerate(scn.docker.faults):
        where = f"docker.faults[{k}]"
        if fault.node >= n:
            problems.append(f"{where}.node: node {fault.node} is out of range 0..{n - 1}")
        elif fault.node in byzantine:
            problems.append(
                f"{where}.node: node {fault.node} is Byzantine "
                f"(adversary.byzantine[{byzantine[fault.node]}]); it runs inside the proxy "
                "and has no container of its own"
            )
        if (fault.at_s is None) == (fault.at_iteration is None):
            problems.append(f"{where}: set exactly one of at_s, at_iteration")
        unused = [name for name in _NETEM_FIELDS if getattr(fault, name) is not None]
        if fault.action == "kill" and fault.duration_s is not None:
            unused.insert(0, "duration_s")
        if fault.action != "netem":
            problems += [f"{where}.{name}: not used by action {fault.action!r}" for name in unused]
        elif fault.delay_ms is None and fault.loss_pct is None:
            problems.append(f"{where}: a netem fault needs delay_ms or loss_pct")
        elif fault.jitter_ms is not None and fault.delay_ms is None:
            problems.append(f"{where}.jitter_ms: jitter needs delay_ms")
    return problems


def _fault_count_problem(scn: Scenario) -> str | None:
    """Every fault of the run counted once against f, in one line naming the fields that add
    up: the Byzantine nodes, the adaptive corruptions ([[adversary.corrupt]]) and the honest
    nodes whose container [[docker.faults]] kills or pauses (a crash fault). Byzantine nodes
    alone are adversary.byzantine's own check."""
    adv, n, f = scn.adversary, scn.run.n, scn.f
    byzantine = sorted(b.node for b in adv.byzantine)
    adaptive = sum(c.count for c in adv.corrupt)
    crashed = [i for i in scn.docker.crashed_nodes() if i < n and i not in byzantine]
    total = len(byzantine) + adaptive + len(crashed)
    if total <= f or not (adaptive or crashed):
        return None
    if not crashed:
        return (
            f"adversary.corrupt: {len(byzantine)} initially corrupted plus {adaptive} "
            f"adaptive corruptions are {total} nodes, more than f={f}"
        )
    counted = (
        f"Byzantine nodes {byzantine}, {adaptive} adaptive corruptions and crashed nodes "
        if adaptive
        else f"Byzantine nodes {byzantine} plus crashed nodes "
    )
    return (
        f"{'adversary.corrupt, ' if adaptive else ''}docker.faults: {counted}{crashed} are "
        f"{total} faulty nodes, more than f={f} (a killed or paused container is a crash "
        "fault and counts toward f)"
    )


def _swarm_problems(scn: Scenario) -> list[str]:
    """[swarm] rules: the placement table pins honest nodes of this run (whether its hosts
    exist is the swarm's to say, when the run starts)."""
    pinned = scn.swarm.pinned()
    if pinned and scn.multi_instance:
        return [
            "swarm.placement: a placement table is not supported in [committee]/[sortition] "
            "runs (the players change every instance)"
        ]
    problems: list[str] = []
    byzantine = {b.node: k for k, b in enumerate(scn.adversary.byzantine)}
    for node in pinned:
        where = f"swarm.placement.{node}"
        if node >= scn.run.n:
            problems.append(f"{where}: node {node} is out of range 0..{scn.run.n - 1}")
        elif node in byzantine:
            problems.append(
                f"{where}: node {node} is Byzantine (adversary.byzantine[{byzantine[node]}]); "
                "it runs inside the proxy and has no service of its own"
            )
    return problems


def _params_problem(message: str) -> str:
    name = message.split(" ", 1)[0]
    if name in ParamsSection.model_fields:
        return f"params.{name}: {message}"
    if name.startswith("f="):
        return f"run.f: {message}"
    return f"params: {message}"
