"""How a node on another host reports back: its outputs, written to its own log at exit.

A swarm task runs on whichever host the swarm chose, and the orchestrator may only reach the
manager's engine. What every manager can do is stream any task's log from its host
(``docker service logs``), so the node's outputs travel that way: the task's command is this
file, run as a script (``python /run/byzlab/report.py OUT_DIR -- COMMAND...``), which runs the
node process, passes SIGTERM and SIGINT on to it, and once it has exited writes ``OUT_DIR``
(``result.json`` and ``trace.jsonl``) to stdout as a gzipped tar archive in base64, between
two marker lines, and exits with the node's exit status. The orchestrator reads the service's
log after the task ended and splits it (``split_log``) into the node's own log lines and the
archive.

The script half uses the standard library only: it is uploaded as a swarm config and run by
the image's Python, so it needs nothing from the image beyond Python (an image built before
this module existed runs it too).
"""

from __future__ import annotations

import base64
import binascii
import io
import signal
import subprocess
import sys
import tarfile
from types import FrameType

__all__ = ["BEGIN", "END", "main", "split_log"]

BEGIN = "----- byzlab outputs begin -----"
END = "----- byzlab outputs end -----"


def _archive(out_dir: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(out_dir, arcname=".")
    return buf.getvalue()


def main(argv: list[str]) -> int:
    """``OUT_DIR -- COMMAND...``: run COMMAND, then write OUT_DIR to stdout (module docs)."""
    out_dir, separator, *command = argv
    if separator != "--" or not command:
        print("usage: report.py OUT_DIR -- COMMAND...", file=sys.stderr)
        return 2
    child = subprocess.Popen(command)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    try:
        archive = _archive(out_dir)
    except OSError as exc:  # no outputs (the node failed early): its log says why
        print(f"report.py: no outputs in {out_dir}: {exc}", file=sys.stderr)
        return code
    sys.stdout.write(f"{BEGIN}\n{base64.encodebytes(archive).decode()}{END}\n")
    sys.stdout.flush()
    return code


def split_log(log: bytes) -> tuple[bytes, bytes | None]:
    """A task's log -> (the node's own log, the outputs archive or None if it has none)."""
    text = log.decode(errors="replace")
    head, begin, rest = text.partition(BEGIN + "\n")
    body, end, tail = rest.partition(END + "\n")
    if not begin or not end:
        return log, None
    try:
        archive = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return log, None
    return (head + tail).encode(), archive


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
