"""Atomic file writes: a reader (or a crash) never sees a half-written file.

A leaf module: the node process, the proxy and the orchestrator write their JSON files
(results, statistics, markers) with it without importing each other.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data`: write a temporary file created with the final mode (so a
    private key is never world-readable, not even briefly), fsync it, then rename it.

    An ``OSError`` names ``path``: a failed ``os.write`` (a full disk, EFBIG) carries no
    file name, and the temporary file's name is not the one a person looks for."""
    try:
        _write(path, data, mode)
    except OSError as exc:
        if exc.errno is None or exc.filename == str(path):
            raise
        raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have removed bits we want (e.g. 0644)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, UTF-8 encoded."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: object) -> None:
    """Replace ``path`` with ``obj`` as indented JSON, keys sorted (the results' format)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def compact_json(obj: object) -> bytes:
    """JSON as ``atomic_write_json`` writes it, but compact: ``indent`` makes the json
    module fall back to its pure-Python encoder, ten times slower, which matters for files
    written while a run is going (a node's result at halting, the proxy's statistics)."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


def read_json(path: Path) -> Any:
    """The JSON value in ``path``, or None if the file does not exist (yet)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
