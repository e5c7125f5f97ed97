"""What every benchmark shares: its context (options, scratch space, progress), the figures
and sections it returns, medians, and the description of the machine it ran on."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byzlab import __version__
from byzlab.bench.realrun import Variant, one_hop_delay
from byzlab.orchestration.results import git_commit

__all__ = ["BENCHMARKS", "Context", "Figure", "Section", "environment", "median", "number"]

# Benchmark keys in the order they run; runner.py maps them to modules.
BENCHMARKS = (
    "sim",
    "transport",
    "latency",
    "scaling",
    "limits",
    "memory",
    "engines",
    "messages",
    "messages-real",
)
BACKENDS = ("sim", "local", "docker")


def number(value: object) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, infinite, NaN, bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def median(values: Iterable[object]) -> float | None:
    """The median of the numeric values (None, NaN and the like left out), or None."""
    kept = [v for v in (number(x) for x in values) if v is not None]
    return statistics.median(kept) if kept else None


@dataclass
class Figure:
    """One headline figure: its value, the target it is held to, and whether it meets it.

    ``met`` is None where there is no target or it cannot be judged (e.g. ``--quick`` sizes
    far below the target's)."""

    name: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Section:
    """What one benchmark returns: figures for the table, and every number for the JSON.

    ``medians`` maps a flat key to the median of the runs in ``samples`` under the same key;
    ``rows`` holds the structured per-configuration detail (with every sample)."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    medians: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, list[float | None]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def record(self, key: str, values: Sequence[float | int | None]) -> float | None:
        """Keep every sample under ``key`` and return (and keep) their median."""
        self.samples[key] = [number(v) for v in values]
        self.medians[key] = median(values)
        return self.medians[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "figures": [f.to_json() for f in self.figures],
            "medians": self.medians,
            "samples": self.samples,
            "rows": self.rows,
            "notes": self.notes,
            **self.extra,
            "plots": self.plots,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass
class Context:
    """The options of one `byzlab bench` invocation, shared by every benchmark."""

    quick: bool
    repeats: int
    out: Path
    tmp: Path
    budget_s: float
    backends: tuple[str, ...]
    variants: list[Variant]
    step: Callable[[str], None] = lambda text: None
    _hops: dict[str, float] = field(default_factory=dict)

    @property
    def failed_runs(self) -> Path:
        """Where real runs that did not agree are kept (the rest go with ``tmp``)."""
        return self.out / "bench-failed-runs"

    @property
    def timeout_s(self) -> float:
        """Timeout of the real runs that are not size-limit attempts (those get the budget):
        generous, so that a loaded machine (CI) slows them down without failing them."""
        return max(self.budget_s, 120.0)

    def sizes(self, quick: Sequence[int], full: Sequence[int]) -> list[int]:
        return list(quick if self.quick else full)

    def one_hop_s(self, variant: Variant) -> float:
        """Median one-hop delay node -> proxy -> node for this variant (measured once)."""
        if variant.name not in self._hops:
            self.step(f"one-hop delay ({variant.name})")
            rounds = 100 if self.quick else 400
            with variant.active():
                self._hops[variant.name] = (
                    median(one_hop_delay(self.tmp, rounds) for _ in range(self.repeats)) or 0.0
                )
        return self._hops[variant.name]

    def variant_label(self, variant: Variant, text: str) -> str:
        """``text``, prefixed with the variant's name when a baseline is measured too."""
        return text if len(self.variants) == 1 else f"[{variant.name}] {text}"


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    value = getattr(mod, "__version__", None) or getattr(mod, "version", None)
    if isinstance(value, tuple):
        return ".".join(map(str, value))
    return str(value) if value is not None else None


def environment() -> dict[str, Any]:
    """The machine and software the figures were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "git_commit": git_commit(),
        "byzlab": __version__,
        "packages": {m: _version(m) for m in ("numpy", "msgpack", "nacl", "uvloop", "scipy")},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
