"""The native engine's extension, if it is built: `byzlab_native`, or the reason it is not.

The engine is a Rust crate (``native/``, PyO3 and maturin) shipped as its own distribution,
``byzlab-native``, so that ``pip install -e .`` never needs a Rust toolchain: byzlab runs on
its Python engine without it, and says once why (docs/native.md). This leaf module is the one
place that imports the extension; everything else asks `extension()` and `missing_reason()`.
The Python implementation stays the specification: the extension reproduces it bit for bit
(CPython's Mersenne Twister streams included), and tests/test_native*.py hold the two
engines to identical trace hashes.
"""

from __future__ import annotations

import random
import sys
from types import ModuleType
from typing import Any, Final

ENGINES: Final = ("python", "native")

_module: ModuleType | None = None
_reason: str | None = None
try:
    # built or not, typed or not: the extension is used through `Any`
    import byzlab_native as _imported  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError as exc:  # the distribution is optional: no Rust, no extension
    _reason = (
        f"the native engine is not built ({exc}); scripts/install builds it when cargo is installed"
    )
else:
    _module = _imported
_warned = False


def extension() -> ModuleType | None:
    """The extension module, or None when it is not built."""
    return _module


def missing_reason() -> str | None:
    """Why the extension is unavailable, in one line, or None when it is built."""
    return _reason


def warn_once(reason: str) -> None:
    """Say on stderr, once per process, why a run falls back to the Python engine."""
    global _warned
    if not _warned:
        _warned = True
        print(f"byzlab: running the Python engine: {reason}", file=sys.stderr)


def mt_state(rng: random.Random) -> list[int]:
    """The Mersenne Twister state of `rng` as the extension takes it: 624 words and the
    position (``getstate()[1]``), so a native stream continues where `rng` stands."""
    return list(rng.getstate()[1])


def seed_key(seed: int) -> list[int]:
    """The key ``random.seed(seed)`` feeds MT19937's ``init_by_array``: the little-endian
    32-bit words of |seed| (one zero word for 0), as CPython computes it."""
    value = abs(seed)
    words = []
    while value:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
    return words or [0]


def native_random(seed: int) -> Any:
    """The extension's `Random` seeded as ``random.Random(seed)`` (the extension must be
    built)."""
    if _module is None:
        raise RuntimeError(_reason)
    return _module.Random.from_key(seed_key(seed))
