"""Scenario files: one TOML file describes a run for every backend (sim, local, containers).

Theory of operation
-------------------
A scenario has four tables::

    [run]        n, f, seed, protocol, preset, inputs, timeout_s
    [params]     overrides of any protocol parameter (m, T, c, window, m0, xmax, ...)
    [adversary]  scheduler, scheduler_options, delta_s, tamper,
                 [[adversary.byzantine]] node, strategy, options
    [docker]     image, [[docker.faults]] node, action, at_s | at_iteration, duration_s,
                 delay_ms, jitter_ms, loss_pct  (container faults; only the docker backend)
    [committee]  stakes, seats, instances, [[committee.byzantine]] node, strategy, options
    [sortition]  active, percentile, alpha, penalty, and without [committee]: pool,
                 instances, [[sortition.byzantine]] node, strategy, options

``[committee]`` and ``[sortition]`` turn a scenario into a *multi-instance* run
(``orchestration/instances.py``): a pool of nodes, of which some are Byzantine, takes part in
one agreement instance after another. ``[committee]`` draws ``seats`` players per instance
from the pool by stake (a node holding s seats runs s players; a Byzantine node corrupts all
of its players); ``[sortition]`` picks the ``active`` nodes of each instance by merit; with
both, the seats are drawn from the active set. In such a run ``run.n`` is the number of
players per instance (``committee.seats``, else ``sortition.active``) and is filled in from
there; ``run.inputs`` gives one input per *pool node* (its players all start with it); the
corrupted players follow from the pool's Byzantine nodes, so ``adversary.byzantine`` stays
empty, and ``[adversary]`` otherwise applies to every instance as it is.

Every table and every key is optional; what is left out takes the defaults below. The same
file drives ``byzlab sim --scenario F`` (virtual time, delta = 1) and ``byzlab run F``
(real processes, delta = ``adversary.delta_s`` wall-clock seconds), so one scenario means
the same adversary in both modes. ``[docker]`` describes faults at the container level
(kill, pause, ``tc netem``) that only ``byzlab run --backend docker`` can apply: a killed or
paused container is a crash fault and counts toward f together with the Byzantine nodes.

Validation happens in two passes, and every problem becomes *one line* naming the full
field path (``adversary.byzantine[1].strategy: 'sneaky' is not one of crash, ...``):

1. pydantic v2, strict (a TOML string is never silently turned into a number) and
   ``extra="forbid"`` (a misspelt key is an error, not a silently ignored setting). Its
   errors are translated by ``format_validation_error`` rather than shown raw, because the
   raw form is several lines per error and speaks pydantic, not TOML.
2. cross-field rules pydantic cannot see on one field alone: f < n/3, the inputs list has n
   entries, Byzantine node ids are in range, distinct and at most f, strategy and scheduler
   options exist and have the right types (checked against the real constructors, so a new
   strategy option needs no change here), hold no nan or infinity anywhere, stay within the
   limits of ``_STRATEGY_LIMITS`` / ``_SCHEDULER_LIMITS`` (a crash's ``at_time`` in
   [0, 1e9], ``at_step`` in 1..4, an exponential ``mean`` in (0, 100], ...), name nodes in
   0..n-1, and ``hold-f`` holds at most f nodes; and the parameters form a valid ``Params``
   (node/params.py lists its limits: m, m0, xmax <= 65,536, T <= 10^7, window >=
   4 max(m, m0) + 64, ...). For a
   multi-instance run: pool node ids are in range and distinct (there is no bound on how many
   pool nodes are Byzantine: how often they draw a third of the seats is what such a run
   measures), the active set fits in the pool, and the sections do not contradict each other.

Every number of a scenario is finite (``allow_inf_nan=False``: TOML has nan and inf) and
bounded above. All problems found are reported together, one per line, in ``ScenarioError``;
the CLI prints them and exits with status 2, without a traceback.

``run.preset`` is practical, theory or proof (node/params.py). ``run.timeout_s`` is the
wall-clock budget of a real run, and of ``byzlab sim --scenario`` when the file sets it
(otherwise the simulator's budget is 600 s).
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers import SCHEDULERS, make_scheduler, option_fields
from byzlab.adversary.strategies import STRATEGIES, ByzantineNode, NodeSpec, make_strategy
from byzlab.adversary.view import AdversaryView
from byzlab.errors import ScenarioError
from byzlab.node.params import (
    MAX_BETA,
    MAX_C,
    MAX_K,
    MAX_ROWS,
    MAX_T,
    MAX_W_MIN,
    MIN_WINDOW,
    Params,
    ParamsError,
)
from byzlab.node.validation import PROTOCOLS

__all__ = [
    "FAULT_ACTIONS",
    "INPUT_KINDS",
    "PRESETS",
    "TAMPER_MODES",
    "ByzantineEntry",
    "CommitteeSection",
    "DockerFault",
    "DockerSection",
    "Scenario",
    "ScenarioError",
    "SortitionSection",
    "build_params",
    "build_simulator",
    "default_scenario",
    "format_validation_error",
    "load_scenario",
    "parse_scenario",
    "resolve_inputs",
]

INPUT_KINDS = ("split", "zeros", "ones", "random")
PRESETS = ("practical", "theory", "proof")
TAMPER_MODES = ("none", "flip-byte")
FAULT_ACTIONS = ("kill", "pause", "netem")
DEFAULT_IMAGE = "byzlab:latest"
# Upper bounds that keep a typo (n = 100000) from allocating for minutes before failing.
MAX_N = 1024
# Strategy options whose values are node ids (adversary/strategies.py).
_PLAYER_ID_OPTIONS = frozenset({"targets"})
MAX_SEED = 2**63 - 1
MAX_POOL = 100_000
MAX_INSTANCES = 100_000
MAX_ITERATION = 10**9
MAX_VIRTUAL_TIME = 1e9  # units of delta (the simulator stops at 1e7 by default)


def _one_of(value: object, choices: Sequence[str]) -> str:
    return f"{value!r} is not one of {', '.join(sorted(choices))}"


class _Strict(BaseModel):
    # TOML has nan and inf; no field of a scenario means anything with them
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class RunSection(_Strict):
    """[run]: the size of the system and what the honest nodes start with."""

    n: int = Field(default=4, ge=4, le=MAX_N)
    f: int | None = Field(default=None, ge=1, le=MAX_N)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    protocol: str = "hpz"
    preset: str = "practical"
    inputs: Any = "split"
    timeout_s: float = Field(default=120.0, gt=0, le=86_400)

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        if v not in PROTOCOLS:
            raise ValueError(_one_of(v, PROTOCOLS))
        return v

    @field_validator("preset")
    @classmethod
    def _preset(cls, v: str) -> str:
        if v not in PRESETS:
            raise ValueError(_one_of(v, PRESETS))
        return v

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, v: object) -> str | tuple[int, ...]:
        if isinstance(v, str):
            if v not in INPUT_KINDS:
                raise ValueError(f"{_one_of(v, INPUT_KINDS)}, nor a list of -1/+1 values")
            return v
        if isinstance(v, list | tuple):
            bad = [x for x in v if type(x) is not int or x not in (-1, 1)]
            if bad:
                raise ValueError(f"a list of inputs may only hold -1 and 1, found {bad[0]!r}")
            return tuple(v)
        raise ValueError(
            f"expected one of {', '.join(INPUT_KINDS)} or a list of -1/+1 values, "
            f"got {type(v).__name__} {v!r}"
        )

    @property
    def f_value(self) -> int:
        return self.f if self.f is not None else max(1, (self.n - 1) // 3)


class ParamsSection(_Strict):
    """[params]: overrides of protocol parameters (node/params.py); unset keys keep the preset."""

    m: int | None = Field(default=None, ge=1, le=MAX_ROWS)
    T: int | None = Field(default=None, ge=1, le=MAX_T)
    c: float | None = Field(default=None, gt=0, le=MAX_C)
    # its upper limit depends on m and m0 (node/params.py): Params checks it
    window: int | None = Field(default=None, ge=MIN_WINDOW)
    m0: int | None = Field(default=None, ge=1, le=MAX_ROWS)
    xmax: int | None = Field(default=None, ge=1, le=MAX_ROWS)
    k_max: int | None = Field(default=None, ge=1, le=MAX_K)
    beta: float | None = Field(default=None, gt=0, le=MAX_BETA)
    w_min: float | None = Field(default=None, gt=0, le=MAX_W_MIN)

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ByzantineEntry(_Strict):
    """One [[adversary.byzantine]] entry: which node the adversary corrupts, and how."""

    node: int = Field(ge=0)
    strategy: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(_one_of(v, list(STRATEGIES)))
        return v


class AdversarySection(_Strict):
    """[adversary]: the scheduler, the time scale of real runs, and the corrupted nodes."""

    scheduler: str = "random"
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    delta_s: float = Field(default=0.005, ge=0, le=60)
    tamper: str = "none"
    byzantine: list[ByzantineEntry] = Field(default_factory=list)

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v: str) -> str:
        if v not in SCHEDULERS:
            raise ValueError(_one_of(v, list(SCHEDULERS)))
        return v

    @field_validator("tamper")
    @classmethod
    def _tamper(cls, v: str) -> str:
        if v not in TAMPER_MODES:
            raise ValueError(_one_of(v, TAMPER_MODES))
        return v


class DockerFault(_Strict):
    """One [[docker.faults]] entry: what happens to one node's container, and when.

    ``kill`` (SIGKILL; the node never comes back) and ``pause`` (the cgroup freezer; resumed
    after ``duration_s``, or never) are crash faults. ``netem`` adds ``tc netem`` delay,
    jitter or loss on the container's interface (removed after ``duration_s``, if set); TCP
    turns loss into retransmission delay, so it is scheduling, not a fault that counts toward
    f. The trigger is ``at_s`` seconds after the proxy's start barrier, or the node's
    ``at_iteration`` as its state snapshots report it to the proxy.
    """

    node: int = Field(ge=0)
    action: str
    at_s: float | None = Field(default=None, ge=0, le=86_400)
    at_iteration: int | None = Field(default=None, ge=1, le=MAX_ITERATION)
    duration_s: float | None = Field(default=None, gt=0, le=86_400)
    delay_ms: float | None = Field(default=None, ge=0, le=60_000)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)

    @field_validator("action")
    @classmethod
    def _action(cls, v: str) -> str:
        if v not in FAULT_ACTIONS:
            raise ValueError(_one_of(v, FAULT_ACTIONS))
        return v

    @property
    def is_crash(self) -> bool:
        """A kill, or a pause: the node stops taking steps (for a while, or for good)."""
        return self.action in ("kill", "pause")

    @property
    def permanent(self) -> bool:
        """The node never takes another step: it is left out of the agreement check."""
        return self.action == "kill" or (self.action == "pause" and self.duration_s is None)


class DockerSection(_Strict):
    """[docker]: the image of ``--backend docker`` and container-level faults."""

    image: str = Field(default=DEFAULT_IMAGE, min_length=1, max_length=256)
    faults: list[DockerFault] = Field(default_factory=list)

    def crashed_nodes(self) -> list[int]:
        """Nodes whose container is killed or paused: crash faults, counted toward f."""
        return sorted({fault.node for fault in self.faults if fault.is_crash})


class CommitteeSection(_Strict):
    """[committee]: a pool of nodes with stakes; every instance draws ``seats`` seats by stake.

    The draw is the verifiable one of ``sidecars/committee.py`` (with replacement, so a node
    may hold several seats), from a public seed made of the previous instance's decision, the
    instance number and the pool nodes' Ed25519 signatures. A node holding s seats runs s
    players of the instance; the players of a ``byzantine`` node are all corrupted with its
    strategy. ``instances`` agreement instances run one after another.
    """

    stakes: list[int]
    seats: int = Field(ge=4, le=MAX_N)
    instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    byzantine: list[ByzantineEntry] = Field(default_factory=list)

    @field_validator("stakes")
    @classmethod
    def _stakes(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("the list is empty: one stake per pool node")
        if len(v) > MAX_POOL:
            raise ValueError(f"{len(v)} pool nodes; at most {MAX_POOL}")
        negative = [(i, x) for i, x in enumerate(v) if x < 0]
        if negative:
            i, x = negative[0]
            raise ValueError(f"stakes must be >= 0, found {x} for pool node {i}")
        if sum(v) == 0:
            raise ValueError("the stakes add up to 0: at least one must be positive")
        return v


class SortitionSection(_Strict):
    """[sortition]: the ``active`` nodes of each instance are chosen by merit.

    Merit-based sortition (Kruijssen et al. 2024, ``sidecars/sortition.py``): the top
    ``active`` pool nodes by the EMA of a measured quality (smoothing ``alpha``) take part;
    inactive nodes' EMAs are pulled toward the ``percentile`` of the active nodes' scores, and
    an active node that produced no score toward min - ``penalty`` sigma. With [committee] the
    active set is where the seats are drawn from and the pool is the committee's; without it,
    ``pool`` nodes (``byzantine`` among them) take part in ``instances`` instances, one player
    per active node.
    """

    active: int = Field(ge=4, le=MAX_N)
    percentile: float = Field(default=25.0, ge=0, le=100)
    alpha: float = Field(default=0.1, gt=0, le=1)
    penalty: float = Field(default=2.0, ge=0, le=100)
    pool: int | None = Field(default=None, ge=1, le=MAX_POOL)
    instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    byzantine: list[ByzantineEntry] = Field(default_factory=list)


# Keys of [sortition] that describe the pool, which [committee] describes when present.
_SORTITION_POOL_KEYS = {
    "pool": "committee.stakes",
    "instances": "committee.instances",
    "byzantine": "committee.byzantine",
}


class Scenario(_Strict):
    """A whole scenario. Build it with ``parse_scenario`` / ``load_scenario`` (full checks)."""

    # Frozen models, so sharing one default instance between scenarios is safe.
    run: RunSection = RunSection()
    params: ParamsSection = ParamsSection()
    adversary: AdversarySection = AdversarySection()
    docker: DockerSection = DockerSection()
    committee: CommitteeSection | None = None
    sortition: SortitionSection | None = None

    @model_validator(mode="before")
    @classmethod
    def _players_per_instance(cls, data: Any) -> Any:
        """In a multi-instance run, ``run.n`` (players per instance) defaults to
        ``committee.seats``, else ``sortition.active``. An explicit ``run.n`` is kept (and
        must match: ``_multi_instance_problems``)."""
        if not isinstance(data, dict):
            return data
        committee, sortition = data.get("committee"), data.get("sortition")
        if isinstance(committee, dict):
            players = committee.get("seats")
        elif isinstance(sortition, dict):
            players = sortition.get("active")
        else:
            return data
        run = data.get("run", {})
        if (
            type(players) is not int
            or not 4 <= players <= MAX_N
            or not isinstance(run, dict)
            or "n" in run
        ):
            return data
        return {**data, "run": {**run, "n": players}}

    @property
    def multi_instance(self) -> bool:
        """A [committee] and/or [sortition] run (``orchestration/instances.py``)."""
        return self.committee is not None or self.sortition is not None

    @property
    def pool_size(self) -> int:
        """Pool nodes of a multi-instance run (0 for a plain run)."""
        if self.committee is not None:
            return len(self.committee.stakes)
        if self.sortition is not None:
            return self.sortition.pool or 0
        return 0

    @property
    def pool_byzantine(self) -> list[ByzantineEntry]:
        """The Byzantine *pool* nodes of a multi-instance run."""
        if self.committee is not None:
            return self.committee.byzantine
        return self.sortition.byzantine if self.sortition is not None else []

    @property
    def instances(self) -> int:
        """How many agreement instances the run has (1 for a plain run)."""
        if self.committee is not None:
            return self.committee.instances
        return self.sortition.instances if self.sortition is not None else 1

    @property
    def n(self) -> int:
        return self.run.n

    @property
    def f(self) -> int:
        return self.run.f_value

    @property
    def seed(self) -> int:
        return self.run.seed

    def with_seed(self, seed: int | None) -> Scenario:
        if seed is None:
            return self
        return self.model_copy(update={"run": self.run.model_copy(update={"seed": seed})})

    def byzantine_map(self) -> dict[int, ByzantineEntry]:
        return {b.node: b for b in self.adversary.byzantine}

    def to_toml(self) -> str:
        """The scenario as TOML (recorded next to every run's results)."""
        lines = ["[run]"]
        run = self.run.model_dump()
        run["f"] = self.f
        lines += [f"{k} = {_toml_value(v)}" for k, v in run.items()]
        overrides = self.params.overrides()
        if overrides:
            lines += ["", "[params]"] + [f"{k} = {_toml_value(v)}" for k, v in overrides.items()]
        adv = self.adversary
        lines += [
            "",
            "[adversary]",
            f"scheduler = {_toml_value(adv.scheduler)}",
            f"delta_s = {_toml_value(adv.delta_s)}",
            f"tamper = {_toml_value(adv.tamper)}",
        ]
        if adv.scheduler_options:
            lines += ["", "[adversary.scheduler_options]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in adv.scheduler_options.items()]
        lines += _byzantine_toml("adversary.byzantine", adv.byzantine)
        if self.docker != DockerSection():
            lines += ["", "[docker]", f"image = {_toml_value(self.docker.image)}"]
            for fault in self.docker.faults:
                lines += ["", "[[docker.faults]]"]
                lines += [
                    f"{k} = {_toml_value(v)}"
                    for k, v in fault.model_dump().items()
                    if v is not None
                ]
        if self.committee is not None:
            com = self.committee.model_dump(exclude={"byzantine"})
            lines += ["", "[committee]"] + [f"{k} = {_toml_value(v)}" for k, v in com.items()]
            lines += _byzantine_toml("committee.byzantine", self.committee.byzantine)
        if self.sortition is not None:
            # with [committee], the pool keys belong to the committee and must stay unset here
            pool_keys = set(_SORTITION_POOL_KEYS) if self.committee is not None else set()
            srt = self.sortition.model_dump(exclude={"byzantine", *pool_keys})
            lines += ["", "[sortition]"] + [
                f"{k} = {_toml_value(v)}" for k, v in srt.items() if v is not None
            ]
            if self.committee is None:
                lines += _byzantine_toml("sortition.byzantine", self.sortition.byzantine)
        return "\n".join(lines) + "\n"


def _byzantine_toml(table: str, entries: Sequence[ByzantineEntry]) -> list[str]:
    lines: list[str] = []
    for b in entries:
        lines += ["", f"[[{table}]]", f"node = {b.node}", f"strategy = {_toml_value(b.strategy)}"]
        if b.options:
            opts = ", ".join(f"{k} = {_toml_value(v)}" for k, v in b.options.items())
            lines.append(f"options = {{ {opts} }}")
    return lines


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple | frozenset | set):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


# --------------------------------------------------------------------------- errors


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(scenario)"


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class holding the field at ``loc`` (for listing the keys it allows)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
        # unwrap list[X] and X | None down to a model class, if there is one
        for _ in range(3):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if isinstance(current, type) and issubclass(current, BaseModel):
                break
            if not args:
                break
            current = args[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUND_WORDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _describe(value: object) -> str:
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "table",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def format_validation_error(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One "path: message" line per pydantic error, in TOML terms."""
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _path(loc)
        kind = err["type"]
        ctx = err.get("ctx") or {}
        value = err.get("input")
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1]) if len(loc) > 1 else model
            allowed = ", ".join(sorted(parent.model_fields)) if parent is not None else ""
            msg = "unknown key" + (f"; expected one of: {allowed}" if allowed else "")
        elif kind == "missing":
            msg = "required key is missing"
        elif kind in _TYPE_WORDS:
            msg = f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
        elif kind in _BOUND_WORDS:
            op, key = _BOUND_WORDS[kind]
            bound = ctx.get(key)
            if isinstance(bound, float) and bound.is_integer():
                bound = int(bound)  # "> 0", not "> 0.0", for a bound written as 0
            msg = f"must be {op} {bound}, got {value!r}"
        elif kind in ("value_error", "assertion_error") and "error" in ctx:
            msg = str(ctx["error"])
        elif kind == "finite_number":
            msg = f"must be a finite number, got {value!r}"
        else:
            msg = str(err["msg"])
        lines.append(f"{path}: {msg}")
    return lines


# --------------------------------------------------------------------------- cross checks


def _option_hints(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # pragma: no cover - unresolvable annotations: accept any type
        return {}


def _check_value(hint: Any, value: object) -> str | None:
    """None if ``value`` fits the annotation ``hint`` (strictly), else a reason."""
    if hint is None:
        return None
    # TOML has no sets: accept a list where the constructor wants a frozenset.
    if isinstance(value, list) and "frozenset" in repr(hint):
        value = frozenset(value)
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


def _strategy_option_problems(entry: ByzantineEntry, where: str) -> list[str]:
    cls: type[ByzantineNode] = STRATEGIES[entry.strategy]
    params = {
        name: p
        for name, p in inspect.signature(cls.__init__).parameters.items()
        # `ctx` is the run's adversary context and `inner` how adaptive corruption hands
        # over a live node, not scenario options
        if name not in ("self", "spec", "ctx", "inner")
        and p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    hints = _option_hints(cls.__init__)
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
            _check_value(hints.get(key), value)
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


def _node_list_problem(scn: Scenario, key: str, value: object) -> str | None:
    if not isinstance(value, list):
        return None
    n, f = scn.run.n, scn.f
    bad = [x for x in value if isinstance(x, int) and not 0 <= x < n]
    if bad:
        return f"node {bad[0]} is out of range 0..{n - 1}"
    if scn.adversary.scheduler == "hold-f" and key == "held" and len(set(value)) > f:
        return (
            f"{len(set(value))} held nodes, but hold-f holds at most f={f} "
            "(the nodes whose messages arrive last)"
        )
    return None


def _scheduler_option_problems(scenario: Scenario) -> list[str]:
    adv = scenario.adversary
    factory = SCHEDULERS[adv.scheduler]
    allowed: dict[str, Any] = {}
    if isinstance(factory, type):
        hints = _option_hints(factory)
        allowed = {f.name: hints.get(f.name) for f in option_fields(factory)}
    problems = []
    for key, value in adv.scheduler_options.items():
        where = f"adversary.scheduler_options.{key}"
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "(none)"
            problems.append(
                f"{where}: unknown option for scheduler {adv.scheduler!r}; known: {known}"
            )
            continue
        reason = (
            _check_value(allowed[key], value)
            or _nonfinite(value)
            or _out_of_limits(_SCHEDULER_LIMITS.get((adv.scheduler, key)), value)
        )
        if not reason and (adv.scheduler, key) in _SCHEDULER_NODE_OPTIONS:
            reason = _node_list_problem(scenario, key, value)
        if reason:
            problems.append(f"{where}: {reason}")
    return problems


def _cross_check(scn: Scenario) -> list[str]:
    problems: list[str] = []
    n, f = scn.run.n, scn.f
    if 3 * f >= n:
        problems.append(
            f"run.f: f={f} is too large for n={n}: Byzantine agreement needs f < n/3 "
            f"(the largest allowed f is {(n - 1) // 3})"
        )
    inputs = scn.run.inputs
    if isinstance(inputs, tuple) and len(inputs) != n and not scn.multi_instance:
        problems.append(f"run.inputs: the list has {len(inputs)} values but n={n}")
    problems += _byzantine_problems(scn.adversary.byzantine, "adversary.byzantine", n, "node")
    if len(scn.adversary.byzantine) > f:
        problems.append(
            f"adversary.byzantine: {len(scn.adversary.byzantine)} Byzantine nodes exceed f={f}"
        )
    problems += _scheduler_option_problems(scn)
    problems += _docker_problems(scn)
    problems += _multi_instance_problems(scn)
    if problems:
        return problems
    # Everything is individually fine: now the parameter set and the constructors as a whole.
    try:
        params = build_params(scn)
    except (ParamsError, TypeError) as exc:
        return [_params_problem(str(exc))]
    ctx = AdversaryContext(params, AdversaryView(params, scn.byzantine_map()))
    try:
        make_scheduler(scn.adversary.scheduler, ctx, **_scheduler_kwargs(scn))
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
            spec = NodeSpec(node, params, scn.run.protocol, 1, random.Random(0))
            make_strategy(b.strategy, spec, ctx, **b.options)
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
        problems += _strategy_option_problems(b, where)
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
        for key, instead in _SORTITION_POOL_KEYS.items():
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
    """[docker] rules: targets are honest nodes, one trigger each, fields fit the action,
    and crashed plus Byzantine nodes stay within f."""
    problems: list[str] = []
    n, f = scn.run.n, scn.f
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
    crashed = [i for i in scn.docker.crashed_nodes() if i < n and i not in byzantine]
    if crashed and len(crashed) + len(byzantine) > f:
        problems.append(
            f"docker.faults: Byzantine nodes {sorted(byzantine)} plus crashed nodes {crashed} "
            f"are {len(byzantine) + len(crashed)} faulty nodes, more than f={f} (a killed or "
            "paused container is a crash fault and counts toward f)"
        )
    return problems


def _params_problem(message: str) -> str:
    name = message.split(" ", 1)[0]
    if name in ParamsSection.model_fields:
        return f"params.{name}: {message}"
    if name.startswith("f="):
        return f"run.f: {message}"
    return f"params: {message}"


def _scheduler_kwargs(scn: Scenario) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in scn.adversary.scheduler_options.items():
        out[key] = frozenset(value) if isinstance(value, list) else value
    return out


# --------------------------------------------------------------------------- entry points


def parse_scenario(data: Mapping[str, Any], *, source: str | None = None) -> Scenario:
    """Validate a scenario given as nested dicts (a parsed TOML document)."""
    try:
        scn = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, Scenario), source=source) from None
    problems = _cross_check(scn)
    if problems:
        raise ScenarioError(problems, source=source)
    return scn


def load_scenario(path: Path) -> Scenario:
    """Read and validate a TOML scenario file; every problem is a ``ScenarioError``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(["file not found"], source=str(path)) from None
    except OSError as exc:
        raise ScenarioError([f"cannot be read: {exc.strerror or exc}"], source=str(path)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(["is not UTF-8 text"], source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"invalid TOML: {exc}"], source=str(path)) from None
    if "sweep" in data:
        # One way in: a sweep file is a grid of scenarios, and only `byzlab sweep` runs one.
        raise ScenarioError(
            [f"a sweep file ([sweep] table), not one scenario: run it with `byzlab sweep {path}`"],
            source=str(path),
        )
    return parse_scenario(data, source=str(path))


def default_scenario() -> Scenario:
    """What `byzlab run` runs without a file: n=4, f=1, node 3 equivocates, random delays."""
    return parse_scenario(
        {
            "run": {"n": 4, "f": 1, "protocol": "hpz", "inputs": "split"},
            "adversary": {
                "scheduler": "random",
                "delta_s": 0.005,
                "byzantine": [{"node": 3, "strategy": "equivocate"}],
            },
        }
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


def build_simulator(scn: Scenario, *, max_time: float | None = None) -> Any:
    """A ``Simulator`` for this scenario (delta = 1 virtual unit)."""
    from byzlab.adversary.assemble import assemble_simulator

    _one_instance(scn)
    return assemble_simulator(
        build_params(scn),
        protocol=scn.run.protocol,
        inputs=resolve_inputs(scn),
        seed=scn.seed,
        scheduler=functools.partial(
            make_scheduler, scn.adversary.scheduler, **_scheduler_kwargs(scn)
        ),
        byzantine={
            b.node: functools.partial(make_strategy, b.strategy, **b.options)
            for b in scn.adversary.byzantine
        },
        max_time=max_time,
    )
