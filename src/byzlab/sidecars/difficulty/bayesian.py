"""The note's Bayesian log-hashrate filter (``LevelDAA``).

*Model* (仮定, assumptions).  The log-hashrate ``l = log h`` is a Gaussian random walk,
``l_{t+T} = l_t + v_t``, ``v_t ~ N(0, q_t)``, updated every ``T`` blocks; the sum ``B_t`` of ``T``
block times is Gamma-distributed with shape ``T`` and rate ``w_t e^{l_t}``.

*Prediction update* (予測更新).  ``l̄ = l̂``, ``s̄ = ŝ + q_t`` with the process noise proportional to
the elapsed time, ``q_t = q B_t`` (here ``q`` is per target block time: ``q_t = q B_t / b0``).

*Measurement update* (計測更新).  The negative log posterior is
``J = −T l + w e^{l} B + (l − l̄)² / (2 s̄)``.  Expanding ``e^{l}`` to second order around ``l̄`` and
taking one Newton step gives
``ŝ = (1/s̄ + w e^{l̄} B)⁻¹`` and ``l̂ = l̄ + (T − w e^{l̄} B) ŝ``.

*Difficulty update* (難易度更新).  ``w_{t+T} = 1 / (e^{l̂} b0)``.

Two deliberate readings: the note's equation uses the window's total time ``B_t`` in ``q_t``,
while its reference code uses only the last block's time ``b``; :class:`LevelDAA` follows the
equation by default and the reference with ``noise_time="last_block"``.  The filter starts from
``s0`` (the reference leaves it to the caller; default here 0.01).
"""

from __future__ import annotations

import math
from typing import Literal

from byzlab.sidecars._checks import _count, _nonneg, _positive
from byzlab.sidecars.difficulty.algorithm import _EXP_CAP, _check_step


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
