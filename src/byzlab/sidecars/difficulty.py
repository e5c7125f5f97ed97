"""PoW difficulty adjustment: a Bayesian log-hashrate filter, Bitcoin's window rule, ASERT.

Theory of operation
-------------------
Source: "ベイズ推定でProof of Workの難易度調整アルゴリズムを導出する" (deriving a PoW difficulty
adjustment algorithm by Bayesian estimation), a Japanese technical note (2019, revised
2020-03-21) prompted by S. Noda, K. Okumura, Y. Hashimoto, "A Lucas Critique to the
Difficulty Adjustment Algorithm of the Bitcoin System".
Section names below are the note's (Japanese) headings with a translation.

Everything is expressed in the note's *winning rate* ``w`` — the probability per hash per second
of finding a block, i.e. the inverse of difficulty.  With hashrate ``h`` a block takes an
exponential time with mean ``1 / (w h)``; the target block time is ``b0`` (600 s).

*Model* (仮定, assumptions).  The log-hashrate ``l = log h`` is a Gaussian random walk,
``l_{t+T} = l_t + v_t``, ``v_t ~ N(0, q_t)``, updated every ``T`` blocks; the sum ``B_t`` of ``T``
block times is Gamma-distributed with shape ``T`` and rate ``w_t e^{l_t}``.

*Prediction update* (予測更新).  ``l̄ = l̂``, ``s̄ = ŝ + q_t`` with the process noise proportional to
the elapsed time, ``q_t = q B_t`` (here ``q`` is per target block time: ``q_t = q B_t / b0``).

*Measurement update* (計測更新).  The negative log posterior is
``J = −T l + w e^{l} B + (l − l̄)² / (2 s̄)``.  Expanding ``e^{l}`` to second order around ``l̄`` and
taking one Newton step gives
``ŝ = (1/s̄ + w e^{l̄} B)⁻¹`` and ``l̂ = l̄ + (T − w e^{l̄} B) ŝ``.

*Difficulty update* (難易度更新).  ``w_{t+T} = 1 / (e^{l̂} b0)``.  This is :class:`LevelDAA`.

Two deliberate readings: the note's equation uses the window's total time ``B_t`` in ``q_t``,
while its reference code uses only the last block's time ``b``; :class:`LevelDAA` follows the
equation by default and the reference with ``noise_time="last_block"``.  The filter starts from
``s0`` (the reference leaves it to the caller; default here 0.01).

Baselines.  :class:`BitcoinDAA` ("DAA1" in the note): every ``window`` blocks multiply ``w`` by the
ratio of actual to expected window time, clamped to ``[1/4, 4]`` (Bitcoin measures ``window − 1``
intervals; this model uses all ``window``).  :class:`ASERT` (BCH's aserti3-2d, the successor of the
note's "DAA2"): ``w_{n+1} = w_anchor · 2^{(t_n − (n + 1) b0) / halflife}`` anchored at genesis.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import click
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from byzlab.sidecars._checks import _count, _finite, _nonneg, _positive

__all__ = [
    "ASERT",
    "BitcoinDAA",
    "DifficultyAlgorithm",
    "HashrateModel",
    "LevelDAA",
    "StepResponse",
    "command",
    "default_algorithms",
    "oscillation_amplitude",
    "plot_step_response",
    "simulate",
    "step_response",
]

FloatArray = npt.NDArray[np.float64]
AlgorithmFactory = Callable[[float], "DifficultyAlgorithm"]

#: Exponent cap for ``exp`` in the simulation; a diverging, unclamped controller saturates here
#: instead of overflowing.
_EXP_CAP = 700.0


class DifficultyAlgorithm(Protocol):
    """A DAA: told the winning rate in force and the block's time, returns the next rate."""

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float: ...


def _check_step(winning_rate: float, block_time: float) -> None:
    if not (math.isfinite(winning_rate) and winning_rate > 0):
        raise ValueError(f"winning_rate must be finite and > 0, got {winning_rate!r}")
    if not (block_time >= 0):  # also rejects NaN; +inf is allowed (a stalled chain)
        raise ValueError(f"block_time must be >= 0, got {block_time!r}")


