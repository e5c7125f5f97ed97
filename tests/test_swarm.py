"""The swarm backend on three emulated hosts (scripts/multihost-lab, tests/multihost.py).

An n = 7 run spread over the three hosts agrees and writes the results layout of every
backend; a run that loses one host's engine mid-run, with at most f nodes on it, still
decides and counts those nodes as crashed; after each run no labelled service, network,
secret or config is left on the swarm. Needs root and Docker (skipped without them unless
BYZLAB_REQUIRE_DOCKER=1). Every assertion message names the run id and seed; a run's logs
are kept in results/<run-id>/work/logs/.
"""

from __future__ import annotations

import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from byzlab.orchestration.backend import RESULT_FILES, RunOutcome, execute
from byzlab.orchestration.docker.labels import LABEL_RUN
from byzlab.orchestration.scenario import parse_scenario
from byzlab.orchestration.swarm.run import SwarmRun
from tests.multihost import Lab, using_lab

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.docker

KINDS = ("services", "networks", "secrets", "configs")
NOTHING_LEFT: dict[str, list[str]] = {kind: [] for kind in KINDS}


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    with using_lab(request.config) as lab:
        yield lab


def about(outcome: RunOutcome) -> str:
    s = outcome.summary
    return (
        f"run_id={outcome.run_id} seed={s.get('seed')} stopped={outcome.stopped} "
        f"crashed={s.get('crashed')} decisions={s.get('honest_decisions')} "
        f"logs={outcome.out_dir / 'work' / 'logs'}"
    )


def leftovers(lab: Lab, run_id: str) -> dict[str, list[str]]:
    """The run's labelled swarm objects that still exist (on the manager, host 1)."""
    client = lab.client(1)
    flt = {"label": f"{LABEL_RUN}={run_id}"}
    try:
        return {
            kind: [str(o.name) for o in getattr(client, kind).list(filters=flt)] for kind in KINDS
        }
    finally:
        client.close()


def swarm_run(lab: Lab, tmp_path: Path, scenario: dict[str, Any], on_status: Any = None) -> Any:
    run = SwarmRun(
        parse_scenario(scenario), out_root=tmp_path, docker_host=lab.docker_host(1), log=print
    )
    return run, execute(run, on_status)


def test_n7_spread_over_three_hosts_agrees(lab: Lab, tmp_path: Path) -> None:
    """Six honest nodes, two on each host, and a Byzantine one in the proxy: they agree,
    every node's outputs come back through the manager, and nothing is left behind."""
    # the README's example file, so what the README shows is what runs here
    scenario = tomllib.loads((EXAMPLES / "swarm-spread.toml").read_text())
    _, outcome = swarm_run(lab, tmp_path, scenario)
    s = outcome.summary
    assert outcome.exit_code == 0 and s["agreed"] and s["valid"], about(outcome)
    assert outcome.stopped == "all-honest-halted" and s["crashed"] == {}, about(outcome)
    assert s["backend"] == "swarm" and s["spinup_s"] > 0, about(outcome)
    assert Counter(s["placement"].values()) == {lab.name(k): 2 for k in (1, 2, 3)}, s["placement"]
    out = outcome.out_dir
    for name in (
        *RESULT_FILES,
        "proxy-stats.json",
        "work/logs/proxy.log",
        *(f"traces/node-{i}.jsonl" for i in range(6)),
        *(f"work/logs/node-{i}.log" for i in range(6)),
    ):
        assert (out / name).is_file(), (name, about(outcome))
    assert not list(out.rglob("*.key")), "private keys must not stay on the host"
    assert leftovers(lab, outcome.run_id) == NOTHING_LEFT, about(outcome)


def test_losing_a_host_with_f_nodes_still_decides(lab: Lab, tmp_path: Path) -> None:
    """n = 7, f = 2, spread: host 3 runs nodes 2 and 5. Its engine is stopped once the run
    has started; the five others decide, and nodes 2 and 5 are counted as crashed."""
    stopper: list[threading.Thread] = []

    def on_status(stats: dict[str, Any]) -> None:
        if stats.get("started") and not stopper:
            stopper.append(threading.Thread(target=lab.stop_host, args=(3,)))
            stopper[0].start()

    try:
        _, outcome = swarm_run(
            lab,
            tmp_path,
            {
                "run": {"n": 7, "seed": 4, "timeout_s": 90},
                # Slow enough that the host goes down before the nodes decide.
                "adversary": {"scheduler": "random", "delta_s": 0.5},
            },
            on_status,
        )
    finally:
        for thread in stopper:
            thread.join()
        lab.start_host(3)
    s = outcome.summary
    assert stopper, "the run never reached its start barrier"
    assert s["placement"]["2"] == s["placement"]["5"] == lab.name(3), s["placement"]
    assert s["crashed"] == {"2": "host-down", "5": "host-down"}, about(outcome)
    assert outcome.exit_code == 0 and s["agreed"] and s["valid"], about(outcome)
    assert len(s["honest_decisions"]) == 5, about(outcome)
    assert leftovers(lab, outcome.run_id) == NOTHING_LEFT, about(outcome)
