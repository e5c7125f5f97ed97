"""The Docker engine: where it is (``DOCKER_HOST``), connecting to it, and its errors in one line.

An engine that cannot be reached, or used, ends a run with one sentence saying what to start
or change (``DockerUnavailable``), never a traceback.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from byzlab.errors import DockerUnavailable

__all__ = ["DEFAULT_ENGINE", "api_error", "connect", "engine_address"]

DEFAULT_ENGINE = "unix:///var/run/docker.sock"


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def connect(*, timeout: float = 60.0, address: str | None = None) -> Any:
    """A ``docker.DockerClient`` for the engine at ``address`` (default ``DOCKER_HOST``),
    checked with a ping.

    The client is made in two steps: a probe pinned to the oldest API version asks the
    engine for its version, then the real client uses the newest version both sides speak.
    ``docker.from_env()`` would negotiate inside its constructor, and when the engine is
    unreachable it leaves its socket open with no client object to close it by.
    """
    environment = dict(os.environ, DOCKER_HOST=address) if address else None
    address = address or engine_address()
    try:
        import docker
        from docker.constants import DEFAULT_DOCKER_API_VERSION, MINIMUM_DOCKER_API_VERSION
    except ImportError:  # pragma: no cover - docker is a dependency of byzlab
        raise DockerUnavailable(
            "the Docker SDK for Python is not installed: `pip install docker`"
        ) from None
    _precheck(address, timeout=min(timeout, 10.0))
    probe = None
    try:
        probe = docker.DockerClient.from_env(
            version=MINIMUM_DOCKER_API_VERSION, timeout=int(timeout), environment=environment
        )
        engine = str(probe.api.version(api_version=False)["ApiVersion"])
    except Exception as exc:  # the SDK raises DockerException, requests and OS errors alike
        reason = _reason(exc)
        if "permission denied" in reason.lower():
            raise DockerUnavailable(
                f"cannot use the Docker engine at {address}: permission denied; run as root "
                "or add your user to the docker group"
            ) from None
        raise _unreachable(address) from None
    finally:
        if probe is not None:
            probe.close()
    version = min(
        engine, DEFAULT_DOCKER_API_VERSION, key=lambda v: tuple(int(x) for x in v.split("."))
    )
    return docker.DockerClient.from_env(
        version=version, timeout=int(timeout), environment=environment
    )


def _unreachable(address: str) -> DockerUnavailable:
    return DockerUnavailable(
        f"cannot reach the Docker engine at {address}: start it with "
        "`dockerd &` or `systemctl start docker`"
    )


def _uses_cli_context() -> bool:
    """Is a docker CLI context other than the default selected (then it names the engine)?"""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        current = json.loads(config.read_text()).get("currentContext")
    except (OSError, ValueError, AttributeError):
        return False
    return bool(current) and current != "default"


def _precheck(address: str, *, timeout: float) -> None:
    """Fail fast, and without the SDK, when a unix or tcp engine address does not answer.

    The SDK leaks the socket of a failed connection (a ResourceWarning at best), and this
    check costs one connect; ssh:// addresses and CLI contexts are left to the SDK.
    """
    if not os.environ.get("DOCKER_HOST") and _uses_cli_context():
        return
    try:
        if address.startswith("unix://"):
            path = address[len("unix://") :]
            if not path.startswith("/"):
                path = "/" + path
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
        elif address.startswith("tcp://"):
            host, _, port = address[len("tcp://") :].partition("/")[0].rpartition(":")
            with socket.create_connection(
                (host.strip("[]") or "localhost", int(port or 2375)), timeout=timeout
            ):
                pass
    except PermissionError:
        raise DockerUnavailable(
            f"cannot use the Docker engine at {address}: permission denied; run as root or "
            "add your user to the docker group"
        ) from None
    except (OSError, ValueError):
        raise _unreachable(address) from None


def _reason(exc: BaseException) -> str:
    parts = [str(exc)]
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        parts.append(str(exc))
    return " ".join(parts)


def api_error(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
