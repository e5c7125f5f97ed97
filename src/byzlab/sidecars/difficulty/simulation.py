"""Mining under a difficulty algorithm: hashrate models and the step response.

Hashrate (簡易シミュレーション, simple simulation).  *Inelastic*: exogenous hashrate that steps by
a factor at ``step_block``.  *Elastic*: miners respond to profitability, which is proportional to
the winning rate (revenue per hash), with constant elasticity ``ε``:
``h = h_eq · (w / w_eq)^ε``, where ``w_eq`` is the equilibrium winning rate (``w_eq h_eq b0 = 1``)
and steps at ``step_block`` (a price shock).  The note plots exactly this equilibrium
("正解値", the true value) against each algorithm's winning rate.

Why the window rule diverges (the note's finding, after the "Lucas critique" paper it cites):
within a window ``w`` is constant, so ``h = h(w)`` and the window time is ``window / (w h(w))``;
the update then sets ``w' = 1 / (h(w) b0)``, i.e. in log deviation from equilibrium
``x' = −ε x``.  For ``ε > 1`` the oscillation grows every window until the ×4 clamp bounds it
(a persistent limit cycle, ``w`` alternating around ``w_eq/2`` and ``2 w_eq``); ``ε = 1`` keeps
the initial amplitude; ``ε < 1`` decays.  The filter and ASERT update every block with a small
gain ``g`` (``g ≈ ŝ T`` resp. ``b0 ln 2 / halflife``); their deviation obeys
``x' = (1 − g (1 + ε)) x``, stable for ``g (1 + ε) < 2``.  With the defaults the steady-state
gains are ``g ≈ 0.01`` (T = 1), ``≈ 0.30`` (T = 36) and ``≈ 0.0014`` (ASERT, two-day half-life),
so the linear bound is ``ε`` below about 200, 5.6 and 1400 respectively; past it the T = 36 filter
degrades (RMS ``log(w/w_eq)`` 0.05 at ε = 4, 0.11 at ε = 8) but its nonlinear update keeps the
error bounded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from byzlab.sidecars._checks import _count, _nonneg, _positive
from byzlab.sidecars.difficulty.algorithm import _EXP_CAP, AlgorithmFactory, DifficultyAlgorithm
from byzlab.sidecars.difficulty.baselines import ASERT, BitcoinDAA
from byzlab.sidecars.difficulty.bayesian import LevelDAA

FloatArray = npt.NDArray[np.float64]


def default_algorithms(
    *,
    window: int = 2016,
    halflife: float = 172800.0,
    q: float = 1e-4,
    level_windows: Sequence[int] = (1, 36),
    b0: float = 600.0,
) -> dict[str, AlgorithmFactory]:
    """Factories ``w0 -> algorithm`` for Bitcoin, ASERT and LevelDAA at each ``T``."""
    _count("window", window, 1)
    _positive("halflife", halflife)
    _nonneg("q", q)
    _positive("b0", b0)
    algs: dict[str, AlgorithmFactory] = {
        "bitcoin": lambda w0: BitcoinDAA(w0, window=window, b0=b0),
        "asert": lambda w0: ASERT(w0, halflife=halflife, b0=b0),
    }

    def level(t: int) -> AlgorithmFactory:
        return lambda w0: LevelDAA(w0, q=q, T=t, b0=b0)

    for t in level_windows:
        t = _count("level_windows entry", t, 1)
        algs[f"level-T{t}"] = level(t)
    return algs


@dataclass(frozen=True)
class HashrateModel:
    """Hashrate as a function of block height and winning rate.

    ``step`` multiplies the *equilibrium winning rate* at ``step_block`` (``step > 1``: hashrate
    leaves, difficulty must fall). Inelastic: ``h = 1 / (w_eq b0)`` regardless of ``w``.
    Elastic: ``h = (w / w_eq)^elasticity / (w_eq b0)``.
    """

    kind: Literal["elastic", "inelastic"]
    w0: float = 1.0 / 600.0
    step_block: int = 0
    step: float = 1.0
    elasticity: float = 2.0
    b0: float = 600.0

    def __post_init__(self) -> None:
        if self.kind not in ("elastic", "inelastic"):
            raise ValueError(f"kind must be 'elastic' or 'inelastic', got {self.kind!r}")
        _positive("w0", self.w0)
        _count("step_block", self.step_block, 0)
        _positive("step", self.step)
        _nonneg("elasticity", self.elasticity)
        _positive("b0", self.b0)

    def equilibrium_winning_rate(self, block: int) -> float:
        return self.w0 * (self.step if block >= self.step_block else 1.0)

    def log_hashrate(self, block: int, winning_rate: float) -> float:
        w_eq = self.equilibrium_winning_rate(block)
        log_h = -math.log(w_eq * self.b0)
        if self.kind == "elastic":
            log_h += self.elasticity * (math.log(winning_rate) - math.log(w_eq))
        return log_h


@dataclass(frozen=True)
class StepResponse:
    """Per-block arrays of one run; index ``n`` is block ``n``."""

    algorithm: str
    kind: str
    winning_rate: FloatArray  # w in force while block n was mined
    equilibrium: FloatArray  # w_eq at block n
    hashrate: FloatArray
    block_time: FloatArray

    @property
    def log_error(self) -> FloatArray:
        """``log(w / w_eq)`` per block."""
        return np.asarray(np.log(self.winning_rate / self.equilibrium), dtype=np.float64)

    @property
    def time(self) -> FloatArray:
        """Chain time at the end of each block."""
        return np.asarray(np.cumsum(self.block_time), dtype=np.float64)


def simulate(
    algorithm: DifficultyAlgorithm,
    model: HashrateModel,
    exponentials: npt.ArrayLike,
    *,
    name: str = "",
) -> StepResponse:
    """Mine ``len(exponentials)`` blocks; block ``n`` takes ``E_n / (w_n h_n)`` seconds.

    ``exponentials`` are unit-mean exponential draws (pass the same draws to every algorithm
    for common random numbers).
    """
    e = np.asarray(exponentials, dtype=np.float64)
    if e.ndim != 1 or not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError("exponentials must be a 1-D array of finite non-negative draws")
    n = e.size
    w_arr = np.empty(n)
    weq_arr = np.empty(n)
    h_arr = np.empty(n)
    b_arr = np.empty(n)
    w = model.w0
    for k in range(n):
        log_h = model.log_hashrate(k, w)
        log_rate = min(max(math.log(w) + log_h, -_EXP_CAP), _EXP_CAP)
        b = float(e[k]) * math.exp(-log_rate)
        w_arr[k] = w
        weq_arr[k] = model.equilibrium_winning_rate(k)
        h_arr[k] = math.exp(min(max(log_h, -_EXP_CAP), _EXP_CAP))
        b_arr[k] = b
        w = algorithm.next_winning_rate(w, b)
        w = min(max(w, math.exp(-_EXP_CAP)), math.exp(_EXP_CAP))
    return StepResponse(name, model.kind, w_arr, weq_arr, h_arr, b_arr)


def step_response(
    kind: Literal["elastic", "inelastic"],
    rng: np.random.Generator,
    *,
    n_blocks: int = 20 * 2016,
    step_block: int = 4 * 2016,
    step: float = 2.0,
    elasticity: float = 2.0,
    algorithms: Mapping[str, AlgorithmFactory] | None = None,
    b0: float = 600.0,
    w0: float = 1.0 / 600.0,
) -> dict[str, StepResponse]:
    """Step response of each algorithm to a jump of the equilibrium winning rate by ``step``.

    All algorithms see the same exponential draws from ``rng``. ``algorithms`` defaults to
    :func:`default_algorithms` with ``b0``.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    n = _count("n_blocks", n_blocks, 1)
    model = HashrateModel(
        kind=kind, w0=w0, step_block=step_block, step=step, elasticity=elasticity, b0=b0
    )
    algs = default_algorithms(b0=b0) if algorithms is None else dict(algorithms)
    if not algs:
        raise ValueError("algorithms must not be empty")
    draws = rng.standard_exponential(n)
    return {name: simulate(make(w0), model, draws, name=name) for name, make in algs.items()}


def oscillation_amplitude(
    result: StepResponse, segment: int, *, statistic: Literal["max", "rms"] = "max"
) -> FloatArray:
    """Per consecutive ``segment`` blocks, ``max |log(w/w_eq)|`` (or its RMS).

    A trailing partial segment is dropped.
    """
    seg = _count("segment", segment, 1)
    if statistic not in ("max", "rms"):
        raise ValueError(f"statistic must be 'max' or 'rms', got {statistic!r}")
    err = result.log_error
    m = err.size // seg
    if m == 0:
        raise ValueError(f"segment must be <= the number of blocks ({err.size}), got {segment}")
    blocks = err[: m * seg].reshape(m, seg)
    if statistic == "max":
        return np.asarray(np.abs(blocks).max(axis=1), dtype=np.float64)
    return np.asarray(np.sqrt((blocks**2).mean(axis=1)), dtype=np.float64)
