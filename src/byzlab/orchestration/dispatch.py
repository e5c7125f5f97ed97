"""The one place that turns a backend's name into a run: ``run_scenario``.

The command line, sweeps and multi-instance runs call it; tests and benchmarks that drive a
run step by step make a ``LocalRun``, ``DockerRun`` or ``SwarmRun`` themselves. Each backend is
imported only when asked for (the docker and swarm backends need the Docker SDK).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from byzlab.orchestration.backend import Backend, RunOutcome, StatusHook, execute
from byzlab.orchestration.scenario import Scenario

__all__ = ["BACKENDS", "run_scenario"]

BACKENDS = ("sim", "local", "docker", "swarm")


def run_scenario(
    scenario: Scenario,
    backend: str,
    *,
    out_root: Path,
    run_id: str | None = None,
    on_status: StatusHook | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    max_time: float | None = None,
    timeout_s: float | None = None,
    docker_host: str | None = None,
) -> RunOutcome:
    """Run one single-instance scenario on ``backend`` and write its results directory.

    ``force`` runs what the memory check refuses; ``log`` gets progress lines (docker);
    ``max_time`` and ``timeout_s`` are the simulator's virtual-time and wall-clock limits
    (real runs take theirs from the scenario); ``docker_host`` is the swarm manager's engine
    (default ``DOCKER_HOST``)."""
    run: Backend
    if backend == "sim":
        from byzlab.orchestration.simrun import SimRun

        run = SimRun(
            scenario, out_root=out_root, run_id=run_id, max_time=max_time, timeout_s=timeout_s
        )
    elif backend == "local":
        from byzlab.orchestration.local import LocalRun

        run = LocalRun(scenario, out_root=out_root, run_id=run_id, force=force)
    elif backend == "docker":
        from byzlab.orchestration.docker.run import DockerRun

        run = DockerRun(scenario, out_root=out_root, run_id=run_id, force=force, log=log)
    elif backend == "swarm":
        from byzlab.orchestration.swarm.run import SwarmRun

        run = SwarmRun(
            scenario,
            out_root=out_root,
            run_id=run_id,
            force=force,
            log=log,
            docker_host=docker_host,
        )
    else:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return execute(run, on_status)
