"""Mutation operators over a schedule's sparse choices, aimed through a run's query log.

Each operator takes the parent's choices (query index -> delay in units of delta), the log of
the parent's own run (byzlab.adversary.schedule.QueryLog: who sent what kind of message of
which iteration and step to whom, and the delay it got) and a random stream, and returns the
child's choices. A child's run is the parent's exactly up to the first index the operator
changed, so the log is exact for the first change and a guide for the rest. The operators
are the adversary's moves within the model (every delay stays in [0, delta]):

* ``slow``: messages of one kind reach their receivers as late as allowed (delta);
* ``hurry``: messages of one kind arrive at once (0);
* ``swap``: two deliveries to one receiver, close in the run, trade delays (their order flips);
* ``split-step``: in one iteration's step (a coin board's messages have step -1), one group of
  senders reaches one half of the receivers first and the other half last: the shape of the
  hand-written split-vote and coin attacks, at a place the log says the run reached;
* ``perturb``: a few queries get uniform random delays;
* ``forget``: half of the choices go (the base scheduler answers there again).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from byzlab.adversary.schedule import QueryLog

__all__ = ["OPERATORS", "mutate"]

Choices = dict[int, float]
Operator = Callable[[Choices, QueryLog, random.Random], Choices]
# how many messages one operator touches at most (the size of a move)
MAX_TOUCH = 48


def _count(rng: random.Random) -> int:
    """A move's size: mostly small, sometimes large (geometric, capped)."""
    k = 1
    while k < MAX_TOUCH and rng.random() < 0.75:
        k += 1
    return k


def _of_kind(log: QueryLog, rng: random.Random) -> list[int]:
    """The queries of one kind picked at random (weighted by how common the kind is)."""
    kind = log.kind[rng.randrange(len(log))]
    return [i for i, k in enumerate(log.kind) if k == kind]


def _set_kind(value: float) -> Operator:
    def op(choices: Choices, log: QueryLog, rng: random.Random) -> Choices:
        pool = _of_kind(log, rng)
        out = dict(choices)
        for i in rng.sample(pool, min(len(pool), _count(rng))):
            out[i] = value
        return out

    return op


def _swap(choices: Choices, log: QueryLog, rng: random.Random) -> Choices:
    out = dict(choices)
    for _ in range(_count(rng)):
        i = rng.randrange(len(log))
        dst = log.dst[i]
        later = [
            j for j in range(i + 1, min(len(log), i + 8 * log_width(log))) if log.dst[j] == dst
        ]
        if later:
            j = rng.choice(later)
            out[i], out[j] = log.delay[j], log.delay[i]
    return out


def log_width(log: QueryLog) -> int:
    """The number of nodes the log saw (a broadcast is this many queries, less one)."""
    return max(max(log.src, default=0), max(log.dst, default=0)) + 1


def _split_step(choices: Choices, log: QueryLog, rng: random.Random) -> Choices:
    places = sorted({(t, s) for t, s in zip(log.iteration, log.step, strict=True) if t >= 1})
    if not places:
        return _perturb(choices, log, rng)
    # the later places are where the run is still undecided: prefer them
    t, s = places[min(len(places) - 1, int(len(places) * rng.random() ** 0.5))]
    n = log_width(log)
    ids = list(range(n))
    fast_senders = set(rng.sample(ids, rng.randint(1, max(1, n - 1))))
    half = set(rng.sample(ids, n // 2))
    out = dict(choices)
    for i in range(len(log)):
        if log.iteration[i] == t and log.step[i] == s and log.dst[i] in half:
            out[i] = 0.0 if log.src[i] in fast_senders else 1.0
    return out


def _perturb(choices: Choices, log: QueryLog, rng: random.Random) -> Choices:
    out = dict(choices)
    for _ in range(_count(rng)):
        out[rng.randrange(len(log))] = rng.random()
    return out


def _forget(choices: Choices, log: QueryLog, rng: random.Random) -> Choices:
    return {i: d for i, d in choices.items() if rng.random() < 0.5}


OPERATORS: Mapping[str, Operator] = {
    "slow": _set_kind(1.0),
    "hurry": _set_kind(0.0),
    "swap": _swap,
    "split-step": _split_step,
    "perturb": _perturb,
    "forget": _forget,
}
# how often each is tried: the aimed moves more than the blind ones
_WEIGHTS = {"slow": 3, "hurry": 2, "swap": 2, "split-step": 4, "perturb": 1, "forget": 1}


def mutate(choices: Mapping[int, float], log: QueryLog, rng: random.Random) -> tuple[str, Choices]:
    """One operator, picked by weight, applied to `choices` with the parent's `log`; an empty
    log (a run that asked nothing) leaves the choices as they are."""
    if not len(log):
        return "none", dict(choices)
    names = list(_WEIGHTS)
    name = rng.choices(names, weights=[_WEIGHTS[k] for k in names])[0]
    if name == "forget" and not choices:
        name = "perturb"
    return name, OPERATORS[name](dict(choices), log, rng)
