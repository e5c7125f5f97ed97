"""The byzlab container image: one image for the nodes and the adversary proxy.

Theory of operation
-------------------
Every container of a run (``byzlab run --backend docker``, ``docker-compose up``, a swarm
stack) starts from one image whose entry point is the ``byzlab`` command. The image holds a
virtual environment in ``/opt/byzlab`` with byzlab and only the distributions its command
line, its node and its proxy import (``RUNTIME_DISTRIBUTIONS``): no matplotlib, pyarrow or
Docker SDK, which only the host-side tools use. It runs as the unprivileged user ``byzlab``
(uid 10001), keeps its working files in ``/data``, ships ``iproute2`` for ``tc netem``
faults, and has a health check (``health`` below).

There are two ways to build it, and both end in the same last lines (``IMAGE_TAIL``):

1. *With a registry* (``docker build -t byzlab:latest .``, or ``byzlab image build --from
   registry``): the ``Dockerfile`` at the repository root, multi-stage from the official
   ``python:3.11-slim``. The first stage builds wheels for byzlab and its runtime
   requirements and installs them into the venv; the second copies only the venv.
2. *Without one* (``byzlab image build``, the default when ``python:3.11-slim`` can be
   neither found nor pulled): nothing can be pulled, so everything is made here.

   a. Wheels, on the host: ``pip wheel --no-deps`` of the project and ``pip wheel`` of the
      runtime requirements. The host runs CPython 3.11 like Debian bookworm does, so pip
      picks the same ``cp311`` manylinux wheels for the compiled dependencies (numpy,
      msgpack, PyNaCl, uvloop, pydantic-core) that work in the image.
   b. A base image, built once and cached under the tag ``byzlab-base:bookworm``:
      ``debootstrap --variant=minbase`` of Debian bookworm with python3 (3.11),
      python3-venv and iproute2, stripped of apt caches, documentation and locales, and
      imported with ``docker import``. It is skipped whenever the tag exists (about a
      minute and a half saved per build); ``--rebuild-base`` forces it.
   c. A generated Dockerfile ``FROM byzlab-base:bookworm`` that copies the wheels into a
      build stage, installs them with ``pip install --no-index`` into the venv, and copies
      the venv into a clean final stage (so the wheels never become an image layer), then
      the same tail as the registry path.

The native engine (the optional ``byzlab-native`` distribution, a PyO3 abi3 extension for
CPython >= 3.11; docs/native.md) goes into the image on both paths. Offline, its wheel is
built on the host from ``native/`` when cargo and maturin are here (the host's glibc and
CPython are bookworm's, so the wheel works in the image) and installed beside byzlab;
without them the image is built without it, byzlab says so once, and containers run the
Python engine. With a registry, a build stage from the official Rust image
(``rust:1-slim-bookworm``) builds the same wheel; that path always carries it.

The image is labelled with a hash of the sources it was built from
(``byzlab.source-hash``), so the docker backend can warn when the image is older than the
working tree.

The health check (``python -m byzlab.orchestration.image health``) says a container is
healthy when its main process is running and, if ``BYZLAB_HEALTH_FILE`` is set, that file
has been written within ``BYZLAB_HEALTH_MAX_AGE_S`` seconds. The proxy's statistics file is
rewritten four times a second, so on the proxy this catches a hung event loop; a node has no
such heartbeat and is healthy while it runs.

This module imports only the standard library at module level: the health check runs in
containers that have no Docker SDK, every few seconds, and must start fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byzlab.errors import ImageBuildError

__all__ = [
    "BASE_IMAGE",
    "DEFAULT_IMAGE",
    "IMAGE_TAIL",
    "NATIVE_DISTRIBUTION",
    "REGISTRY_BASE",
    "RUNTIME_DISTRIBUTIONS",
    "BuiltImage",
    "ImageBuildError",
    "build_image",
    "build_native_wheel",
    "generated_dockerfile",
    "health",
    "native_toolchain_missing",
    "registry_dockerfile",
    "runtime_requirements",
    "source_hash",
    "source_root",
]

DEFAULT_IMAGE = "byzlab:latest"
BASE_IMAGE = "byzlab-base:bookworm"
REGISTRY_BASE = "python:3.11-slim"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "iproute2")
VENV = "/opt/byzlab"
HOME = "/data"
UID = 10001
SOURCE_LABEL = "byzlab.source-hash"

# What `byzlab` (the CLI imports rich; heavier commands such as the sidecars load lazily),
# the node and the proxy import. Versions come from pyproject.toml; only the names are
# chosen here.
RUNTIME_DISTRIBUTIONS = (
    "numpy",
    "msgpack",
    "pynacl",
    "uvloop",
    "click",
    "rich",
    "pydantic",
    "prometheus_client",  # live metrics of the node and proxy processes (network/metrics.py)
)

# Shell: drop what a runtime venv does not need: pip and setuptools, the test suites that
# numpy and scipy ship, and Cython/C sources and type stubs (about 65 MB in all). Compiled
# bytecode stays: without it every container would compile numpy and scipy at start-up.
SLIM_VENV = " \\\n && ".join(
    [
        f"{VENV}/bin/python -m pip uninstall --yes --quiet pip setuptools",
        f"find {VENV} -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {{}} +",
        f"find {VENV} -type f -path '*/site-packages/*' \\\n      \\( -name '*.pyx'"
        " -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.h' \\) -delete",
    ]
)
BUILD_STAGE_LABEL = "byzlab.build-stage"

# The native engine's distribution and the files of its crate (native/) besides src/*.rs.
NATIVE_DISTRIBUTION = "byzlab-native"
NATIVE_CRATE_FILES = ("Cargo.toml", "Cargo.lock", "pyproject.toml")
RUST_IMAGE = "rust:1-slim-bookworm"

# The last lines of both Dockerfiles (a unit test checks the root Dockerfile contains them).
IMAGE_TAIL = f"""\
ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONUNBUFFERED=1 \\
    PYTHONDONTWRITEBYTECODE=1 \\
    LANG=C.UTF-8
