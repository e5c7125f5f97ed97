"""``byzlab search`` end to end (issue 18's done-when checks, as far as they hold today).

The planted bug is tests/hasty_bracha.py: local-coin Bracha deciding on f step-3 votes for
v* instead of f + 1, the bug as F planted it. It breaks agreement only under a schedule that
puts f copies of v* into one node's step-3 quorum and none into another's, and then gives
the second node a coin against v*. We kept this bug rather than a stronger one: the two
stronger variants tried (keep v* only on f or on f + 1 copies) are refused by the other
nodes' vote validation (a vote its claimed support does not justify is dropped), so they
stall the run instead of breaking agreement. The search's violation fitness has a shaping
term (objectives.coin_against_decision: honest coins against the first decision), and
``--violation agreement`` counts only agreement failures.

What holds and is tested: at n = 4 the search finds an agreement violation within 150
runs, shrinks it and replays it (best, shrunk and both run directories) with the same trace
hash; the same search on bracha-local and hpz finds none; on bracha-local at n = 7 the
search finds more iterations than plain random search with the same budget, and as many as
the split-vote scheduler. Not yet (docs/search.md, Limits): a violation at n = 7 within a
few hundred runs, and more iterations than split-vote. Every failure names the seed.
"""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from byzlab.cli import main
from byzlab.orchestration.cluster import InProcessExecutor, cluster_executor
from byzlab.orchestration.replay import replay_run, replay_schedule
from byzlab.orchestration.scenario import parse_scenario
from byzlab.orchestration.search.driver import SearchSpec, run_search
from byzlab.orchestration.search.evaluate import Job, evaluate

HASTY = "tests.hasty_bracha:HastyBracha"
# the planted bug's search: n = 4, one corrupted node voting the honest minority
PLANTED_SEED = 4
BUDGET = 150


def _search(tmp_path: Path, protocol: str, seed: int, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "out"
    args = [
        "search",
        "--protocol",
        protocol,
        "--n",
        "4",
        "--strategy",
        "split-vote",
        "--seed",
        str(seed),
        "--objective",
        "violation",
        "--violation",
        "agreement",
        "--budget",
        str(BUDGET),
        "--jobs",
        "1",
        "--out",
        str(out),
        *extra,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"seed={seed}: {result.output}"
    )
    return result.exit_code, json.loads((out / "search.json").read_text())


def test_planted_bug_is_found_shrunk_and_replayed(tmp_path: Path) -> None:
    seed = PLANTED_SEED
    code, doc = _search(tmp_path, HASTY, seed, "--shrink-budget", "80")
    out = tmp_path / "out"
    best = doc["best"]
    assert code == 1, f"seed={seed}: a violation exits 1"
    assert best["violations"] and best["violations"][0].startswith("agreement: "), (
        f"seed={seed}: {best}"
    )
    assert doc["evaluations"] <= BUDGET, f"seed={seed}"
    shrink = doc["shrink"]
    assert shrink["violation"].startswith("agreement: "), f"seed={seed}: {shrink}"
    assert shrink["kept"] < shrink["from"], f"seed={seed}: nothing was shrunk: {shrink}"
    for name in ("best.schedule.json", "shrunk.schedule.json"):
        replayed = replay_schedule(out / name)
        assert replayed.ok, f"seed={seed}: {name}: {replayed.describe()}"
    for run in ("worst", "shrunk"):
        summary = json.loads((out / run / "summary.json").read_text())
        assert summary["error"].startswith("InvariantViolation: agreement violated"), (
            f"seed={seed}: {run}: {summary.get('error')}"
        )
        assert (out / run / "messages.parquet").is_file(), f"seed={seed}: {run}"
        replayed = replay_run(str(out / run))
        assert replayed.ok, f"seed={seed}: {run}: {replayed.describe()}"
    assert (
        json.loads((out / "worst" / "summary.json").read_text())["trace_hash"]
        == (json.loads((out / "best.schedule.json").read_text())["trace_hash"])
    ), f"seed={seed}"


@pytest.mark.parametrize("protocol", ["bracha-local", "hpz"])
def test_the_same_search_finds_nothing_on_correct_protocols(tmp_path: Path, protocol: str) -> None:
    seed = PLANTED_SEED
    code, doc = _search(tmp_path, protocol, seed)
    assert code == 0, f"seed={seed}: {protocol}: {doc['best']}"
    assert doc["evaluations"] == BUDGET and doc["best"]["violations"] == [], f"seed={seed}"
    assert max(doc["values"]) == 0.0 and doc["shrink"] is None, f"seed={seed}"


# bracha-local at n = 7, split inputs, no corrupted node: the scheduler alone
ITERATION_SEEDS = (1, 2, 3)
ITERATION_BUDGET = 48


def _best_of(tables: dict[str, Any], base: str, seed: int) -> float:
    """The most iterations `base` reaches in ITERATION_BUDGET runs: on the scenario's own
    stream, then on fresh ones."""
    rng = random.Random(seed)
    streams = [seed] + [rng.randrange(2**62) for _ in range(ITERATION_BUDGET - 1)]
    return max(
        evaluate(Job(tables, base, s, (), "iterations", 1000.0, 10**7, False)).value
        for s in streams
    )


@pytest.mark.parametrize("seed", ITERATION_SEEDS)
def test_search_beats_random_search_and_matches_split_vote(seed: int) -> None:
    """The search against plain random search and the split-vote scheduler, each with the
    same budget on the same scenario. It beats random search; against split-vote it ties
    (4, 6 and 4 iterations on these seeds): the issue's done-when, more iterations than
    split-vote, is not met yet (docs/search.md, Limits)."""
    scn = parse_scenario({"run": {"n": 7, "seed": seed, "protocol": "bracha-local"}})
    tables = tomllib.loads(scn.to_toml())
    spec = SearchSpec(tables, "iterations", ITERATION_BUDGET, seed, shrink_budget=0)
    found = run_search(spec, InProcessExecutor()).outcome.value
    random_search = _best_of(tables, "random", seed)
    split_vote = _best_of(tables, "split-vote", seed)
    assert found > random_search, f"seed={seed}: search {found} vs random {random_search}"
    assert found >= split_vote, f"seed={seed}: search {found} vs split-vote {split_vote}"


def test_a_search_is_the_same_on_a_local_cluster() -> None:
    """Batches have a fixed size and come back in order, so two workers of a LocalCluster
    give the search exactly what this process does."""
    seed = 5
    scn = parse_scenario({"run": {"n": 4, "seed": seed, "protocol": "bracha-local"}})
    spec = SearchSpec(tomllib.loads(scn.to_toml()), "latency", 24, seed, shrink_budget=0)
    here = run_search(spec, InProcessExecutor())
    with cluster_executor(None, 2) as executor:
        there = run_search(spec, executor)
    assert there.state.values == here.state.values, f"seed={seed}"
    assert there.outcome.trace_hash == here.outcome.trace_hash, f"seed={seed}"
