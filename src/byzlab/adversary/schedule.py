"""A schedule: the adversary's delivery choices for one run, as data that replays exactly.

What the model grants the adversary over delivery (HPZ §2, "Full Information & Scheduling")
is the delay of every message between two different nodes, anywhere in [0, delta]; that fixes
the delivery order. The simulator asks its delivery policy for these delays one at a time, in
an order that is deterministic given the delays chosen so far (byzlab.runtime's delivery
contract), so the *k-th query* names one message copy unambiguously in a given run: a
schedule is a map from query index to delay.

Most of a run's thousands of delays are uninteresting, so a schedule is sparse: a *base*
scheduler (the scenario's ``adversary.scheduler`` with its options, drawing from its own
stream ``derive_rng(scheduler_seed, "scheduler")``) answers every query, and the schedule's
`choices` replace its answer at the indices they list. With ``scheduler_seed`` equal to the
scenario's seed and no choices, a schedule is exactly the scenario's own run (the same trace
hash). A sparse set of non-default choices is what an adversary search changes and what
delta debugging shrinks (byzlab.adversary.search).

`ScheduleScheduler` replays a schedule in the simulator: it asks the base scheduler on every
query (so the base's stream and state advance exactly as without the overrides) and answers
the chosen delay where the schedule has one. It can also keep a `QueryLog` of every query
(who to whom, the message's kind, iteration and step, the delay answered), which the search's
mutation operators read to aim at messages of a given kind or step.

The file (``*.schedule.json``, format ``FORMAT``; docs/search.md) holds the scenario inline
as its TOML tables, the scheduler seed, the choices as ``[index, delay]`` pairs in index order,
and what the run produced (objective, value, trace hash, violation), so ``byzlab replay
--schedule FILE`` can rebuild and check it. Real processes replaying a schedule through the
proxy is not built yet.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from byzlab import __version__
from byzlab.adversary.assemble import SchedulerFactory
from byzlab.adversary.context import AdversaryContext
from byzlab.adversary.schedulers.base import Scheduler
from byzlab.atomicio import atomic_write_json
from byzlab.errors import ConfigError
from byzlab.node.messages import Message
from byzlab.node.protocol import Describes
from byzlab.seeds import derive_rng

__all__ = [
    "DEFAULT_MAX_DELIVERIES",
    "DEFAULT_MAX_TIME",
    "FORMAT",
    "MAX_CHOICES",
    "QueryLog",
    "Schedule",
    "ScheduleScheduler",
    "schedule_factory",
]

FORMAT = "byzlab-schedule-v1"
# a schedule file is read from anywhere: bound what it may ask for
MAX_CHOICES = 1_000_000
MAX_INDEX = 10**10  # as byzlab sim's delivery cap
MAX_SEED = 2**63 - 1  # as run.seed
MAX_TIME = 1e9  # as byzlab sim --max-time
# a search's run bound by default: a run still undecided then has not terminated
DEFAULT_MAX_TIME = 1000.0
DEFAULT_MAX_DELIVERIES = 10_000_000

Choices = tuple[tuple[int, float], ...]


def _fail(source: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {problem}")


def check_choices(pairs: object, source: str = "choices") -> Choices:
    """`pairs` as sorted, unique (index, delay) pairs, each index in 0..MAX_INDEX and delay in
    [0, 1] (units of delta); anything else is a ConfigError naming the entry."""
    if not isinstance(pairs, list | tuple):
        raise _fail(source, f"expected a list of [index, delay] pairs, got {type(pairs).__name__}")
    if len(pairs) > MAX_CHOICES:
        raise _fail(source, f"{len(pairs)} choices, at most {MAX_CHOICES}")
    out: dict[int, float] = {}
    for k, pair in enumerate(pairs):
        where = f"{source}[{k}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise _fail(where, "expected [index, delay]")
        index, delay = pair
        if type(index) is not int or not 0 <= index <= MAX_INDEX:
            raise _fail(where, f"index must be an integer in 0..{MAX_INDEX}, got {index!r}")
        if type(delay) not in (int, float) or not 0.0 <= delay <= 1.0:
            raise _fail(where, f"delay must be a number in [0, 1] (units of delta), got {delay!r}")
        if index in out:
            raise _fail(where, f"index {index} is listed twice")
        out[index] = float(delay)
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class Schedule:
    """A scenario, the base scheduler's seed and the non-default delays (see the module
    docstring), and the bound of its run (virtual time, deliveries: a run that reaches one
    has not terminated); `objective`, `value`, `trace_hash` and `violation` record what the
    run under it produced when it was saved (None before it ran)."""

    scenario: Mapping[str, Any]  # the scenario's TOML tables; adversary.scheduler is the base
    scheduler_seed: int
    choices: Choices = ()
    max_time: float = DEFAULT_MAX_TIME
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    objective: str | None = None
    value: float | None = None
    trace_hash: str | None = None
    violation: str | None = None

    def with_choices(self, choices: Mapping[int, float] | Choices) -> Schedule:
        """The same scenario and base with other choices (and no recorded outcome)."""
        pairs = choices.items() if isinstance(choices, Mapping) else choices
        return replace(
            self,
            choices=tuple(sorted(pairs)),
            objective=None,
            value=None,
            trace_hash=None,
            violation=None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "byzlab_version": __version__,
            "scenario": self.scenario,
            "scheduler_seed": self.scheduler_seed,
            "choices": [[i, d] for i, d in self.choices],
            "max_time": self.max_time,
            "max_deliveries": self.max_deliveries,
            "objective": self.objective,
            "value": self.value,
            "trace_hash": self.trace_hash,
            "violation": self.violation,
        }

    @classmethod
    def from_json(cls, data: object, source: str) -> Schedule:
        """A schedule from its JSON form; every problem is a ConfigError naming `source` and
        the field."""
        if not isinstance(data, dict):
            raise _fail(source, "a schedule is a JSON object")
        if data.get("format") != FORMAT:
            raise _fail(source, f"format: expected {FORMAT!r}, got {data.get('format')!r}")
        unknown = sorted(set(data) - set(cls(scenario={}, scheduler_seed=0).to_json()))
        if unknown:
            raise _fail(source, f"{unknown[0]}: unknown field")
        scenario = data.get("scenario")
        if not isinstance(scenario, dict):
            raise _fail(source, "scenario: expected the scenario's tables as an object")
        seed = data.get("scheduler_seed")
        if type(seed) is not int or not 0 <= seed <= MAX_SEED:
            raise _fail(source, f"scheduler_seed: expected an integer in 0..{MAX_SEED}")
        max_time = data.get("max_time", DEFAULT_MAX_TIME)
        if type(max_time) not in (int, float) or not 0 < max_time <= MAX_TIME:
            raise _fail(source, f"max_time: expected a number in (0, {MAX_TIME:g}] (delta)")
        max_deliveries = data.get("max_deliveries", DEFAULT_MAX_DELIVERIES)
        if type(max_deliveries) is not int or not 0 < max_deliveries <= MAX_INDEX:
            raise _fail(source, f"max_deliveries: expected an integer in 1..{MAX_INDEX}")
        for name, kinds in (("objective", str), ("trace_hash", str), ("violation", str)):
            if data.get(name) is not None and not isinstance(data[name], kinds):
                raise _fail(source, f"{name}: expected a string or null")
        value = data.get("value")
        if value is not None and (type(value) not in (int, float) or not math.isfinite(value)):
            raise _fail(source, "value: expected a finite number or null")
        return cls(
            scenario=scenario,
            scheduler_seed=seed,
            choices=check_choices(data.get("choices", []), f"{source}: choices"),
            max_time=float(max_time),
            max_deliveries=max_deliveries,
            objective=data.get("objective"),
            value=None if value is None else float(value),
            trace_hash=data.get("trace_hash"),
            violation=data.get("violation"),
        )

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> Schedule:
        """The schedule in file `path`; an unreadable or invalid file is a ConfigError."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _fail(str(path), "file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(str(path), f"cannot be read: {exc}") from None
        except ValueError as exc:
            raise _fail(str(path), f"not valid JSON ({exc})") from None
        return cls.from_json(data, str(path))


