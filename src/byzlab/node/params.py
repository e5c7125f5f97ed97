"""Protocol parameters: HPZ Theorem 15 shapes and practical scaled-down defaults.

Notation follows HPZ §3: n players, f < n/3 Byzantine, eps = n/f - 3, so n = (3 + eps) f.
Odd blackboards have m0 = ceil(sqrt(m c ln n)) rows and even ones m rows (§3.1); column sums
are clipped at Xmax = m0. An epoch has T iterations; beta = m sqrt(T (c ln n)^3) is the
good-good correlation bound of Lemma 5(1); w_min = sqrt(n)/T is the rounding threshold of
Algorithm 3; after K_max = 3f epochs plus one without agreement, weights restart (Thm 15).

`Params.theory` uses the asymptotic shapes of Theorem 15 with all hidden constants equal to 1:
m = n ln n / eps^4 and T = n^2 ln^3 n / eps^4. They are faithful but large (n = 7 already
needs m = 218). `Params.practical` keeps every formula but picks small m and T so that a run
finishes in seconds; both are overridable, and every result records the parameters it used.

Derived constants that involve `log` are computed once here and then travel with the run, so
that every node of a run uses bit-identical values even if libm differs between machines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any


class ParamsError(ValueError):
    """A parameter set that the protocol cannot run with; the message names the field."""


@dataclass(frozen=True, kw_only=True)
class Params:
    n: int
    f: int
    m: int
    T: int
    c: float = 1.0
    m0: int = 0
    xmax: int = 0
    k_max: int = 0
    beta: float = 0.0
    w_min: float = 0.0
    eps: float = 0.0
    window: int = 4096
    preset: str = field(default="custom")

    def __post_init__(self) -> None:
        _check_int("n", self.n, minimum=4)
        _check_int("f", self.f, minimum=1)
        if 3 * self.f >= self.n:
            raise ParamsError(
                f"f={self.f} is too large for n={self.n}: Byzantine agreement needs f < n/3 "
                f"(the largest allowed f is {(self.n - 1) // 3})"
            )
        _check_int("m", self.m, minimum=1)
        _check_int("T", self.T, minimum=1)
        _check_int("window", self.window, minimum=16)
        if not (isinstance(self.c, int | float) and math.isfinite(self.c) and self.c > 0):
            raise ParamsError(f"c must be a positive finite number, got {self.c!r}")
        ln_n = math.log(self.n)
        derived = {
            "eps": self.n / self.f - 3.0,
            "m0": max(1, math.ceil(math.sqrt(self.m * self.c * ln_n))),
            "k_max": 3 * self.f,
            "beta": self.m * math.sqrt(self.T * (self.c * ln_n) ** 3),
            "w_min": math.sqrt(self.n) / self.T,
        }
        derived["xmax"] = derived["m0"]
        for name, value in derived.items():
            current = getattr(self, name)
            if not current:
                object.__setattr__(self, name, value)
        for name in ("m0", "xmax", "k_max"):
            _check_int(name, getattr(self, name), minimum=1)

    @classmethod
    def theory(cls, n: int, f: int, c: float = 1.0, **overrides: Any) -> Params:
        """HPZ Theorem 15: m = n ln n / eps^4, T = n^2 ln^3 n / eps^4 (constants set to 1)."""
        _check_int("n", n, minimum=4)
        _check_int("f", f, minimum=1)
        if 3 * f >= n:
            raise ParamsError(f"f={f} is too large for n={n}: need f < n/3")
        eps = n / f - 3.0
        ln_n = math.log(n)
        m = max(1, math.ceil(n * ln_n / eps**4))
        t = max(1, math.ceil(n**2 * ln_n**3 / eps**4))
        return cls(**{"n": n, "f": f, "m": m, "T": t, "c": c, "preset": "theory", **overrides})

    @classmethod
    def practical(cls, n: int, f: int | None = None, **overrides: Any) -> Params:
        """Small defaults that finish in seconds: m = 8 rows, T = 8 iterations per epoch."""
        if f is None:
            f = max(1, (n - 1) // 3)
        base: dict[str, Any] = {"n": n, "f": f, "m": 8, "T": 8, "c": 1.0, "preset": "practical"}
        base.update(overrides)
        return cls(**base)

    @property
    def quorum(self) -> int:
        """n - f: how many validated messages every step waits for."""
        return self.n - self.f

    def rows(self, board: int) -> int:
        """Rows of blackboard `board`: m0 for odd boards (bias), m for even ones (coins)."""
        return self.m0 if board % 2 == 1 else self.m

    def epoch_of(self, iteration: int) -> int:
        """Epoch k in 1..K_max+1 within the current restart cycle (Theorem 15's restart)."""
        return (iteration - 1) // self.T % (self.k_max + 1) + 1

    def with_overrides(self, **overrides: Any) -> Params:
        """A copy with some fields replaced; derived fields are recomputed unless given."""
        keep = {k: v for k, v in asdict(self).items() if k not in _DERIVED}
        keep.update(overrides)
        keep.setdefault("preset", "custom")
        return replace(self, **{**{k: 0 for k in _DERIVED}, **keep})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_DERIVED = ("m0", "xmax", "k_max", "beta", "w_min", "eps")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParamsError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ParamsError(f"{name} must be at least {minimum}, got {value}")
