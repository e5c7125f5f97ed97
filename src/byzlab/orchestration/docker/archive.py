"""Files into and out of containers as tar archives (``put_archive``/``get_archive``).

Copying instead of bind-mounting a host directory needs no agreement between host and
container user ids and works the same with a remote engine (``DOCKER_HOST=tcp://...``).
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from byzlab.atomicio import atomic_write_bytes

__all__ = [
    "CONTAINER_UID",
    "DATA",
    "PLUGIN_DIR",
    "plugin_tree",
    "read_file",
    "tar_files",
    "untar",
]

CONTAINER_UID = 10001  # the image's user (image.py)
DATA = "/data"  # the image's working directory, owned by that user
PLUGIN_DIR = f"{DATA}/plugins"  # the run's plugin code, on the containers' PYTHONPATH


def tar_files(files: dict[str, tuple[bytes | None, int]]) -> bytes:
    """A tar archive of ``{path: (content or None for a directory, mode)}``, owned by the
    container user, for ``put_archive``."""
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (content, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.uid = info.gid = CONTAINER_UID
            info.uname = info.gname = "byzlab"
            info.mode = mode
            info.mtime = int(now)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def plugin_tree(files: dict[str, bytes]) -> dict[str, tuple[bytes | None, int]]:
    """Plugin files (path relative to an import root -> content) as ``tar_files`` entries
    under ``plugins/`` (``PLUGIN_DIR`` once put in ``DATA``), every directory included, all
    readable by the container user and none writable."""
    tree: dict[str, tuple[bytes | None, int]] = {}
    for name, content in sorted(files.items()):
        parts = name.split("/")
        for k in range(len(parts)):
            tree.setdefault("/".join(["plugins", *parts[:k]]), (None, 0o555))
        tree[f"plugins/{name}"] = (content, 0o444)
    return tree


def untar(chunks: Iterable[bytes], dest: Path) -> None:
    """Extract a ``get_archive`` stream into ``dest`` (regular files and directories only)."""
    data = b"".join(chunks)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if not target.is_relative_to(dest.resolve()):
                continue  # never write outside dest, whatever the archive says
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = tar.extractfile(member)
                if source is not None:
                    atomic_write_bytes(target, source.read())


def read_file(container: Any, path: str) -> bytes | None:
    """One file's bytes from a container, or None if it does not exist (yet)."""
    import docker.errors

    try:
        chunks, _ = container.get_archive(path)
        data = b"".join(chunks)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for member in tar.getmembers():
            if member.isfile():
                source = tar.extractfile(member)
                return source.read() if source is not None else None
    return None
