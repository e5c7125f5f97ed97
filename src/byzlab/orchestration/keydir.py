"""A run's private keys: outside the results tree, and removed however the run ends.

Theory of operation
-------------------
Private keys are worthless after their run (the run id is bound into every link key) and
have no business in ``results/``, which people copy, archive and share. So a run's keys
never go there: ``PrivateKeyDir.create`` makes a private directory (mode 0700, ``mkdtemp``)
under ``/dev/shm`` when it is a writable directory, so the keys stay in memory and never
reach a disk, else under the system temporary directory. ``results/<run-id>/`` gets only
the public roster.

Three things remove the directory:

* the orchestrator, through ``remove()``, on every exit it lives through (success, failure,
  an I/O error, Ctrl-C, SIGTERM);
* a *janitor* process, started before the first key is written, for the exit it does not
  live through (SIGKILL, an OOM kill, a crash of the interpreter). The janitor blocks
  reading a pipe whose write end only the orchestrator holds (it is not inherited by any
  other child: Python's pipes are close-on-exec). When the orchestrator dies the kernel
  closes that end, the janitor reads end-of-file, removes the directory and exits. It
  ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C to the terminal's process group must not
  stop it before its job is done) and runs in its own session. While it lives it holds an
  exclusive ``flock`` on the directory, so anyone can wait for the removal by taking that
  lock (the tests do);
* the processes that read the keys die with the orchestrator (``PR_SET_PDEATHSIG`` in the
  local backend; containers are removed by ``byzlab docker clean``), so nothing needs the
  keys after it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["PrivateKeyDir"]

_JANITOR = r"""
import fcntl, os, shutil, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
d = sys.argv[1]
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(1, b"ready\n")
while os.read(0, 4096):
    pass
shutil.rmtree(d, ignore_errors=True)
"""


def _base_dir() -> str | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None  # tempfile's default


class PrivateKeyDir:
    """A private directory for one run's keys, with its janitor (see the module docs)."""

    def __init__(self, path: Path, janitor: subprocess.Popen[bytes] | None) -> None:
        self.path = path
        self._janitor = janitor

    @classmethod
    def create(cls, run_id: str, *, python: str | None = None) -> PrivateKeyDir:
        path = Path(tempfile.mkdtemp(prefix=f"byzlab-keys-{run_id}-", dir=_base_dir()))
        try:
            janitor = subprocess.Popen(
                [python or sys.executable, "-I", "-S", "-c", _JANITOR, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            assert janitor.stdout is not None
            if janitor.stdout.readline() != b"ready\n":
                janitor.wait()
                raise OSError(
                    f"the key janitor for {path} did not start (exit status {janitor.returncode})"
                )
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return cls(path, janitor)

    @property
    def janitor_pid(self) -> int | None:
        return None if self._janitor is None else self._janitor.pid

    def remove(self) -> None:
        """Remove the directory and let the janitor go (idempotent)."""
        shutil.rmtree(self.path, ignore_errors=True)
        janitor, self._janitor = self._janitor, None
        if janitor is None:
            return
        for stream in (janitor.stdin, janitor.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        janitor.wait()  # it exits on end-of-file; reap it

    def __enter__(self) -> PrivateKeyDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
