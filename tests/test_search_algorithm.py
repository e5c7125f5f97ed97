"""The adversary search's algorithm (byzlab.adversary.search) on its own: ddmin keeps exactly
a minimal reproducing set within its budget, and the evolutionary search spends its budget,
starts from every base scheduler as it is, and never reports worse than the best of them.
Every failure names the seed."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence

import pytest

from byzlab.adversary.search import Candidate, Evaluated, ddmin, evolve
from byzlab.orchestration.scenario import parse_scenario
from byzlab.orchestration.search.evaluate import Job, evaluate


@pytest.mark.parametrize("seed", range(5))
def test_ddmin_finds_the_needed_choices(seed: int) -> None:
    rng = random.Random(seed)
    items = [(i, rng.random()) for i in range(200)]
    needed = set(rng.sample(items, 4))
    shrunk = ddmin(items, lambda kept: needed <= set(kept), budget=1000)
    assert set(shrunk.kept) == needed and shrunk.minimal, f"seed={seed}"
    assert shrunk.kept == [x for x in items if x in needed], f"seed={seed}: order kept"


def test_ddmin_stops_at_its_budget_and_says_so() -> None:
    items = list(range(100))
    shrunk = ddmin(items, lambda kept: {3, 57, 90} <= set(kept), budget=5)
    assert shrunk.tests == 5 and not shrunk.minimal and {3, 57, 90} <= set(shrunk.kept)
    assert ddmin(items, lambda kept: True, budget=100).kept == []


@pytest.mark.parametrize("seed", [1, 2])
def test_evolve_spends_its_budget_and_keeps_the_best(seed: int) -> None:
    scn = parse_scenario(
        {
            "run": {"n": 4, "seed": seed, "protocol": "bracha-local", "inputs": "split"},
            "adversary": {"byzantine": [{"node": 3, "strategy": "equivocate"}]},
        }
    )
    tables = tomllib.loads(scn.to_toml())

    def run(batch: Sequence[Candidate]) -> list[Evaluated]:
        out = []
        for c in batch:
            o = evaluate(Job(tables, c.base, c.seed, c.choices, "iterations", 1000.0, 10**7))
            out.append(Evaluated(c, o.fitness, o.value, bool(o.violations), o.log))
        return out

    bases = ["random", "split-vote"]
    state = evolve(run, bases=bases, seed=seed, budget=24, rng=random.Random(seed), batch=4)
    assert state.evaluations == 24, f"seed={seed}"
    assert state.best is not None
    assert state.best.value == max(state.values) == state.best_values[-1], f"seed={seed}"
    assert state.values[:2] == [run([Candidate(b, seed)])[0].value for b in bases]
    assert sum(state.tried.values()) == 24 and state.tried["base"] == 2, f"seed={seed}"