RUN groupadd --system --gid {UID} byzlab \\
 && useradd --system --uid {UID} --gid {UID} --home-dir {HOME} --no-create-home \\
      --shell /usr/sbin/nologin byzlab \\
 && install -d -o {UID} -g {UID} -m 0755 {HOME}
WORKDIR {HOME}
USER {UID}:{UID}
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \\
  CMD ["python", "-m", "byzlab.orchestration.image", "health"]
ENTRYPOINT ["byzlab"]
CMD ["--help"]
"""

_BUILD_LOG_TAIL = 30


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    size_bytes: int
    path: str  # "registry" or "offline"
    distributions: tuple[str, ...]
    seconds: float


# --------------------------------------------------------------------------- sources


def source_root(start: Path | None = None) -> Path:
    """The source checkout byzlab runs from (the directory holding pyproject.toml)."""
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "byzlab").is_dir():
            return parent
    raise ImageBuildError(
        "cannot find the byzlab source tree (pyproject.toml and src/byzlab) above "
        f"{here}; run from a checkout or pass --source DIR"
    )


def _native_files(root: Path) -> list[Path]:
    """The native engine's crate: what its wheel is built from (none in a tree without it)."""
    crate = root / "native"
    files = [crate / name for name in NATIVE_CRATE_FILES if (crate / name).is_file()]
    return files + sorted((crate / "src").rglob("*.rs"))


def _source_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml"]
    files += sorted(
        p for p in (root / "src" / "byzlab").rglob("*.py") if "__pycache__" not in p.parts
    )
    return files + _native_files(root)