@dataclass
class QueryLog:
    """Every delay query of one run, by index: sender, receiver, the message's kind (an
    index into `kinds`), iteration and step (-1 where the protocol names none), and the delay
    answered. Arrays, so a run of 10^5 messages costs about 2 MB (and pickles compactly)."""

    kinds: list[str] = field(default_factory=list)
    src: array[int] = field(default_factory=lambda: array("h"))
    dst: array[int] = field(default_factory=lambda: array("h"))
    kind: array[int] = field(default_factory=lambda: array("h"))
    iteration: array[int] = field(default_factory=lambda: array("i"))
    step: array[int] = field(default_factory=lambda: array("i"))
    delay: array[float] = field(default_factory=lambda: array("d"))

    def __len__(self) -> int:
        return len(self.delay)


@dataclass
class ScheduleScheduler(Scheduler):
    """Replays a schedule's choices over a base scheduler (see the module docstring)."""

    name: str = "schedule"
    description: str = "a recorded schedule: chosen delays over a base scheduler"
    inspects_messages: bool = True
    base: Scheduler | None = None
    scheduler_seed: int = 0
    choices: Mapping[int, float] = field(default_factory=dict)
    log: QueryLog | None = None
    _queries: int = field(default=0, init=False, repr=False, metadata={"internal": True})
    _kind_ids: dict[str, int] = field(
        default_factory=dict, init=False, repr=False, metadata={"internal": True}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.base is None:
            raise ValueError("a schedule needs its base scheduler")
        protocol = self.ctx.protocol
        self._kind = protocol.kind
        self._describe = protocol.describe if isinstance(protocol, Describes) else None

    def delay(self, src: int, dst: int, msg: Message, now: float) -> float:
        assert self.base is not None  # checked when built
        index = self._queries
        self._queries = index + 1
        # the base is asked every time, so its stream and state never depend on the choices
        answer = self.base.delay(src, dst, msg, now)
        chosen = self.choices.get(index)
        if chosen is not None:
            answer = chosen * self.delta
        if self.log is not None:
            # what the runtime will make of the answer (runtime/delay.py: NaN becomes delta)
            share = answer / self.delta
            kept = share if 0.0 <= share <= 1.0 else 0.0 if share < 0.0 else 1.0
            self._record(src, dst, msg, kept)
        return answer

    def _record(self, src: int, dst: int, msg: Message, delay: float) -> None:
        log = self.log
        assert log is not None
        kind = self._kind(msg)
        code = self._kind_ids.get(kind)
        if code is None:
            code = self._kind_ids[kind] = len(log.kinds)
            log.kinds.append(kind)
        fields = self._describe(msg) if self._describe is not None else None
        log.src.append(src)
        log.dst.append(dst)
        log.kind.append(code)
        log.iteration.append(fields[2] if fields is not None else -1)
        log.step.append(fields[3] if fields is not None else -1)
        log.delay.append(delay)

    @property
    def queries(self) -> int:
        """How many delays the run has asked for so far."""
        return self._queries

    def describe(self) -> dict[str, Any]:
        assert self.base is not None
        return {
            "name": self.name,
            "base": self.base.describe(),
            "scheduler_seed": self.scheduler_seed,
            "choices": len(self.choices),
        }


def schedule_factory(
    base: SchedulerFactory,
    scheduler_seed: int,
    choices: Choices,
    log: QueryLog | None = None,
) -> SchedulerFactory:
    """The assembler's scheduler factory for a schedule: `base` (the scenario's scheduler
    factory) built on its own stream ``derive_rng(scheduler_seed, "scheduler")``, its answers
    replaced by `choices`; `log` receives every query if given."""

    def make(ctx: AdversaryContext) -> Scheduler:
        base_ctx = replace(ctx, rng=derive_rng(scheduler_seed, "scheduler"))
        return ScheduleScheduler(
            ctx, base=base(base_ctx), scheduler_seed=scheduler_seed, choices=dict(choices), log=log
        )

    return make