class LevelDAA:
    """The note's Bayesian log-hashrate filter (予測更新 + 計測更新 + 難易度更新).

    ``q`` is the process-noise variance of ``log h`` per target block time ``b0``; ``s0`` the
    initial variance; the filter updates once every ``T`` blocks.
    """

    def __init__(
        self,
        w0: float,
        *,
        q: float = 1e-4,
        s0: float = 0.01,
        T: int = 1,
        b0: float = 600.0,
        noise_time: Literal["window", "last_block"] = "window",
    ) -> None:
        w0 = _positive("w0", w0)
        self.q = _nonneg("q", q)
        self.T = _count("T", T, 1)
        self.b0 = _positive("b0", b0)
        if noise_time not in ("window", "last_block"):
            raise ValueError(f"noise_time must be 'window' or 'last_block', got {noise_time!r}")
        self.noise_time = noise_time
        self.level = math.log(1.0 / (w0 * self.b0))  # l̂: posterior mean of log-hashrate
        self.variance = _positive("s0", s0)  # ŝ: posterior variance
        self._count = 0
        self._bsum = 0.0

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float:
        _check_step(winning_rate, block_time)
        self._bsum += block_time
        self._count += 1
        if self._count < self.T:
            return winning_rate
        elapsed = self._bsum if self.noise_time == "window" else block_time
        s_pred = self.variance + self.q * elapsed / self.b0  # s̄ = ŝ + q_t
        r_b = winning_rate * math.exp(self.level) * self._bsum  # w e^{l̄} B
        self.variance = 1.0 / (1.0 / s_pred + r_b)  # ŝ
        self.level += self.variance * (self.T - r_b)  # l̂
        self.level = min(max(self.level, -_EXP_CAP), _EXP_CAP)
        self._count = 0
        self._bsum = 0.0
        return 1.0 / (math.exp(self.level) * self.b0)


class BitcoinDAA:
    """Window retarget: every ``window`` blocks, ``w *= clamp(actual / expected time)``."""

    def __init__(
        self, w0: float, *, window: int = 2016, b0: float = 600.0, clamp: float | None = 4.0
    ) -> None:
        self.w = _positive("w0", w0)
        self.window = _count("window", window, 1)
        self.b0 = _positive("b0", b0)
        if clamp is not None and _finite("clamp", clamp) < 1.0:
            raise ValueError(f"clamp must be >= 1 or None, got {clamp!r}")
        self.clamp = clamp
        self._count = 0
        self._elapsed = 0.0

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float:
        _check_step(winning_rate, block_time)
        self._elapsed += block_time
        self._count += 1
        if self._count < self.window:
            return winning_rate
        ratio = self._elapsed / (self.window * self.b0)
        if self.clamp is not None:
            ratio = min(max(ratio, 1.0 / self.clamp), self.clamp)
        self._count = 0
        self._elapsed = 0.0
        return winning_rate * ratio


class ASERT:
    """Absolutely scheduled exponential rise targets, anchored at genesis."""

    def __init__(self, w0: float, *, halflife: float = 172800.0, b0: float = 600.0) -> None:
        self.w_anchor = _positive("w0", w0)
        self.halflife = _positive("halflife", halflife)
        self.b0 = _positive("b0", b0)
        self._time = 0.0
        self._height = 0

    def next_winning_rate(self, winning_rate: float, block_time: float) -> float:
        _check_step(winning_rate, block_time)
        self._time += block_time
        self._height += 1
        exponent = (self._time - self._height * self.b0) / self.halflife * math.log(2.0)
        return self.w_anchor * math.exp(min(max(exponent, -_EXP_CAP), _EXP_CAP))


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


# --------------------------------------------------------------------------------------------
# hashrate and simulation
# --------------------------------------------------------------------------------------------


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