def source_hash(root: Path) -> str:
    """SHA-256 over pyproject.toml, every module and the native crate: what an image was
    built from."""
    h = hashlib.sha256()
    for path in _source_files(root):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path) -> list[str]:
    """The dependency lines of pyproject.toml for ``RUNTIME_DISTRIBUTIONS``, in its order."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ImageBuildError(f"{pyproject}: cannot read [project] ({exc})") from None
    wanted = {_normalise(n) for n in RUNTIME_DISTRIBUTIONS}
    out = []
    found: set[str] = set()
    for line in project.get("dependencies", []):
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if match and _normalise(match.group(1)) in wanted:
            out.append(line)
            found.add(_normalise(match.group(1)))
    missing = sorted(wanted - found)
    if missing:
        raise ImageBuildError(
            f"{pyproject}: the image needs {', '.join(missing)}, which [project] dependencies "
            "does not list; update RUNTIME_DISTRIBUTIONS in orchestration/image.py"
        )
    return out


# --------------------------------------------------------------------------- Dockerfiles


def generated_dockerfile(base: str = BASE_IMAGE, *, native: bool = False) -> str:
    """The Dockerfile of the offline path: wheels from the host into a venv on ``base``,
    the native engine's among them when ``native``."""
    projects = f"byzlab {NATIVE_DISTRIBUTION}" if native else "byzlab"
    return f"""\
# Generated by `byzlab image build` (the path without a registry); see orchestration/image.py.
FROM {base} AS build
LABEL {BUILD_STAGE_LABEL}=1
COPY wheels /tmp/wheels
RUN python3 -m venv {VENV} \\
 && {VENV}/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels --no-deps \\
      {projects} \\
 && {VENV}/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels \\
      -r /tmp/wheels/runtime.txt \\
 && {SLIM_VENV}

FROM {base}
COPY --from=build {VENV} {VENV}
{IMAGE_TAIL}"""


def registry_dockerfile() -> str:
    """The repository's ``Dockerfile`` (a unit test keeps the file equal to this)."""
    return f"""\
# The byzlab image: one image for the nodes and the adversary proxy (entry point `byzlab`).
#
# With a registry:     docker build -t byzlab:latest .
# Without a registry:  byzlab image build   (host-built wheels on a debootstrap base)
#
# Generated from src/byzlab/orchestration/image.py (registry_dockerfile), which also writes
# the offline path's Dockerfile with the same tail; a unit test keeps this file in step.
#
# Stage 1 builds the native engine's wheel (the optional {NATIVE_DISTRIBUTION}, a PyO3 abi3
# extension for CPython >= 3.11) with cargo and maturin on the official Rust image, Debian
# bookworm like the Python one. Stage 2 builds wheels for byzlab and for the runtime
# requirements only (what the `byzlab` command, its node and its proxy import: names from
# image.py, versions from pyproject.toml) and installs them and the native wheel into a
# venv. Stage 3 copies the venv, so no wheel, compiler or pip cache reaches the final image.
ARG PYTHON_IMAGE={REGISTRY_BASE}
ARG RUST_IMAGE={RUST_IMAGE}

FROM ${{RUST_IMAGE}} AS native
LABEL {BUILD_STAGE_LABEL}=1
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-venv \\
 && rm -rf /var/lib/apt/lists/*
WORKDIR /native
COPY {" ".join(f"native/{name}" for name in NATIVE_CRATE_FILES)} ./
COPY native/src ./src
RUN python3 -m venv /opt/maturin \\
 && /opt/maturin/bin/pip install --no-cache-dir 'maturin>=1.5,<2' \\
 && /opt/maturin/bin/maturin build --release --interpreter python3 --out /wheels

FROM ${{PYTHON_IMAGE}} AS build
LABEL {BUILD_STAGE_LABEL}=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=native /wheels /wheels
RUN pip wheel --no-cache-dir --no-deps -w /wheels . \\
 && PYTHONPATH=src python -m byzlab.orchestration.image requirements pyproject.toml \\
      > /wheels/runtime.txt \\
 && pip wheel --no-cache-dir -w /wheels -r /wheels/runtime.txt \\
 && python -m venv {VENV} \\
 && {VENV}/bin/pip install --no-cache-dir --no-index --find-links /wheels --no-deps \\
      byzlab {NATIVE_DISTRIBUTION} \\
 && {VENV}/bin/pip install --no-cache-dir --no-index --find-links /wheels \\
      -r /wheels/runtime.txt \\
 && {SLIM_VENV}

FROM ${{PYTHON_IMAGE}}
# iproute2: for `tc netem` faults ([[docker.faults]] with action = "netem").
RUN apt-get update \\
 && apt-get install -y --no-install-recommends iproute2 \\
 && rm -rf /var/lib/apt/lists/*
COPY --from=build {VENV} {VENV}
{IMAGE_TAIL}"""


# --------------------------------------------------------------------------- building


Log = Callable[[str], None]


