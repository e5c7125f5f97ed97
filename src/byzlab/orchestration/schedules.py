"""A schedule against its scenario: the scenario it holds, and the scheduler that replays it.

A schedule (byzlab.adversary.schedule) keeps its scenario as plain TOML tables, because the
adversary layer knows nothing of scenario files; this module validates them into a
`Scenario` (a bad one is one line per problem, as for any scenario file), makes the
simulator's scheduler factory (the scenario's scheduler as the base, on the schedule's
stream, with its choices) and makes a schedule from a scenario. ``byzlab replay --schedule``,
the sim backend and the adversary search go through it, so all three build the same run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

from byzlab.adversary.assemble import SchedulerFactory
from byzlab.adversary.schedule import Choices, QueryLog, Schedule, schedule_factory
from byzlab.orchestration.scenario import Scenario, parse_scenario
from byzlab.orchestration.scenario.build import scheduler_factory

__all__ = ["SCHEDULE_FILE", "schedule_for", "schedule_scenario", "schedule_scheduler"]

# the schedule a run directory was made under (the sim backend writes it beside scenario.toml)
SCHEDULE_FILE = "schedule.json"


def schedule_scenario(schedule: Schedule, source: str = "schedule") -> Scenario:
    """The schedule's scenario, validated (a ScenarioError names `source` and the field)."""
    return parse_scenario(dict(schedule.scenario), source=f"{source}: scenario")


def schedule_scheduler(
    schedule: Schedule, scn: Scenario, log: QueryLog | None = None
) -> SchedulerFactory:
    """The scheduler factory that replays `schedule` over its scenario `scn`'s scheduler."""
    adv = scn.adversary
    base = scheduler_factory(adv.scheduler, adv.scheduler_options)
    return schedule_factory(base, schedule.scheduler_seed, schedule.choices, log)


def schedule_for(
    scn: Scenario, scheduler_seed: int | None = None, choices: Mapping[int, float] | Choices = ()
) -> Schedule:
    """A schedule over `scn` (its scheduler as the base, on stream `scheduler_seed`, by
    default the scenario's seed, so that no choices replay the scenario's own run)."""
    seed = scn.seed if scheduler_seed is None else scheduler_seed
    return Schedule(tomllib.loads(scn.to_toml()), seed).with_choices(choices)
