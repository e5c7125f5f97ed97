"""Argument checks shared by the sidecar models: each error names the bad argument."""

from __future__ import annotations

import math

import numpy as np


def _finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _positive(name: str, value: float) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _nonneg(name: str, value: float) -> float:
    v = _finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _count(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _probability(name: str, value: float, *, open_zero: bool = False) -> float:
    v = _finite(name, value)
    if not (0.0 < v <= 1.0 if open_zero else 0.0 <= v <= 1.0):
        interval = "(0, 1]" if open_zero else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v
