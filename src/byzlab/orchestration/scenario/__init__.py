"""Scenario files: one TOML file describes a run for every backend (sim, local, containers).

Theory of operation
-------------------
A scenario has these tables::

    [run]        n, f, seed, protocol, preset, inputs, timeout_s, engine,
                 [run.protocol_options] (a plugin protocol's Options fields)
    [params]     overrides of any protocol parameter (m, T, c, window, m0, xmax, ...)
    [adversary]  scheduler, scheduler_options, delta_s, tamper,
                 [[adversary.byzantine]] node, strategy, options
    [docker]     image, [[docker.faults]] node, action, at_s | at_iteration, duration_s,
                 delay_ms, jitter_ms, loss_pct  (container faults; only the docker backend)
    [swarm]      placement = "spread" | {node = host}  (only the swarm backend)
    [metrics]    port  (live metrics, off by default: docs/metrics.md)
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

The package holds one concept per module: ``model.py`` (the tables, fields, defaults, limits
and the TOML form), ``checks.py`` (the cross-field rules), ``loading.py`` (files and dicts
to a validated scenario) and ``build.py`` (parameters, inputs and the simulator of a
scenario).

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

from byzlab.errors import ScenarioError, format_validation_error
from byzlab.orchestration.scenario.build import (
    build_params,
    build_simulator,
    resolve_inputs,
    scheduler_kwargs,
)
from byzlab.orchestration.scenario.loading import (
    default_difference,
    default_scenario,
    load_scenario,
    parse_scenario,
)
from byzlab.orchestration.scenario.model import (
    DEFAULT_IMAGE,
    FAULT_ACTIONS,
    MAX_INSTANCES,
    MAX_ITERATION,
    MAX_N,
    MAX_POOL,
    MAX_SEED,
    MAX_VIRTUAL_TIME,
    PRESETS,
    RUN_ENGINES,
    TAMPER_MODES,
    AdversarySection,
    ByzantineEntry,
    CommitteeSection,
    DockerFault,
    DockerSection,
    ParamsSection,
    RunSection,
    Scenario,
    SortitionSection,
    SwarmSection,
)
from byzlab.seeds import INPUT_KINDS

__all__ = [
    "DEFAULT_IMAGE",
    "FAULT_ACTIONS",
    "INPUT_KINDS",
    "MAX_INSTANCES",
    "MAX_ITERATION",
    "MAX_N",
    "MAX_POOL",
    "MAX_SEED",
    "MAX_VIRTUAL_TIME",
    "PRESETS",
    "RUN_ENGINES",
    "TAMPER_MODES",
    "AdversarySection",
    "ByzantineEntry",
    "CommitteeSection",
    "DockerFault",
    "DockerSection",
    "ParamsSection",
    "RunSection",
    "Scenario",
    "ScenarioError",
    "SortitionSection",
    "SwarmSection",
    "build_params",
    "build_simulator",
    "default_difference",
    "default_scenario",
    "format_validation_error",
    "load_scenario",
    "parse_scenario",
    "resolve_inputs",
    "scheduler_kwargs",
]
