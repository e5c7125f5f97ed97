"""Agreement, validity and termination of HPZ in the simulator, under every shipped strategy.

Each (n, f) runs many seeds with split inputs, the random scheduler and f corrupted nodes.
Runs are deterministic, so a failure is reproducible with `byzlab sim` and the printed seed.
"""

from __future__ import annotations

import pytest

from byzlab.errors import InvariantViolation
from byzlab.invariants import check_blackboard, check_invariant1
from tests.simutil import build_sim, describe, run_sim

STRATEGIES = ["silent", "crash", "random-value", "equivocate"]
SIZES = [(4, 1, 200), (7, 2, 200), (10, 3, 200), (13, 4, 25)]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("n", "f", "seeds"), SIZES, ids=[f"n{n}f{f}" for n, f, _ in SIZES])
def test_hpz_agrees_under_byzantine_strategy(n: int, f: int, seeds: int, strategy: str) -> None:
    for seed in range(seeds):
        try:
            sim, result = run_sim(n, f, seed=seed, strategy=strategy)
        except InvariantViolation as exc:  # raised live by the simulator on a bad decision
            pytest.fail(f"n={n} f={f} strategy={strategy} seed={seed}: {exc}")
        assert result.agreed, describe(result)
        assert result.valid, describe(result)
        assert result.stopped == "all-honest-halted", describe(result)
        assert len(result.honest_decisions) == n - f, describe(result)
        if seed % 20 == 0:  # the full blackboard check is O(n^2 boards); sample it
            report = check_blackboard(sim.honest_nodes())
            assert not report.violations, f"{describe(result)}: {report.violations[:3]}"
            bad = set(range(n - f, n))
            violations = check_invariant1(sim.honest_nodes(), bad, result.epochs)
            assert not violations, f"{describe(result)}: {violations[:2]}"


@pytest.mark.parametrize("protocol", ["bracha-local", "ideal-coin"])
@pytest.mark.parametrize("strategy", [None, *STRATEGIES])
def test_baselines_agree(protocol: str, strategy: str | None) -> None:
    for seed in range(60):
        _, result = run_sim(7, 2, seed=seed, protocol=protocol, strategy=strategy)
        assert result.agreed and result.valid, describe(result)


@pytest.mark.parametrize("inputs", ["all-minus", "all-plus"])
@pytest.mark.parametrize("protocol", ["hpz", "bracha-local", "ideal-coin"])
def test_validity_unanimous_inputs_decide_that_input(inputs: str, protocol: str) -> None:
    expected = -1 if inputs == "all-minus" else 1
    for seed in range(30):
        _, result = run_sim(
            7, 2, seed=seed, protocol=protocol, inputs=inputs, strategy="random-value"
        )
        assert result.decision == expected, describe(result)
        # unanimous honest inputs are a supermajority: decided in the first iteration
        assert all(d.iteration == 1 for d in result.decisions), describe(result)


@pytest.mark.parametrize("scheduler", ["fifo", "random", "hold-f"])
def test_all_schedulers_terminate(scheduler: str) -> None:
    for seed in range(40):
        for inputs in ("split", "random"):
            _, result = run_sim(
                7, 2, seed=seed, scheduler=scheduler, inputs=inputs, strategy="equivocate"
            )
            assert result.agreed and result.valid, describe(result)


def test_honest_nodes_halt_and_the_queue_stops() -> None:
    """Termination: after the last decision nobody keeps sending; the run ends by halting."""
    for seed in range(20):
        sim = build_sim(4, 1, seed=seed)
        result = sim.run()
        assert result.stopped == "all-honest-halted", describe(result)
        assert all(node.halted for node in sim.honest_nodes())


def test_no_byzantine_nodes_all_honest() -> None:
    for seed in range(50):
        _, result = run_sim(4, 1, seed=seed, inputs="random")
        assert result.agreed and result.valid and len(result.honest_decisions) == 4
