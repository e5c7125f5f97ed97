"""Argument checks and array types shared by the committee modules.

Each check raises ``ValueError`` naming the argument and what it must be. The stake checks also
fix the representation the later computations rely on: exact Python integers for the verifiable
draw (its prefix sums must be exact on every machine), exact rationals for Fait Accompli.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MAX_TOTAL_STAKE_BITS = 256


def _as_alpha(alpha: npt.ArrayLike, name: str = "alpha") -> FloatArray:
    try:
        arr = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of positive numbers") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite; got {arr.tolist()}")
    return arr


def _check_int(value: object, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {rng}; got {v}")
    return v


def _check_k(k: object, name: str = "k") -> int:
    return _check_int(k, name, 1)


def _check_eps(eps: float) -> float:
    e = float(eps)
    if not (math.isfinite(e) and 0.0 < e < 1.0):
        raise ValueError(f"eps must be in the open interval (0, 1); got {eps!r}")
    return e


def _check_f(f: object, n: int) -> int:
    if isinstance(f, bool) or not isinstance(f, numbers.Integral):
        raise ValueError(f"f must be an integer number of participants; got {f!r}")
    fi = int(f)
    if not 1 <= fi <= n:
        raise ValueError(f"f must be in [1, n] with n = len(alpha) = {n}; got {fi}")
    return fi


def _as_int_stakes(stakes: Sequence[int] | npt.ArrayLike) -> list[int]:
    """Exact integer stakes (Python ints) for the verifiable draw."""
    if isinstance(stakes, np.ndarray):
        if stakes.ndim != 1 or not np.issubdtype(stakes.dtype, np.integer):
            raise ValueError(
                "stakes must be a 1-D array of integers (the draw uses exact prefix sums)"
            )
        values = [int(v) for v in stakes.tolist()]
    else:
        if isinstance(stakes, str | bytes):
            raise ValueError("stakes must be a sequence of integers")
        try:
            items = list(stakes)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError("stakes must be a sequence of integers") from exc
        values = []
        for v in items:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ValueError(
                    f"stakes must be integers (the draw uses exact prefix sums); got {v!r}"
                )
            values.append(int(v))
    if not values:
        raise ValueError("stakes must be non-empty")
    if any(v < 0 for v in values):
        raise ValueError("stakes must be non-negative")
    total = sum(values)
    if total <= 0:
        raise ValueError("stakes must have a positive total")
    if total.bit_length() > _MAX_TOTAL_STAKE_BITS:
        raise ValueError(f"total stake must be below 2^{_MAX_TOTAL_STAKE_BITS}")
    return values


def _as_real_stakes(stakes: npt.ArrayLike) -> list[Fraction]:
    """Stakes as exact rationals (floats convert exactly), for the Fait Accompli rule."""
    arr = np.asarray(stakes)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("stakes must be a non-empty 1-D array")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError("stakes must be numeric")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError("stakes must be finite")
    out = [Fraction(v) for v in arr.tolist()]
    if any(v < 0 for v in out):
        raise ValueError("stakes must be non-negative")
    if sum(out) <= 0:
        raise ValueError("stakes must have a positive total")
    return out


def _check_seed_bytes(seed: bytes) -> bytes:
    if not isinstance(seed, bytes | bytearray):
        raise ValueError("seed must be bytes")
    if not 16 <= len(seed) <= 64:
        raise ValueError(f"seed must be 16..64 bytes long; got {len(seed)}")
    return bytes(seed)


def _descending_order(values: Sequence[float] | Sequence[Fraction]) -> list[int]:
    """Indices sorted by value descending; ties keep input order (deterministic)."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))
