"""What a real run needs before it starts, and the errors that end one in a single line.

Theory of operation
-------------------
*Memory.* A real run starts one process (local) or container (docker) per honest node plus
the proxy, and all of them live until the end. Nothing bounds their number but the scenario
(n up to 1024), so before anything is written or started the backends estimate the peak
resident memory of the run and refuse it, in one line and with exit status 2, when it does
not fit in what the machine (or the Docker engine) has available. ``force=True`` (``byzlab
run --force``) runs it anyway. The estimate, per process, is

    node:   NODE_BASE_MIB  + NODE_PER_NODE_KIB * n / 1024    MiB   (57 + 0.039 n)
    proxy:  PROXY_BASE_MIB + PROXY_COEF_MIB * n^1.5          MiB   (53 + 0.2 n^1.5)

plus ``ORCHESTRATOR_MIB`` for ``byzlab run`` itself and, with docker, ``CONTAINER_MIB`` per
container for the engine's per-container shim. The constants are measured peak RSS
(``max_rss_kib``: each process's own VmHWM) of honest FIFO runs with delta_s = 0 on this
project's 2-core reference machine, where nothing throttles the protocol and its state
peaks (``MEASURED_MIB``): a node is Python, numpy, PyNaCl and msgpack (about 53 MiB) plus
protocol state that grows slowly with n (53 MiB at n <= 32, 60 MiB at n = 64 and 128); the
proxy holds the messages in flight and grows much faster (54 MiB at n = 16, 152 at 64, 333
at 128). The formulas are fitted to those points and never below them (a node's by at most
4.3 MiB, the proxy's by 2-3 % at n = 64 and 128, more for small n); beyond n = 128 they
extrapolate:
n = 1024 comes to about 97 MiB per node and 6.5 GiB for the proxy, some 104 GiB in all. At
start-up alone (before the protocol runs) a node takes about 48 MiB, so a run refused here
would not merely be slow: it would run the machine out of memory part way.

What is available: ``MemAvailable`` from ``/proc/meminfo`` (memory the kernel can hand out
without swapping, page cache included). For docker, the engine's ``MemTotal`` (``docker
info``) and, when the engine runs on this host (a unix socket), the smaller of that and
this machine's MemAvailable.

*Errors.* ``RunRefused`` (exit status 2) and ``RunIOError`` (exit status 4) come from
``byzlab.errors``: the command line prints any ``ByzlabError`` as ``Error: <one line>`` and
exits with its ``exit_code``, and other callers (sweeps, benchmarks, committee instances)
get an exception that says the same. An ``OSError`` on the way (a full disk, a
read-only or missing results directory, a path under a regular file) becomes one line
naming the path, the error and its errno name, and what the run directory holds.
"""

from __future__ import annotations

import errno as errno_module
import math
import os
from dataclasses import dataclass
from pathlib import Path

from byzlab.errors import RunRefused

__all__ = [
    "CONTAINER_MIB",
    "MemoryEstimate",
    "available_memory_mib",
    "check_memory",
    "estimate_memory",
    "node_rss_mib",
    "os_error_text",
    "proxy_rss_mib",
]


NODE_BASE_MIB = 57.0
NODE_PER_NODE_KIB = 40.0
PROXY_BASE_MIB = 53.0
PROXY_COEF_MIB = 0.2
ORCHESTRATOR_MIB = 70.0  # byzlab run itself (click, rich, numpy, pydantic; measured 55-63)
CONTAINER_MIB = 12.0  # docker: the engine's containerd shim per container

# Peak RSS in MiB (node median, proxy) measured as described above.
MEASURED_MIB: dict[int, tuple[float, float]] = {
    4: (52.9, 53.5),
    16: (53.0, 54.7),
    32: (53.4, 61.9),
    64: (59.5, 152.2),
    128: (60.2, 333.2),
}


def node_rss_mib(n: int) -> float:
    """Estimated peak RSS of one honest node process of an n-node run."""
    return NODE_BASE_MIB + NODE_PER_NODE_KIB * n / 1024


def proxy_rss_mib(n: int) -> float:
    """Estimated peak RSS of the adversary proxy of an n-node run."""
    return PROXY_BASE_MIB + PROXY_COEF_MIB * n * math.sqrt(n)


@dataclass(frozen=True)
class MemoryEstimate:
    n: int
    processes: int  # honest node processes or containers
    node_mib: float
    proxy_mib: float
    overhead_mib: float  # orchestrator, and containers' shims with docker

    @property
    def total_mib(self) -> float:
        return self.processes * self.node_mib + self.proxy_mib + self.overhead_mib

    def describe(self) -> str:
        return (
            f"{self.processes} node processes x {self.node_mib:.0f} MiB + proxy "
            f"{self.proxy_mib:.0f} MiB + {self.overhead_mib:.0f} MiB"
        )


def estimate_memory(n: int, honest: int, *, backend: str = "local") -> MemoryEstimate:
    containers = honest + 1 if backend == "docker" else 0
    return MemoryEstimate(
        n, honest, node_rss_mib(n), proxy_rss_mib(n), ORCHESTRATOR_MIB + CONTAINER_MIB * containers
    )


def available_memory_mib(meminfo: Path = Path("/proc/meminfo")) -> float | None:
    """MemAvailable in MiB, or None where the kernel does not say (not Linux)."""
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return None


def check_memory(
    estimate: MemoryEstimate, available_mib: float | None, *, where: str, force: bool
) -> None:
    """Raise ``RunRefused`` if the run needs more than ``available_mib`` (unless forced)."""
    if force or available_mib is None or estimate.total_mib <= available_mib:
        return
    raise RunRefused(
        f"n = {estimate.n} needs about {estimate.total_mib / 1024:.1f} GiB of memory "
        f"({estimate.describe()}) but {where} has {available_mib / 1024:.1f} GiB available; "
        "nothing was started. Use fewer nodes, or --force to run it anyway"
    )


def os_error_text(exc: OSError) -> str:
    """``PATH: strerror (ENAME)``: the path and errno of a failed file operation."""
    code = exc.errno
    name = errno_module.errorcode.get(code, str(code)) if code is not None else "?"
    path = exc.filename if exc.filename is not None else "(unknown path)"
    if exc.filename2 is not None:
        path = f"{path} -> {exc.filename2}"
    reason = exc.strerror or (os.strerror(code) if code is not None else str(exc))
    return f"{os.fsdecode(path)}: {reason} ({name})"
