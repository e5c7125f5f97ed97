"""The native engine against the Python engine: the same seed gives the same run.

For every protocol and scheduler the native engine supports, over 2,000 seeds in all and a
hypothesis test of random scenarios (n, f, inputs, scheduler options, limits), the native
run's whole summary (trace hash, decisions, counts, stop reason) must equal the Python
engine's. A mismatch names the seed and the first delivery at which the two engines differ
(`byzlab.adversary.engine.delivery_log`). Skipped when the extension is not built; CI
builds it.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from byzlab import native
from byzlab.adversary.assemble import assemble_simulator
from byzlab.adversary.engine import delivery_log, native_support, run_simulator
from byzlab.adversary.schedulers import make_scheduler
from byzlab.cli import main
from byzlab.node.bracha import BUILTIN_PROTOCOLS
from byzlab.node.params import Params
from byzlab.seeds import make_inputs
from tests.nativeutil import requires_native

pytestmark = requires_native

PROTOCOLS = ("bracha-local", "ideal-coin")
SCHEDULERS = ("fifo", "random", "hold-f", "exponential", "latency-matrix", "targeted", "partition")
SEEDS_PER_CASE = 2000 // (len(PROTOCOLS) * len(SCHEDULERS)) + 1  # 2,002 seeds in all
SIZES = (4, 5, 7)


def _sim(n: int, protocol: str, seed: int, scheduler: Any = "random", **kw: Any) -> Any:
    params = Params.practical(n, kw.pop("f", (n - 1) // 3))
    inputs = kw.pop("inputs", make_inputs("random", n, seed))
    return assemble_simulator(
        params,
        protocol=BUILTIN_PROTOCOLS[protocol],
        inputs=inputs,
        seed=seed,
        scheduler=scheduler,
        **kw,
    )


def _first_difference(make: Any) -> str:
    py, nat = delivery_log(make(), "python"), delivery_log(make(), "native")
    for i, (a, b) in enumerate(zip(py, nat, strict=False)):
        if a != b:
            return f"first differing delivery #{i}: python {a} native {b}"
    return f"the logs agree for {min(len(py), len(nat))} deliveries ({len(py)} vs {len(nat)})"


def _check_same(make: Any, what: str) -> None:
    python = run_simulator(make(), "python").summary()
    sim = make()
    assert native_support(sim) is None, f"{what}: {native_support(sim)}"
    got = run_simulator(sim, "native").summary()
    if got != python:
        differing = {k: (python[k], got[k]) for k in python if python[k] != got[k]}
        pytest.fail(f"{what}: engines differ in {differing}; {_first_difference(make)}")


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_same_trace_for_every_seed(protocol: str, scheduler: str) -> None:
    for k in range(SEEDS_PER_CASE):
        n = SIZES[k % len(SIZES)]
        seed = 10_000 * SCHEDULERS.index(scheduler) + 1_000 * PROTOCOLS.index(protocol) + k
        make = functools.partial(_sim, n, protocol, seed, scheduler)
        _check_same(make, f"seed={seed} n={n} {protocol} {scheduler}")


def _scheduler_factory(name: str, options: dict[str, Any]) -> Any:
    return lambda ctx: make_scheduler(name, ctx, **options)


scenario_options = {
    "fifo": st.just({}),
    "random": st.just({}),
    "hold-f": st.just({}),
    "exponential": st.fixed_dictionaries({"mean": st.floats(0.01, 2.0)}),
    "latency-matrix": st.fixed_dictionaries({"jitter": st.floats(0.0, 0.5)}),
    "targeted": st.fixed_dictionaries(
        {"nodes": st.lists(st.integers(0, 12), max_size=3), "slowdown": st.floats(0.0, 1.0)}
    ),
    "partition": st.fixed_dictionaries(
        {"group": st.lists(st.integers(0, 12), max_size=6), "heal_at": st.floats(0.0, 60.0)}
    ),
}


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_same_trace_in_random_scenarios(data: st.DataObject) -> None:
    n = data.draw(st.integers(4, 13), label="n")
    f = data.draw(st.integers(1, (n - 1) // 3), label="f")
    seed = data.draw(st.integers(0, 2**63 - 1), label="seed")
    protocol = data.draw(st.sampled_from(PROTOCOLS), label="protocol")
    name = data.draw(st.sampled_from(SCHEDULERS), label="scheduler")
    options = data.draw(scenario_options[name], label="options")
    inputs = data.draw(st.lists(st.sampled_from((-1, 1)), min_size=n, max_size=n), label="in")
    delta = data.draw(st.sampled_from((1.0, 0.5, 3.0)), label="delta")
    max_deliveries = data.draw(st.sampled_from((50_000_000, 300, 1_000)), label="cap")
    max_time = data.draw(st.sampled_from((None, 5.0, 12.5)), label="max_time")
    make = functools.partial(
        _sim,
        n,
        protocol,
        seed,
        _scheduler_factory(name, options),
        f=f,
        inputs=inputs,
        delta=delta,
        max_deliveries=max_deliveries,
        max_time=max_time,
    )
    _check_same(make, f"seed={seed} n={n} f={f} {protocol} {name} {options} delta={delta}")


def test_larger_runs_agree() -> None:
    for n, seed in ((16, 1), (25, 2)):
        for protocol in PROTOCOLS:
            make = functools.partial(_sim, n, protocol, seed, "random")
            _check_same(make, f"seed={seed} n={n} {protocol}")


def test_delivery_logs_agree_and_locate_differences() -> None:
    make = functools.partial(_sim, 7, "bracha-local", 5, "exponential")
    py, nat = delivery_log(make(), "python"), delivery_log(make(), "native")
    assert py == nat and len(py) > 100, "seed=5"
    assert "agree" in _first_difference(make), "seed=5"


def test_unsupported_runs_say_why_and_run_in_python(capfd: pytest.CaptureFixture[str]) -> None:
    reasons = {
        "hpz": native_support(_sim(4, "hpz", 1)),
        "corrupted": native_support(_sim(4, "bracha-local", 1, byzantine={3: "silent"})),
        "scheduler": native_support(_sim(4, "bracha-local", 1, "split-vote")),
    }
    assert "not hpz" in str(reasons["hpz"]), reasons
    assert "corrupted nodes" in str(reasons["corrupted"]), reasons
    assert "'split-vote' is not native" in str(reasons["scheduler"]), reasons
    python = run_simulator(_sim(4, "hpz", 1), "python").summary()
    assert run_simulator(_sim(4, "hpz", 1), "native").summary() == python, "seed=1"


def test_cli_engines_print_the_same_run() -> None:
    runner = CliRunner()
    args = ["sim", "--n", "7", "--seed", "9", "--protocol", "ideal-coin", "--json"]
    outs = [runner.invoke(main, [*args, "--engine", e]) for e in ("python", "native")]
    assert all(r.exit_code == 0 for r in outs), [r.output for r in outs]
    assert outs[0].output == outs[1].output, "seed=9"
    hpz = runner.invoke(main, ["sim", "--n", "4", "--seed", "9", "--engine", "native", "--json"])
    assert hpz.exit_code == 0, hpz.output
    assert "running the Python engine" in hpz.stderr or native._warned, hpz.stderr
