"""A node process's trace: its events as JSON lines, bounded per event, complete or absent.

Lines go to disk as they happen (memory stays flat however long the run), and the final
rename makes ``trace.jsonl`` appear complete or not at all. At most ``cap`` lines are kept
per event name, so a flood of hostile frames cannot grow the trace without bound; the
suppressed ones are counted in a last ``trace-summary`` line.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

__all__ = ["TRACE_CAP", "TraceWriter"]

TRACE_CAP = 200  # trace lines kept per event name; the rest are only counted


class TraceWriter:
    """Per-node trace as JSON lines, written to a temporary file and renamed at ``close``."""

    def __init__(self, path: Path, *, cap: int = TRACE_CAP) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._fh: IO[str] | None = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115
        self.cap = cap
        self.counts: Counter[str] = Counter()

    def event(self, name: str, **data: Any) -> None:
        self.counts[name] += 1
        if self._fh is None or self.counts[name] > self.cap:
            return
        record = {"t": time.time(), "event": name, **data}
        self._fh.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        suppressed = {k: v - self.cap for k, v in self.counts.items() if v > self.cap}
        record = {
            "t": time.time(),
            "event": "trace-summary",
            "counts": dict(self.counts),
            "suppressed": suppressed,
        }
        fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(self._tmp, self.path)
