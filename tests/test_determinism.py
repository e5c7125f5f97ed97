"""Same seed, same trace hash; different seeds, different runs."""

from __future__ import annotations

import pytest

from tests.simutil import run_sim


@pytest.mark.parametrize("protocol", ["hpz", "bracha-local", "ideal-coin"])
@pytest.mark.parametrize("strategy", [None, "silent", "crash", "random-value", "equivocate"])
@pytest.mark.parametrize("scheduler", ["fifo", "random", "hold-f"])
def test_same_seed_same_trace_hash(protocol: str, strategy: str | None, scheduler: str) -> None:
    for seed in (0, 7):
        _, a = run_sim(
            7,
            2,
            seed=seed,
            protocol=protocol,
            strategy=strategy,
            scheduler=scheduler,
            inputs="random",
        )
        _, b = run_sim(
            7,
            2,
            seed=seed,
            protocol=protocol,
            strategy=strategy,
            scheduler=scheduler,
            inputs="random",
        )
        assert a.trace_hash == b.trace_hash, f"nondeterminism at seed={seed}"
        assert a.summary() == b.summary(), f"seed={seed}"


def test_different_seeds_differ() -> None:
    hashes = {run_sim(7, 2, seed=s, strategy="crash")[1].trace_hash for s in range(10)}
    assert len(hashes) == 10
