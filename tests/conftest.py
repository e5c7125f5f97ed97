"""Every simulator run in the test suite is checked against HPZ's certain invariants.

An autouse fixture wraps `Simulator.run`: before the run it records the order in which honest
nodes fix their views (for Lemma 6.1), after it it runs `invariants.check_all(..., whp=False)`
and fails the test with the seed and the violations if any certain property broke (HPZ
Theorem 1.2 per board, over history and across time, coin totals within f, Lemma 4,
Lemma 6.1, the blackboard construction's own properties). The w.h.p. properties (Lemma 3,
5(1), 12, Invariant 1) are not asserted here: they can fail legitimately at the practical
preset, outside the proofs' regime (see byzlab.invariants).

* `@pytest.mark.allow_violations` on a test that builds broken runs on purpose turns it off.
* `BYZLAB_CHECK_INVARIANTS=0` turns it off for the whole session (default: on).
* Runs in worker processes (a fork inherits the patch) and runs that raise are not checked.
  A violation in a run on another thread fails the test when it ends.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from byzlab import invariants
from byzlab.network.sim import SimResult, Simulator

ENV = "BYZLAB_CHECK_INVARIANTS"


def pytest_configure(config: pytest.Config) -> None:
    # The tests of Ctrl-C send SIGINT to byzlab processes they start, which inherit an
    # ignored SIGINT (and Python then installs no KeyboardInterrupt handler): a suite run
    # as a background job of a non-interactive shell (`.ci/run &`) starts that way. Give
    # SIGINT back its default so those tests do not depend on how the suite was started.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line(
        "markers",
        "allow_violations: the test builds runs that break HPZ's certain invariants on purpose; "
        "their simulator runs are not checked by the invariant fixture (tests/conftest.py)",
    )


def invariant_checks_enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def describe_violations(
    sim: Simulator, result: SimResult, report: invariants.InvariantReport, shown: int = 5
) -> str:
    lines = [
        f"HPZ invariant violated in a simulator run: seed={result.seed} n={sim.params.n} "
        f"f={sim.params.f} protocol={result.protocol} scheduler={result.scheduler} "
        f"byzantine={result.byzantine} stopped={result.stopped}; "
        f"{len(report.violations)} violation(s), by checker "
        f"{ {k: v for k, v in report.counts.items() if v} }:"
    ]
    lines += [f"  {v}" for v in report.violations[:shown]]
    if len(report.violations) > shown:
        lines.append(f"  ... and {len(report.violations) - shown} more")
    lines.append(
        f"(mark the test @pytest.mark.allow_violations if the run is broken on "
        f"purpose; {ENV}=0 turns the check off)"
    )
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def _check_invariants_after_every_run(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if not invariant_checks_enabled() or request.node.get_closest_marker("allow_violations"):
        yield
        return
    original = Simulator.run
    pid = os.getpid()
    unraised: list[str] = []

    def run(self: Simulator) -> SimResult:
        here = os.getpid() == pid
        if here:
            invariants.record_fix_order(self)
        result = original(self)
        if not here:
            return result
        report = invariants.check_all(self, result, whp=False)
        if report.violations:
            message = describe_violations(self, result, report)
            if threading.current_thread() is threading.main_thread():
                pytest.fail(message, pytrace=False)
            unraised.append(message)
        return result

    monkeypatch.setattr(Simulator, "run", run)
    yield
    if unraised:
        pytest.fail(unraised[0], pytrace=False)
