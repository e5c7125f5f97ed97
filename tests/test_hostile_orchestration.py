"""The orchestrator under attack: killed half way, a results tree it cannot write, a run that
cannot fit in memory. Every test runs a real `byzlab run` process (and its children).

What a killed orchestrator leaves (local backend, SIGKILL mid-run): under
``results/<run-id>/`` the files written so far, each whole, with ``INCOMPLETE.json``
(``scenario.toml``, ``work/`` with the configs, public roster, logs and pids, and the nodes'
own results, written on the SIGTERM that ``PR_SET_PDEATHSIG`` gives them); no private key,
ever: those live in a private directory outside the results tree (``key_dir`` in each
node's config) that a janitor process removes when the orchestrator's end of its pipe
closes, however the orchestrator died.

Tests run as root here, so a ``chmod``-ed directory proves nothing. An unwritable results
path is one under a regular file (ENOTDIR) or on a read-only tmpfs (EROFS, where mounting
is allowed); a full disk is ``RLIMIT_FSIZE`` set in the orchestrator's process (EFBIG, for
it and for every process it starts). Root cannot write through any of these.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from byzlab.orchestration.results import INCOMPLETE_FILE

BYZLAB = str(Path(sys.executable).with_name("byzlab"))
EXIT_IO = 4  # `byzlab run`: an I/O error (the path and the errno on stderr)
EXIT_REFUSED = 2  # `byzlab run`: refused before starting (here: not enough memory)
SLOW = '[run]\nn = 4\nseed = 1\n[adversary]\nscheduler = "fifo"\ndelta_s = 1.0\n'


def private_keys_under(root: Path) -> list[Path]:
    """Every file under ``root`` that holds a private key (by name or by content)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and (path.suffix == ".key" or b'"private_key"' in path.read_bytes()):
            found.append(path)
    return found


PROGRESS = re.compile(r"connected \d+/\d+ +decided \d+/\d+ +halted \d+/\d+")


def one_error_line(stderr: str) -> str:
    """Apart from progress lines, stderr is exactly one line: no traceback."""
    lines = [
        line
        for line in stderr.splitlines()
        if line.strip() and not PROGRESS.fullmatch(line.strip())
    ]
    assert "Traceback" not in stderr and len(lines) == 1, stderr[-3000:]
    return lines[0]


