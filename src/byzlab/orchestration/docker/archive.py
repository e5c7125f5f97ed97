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

__all__ = ["CONTAINER_UID", "DATA", "read_file", "tar_files", "untar"]

CONTAINER_UID = 10001  # the image's user (image.py)
DATA = "/data"  # the image's working directory, owned by that user


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