def plot_step_response(
    results: Mapping[str, Mapping[str, StepResponse]],
    path: str | Path,
    *,
    segment: int = 2016,
) -> Path:
    """Write a PNG: winning rate vs equilibrium (top) and per-segment amplitude (bottom).

    ``results`` maps a hashrate kind to the output of :func:`step_response`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results must not be empty")
    out = Path(path)
    kinds = list(results)
    fig, axes = plt.subplots(2, len(kinds), figsize=(6.5 * len(kinds), 8), squeeze=False)
    try:
        for col, kind in enumerate(kinds):
            runs = results[kind]
            top, bottom = axes[0][col], axes[1][col]
            eq_drawn = False
            for name, r in runs.items():
                height = np.arange(r.winning_rate.size)
                w0 = r.equilibrium[0]
                top.plot(height, r.winning_rate / w0, lw=0.8, label=name)
                if not eq_drawn:
                    top.plot(height, r.equilibrium / w0, color="orange", lw=2, label="equilibrium")
                    eq_drawn = True
                amp = oscillation_amplitude(r, min(segment, r.winning_rate.size))
                bottom.plot(np.arange(amp.size), amp, marker="o", ms=3, label=name)
            top.set_yscale("log")
            top.set_xlabel("block height")
            top.set_ylabel("winning rate / initial equilibrium")
            top.set_title(f"{kind} hashrate")
            top.legend(fontsize=8)
            bottom.set_xlabel(f"segment of {segment} blocks")
            bottom.set_ylabel("max |log(w / w_eq)|")
            bottom.legend(fontsize=8)
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


@click.group(name="difficulty")
def command() -> None:
    """Difficulty adjustment: Bayesian log-hashrate filter vs Bitcoin window rule vs ASERT."""


@command.command(name="step")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--window", type=int, default=2016, show_default=True, help="Bitcoin window")
@click.option("--windows", type=int, default=20, show_default=True, help="run length in windows")
@click.option("--step-window", type=int, default=4, show_default=True, help="step at this window")
@click.option("--step", type=float, default=2.0, show_default=True, help="w_eq multiplier")
@click.option("--elasticity", type=float, default=2.0, show_default=True)
@click.option("--halflife", type=float, default=172800.0, show_default=True, help="ASERT [s]")
@click.option("--q", "q", type=float, default=1e-4, show_default=True, help="filter noise")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None)
def step_cmd(
    seed: int,
    window: int,
    windows: int,
    step_window: int,
    step: float,
    elasticity: float,
    halflife: float,
    q: float,
    plot_path: str | None,
) -> None:
    """Step response under inelastic and elastic hashrate; per-window oscillation amplitude."""
    try:
        _count("windows", windows, 1)
        _count("step_window", step_window, 0)
        algs = default_algorithms(window=window, halflife=halflife, q=q)
        results: dict[str, dict[str, StepResponse]] = {}
        for kind in ("inelastic", "elastic"):
            results[kind] = step_response(
                kind,
                np.random.default_rng(seed),
                n_blocks=windows * window,
                step_block=step_window * window,
                step=step,
                elasticity=elasticity,
                algorithms=algs,
            )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    console = Console()
    for kind, runs in results.items():
        table = Table(title=f"{kind}: max |log(w/w_eq)| per {window}-block window")
        table.add_column("window", justify="right")
        amps = {name: oscillation_amplitude(r, window) for name, r in runs.items()}
        for name in amps:
            table.add_column(name, justify="right")
        for k in range(windows):
            mark = " (step)" if k == step_window else ""
            table.add_row(f"{k}{mark}", *(f"{a[k]:.3f}" for a in amps.values()))
        console.print(table)
        after = (step_window + 1) * window
        summary = Table(title=f"{kind}: after window {step_window + 1}")
        summary.add_column("algorithm")
        summary.add_column("RMS log(w/w_eq)", justify="right")
        summary.add_column("mean block time [s]", justify="right")
        for name, r in runs.items():
            err = r.log_error[after:]
            bt = r.block_time[after:]
            rms = f"{np.sqrt(np.mean(err**2)):.3f}" if err.size else "-"
            mbt = f"{np.mean(bt):.0f}" if bt.size else "-"
            summary.add_row(name, rms, mbt)
        console.print(summary)
    if plot_path is not None:
        console.print(f"wrote {plot_step_response(results, plot_path, segment=window)}")
