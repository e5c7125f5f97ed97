"""The evolutionary search for a bad schedule: elites, aimed mutations and restarts.

A candidate is a base scheduler (a hand-written one, or ``random``), the seed of its stream
and sparse non-default delays (byzlab.adversary.schedule). The search is given a way to
evaluate a batch of candidates (a list in, a list of `Evaluated` out: the orchestration layer
runs each in the simulator and scores it; a batch can go to many workers at once) and a
budget of evaluations, and works as follows:

1. Every base scheduler is run once as it is (the scenario's seed, no choices): the
   hand-written attacks are the starting population.
2. Then, batch by batch, each new candidate is either a *restart* (a base picked at random on
   a fresh stream, no choices: plain random search is this move alone) or a child of an elite
   picked by tournament: a mutation (byzlab.adversary.search.mutate) aimed with the parent's
   query log, or, between two elites on the same base and stream, a crossover (the one's
   choices before a cut, the other's after it).
3. The elites are the best `elite` candidates seen, by fitness (a tuple, larger is worse for
   the protocol), fewer choices first among equals. Restarts grow more likely the longer the
   best has not improved, so a search stuck on one base moves on.

With `stop_when_found` the search ends at the first candidate the evaluator marks `found` (a
violation). Everything random comes from the `rng` given, so a search replays from its seed
when the evaluations do.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from byzlab.adversary.schedule import QueryLog
from byzlab.adversary.search.mutate import mutate

__all__ = ["Candidate", "Evaluate", "Evaluated", "SearchState", "evolve"]

Fitness = tuple[float, ...]
MAX_STREAM_SEED = 2**62


@dataclass(frozen=True)
class Candidate:
    """One schedule to try: `base` scheduler on stream `seed`, with `choices` (index, delay)
    in index order; `origin` says how it was made (base, restart, crossover or an operator)."""

    base: str
    seed: int
    choices: tuple[tuple[int, float], ...] = ()
    origin: str = "base"

    @property
    def key(self) -> tuple[str, int, tuple[tuple[int, float], ...]]:
        return self.base, self.seed, self.choices


@dataclass(frozen=True)
class Evaluated:
    """A candidate and what its run gave: `fitness` (larger is worse for the protocol), the
    objective's `value`, whether it is what the search looks for (`found`), and the run's
    query log (what the mutations aim with; None when not kept)."""

    candidate: Candidate
    fitness: Fitness
    value: float
    found: bool = False
    log: QueryLog | None = None


Evaluate = Callable[[Sequence[Candidate]], list[Evaluated]]


@dataclass
class SearchState:
    """The search so far: the best candidate, the elites, every evaluation's value and the
    best value after it, and how many children each origin made that improved the best."""

    best: Evaluated | None = None
    elites: list[Evaluated] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    best_values: list[float] = field(default_factory=list)
    improvements: Counter[str] = field(default_factory=Counter)
    tried: Counter[str] = field(default_factory=Counter)
    improved_at: int = 0  # the evaluation count when the best last improved

    @property
    def evaluations(self) -> int:
        return len(self.values)

    def take(self, batch: Sequence[Evaluated], elite: int) -> None:
        for ev in batch:
            self.tried[ev.candidate.origin] += 1
            if self.best is None or _rank(ev) > _rank(self.best):
                if self.best is not None:
                    self.improvements[ev.candidate.origin] += 1
                self.best = ev
                self.improved_at = len(self.values) + 1
            self.values.append(ev.value)
            assert self.best is not None
            self.best_values.append(self.best.value)
        seen: set[object] = set()
        merged = []
        for ev in sorted([*self.elites, *batch], key=_rank, reverse=True):
            if ev.candidate.key not in seen and ev.log is not None:
                seen.add(ev.candidate.key)
                merged.append(ev)
        self.elites = merged[:elite]

    def since_best(self) -> int:
        """Evaluations since the best last improved."""
        return self.evaluations - self.improved_at


def _rank(ev: Evaluated) -> tuple[Fitness, int]:
    return ev.fitness, -len(ev.candidate.choices)


def _tournament(elites: Sequence[Evaluated], rng: random.Random) -> Evaluated:
    picks = [rng.choice(elites) for _ in range(min(3, len(elites)))]
    return max(picks, key=_rank)


def _child(state: SearchState, bases: Sequence[str], rng: random.Random) -> Candidate:
    restart = 0.1 + 0.4 * min(1.0, state.since_best() / 32)
    if not state.elites or rng.random() < restart:
        return Candidate(rng.choice(bases), rng.randrange(MAX_STREAM_SEED), (), "restart")
    parent = _tournament(state.elites, rng)
    pc = parent.candidate
    mates = [
        e
        for e in state.elites
        if e is not parent and (e.candidate.base, e.candidate.seed) == (pc.base, pc.seed)
    ]
    if mates and rng.random() < 0.2:
        other = rng.choice(mates).candidate
        cut = rng.choice([i for i, _ in (*pc.choices, *other.choices)])
        merged = {i: d for i, d in pc.choices if i < cut}
        merged.update((i, d) for i, d in other.choices if i >= cut)
        return Candidate(pc.base, pc.seed, tuple(sorted(merged.items())), "crossover")
    assert parent.log is not None  # elites keep their logs
    name, choices = mutate(dict(pc.choices), parent.log, rng)
    return Candidate(pc.base, pc.seed, tuple(sorted(choices.items())), name)


def evolve(
    evaluate: Evaluate,
    *,
    bases: Sequence[str],
    seed: int,
    budget: int,
    rng: random.Random,
    batch: int = 8,
    elite: int = 8,
    stop_when_found: bool = False,
    progress: Callable[[SearchState], None] | None = None,
) -> SearchState:
    """Search for `budget` evaluations (see the module docstring); `seed` is the scenario's
    seed, the stream every base starts on."""
    if budget < 1:
        raise ValueError(f"budget must be at least 1, got {budget}")
    if not bases:
        raise ValueError("the search needs at least one base scheduler")
    state = SearchState()
    pending = [Candidate(base, seed) for base in bases][:budget]
    while pending:
        state.take(evaluate(pending), elite)
        if progress is not None:
            progress(state)
        if stop_when_found and state.best is not None and state.best.found:
            break
        left = budget - state.evaluations
        pending = [_child(state, bases, rng) for _ in range(min(batch, left))]
    return state
