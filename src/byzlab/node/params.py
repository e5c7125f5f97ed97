"""Protocol parameters: HPZ Theorem 15 shapes, the proofs' margins, and practical defaults.

Notation follows HPZ §3: n players, f < n/3 Byzantine, eps = n/f - 3, so n = (3 + eps) f.
Odd blackboards have m0 = ceil(sqrt(m c ln n)) rows and even ones m rows (§3.1); column sums
are clipped at Xmax = m0. An epoch has T iterations; beta = m sqrt(T (c ln n)^3) is the
good-good correlation bound of Lemma 5(1); w_min = sqrt(n)/T is the rounding threshold of
Algorithm 3; after K_max = 3f epochs plus one without agreement, weights restart (Thm 15).

Presets
-------
* ``Params.practical``: every formula, but small m = T = 8 so that a run finishes in seconds.
* ``Params.theory``: the asymptotic shapes of Theorem 15 with every hidden constant equal to
  1: m = n ln n / eps^4 and T = n^2 ln^3 n / eps^4. Faithful shapes, but with constants 1 the
  lemmas' inequalities do not hold at any n (see ``margins``), so its results are flagged
  ``outside_regime``.
* ``Params.proof``: the smallest m and T for which the inequalities in the proofs of
  Lemmas 5(2) and 12 hold with their explicit constants (derivation in ``proof_shape``).
  It fits the row limit only at n = 4..6 with f = 1 (eps >= 1 > 1/2 there, so the results
  are still flagged: outside the paper's eps range): n = 4, f = 1 needs m = 5,696, T = 10,924
  (m0 = 89); n = 7, f = 2 needs m = 223,175, T = 546,005 and n = 10, f = 3 needs
  m = 1,910,725, T = 5,415,432, which exceed the row limit and are refused. No parameter set
  within the limits is inside the proven regime.

The proofs' margins (``Params.margins``, recorded with every result)
---------------------------------------------------------------------
With L = c ln n, eps = n/f - 3, |G| = n - f good and |B| = f bad players (the most the
adversary may hold):

* Lemma 5(2). The proof shows, w.h.p., -sum_{G x B} corr >= (1/4) eps^2 f m T, and subtracts
  sum_{G x B} w_i w_j beta <= |G||B| beta, so the guaranteed excess is
  ``lemma5_excess`` = (1/4) eps^2 f m T - (n - f) f beta. The lemma states excess >=
  (1/8) eps^2 f m T (``lemma5_needed``), which Lemma 13 needs (edge capacities >= 1).
  With beta = m sqrt(T L^3) that is sqrt(T) >= 8 (n - f) L^(3/2) / eps^2.
* The step of that proof from inequality (6) to (1/4) eps^2 f m T, with the explicit w.h.p.
  bounds of Lemma 9 (sum Sigma_G^2 >= (1/2) eps^2 m f T - m n sqrt(T L^3)), of
  |Sigma_G(t)| <= sqrt(m n L) for the 2 f sum |Sigma_G| term, and of Lemma 10 (Azuma with
  increments n m0 sqrt(m n L), i.e. n m0 sqrt(m n L) sqrt(T L), = m n sqrt(n T L^3) for
  m0 = sqrt(m L)): ``lemma5_step_margin`` = (1/2) eps^2 m f T - m n sqrt(T L^3)
  - 2 f T sqrt(m n L) - n m0 sqrt(m n L T L) - (1/4) eps^2 m f T, which must be >= 0.
* Lemma 12. Two good players' local weights differ pointwise by at most
  ``lemma12_bound`` = 32 n Xmax / (eps^2 m T), which must not exceed w_min = sqrt(n)/T
  (``lemma12_gap`` = w_min - bound >= 0; Observation 1 relies on it). T cancels:
  32 sqrt(n) Xmax <= eps^2 m, i.e. with Xmax = sqrt(m L), m >= 1024 n L / eps^4.
  The induction step also needs 2 n w_min <= eps^4 / sqrt(n ln^6 n)
  (``lemma12_drift_margin``), i.e. T >= 2 n^2 ln^3 n / eps^4.
* The paper assumes eps in [1/f, 1/2] (§3; Lemma 7 uses eps <= 1/2: for eps >= 1,
  eps - eps^4 <= 0 and its bound is void).

``outside_regime`` lists every inequality that fails (empty: inside the proven regime).

Limits (``ParamsError`` names the field and its limit)
-------------------------------------------------------
* n in 4..1024 (as scenarios); f in 1..floor((n-1)/3).
* m, m0 and xmax in 1..65,536 rows: a board of m rows costs every node m RBC instances per
  origin, each O(n^2) messages, and the simulator holds every board's row counts per node.
* T in 1..10^7 iterations per epoch; k_max in 1..10^6 epochs.
* c a finite number in (0, 100].
* beta, w_min and eps, when given: finite, > 0 (0 means "derive it"), and at most 1e15, 32
  and 1024, above anything their formulas give within the limits above.
* window: at least 4 max(m, m0) + 64, the most stream items a node may have in flight (a
  board costs each node up to about 2 items per row plus a few); default
  max(4096, 4 max(m, m0) + 64); at most 65,536, or that bound when it is larger. The RBC
  memory bound is n origins x window instances, so an unbounded window voids it.

Derived constants that involve `log` are computed once here and then travel with the run, so
that every node of a run uses bit-identical values even if libm differs between machines.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, asdict, dataclass, field, replace
from typing import Any

MAX_N = 1024
MAX_ROWS = 65_536
MAX_T = 10_000_000
MAX_K = 1_000_000
MAX_C = 100.0
MIN_WINDOW = 16
# Explicit derived floats: at most the largest value their formula gives within the limits
# above (beta = m sqrt(T (c ln n)^3) <= 3.8e12, w_min = sqrt(n)/T <= 32, eps = n/f - 3 < 1021).
MAX_BETA = 1e15
MAX_W_MIN = 32.0
MAX_EPS = 1024.0
DEFAULT_WINDOW = 4096
MAX_WINDOW = 65_536


class ParamsError(ValueError):
    """A parameter set that the protocol cannot run with; the message names the field."""


def required_window(m: int, m0: int) -> int:
    """The most RBC stream items a node may have in flight: about 2 per row of the larger
    board plus a few, with a factor 2 of headroom: 4 max(m, m0) + 64."""
    return 4 * max(m, m0) + 64


@dataclass(frozen=True, kw_only=True)
class Params:
    """A run's validated protocol parameters: `n` nodes of which at most `f` are corrupted,
    and HPZ's constants (blackboard rows `m` and `m0`, epoch length `T`, `c`, the clip
    `xmax`, `k_max`, `beta`, the weight floor `w_min`, `eps`) with the stream `window`. Build
    one with `practical`, `theory` or `proof` (or `with_overrides`); a value out of range
    raises `ParamsError` naming it. `quorum` is n - f. A protocol plugin usually reads only
    `n`, `f` and `quorum`."""

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
    window: int = 0
    preset: str = field(default="custom")
    # `to_dict()` carries the margins as "regime"; they are recomputed, never taken from input
    regime: InitVar[Any] = None

    def __post_init__(self, regime: Any) -> None:
        _check_nf(self.n, self.f)
        _check_int("m", self.m, minimum=1, maximum=MAX_ROWS, what="rows of an even blackboard")
        _check_int("T", self.T, minimum=1, maximum=MAX_T, what="iterations per epoch")
        if not (_is_number(self.c) and math.isfinite(self.c) and 0 < self.c <= MAX_C):
            raise ParamsError(
                f"c must be a positive finite number, at most {MAX_C:g}, got {self.c!r}"
            )
        # 0 means "derive it"; anything else given explicitly is checked
        for name, limit in (("m0", MAX_ROWS), ("xmax", MAX_ROWS), ("k_max", MAX_K)):
            if getattr(self, name) != 0:
                _check_int(name, getattr(self, name), minimum=1, maximum=limit)
        if self.window != 0 and (not isinstance(self.window, int) or isinstance(self.window, bool)):
            raise ParamsError(
                f"window must be an integer in {MIN_WINDOW}..{MAX_WINDOW} "
                f"({_WINDOW_RANGE}), got {self.window!r}"
            )
        for name, most in _FLOAT_LIMITS.items():
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and 0 <= value <= most):
                raise ParamsError(
                    f"{name} must be a finite number in (0, {most:g}] (or 0 to "
                    f"derive it), got {value!r}"
                )
        ln_n = math.log(self.n)
        m0 = self.m0 or max(1, math.ceil(math.sqrt(self.m * self.c * ln_n)))
        derived: dict[str, Any] = {
            "eps": self.n / self.f - 3.0,
            "m0": m0,
            "xmax": m0,
            "k_max": 3 * self.f,
            "beta": self.m * math.sqrt(self.T * (self.c * ln_n) ** 3),
            "w_min": math.sqrt(self.n) / self.T,
        }
        for name, value in derived.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        _check_int("m0", self.m0, minimum=1, maximum=MAX_ROWS, what="rows of an odd blackboard")
        need = required_window(self.m, self.m0)
        if not self.window:
            object.__setattr__(self, "window", max(DEFAULT_WINDOW, need))
        elif self.window < need:
            raise ParamsError(
                f"window must be at least 4 * max(m, m0) + 64 = {need}, the most stream items "
                f"a node may have in flight with m={self.m}, m0={self.m0} (leave it out for "
                f"the default), got {self.window}"
            )
        elif self.window > max(MAX_WINDOW, need):
            raise ParamsError(
                f"window must be at most {max(MAX_WINDOW, need)} ({_WINDOW_RANGE}; "
                f"the RBC memory bound is n x window instances), got {self.window}"
            )

    # ------------------------------------------------------------------ presets

    @classmethod
    def theory(cls, n: int, f: int, c: float = 1.0, **overrides: Any) -> Params:
        """HPZ Theorem 15: m = n ln n / eps^4, T = n^2 ln^3 n / eps^4 (constants set to 1).

        With constants 1 the proofs' inequalities fail at every n (``margins`` flags them)."""
        _check_nf(n, f)
        eps = n / f - 3.0
        ln_n = math.log(n)
        m = max(1, math.ceil(n * ln_n / eps**4))
        t = max(1, math.ceil(n**2 * ln_n**3 / eps**4))
        return cls(**{"n": n, "f": f, "m": m, "T": t, "c": c, "preset": "theory", **overrides})

    @classmethod
    def proof(cls, n: int, f: int | None = None, c: float = 1.0, **overrides: Any) -> Params:
        """The smallest m and T for which Lemmas 5(2) and 12 hold with the proofs' constants.

        See ``proof_shape`` for the derivation. Only n = 4..6 with f = 1 fit the row limit
        (n = 4: m = 5,696, T = 10,924, m0 = 89; n = 5: 519, 1,945; n = 6: 140, 870); n = 7,
        f = 2 would need m = 223,175 rows and is refused, naming m and its limit.

        Measured in the simulator at n = 4 (acknowledged-writes blackboard): a run that agrees
        after one coin takes 13 s and 2.4 M deliveries (split inputs, random scheduler); one
        decided without a coin takes under a second. A run that needs the blacklisting, i.e.
        whole epochs of T = 10,924 coins, would need about 2.6e10 deliveries per epoch (some
        40 hours): the default delivery cap (50 M) stops it after about 20 coins and the
        600 s budget of `byzlab sim` after about 45."""
        if f is None:
            f = max(1, (n - 1) // 3) if isinstance(n, int) else 1
        shape = proof_shape(n, f, c)
        if shape["m"] > MAX_ROWS or shape["T"] > MAX_T:
            name, limit = ("m", MAX_ROWS) if shape["m"] > MAX_ROWS else ("T", MAX_T)
            raise ParamsError(
                f"{name} must be at most {limit}, but the proof preset needs m = {shape['m']}, "
                f"T = {shape['T']} at n={n}, f={f} (eps = {shape['eps']:.3g}; Lemmas 5(2) "
                "and 12); it only fits at n = 4..6 with f = 1"
            )
        base: dict[str, Any] = {
            "n": n,
            "f": f,
            "m": shape["m"],
            "T": shape["T"],
            "c": c,
            "preset": "proof",
        }
        base.update(overrides)
        return cls(**base)

    @classmethod
    def practical(cls, n: int, f: int | None = None, **overrides: Any) -> Params:
        """Small defaults that finish in seconds: m = 8 rows, T = 8 iterations per epoch."""
        if f is None:
            f = max(1, (n - 1) // 3) if isinstance(n, int) else 1
        base: dict[str, Any] = {"n": n, "f": f, "m": 8, "T": 8, "c": 1.0, "preset": "practical"}
        base.update(overrides)
        return cls(**base)

    # ------------------------------------------------------------------ the proofs' margins

    def margins(self) -> dict[str, Any]:
        """The proofs' inequalities at these parameters (module docstring) and the list
        ``outside_regime`` of those that fail; empty means inside HPZ's proven regime."""
        n, f, m, T = self.n, self.f, self.m, self.T
        eps = n / f - 3.0
        ln_n = math.log(n)
        big_l = self.c * ln_n
        beta_paper = m * math.sqrt(T * big_l**3)
        full = eps**2 * f * m * T
        excess = full / 4 - (n - f) * f * self.beta
        needed = full / 8
        step = (
            full / 2
            - m * n * math.sqrt(T * big_l**3)
            - 2 * f * T * math.sqrt(m * n * big_l)
            - n * self.m0 * math.sqrt(m * n * big_l) * math.sqrt(T * big_l)
        ) - full / 4
        bound12 = 32 * n * self.xmax / (eps**2 * m * T)
        drift_allowed = eps**4 / (math.sqrt(n) * ln_n**3)
        drift = drift_allowed - 2 * n * self.w_min
        reasons: list[str] = []
        if eps > 0.5:
            reasons.append(
                f"eps = {eps:.4g} > 1/2, outside the paper's eps in [1/f, 1/2] "
                "(Lemma 7 needs eps <= 1/2)"
            )
        if eps < 1 / f:
            reasons.append(f"eps = {eps:.4g} < 1/f = {1 / f:.4g}")
        if abs(self.eps - eps) > 1e-12 * max(1.0, eps):
            reasons.append(f"eps is set to {self.eps:.4g}, but n/f - 3 = {eps:.4g}")
        if excess <= 0:
            reasons.append(
                f"Lemma 5(2) excess (1/4) eps^2 f m T - (n-f) f beta = {excess:.4g} <= 0"
            )
        elif excess < needed:
            reasons.append(
                f"Lemma 5(2) excess {excess:.4g} < eps^2 f m T / 8 = {needed:.4g} "
                "(Lemma 13 needs it)"
            )
        if step < 0:
            reasons.append(
                f"Lemma 5(2) proof: the bounds of Lemmas 9 and 10 fall {-step:.4g} "
                "short of (1/4) eps^2 f m T"
            )
        if self.beta < beta_paper * (1 - 1e-12):
            reasons.append(
                f"beta = {self.beta:.4g} < m sqrt(T (c ln n)^3) = {beta_paper:.4g} (Lemma 5(1))"
            )
        if bound12 > self.w_min:
            reasons.append(
                f"Lemma 12 bound 32 n Xmax / (eps^2 m T) = {bound12:.4g} > w_min = {self.w_min:.4g}"
            )
        if drift < 0:
            reasons.append(
                f"Lemma 12: 2 n w_min = {2 * n * self.w_min:.4g} > "
                f"eps^4 / sqrt(n ln^6 n) = {drift_allowed:.4g}"
            )
        return {
            "eps": eps,
            "lemma5_excess": excess,
            "lemma5_needed": needed,
            "lemma5_step_margin": step,
            "lemma12_bound": bound12,
            "w_min": self.w_min,
            "lemma12_gap": self.w_min - bound12,
            "lemma12_drift_margin": drift,
            "outside_regime": reasons,
        }

    # ------------------------------------------------------------------ helpers

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
        """A copy with some fields replaced; derived fields are recomputed unless given (the
        window too, unless it was set above its default)."""
        keep = {k: v for k, v in asdict(self).items() if k not in _DERIVED}
        if self.window == max(DEFAULT_WINDOW, required_window(self.m, self.m0)):
            keep.pop("window")
        keep.update(overrides)
        keep.setdefault("preset", "custom")
        return replace(self, **{**{k: 0 for k in (*_DERIVED, "window")}, **keep})

    def to_dict(self) -> dict[str, Any]:
        """Every field, plus ``regime``: the proofs' margins (``margins``). ``Params(**d)``
        accepts it back (and recomputes it)."""
        return {**asdict(self), "regime": self.margins()}


_DERIVED = ("m0", "xmax", "k_max", "beta", "w_min", "eps")
_FLOAT_LIMITS = {"beta": MAX_BETA, "w_min": MAX_W_MIN, "eps": MAX_EPS}
_WINDOW_RANGE = "or up to 4 * max(m, m0) + 64 when that is larger"


def proof_shape(n: int, f: int, c: float = 1.0) -> dict[str, Any]:
    """m, T and m0 of the ``proof`` preset, from the proofs' own constants (L = c ln n).

    m (Lemma 12): 32 n Xmax / (eps^2 m T) <= w_min = sqrt(n)/T  <=>  32 sqrt(n) Xmax <= eps^2 m;
      with Xmax = m0 = ceil(sqrt(m L)) this needs m >= (32 sqrt(n))^2 L / eps^4
      = 1024 n L / eps^4, and the smallest integer m for which the ceiling still fits is taken.
    T, the largest of three (all closed forms of sqrt(T) >= x):
      Lemma 5(2) as stated: (1/4) eps^2 f m T - (n - f) f m sqrt(T L^3) >= (1/8) eps^2 f m T
        <=> sqrt(T) >= 8 (n - f) L^(3/2) / eps^2;
      the proof's step to (1/4) eps^2 f m T (Lemmas 9, 10): a T - b sqrt(T) >= 0 with
        a = (1/4) eps^2 m f - 2 f sqrt(m n L) (> 0 once m >= 64 n L / eps^4, implied above)
        and b = m n L^(3/2) + n m0 sqrt(m n L) sqrt(L), so sqrt(T) >= b / a;
      Lemma 12's induction: 2 n w_min <= eps^4 / sqrt(n ln^6 n) <=> T >= 2 n^2 ln^3 n / eps^4.
    """
    _check_nf(n, f)
    if not (_is_number(c) and math.isfinite(c) and 0 < c <= MAX_C):
        raise ParamsError(f"c must be a positive finite number, at most {MAX_C:g}, got {c!r}")
    eps = n / f - 3.0
    ln_n = math.log(n)
    big_l = c * ln_n
    m = max(1, math.floor(1024 * n * big_l / eps**4))
    while eps**2 * m < 32 * math.sqrt(n) * math.ceil(math.sqrt(m * big_l)):
        m += 1
    m0 = math.ceil(math.sqrt(m * big_l))
    root_5 = 8 * (n - f) * big_l**1.5 / eps**2
    a = eps**2 * m * f / 4 - 2 * f * math.sqrt(m * n * big_l)
    b = m * n * big_l**1.5 + n * m0 * math.sqrt(m * n * big_l) * math.sqrt(big_l)
    root_step = b / a
    t_drift = 2 * n**2 * ln_n**3 / eps**4
    t = max(1, math.ceil(max(root_5, root_step) ** 2), math.ceil(t_drift))
    if m <= MAX_ROWS:
        # floating point: make sure the margins that Params computes agree, to the last ulp
        while t < MAX_T and _proof_margins_fail(Params(n=n, f=f, m=m, T=t, c=c)):
            t += 1
    return {"n": n, "f": f, "eps": eps, "m": m, "T": t, "m0": m0}


def _proof_margins_fail(p: Params) -> bool:
    g = p.margins()
    return bool(
        g["lemma5_excess"] < g["lemma5_needed"]
        or g["lemma5_step_margin"] < 0
        or g["lemma12_gap"] < 0
        or g["lemma12_drift_margin"] < 0
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_nf(n: object, f: object) -> None:
    _check_int("n", n, minimum=4, maximum=MAX_N)
    _check_int("f", f, minimum=1, maximum=MAX_N)
    assert isinstance(n, int)
    assert isinstance(f, int)
    if 3 * f >= n:
        raise ParamsError(
            f"f={f} is too large for n={n}: Byzantine agreement needs f < n/3 "
            f"(the largest allowed f is {(n - 1) // 3})"
        )


def _check_int(name: str, value: object, *, minimum: int, maximum: int, what: str = "") -> None:
    about = f" ({what})" if what else ""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParamsError(
            f"{name} must be an integer in {minimum}..{maximum}{about}, got {value!r}"
        )
    if value < minimum:
        raise ParamsError(f"{name} must be at least {minimum}{about}, got {value}")
    if value > maximum:
        raise ParamsError(f"{name} must be at most {maximum}{about}, got {value}")