def pid_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def wait_until_janitor_done(key_dir: Path) -> None:
    """The janitor holds an exclusive flock on the key directory until it has removed it:
    taking the lock waits for exactly that (no clock involved)."""
    try:
        fd = os.open(key_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


# --------------------------------------------------------------------------- SIGKILL


def test_sigkilled_orchestrator_leaves_no_private_key(tmp_path: Path) -> None:
    """SIGKILL to `byzlab run` mid-run: no private key under results/, and the private key
    directory outside it is gone once the janitor saw the orchestrator die."""
    scenario = tmp_path / "slow.toml"
    scenario.write_text(SLOW)  # delta_s = 1 s under FIFO: the run cannot end before the kill
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [BYZLAB, "run", str(scenario), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    pids: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(out.glob("*/work/pids.json"))
            stats = list(out.glob("*/work/proxy/stats.json"))
            if found and stats:
                pids = json.loads(found[0].read_text())
                if len([p for p in pids if p.startswith(("node-", "proxy"))]) == 5 and json.loads(
                    stats[0].read_text()
                ).get("started"):
                    break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        assert found and pids, f"the run never started: {pids} (seed=1)"
        run_dir = found[0].parent.parent
        key_dir = Path(
            json.loads((run_dir / "work" / "nodes" / "0" / "node.json").read_text())["key_dir"]
        )
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert private_keys_under(out) == [], f"private keys left in the results tree ({run_dir})"
    assert not key_dir.resolve().is_relative_to(out.resolve()), key_dir
    wait_until_janitor_done(key_dir.parent)
    assert not key_dir.parent.exists(), f"private key directory left behind: {key_dir}"
    # What remains: a run directory that says it is incomplete.
    assert (run_dir / INCOMPLETE_FILE).is_file() and not (run_dir / "summary.json").exists()
    # No orphans either (PR_SET_PDEATHSIG); waiting, not timing: the bound only ends a hang.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(pid_gone(p) for p in pids.values()):
        time.sleep(0.05)
    assert [name for name, pid in pids.items() if not pid_gone(pid)] == [], run_dir


# --------------------------------------------------------------------------- unwritable


def test_results_path_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the results directory should be\n")
    out = blocker / "results"
    proc = subprocess.run(
        [BYZLAB, "run", "--out", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    line = one_error_line(proc.stderr)
    assert proc.returncode == EXIT_IO, (proc.returncode, line)
    assert str(out) in line and "ENOTDIR" in line, line


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def test_read_only_results_directory_is_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        out = ro / "results"
        proc = subprocess.run(
            [BYZLAB, "run", "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        line = one_error_line(proc.stderr)
        assert proc.returncode == EXIT_IO, (proc.returncode, line)
        assert str(out) in line and "EROFS" in line, line


def test_disk_full_before_the_first_file_leaves_nothing(tmp_path: Path) -> None:
    """Not even INCOMPLETE.json fits (RLIMIT_FSIZE = 100 bytes): one line naming it, and no
    run directory at all (an empty one would look like a run that never said anything)."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [BYZLAB, "run", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limit_file_size(100),
    )
    line = one_error_line(proc.stderr)
    assert proc.returncode == EXIT_IO, (proc.returncode, line)
    assert INCOMPLETE_FILE in line and "EFBIG" in line, line
    assert not out.exists() or list(out.iterdir()) == [], list(out.rglob("*"))


def test_disk_full_mid_run_is_one_line_and_leaves_an_incomplete_run(tmp_path: Path) -> None:
    """RLIMIT_FSIZE = 1 KiB for the orchestrator and its children: the small files fit,
    summary.json (about 2 KiB) does not. One line with the path and EFBIG; the run
    directory says it is incomplete; no .tmp file, no empty copy of a trace, no key."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [BYZLAB, "run", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=limit_file_size(1024),
    )
    line = one_error_line(proc.stderr)
    assert proc.returncode == EXIT_IO, (proc.returncode, proc.stderr[-3000:])
    assert "EFBIG" in line and str(out) in line, line
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    run_dir = runs[0]
    assert (run_dir / INCOMPLETE_FILE).is_file() and not (run_dir / "summary.json").exists()
    leftovers = [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers
    empty = [
        p
        for p in run_dir.rglob("*")
        if p.is_file() and p.stat().st_size == 0 and "logs" not in p.parts
    ]
    assert empty == [], empty
    assert private_keys_under(run_dir) == []


# --------------------------------------------------------------------------- memory


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no MemAvailable in /proc/meminfo")
    raise AssertionError  # unreachable


def test_a_run_that_cannot_fit_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """n = 1024 on local processes needs about 54 GiB (1023 nodes of ~53 MiB each); where
    that is more than MemAvailable the run is refused in one line with exit status 2, and
    nothing is written or started: the results directory never appears."""
    n = 1024
    if mem_available_mib() > n * 53 * 2:
        pytest.skip("this machine could host n = 1024 node processes")
    scenario = tmp_path / "huge.toml"
    scenario.write_text(f'[run]\nn = {n}\nseed = 1\n[adversary]\nscheduler = "fifo"\n')
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [BYZLAB, "run", str(scenario), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A refusing orchestrator never creates `out`; one that does is starting the run
        # (the bug): stop it at once rather than let it eat the machine's memory.
        while proc.poll() is None:
            if out.exists():
                proc.kill()
                proc.communicate()
                pytest.fail(f"the run was started (results in {out}) instead of refused")
            time.sleep(0.02)
        _, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    line = one_error_line(err)
    assert proc.returncode == EXIT_REFUSED, (proc.returncode, line)
    assert "MemAvailable" in line and "GiB" in line and "--force" in line, line
    assert not out.exists()
