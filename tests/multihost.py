"""The multi-host lab (scripts/multihost-lab, docs/multihost.md) for the tests that need it.

A test module that runs on several Docker hosts gets the lab through a fixture of its own::

    @pytest.fixture
    def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
        with using_lab(request.config) as lab:
            yield lab

``using_lab`` brings the three-host lab up on first use (about 20 s with the image load) and
keeps it for the rest of the session; the last session using it takes it down again (a lab
that was already up before any test used it, e.g. made by hand to save the spin-up between
runs, is left up). Tests that use the lab run one at a time, also across pytest-xdist
workers and concurrent pytest runs (an exclusive lock on LOCK), because one of them stops a
host's engine and another takes the lab down; each starts with ``up``, which is idempotent
and takes about a second when the lab is complete.

The lab needs root and a Docker engine with the byzlab image. Without them the test is
skipped with the reason, unless BYZLAB_REQUIRE_DOCKER=1 (CI), in which case it fails.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from byzlab.orchestration.scenario import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "multihost-lab"
HOSTS = 3
# The script's layout (scripts/multihost-lab): host k is 10.77.0.k, in the network namespace
# byzlab-hostk, its swarm node named the same, its engine on RUN_DIR/hostk/docker.sock.
RUN_DIR = Path("/run/byzlab-lab")
DATA_DIR = Path("/var/lib/byzlab-lab")
LOCK = Path("/run/byzlab-lab.lock")
# The pids of the pytest processes using the lab, and "keep" if it was up before they came.
USERS = Path("/run/byzlab-lab.users")
REQUIRE = os.environ.get("BYZLAB_REQUIRE_DOCKER") == "1"
TOOLS = ("ip", "iptables", "nsenter", "unshare", "dockerd", "docker")


@dataclass(frozen=True)
class Lab:
    """A running lab: its hosts are numbered 1..hosts, host 1 is the swarm manager."""

    hosts: int

    @staticmethod
    def name(k: int) -> str:
        return f"byzlab-host{k}"

    @staticmethod
    def address(k: int) -> str:
        return f"10.77.0.{k}"

    @staticmethod
    def socket(k: int) -> Path:
        return RUN_DIR / f"host{k}" / "docker.sock"

    def docker_host(self, k: int) -> str:
        """The DOCKER_HOST value for host k's engine."""
        return f"unix://{self.socket(k)}"

    def client(self, k: int) -> Any:
        """A Docker SDK client of host k's engine (the caller closes it)."""
        import docker

        return docker.DockerClient(base_url=self.docker_host(k), timeout=60)

    def stop_host(self, k: int) -> None:
        run_script("stop-host", str(k))

    def start_host(self, k: int) -> None:
        run_script("start-host", str(k))


def run_script(*args: str) -> str:
    """Run scripts/multihost-lab; its stdout, or a failure with its stderr."""
    done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"scripts/multihost-lab {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stderr}{done.stdout[-2000:]}"
        )
    return done.stdout


def unavailable() -> str | None:
    """Why the lab cannot be made here, or None."""
    if os.geteuid() != 0:
        return "the multi-host lab needs root (network namespaces, veths, a bridge, engines)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"the multi-host lab needs {', '.join(missing)} on PATH"
    import docker
    import docker.errors

    try:
        main = docker.from_env(timeout=30)
        main.images.get(DEFAULT_IMAGE)
    except docker.errors.ImageNotFound:
        return f"the image {DEFAULT_IMAGE} is missing: run `byzlab image build`"
    except docker.errors.DockerException as exc:
        return f"no Docker engine: {exc}"
    main.close()
    return None


@contextmanager
def _locked() -> Iterator[None]:
    with LOCK.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _users() -> tuple[list[str], bool]:
    """The live pytest processes using the lab, and whether the lab predates them."""
    words = USERS.read_text().split() if USERS.exists() else []
    return [w for w in words if w.isdigit() and Path(f"/proc/{w}").exists()], "keep" in words


def _write_users(pids: list[str], keep: bool) -> None:
    if pids:
        USERS.write_text("\n".join(pids + ["keep"] * keep) + "\n")
    else:
        USERS.unlink(missing_ok=True)


def _register(config: pytest.Config) -> None:
    """Count this process as a user of the lab; the last user to leave takes it down."""
    pids, keep = _users()
    _write_users([*pids, str(os.getpid())], keep if pids else RUN_DIR.exists())
    config.add_cleanup(_release)
    config.stash[_REGISTERED] = True


def _release() -> None:
    with _locked():
        pids, keep = _users()
        pids = [p for p in pids if p != str(os.getpid())]
        _write_users(pids, keep)
        if not pids and not keep:
            run_script("down")


_REGISTERED = pytest.StashKey[bool]()


@contextmanager
def using_lab(config: pytest.Config) -> Iterator[Lab]:
    """The lab with HOSTS hosts, up, for one test that has it to itself."""
    reason = unavailable()
    if reason is not None:
        if REQUIRE:
            pytest.fail(f"BYZLAB_REQUIRE_DOCKER=1, but {reason}")
        pytest.skip(reason)
    with _locked():
        if not config.stash.get(_REGISTERED, False):
            _register(config)
        run_script("up", "--hosts", str(HOSTS), "--image", DEFAULT_IMAGE)
        yield Lab(HOSTS)