def _run(
    cmd: Sequence[str],
    *,
    log_file: Path,
    what: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    with open(log_file, "ab") as out:
        try:
            proc = subprocess.run(
                list(cmd),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except OSError as exc:
            raise ImageBuildError(f"{what}: cannot run {cmd[0]}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        tail = log_file.read_text(errors="replace").splitlines()[-_BUILD_LOG_TAIL:]
        raise ImageBuildError(
            f"{what} failed (exit status {proc.returncode}); last lines of "
            f"{log_file}:\n" + "\n".join(tail)
        )


def _pip_wheel(
    args: list[str],
    dest: Path,
    *,
    log_file: Path,
    what: str,
    env: dict[str, str] | None = None,
) -> None:
    """``pip wheel --quiet -w dest ARGS`` with this interpreter's pip."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), *args]
    _run(cmd, log_file=log_file, what=f"pip wheel ({what})", env=env)


def build_wheels(root: Path, dest: Path, *, log: Log, log_file: Path) -> list[str]:
    """Wheels for byzlab and its runtime requirements in ``dest``; returns the file names.

    The project is built from a copy of pyproject.toml, README.md and src/ so the build
    neither reads stale build/ or egg-info directories nor leaves any in the checkout.
    """
    dest.mkdir(parents=True, exist_ok=True)
    requirements = runtime_requirements(root / "pyproject.toml")
    (dest / "runtime.txt").write_text("\n".join(requirements) + "\n")
    with tempfile.TemporaryDirectory(prefix="byzlab-src-") as tmp:
        src = Path(tmp)
        for name in ("pyproject.toml", "README.md"):
            if (root / name).exists():
                shutil.copy2(root / name, src / name)
        shutil.copytree(
            root / "src",
            src / "src",
            ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.egg-info", ".ruff_cache", ".mypy_cache"
            ),
        )
        log("building the byzlab wheel")
        _pip_wheel(["--no-deps", str(src)], dest, log_file=log_file, what="byzlab")
    log(f"fetching wheels for {', '.join(RUNTIME_DISTRIBUTIONS)} and their dependencies")
    _pip_wheel(["-r", str(dest / "runtime.txt")], dest, log_file=log_file, what="dependencies")
    return sorted(p.name for p in dest.glob("*.whl"))


def native_toolchain_missing() -> str | None:
    """Why the native engine's wheel cannot be built here, in one line, or None when cargo
    and maturin are both here."""
    if shutil.which("cargo") is None:
        return "cargo is not installed"
    if importlib.util.find_spec("maturin") is None:
        return f"maturin is not installed (`{sys.executable} -m pip install 'maturin>=1.5,<2'`)"
    return None


def build_native_wheel(root: Path, dest: Path, *, log: Log, log_file: Path) -> bool:
    """The native engine's wheel in ``dest`` when the toolchain is here; else say once why
    the image goes without it and return False. A build that fails with the toolchain here
    is an error: an image silently without the engine would hide a broken crate.

    The wheel is built where ``scripts/install`` builds it (``native/``, its ``target/``
    reused), by maturin through pip without build isolation (nothing to fetch).
    """
    missing = native_toolchain_missing()
    if missing is None and not (root / "native" / "Cargo.toml").is_file():
        missing = f"{root / 'native'} holds no crate"
    if missing is not None:
        log(
            f"{missing}: the image is built without the native engine ({NATIVE_DISTRIBUTION}); "
            "its containers run the Python engine"
        )
        return False
    log(f"building the {NATIVE_DISTRIBUTION} wheel (cargo, release)")
    _pip_wheel(
        ["--no-deps", "--no-build-isolation", str((root / "native").resolve())],
        dest,
        log_file=log_file,
        what=NATIVE_DISTRIBUTION,
        env={"CARGO_BUILD_JOBS": "2", **os.environ},
    )
    return True


# Removed from the debootstrap tree before import: caches and documentation (~140 MB).
_ROOTFS_JUNK = (
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/*.bin",
    "var/lib/apt/lists/*",
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
    "var/log/*",
    "var/cache/debconf/*-old",
)


def build_base(
    client: Any, *, tag: str, mirror: str, log: Log, log_file: Path, workdir: Path
) -> None:
    """debootstrap a minimal bookworm with python3 and import it as ``tag``."""
    import docker.errors

    if os.geteuid() != 0:
        raise ImageBuildError(
            f"building the base image {tag} needs root (debootstrap chroots): run "
            "`sudo byzlab image build` once, or build with a registry "
            "(`docker build -t byzlab:latest .`)"
        )
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(
            "debootstrap is not installed: `apt-get install -y debootstrap` (or build with a "
            "registry: `docker build -t byzlab:latest .`)"
        )
    rootfs = workdir / "rootfs"
    log(
        f"debootstrap {DEBIAN_SUITE} (minbase + {', '.join(BASE_PACKAGES)}) from {mirror}; "
        "this takes a minute or two and is cached as " + tag
    )
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            DEBIAN_SUITE,
            str(rootfs),
            mirror,
        ],
        log_file=log_file,
        what="debootstrap",
    )
    for pattern in _ROOTFS_JUNK:
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    archive = workdir / "rootfs.tar"
    # GNU tar keeps owners, modes, hard links and device nodes exactly; /dev, /proc and /sys
    # are provided by the container runtime.
    _run(
        [
            "tar",
            "--numeric-owner",
            "--exclude=./dev/*",
            "--exclude=./proc/*",
            "--exclude=./sys/*",
            "-C",
            str(rootfs),
            "-cf",
            str(archive),
            ".",
        ],
        log_file=log_file,
        what="tar of the base root file system",
    )
    shutil.rmtree(rootfs)
    repository, _, version = tag.rpartition(":")
    log(f"importing the base image as {tag}")
    description = (
        f"Debian {DEBIAN_SUITE} minbase with {' '.join(BASE_PACKAGES)} (byzlab base image)"
    )
    try:
        client.api.import_image_from_file(
            str(archive),
            repository=repository or tag,
            tag=version or "latest",
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["/bin/bash"]',
                f'LABEL org.opencontainers.image.description="{description}"',
            ],
        )
    except docker.errors.APIError as exc:
        raise ImageBuildError(
            f"docker import of the base image {tag} failed: {_short(exc)}"
        ) from None
    finally:
        archive.unlink()


def _image_exists(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _registry_reachable(client: Any, log: Log) -> bool:
    """Is the official Python base image here, or can it be pulled?"""
    import docker.errors

    if _image_exists(client, REGISTRY_BASE):
        return True
    log(f"trying to pull {REGISTRY_BASE}")
    try:
        client.images.pull(REGISTRY_BASE)
    except docker.errors.APIError as exc:
        log(f"no registry ({_short(exc)}); building without one")
        return False
    return True


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    return text.splitlines()[0][:160]


def _docker_build(
    client: Any,
    *,
    context: Path,
    tag: str,
    labels: dict[str, str],
    buildargs: dict[str, str] | None,
    log: Log,
    log_file: Path,
) -> str:
    """Run a build through the Engine API, streaming its output to ``log_file``."""
    import docker.errors

    last: list[str] = []
    image_id = ""
    try:
        stream = client.api.build(
            path=str(context),
            tag=tag,
            rm=True,
            forcerm=True,
            labels=labels,
            buildargs=buildargs or {},
            decode=True,
        )
        with open(log_file, "a", encoding="utf-8") as out:
            for chunk in stream:
                if "error" in chunk:
                    last.append(str(chunk["error"]))
                    raise ImageBuildError(
                        f"docker build of {tag} failed: {chunk['error'].strip()}; last lines "
                        f"of {log_file}:\n" + "\n".join(last[-_BUILD_LOG_TAIL:])
                    )
                text = chunk.get("stream")
                if isinstance(text, str):
                    out.write(text)
                    last.extend(text.rstrip("\n").splitlines())
                    if text.startswith("Step "):
                        log(text.strip())
                aux = chunk.get("aux")
                if isinstance(aux, dict) and "ID" in aux:
                    image_id = str(aux["ID"])
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"docker build of {tag} failed: {_short(exc)}") from None
    return image_id


def build_image(
    client: Any,
    *,
    tag: str = DEFAULT_IMAGE,
    base: str = BASE_IMAGE,
    source: Path | None = None,
    how: str = "auto",
    rebuild_base: bool = False,
    mirror: str = DEBIAN_MIRROR,
    log: Log = lambda line: None,
) -> BuiltImage:
    """Build the byzlab image with the engine ``client`` (see the module docs); ``how`` is
    auto, registry or offline."""
    import docker.errors

    started = time.monotonic()
    root = source_root(source)
    labels = {
        SOURCE_LABEL: source_hash(root),
        "org.opencontainers.image.title": "byzlab",
        "org.opencontainers.image.source": "byzlab",
    }
    if how not in ("auto", "registry", "offline"):
        raise ImageBuildError(f"unknown build path {how!r}; use auto, registry or offline")
    if how == "auto":
        how = "registry" if _registry_reachable(client, log) else "offline"
    with tempfile.TemporaryDirectory(prefix="byzlab-image-") as tmp:
        work = Path(tmp)
        log_file = work / "build.log"
        if how == "registry":
            if not (root / "Dockerfile").is_file():
                raise ImageBuildError(f"{root / 'Dockerfile'} is missing")
            log(f"docker build of {root} from {REGISTRY_BASE}")
            _docker_build(
                client,
                context=root,
                tag=tag,
                labels=labels,
                buildargs=None,
                log=log,
                log_file=log_file,
            )
            distributions: tuple[str, ...] = (*RUNTIME_DISTRIBUTIONS, NATIVE_DISTRIBUTION)
        else:
            context = work / "context"
            wheels = build_wheels(root, context / "wheels", log=log, log_file=log_file)
            native = build_native_wheel(root, context / "wheels", log=log, log_file=log_file)
            if native:
                wheels = sorted(p.name for p in (context / "wheels").glob("*.whl"))
            distributions = tuple(_wheel_names(wheels))
            if rebuild_base or not _image_exists(client, base):
                build_base(
                    client, tag=base, mirror=mirror, log=log, log_file=log_file, workdir=work
                )
            else:
                log(f"base image {base} is cached (--rebuild-base rebuilds it)")
            (context / "Dockerfile").write_text(generated_dockerfile(base, native=native))
            log(f"docker build of {tag} from {base} with {len(wheels)} wheels")
            _docker_build(
                client,
                context=context,
                tag=tag,
                labels=labels,
                buildargs=None,
                log=log,
                log_file=log_file,
            )
        # The legacy builder keeps each build stage as an untagged image (400 MB here), and
        # the previous byzlab image loses its tag; nothing reuses either, since the wheels
        # change with every source change.
        for label in (BUILD_STAGE_LABEL, SOURCE_LABEL):
            with contextlib.suppress(docker.errors.APIError):
                client.images.prune(filters={"label": label, "dangling": True})
        image = client.images.get(tag)
        return BuiltImage(
            tag=tag,
            image_id=image.id,
            size_bytes=int(image.attrs["Size"]),
            path=how,
            distributions=distributions,
            seconds=time.monotonic() - started,
        )


def _wheel_names(files: Iterable[str]) -> list[str]:
    """ "numpy 2.4.6" for each wheel file name."""
    out = []
    for name in files:
        parts = name.split("-")
        if len(parts) >= 2:
            out.append(f"{parts[0]} {parts[1]}")
    return out


# --------------------------------------------------------------------------- health check


def health(environ: dict[str, str] | None = None, *, proc: Path = Path("/proc")) -> str | None:
    """None if this container is healthy, else the reason (see the module docs)."""
    env = os.environ if environ is None else environ
    try:
        stat = (proc / "1" / "stat").read_text()
        cmdline = (
            (proc / "1" / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError as exc:
        return f"cannot read the main process's state: {exc.strerror or exc}"
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    if state in ("Z", "X"):
        return f"the main process ({cmdline.strip()}) has exited"
    path = env.get("BYZLAB_HEALTH_FILE")
    if path:
        max_age = float(env.get("BYZLAB_HEALTH_MAX_AGE_S", "30"))
        try:
            age = time.time() - os.stat(path).st_mtime
        except FileNotFoundError:
            return f"{path} does not exist yet"
        if age > max_age:
            return f"{path} was last written {age:.0f} s ago (more than {max_age:g} s)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m byzlab.orchestration.image health|requirements PYPROJECT``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["health"]:
        problem = health()
        print("healthy" if problem is None else f"unhealthy: {problem}")
        return 0 if problem is None else 1
    if len(args) == 2 and args[0] == "requirements":
        try:
            print("\n".join(runtime_requirements(Path(args[1]))))
        except ImageBuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    print(
        "usage: python -m byzlab.orchestration.image health | requirements PYPROJECT",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
