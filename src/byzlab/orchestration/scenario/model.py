"""The scenario model: its tables and fields, their defaults and limits, and its TOML form.

Every field is validated on its own here (pydantic v2, strict, ``extra="forbid"``, no nan or
infinity, bounded above); rules that involve several fields are in ``checks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from byzlab import plugins
from byzlab.adversary.corruption import RULES
from byzlab.adversary.schedulers import SCHEDULERS, scheduler_class
from byzlab.adversary.strategies import STRATEGIES, strategy_class
from byzlab.network.messagelog import MESSAGES_SETTINGS
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import MAX_BETA, MAX_C, MAX_K, MAX_ROWS, MAX_T, MAX_W_MIN, MIN_WINDOW
from byzlab.node.protocol import Protocol, max_faults
from byzlab.seeds import INPUT_KINDS, renamed_input_kind

RUN_ENGINES = ("python", "native", "auto")
PRESETS = ("practical", "theory", "proof")
TAMPER_MODES = ("none", "flip-byte")
FAULT_ACTIONS = ("kill", "pause", "netem")
SWARM_PLACEMENTS = ("spread",)
DEFAULT_IMAGE = "byzlab:latest"
# Upper bounds that keep a typo (n = 100000) from allocating for minutes before failing.
MAX_N = 1024
MAX_SEED = 2**63 - 1
MAX_POOL = 100_000
MAX_INSTANCES = 100_000
MAX_ITERATION = 10**9
MAX_VIRTUAL_TIME = 1e9  # units of delta (the simulator stops at 1e7 by default)


def _one_of(value: object, choices: Sequence[str]) -> str:
    return f"{value!r} is not one of {', '.join(sorted(choices))}"


def _strategy_name(v: str) -> str:
    """A built-in strategy's name, or a plugin's that imports and is a strategy class."""
    if v not in STRATEGIES and not plugins.is_known("strategy", v):
        raise ValueError(_one_of(v, list(STRATEGIES)))
    strategy_class(v)
    return v


class _Strict(BaseModel):
    # TOML has nan and inf; no field of a scenario means anything with them
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class RunSection(_Strict):
    """[run]: the size of the system and what the honest nodes start with."""

    n: int = Field(default=4, ge=4, le=MAX_N)
    f: int | None = Field(default=None, ge=1, le=MAX_N)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    protocol: str = "hpz"
    # a plugin protocol's constructor arguments (its Options model's fields), checked in checks.py
    protocol_options: dict[str, Any] = Field(default_factory=dict)
    preset: str = "practical"
    inputs: Any = "split"
    timeout_s: float = Field(default=120.0, gt=0, le=86_400)
    # the simulator's engine (docs/native.md): the same run either way, native is faster
    engine: str = "python"
    # whether the run records messages.parquet (docs/messages.md): auto is up to 16 nodes
    messages: str = "auto"

    @field_validator("engine")
    @classmethod
    def _engine(cls, v: str) -> str:
        if v not in RUN_ENGINES:
            raise ValueError(_one_of(v, RUN_ENGINES))
        return v

    @field_validator("messages")
    @classmethod
    def _messages(cls, v: str) -> str:
        if v not in MESSAGES_SETTINGS:
            raise ValueError(_one_of(v, MESSAGES_SETTINGS))
        return v

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        # a built-in protocol, else a plugin's that imports and meets the interface
        if v not in BUILTIN_PROTOCOLS and not plugins.is_known("protocol", v):
            raise ValueError(_one_of(v, list(BUILTIN_PROTOCOLS)))
        plugins.protocol(v)
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
                renamed = renamed_input_kind(v)
                if renamed:
                    raise ValueError(renamed)
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
        """``f``, else the largest f the protocol tolerates at n: (n - 1) // 3, or less for a
        protocol that declares a smaller bound (Ben-Or's n > 5f), so a scenario that only names
        its protocol gets a fault bound that protocol can meet. At least 1: byzlab's parameters
        have no f = 0, and a protocol that tolerates none at this n is refused by the checks."""
        if self.f is not None:
            return self.f
        try:
            protocol = plugins.protocol(self.protocol, self.protocol_options)
        except plugins.PluginError:  # the checks report it in one line; any f does until then
            return max(1, (self.n - 1) // 3)
        return max(1, max_faults(protocol, self.n))


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
        return _strategy_name(v)


class CorruptEntry(_Strict):
    """One [[adversary.corrupt]] entry: adaptive corruption during the run
    (``byzlab.adversary.corruption``): when ``rule`` fires, the adversary takes over an honest
    node, its keys and its state, and from then on runs ``strategy`` (with ``options``) in it.

    ``at-time`` corrupts ``count`` nodes (``nodes``, else the lowest honest ids) at virtual
    time ``at_time`` (units of delta); ``first-decider`` the first honest node to decide;
    ``most-influential`` at each epoch boundary the honest node whose coins weighed most.
    """

    rule: str = "at-time"
    strategy: str = "mirror-mimic"
    options: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(default=1, ge=1, le=MAX_N)
    at_time: float | None = Field(default=None, ge=0, le=MAX_VIRTUAL_TIME)
    nodes: list[int] | None = Field(default=None, min_length=1, max_length=MAX_N)

    @field_validator("rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        if v not in RULES:
            raise ValueError(_one_of(v, RULES))
        return v

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        return _strategy_name(v)


class AdversarySection(_Strict):
    """[adversary]: the scheduler, the time scale of real runs, the corrupted nodes and
    adaptive corruption."""

    scheduler: str = "random"
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    delta_s: float = Field(default=0.005, ge=0, le=60)
    tamper: str = "none"
    byzantine: list[ByzantineEntry] = Field(default_factory=list)
    corrupt: list[CorruptEntry] = Field(default_factory=list)

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v: str) -> str:
        if v not in SCHEDULERS and not plugins.is_known("scheduler", v):
            raise ValueError(_one_of(v, list(SCHEDULERS)))
        scheduler_class(v)
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


class MetricsSection(_Strict):
    """[metrics]: live metrics in the Prometheus format (docs/metrics.md); off by default.

    With ``port = P`` the proxy serves ``/metrics`` on port P and honest node i on P + 1 + i
    (local processes on 127.0.0.1; in containers on every address of the container).
    """

    port: int = Field(default=0, ge=0, le=65535 - MAX_N - 1)


class SwarmSection(_Strict):
    """[swarm]: where ``--backend swarm`` runs each honest node's service.

    ``placement = "spread"`` (the default) deals the honest nodes out over the swarm's hosts
    round-robin, hosts in the order of their names; a table ``{node = host}`` pins the nodes
    it lists to hosts (a swarm node's host name or id) and spreads the others. The hosts are
    only known once the run has a swarm to ask, so a host the swarm does not have is refused
    when the run starts, in one line naming the field.
    """

    placement: Any = "spread"

    @field_validator("placement")
    @classmethod
    def _placement(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v not in SWARM_PLACEMENTS:
                raise ValueError(f"{_one_of(v, SWARM_PLACEMENTS)}, or a table {{node = host}}")
            return v
        if not isinstance(v, dict):
            raise ValueError(f'{v!r} is neither "spread" nor a table {{node = host}}')
        for node, host in v.items():
            if not node.isdigit():
                raise ValueError(f"key {node!r} is not a node id (0, 1, ...)")
            if not isinstance(host, str) or not host:
                raise ValueError(f"node {node}: the host must be a non-empty string")
        return v

    def pinned(self) -> dict[int, str]:
        """The nodes the placement table pins, with their hosts ({} for spread)."""
        if isinstance(self.placement, str):
            return {}
        return {int(node): host for node, host in self.placement.items()}


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
SORTITION_POOL_KEYS = {
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
    swarm: SwarmSection = SwarmSection()
    metrics: MetricsSection = MetricsSection()
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

    def with_metrics_port(self, port: int | None) -> Scenario:
        """This scenario with live metrics on ``port`` (``byzlab run --metrics-port``)."""
        if port is None:
            return self
        return self.model_copy(update={"metrics": MetricsSection(port=port)})

    def build_protocol(self) -> Protocol:
        """The run's protocol object, built with its ``[run.protocol_options]``."""
        return plugins.protocol(self.run.protocol, self.run.protocol_options)

    def byzantine_map(self) -> dict[int, ByzantineEntry]:
        return {b.node: b for b in self.adversary.byzantine}

    def to_toml(self) -> str:
        """The scenario as TOML (recorded next to every run's results)."""
        lines = ["[run]"]
        run = self.run.model_dump(exclude={"protocol_options"})
        run["f"] = self.f
        lines += [f"{k} = {_toml_value(v)}" for k, v in run.items()]
        if self.run.protocol_options:
            lines += ["", "[run.protocol_options]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in self.run.protocol_options.items()]
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
        for c in adv.corrupt:
            lines += ["", "[[adversary.corrupt]]"]
            lines += [
                f"{k} = {_toml_value(v)}"
                for k, v in c.model_dump(exclude={"options"}).items()
                if v is not None
            ]
            if c.options:
                opts = ", ".join(f"{k} = {_toml_value(v)}" for k, v in c.options.items())
                lines.append(f"options = {{ {opts} }}")
        if self.docker != DockerSection():
            lines += ["", "[docker]", f"image = {_toml_value(self.docker.image)}"]
            for fault in self.docker.faults:
                lines += ["", "[[docker.faults]]"]
                lines += [
                    f"{k} = {_toml_value(v)}"
                    for k, v in fault.model_dump().items()
                    if v is not None
                ]
        if self.swarm != SwarmSection():
            lines += ["", "[swarm.placement]"]
            lines += [f"{node} = {_toml_value(host)}" for node, host in self.swarm.pinned().items()]
        if self.metrics != MetricsSection():
            lines += ["", "[metrics]", f"port = {self.metrics.port}"]
        if self.committee is not None:
            com = self.committee.model_dump(exclude={"byzantine"})
            lines += ["", "[committee]"] + [f"{k} = {_toml_value(v)}" for k, v in com.items()]
            lines += _byzantine_toml("committee.byzantine", self.committee.byzantine)
        if self.sortition is not None:
            # with [committee], the pool keys belong to the committee and must stay unset here
            pool_keys = set(SORTITION_POOL_KEYS) if self.committee is not None else set()
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
