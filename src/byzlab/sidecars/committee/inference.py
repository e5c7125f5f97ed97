"""Fitting the seat model to observed committees: the posterior of ``p`` and of ``alpha``.

Source: R. Jones, "A Bayesian Model for Committee Selection in Blockchain Consensus Protocols"
(April 2025; "the paper"), §4 items 1-5, §8.1 eqs. 6-7, eq. 10.

*Conjugate update for p* (eqs. 6-7): after observing committees ``X^(1..T)`` the posterior of
``p`` is ``Dirichlet(alpha + sum_t X^(t))``; updating one committee at a time (eq. 7) gives the
same result, see :func:`dirichlet_posterior`.

*Hierarchical prior on alpha* (§4 item 1): ``alpha_i ~ Gamma(shape, rate)`` i.i.d. The paper
fits it with PyMC (Listing 1); here :func:`fit_alpha_mcmc` is a seeded Metropolis-within-Gibbs
sampler on ``theta = log alpha`` written with NumPy/SciPy only. The target is the
Dirichlet-multinomial likelihood (eq. 10, ``p`` integrated out) times the Gamma prior times the
Jacobian ``prod alpha_i`` of the log transform. Each coordinate gets a Gaussian random-walk
proposal whose scale is adapted during the tuning phase only (towards the 0.44 one-dimensional
optimum) and then frozen, so the recorded chain is a plain, valid Metropolis chain; acceptance
rates of the recorded part are reported. Two readings of "several observed committees" are
offered: independent ``p`` per committee (eq. 10 per row, the default) or one ``p`` shared by
all rows (``shared_p=True``), which is the structure of the paper's Listing 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from byzlab.sidecars.committee.inputs import FloatArray, IntArray, _as_alpha, _check_int, _check_k


def _as_counts(counts: npt.ArrayLike, n: int | None = None) -> IntArray:
    arr = np.asarray(counts)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError("counts must be a 1-D vector or a 2-D (committees x participants) array")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0)):
        raise ValueError("counts must be non-negative integers")
    if n is not None and arr.shape[1] != n:
        raise ValueError(f"counts must have {n} columns (one per participant); got {arr.shape[1]}")
    return arr.astype(np.int64)


def dirichlet_posterior(alpha_prior: npt.ArrayLike, counts: npt.ArrayLike) -> FloatArray:
    """Conjugate update ``alpha_post = alpha_prior + sum_t X^(t)`` (paper eqs. 6-7).

    ``counts`` is one committee (1-D) or several (2-D, one row per committee); applying eq. 7
    row by row gives the same result as adding all rows at once.
    """
    a = _as_alpha(alpha_prior, "alpha_prior")
    x = _as_counts(counts, a.size)
    return np.asarray(a + x.sum(axis=0), dtype=np.float64)


@dataclass(frozen=True)
class AlphaPosterior:
    """Posterior draws of ``alpha`` from :func:`fit_alpha_mcmc`."""

    samples: FloatArray
    """Recorded draws, shape ``(draws, n)`` (tuning draws excluded)."""
    acceptance_rate: float
    """Fraction of accepted coordinate proposals in the recorded part of the chain."""
    acceptance_per_component: FloatArray
    step_sizes: FloatArray
    """Frozen random-walk scales on ``log alpha`` after tuning."""
    seed: int
    shape: float
    rate: float

    def mean(self) -> FloatArray:
        return np.asarray(self.samples.mean(axis=0), dtype=np.float64)

    def interval(self, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        """Equal-tailed credible interval per component."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1); got {level}")
        lo, hi = np.quantile(self.samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)

    def expected_seats(self, k: int) -> FloatArray:
        """Posterior mean of ``k alpha_i / sum(alpha)`` (eq. 4 averaged over the posterior)."""
        kk = _check_k(k)
        shares = self.samples / self.samples.sum(axis=1, keepdims=True)
        return np.asarray(kk * shares.mean(axis=0), dtype=np.float64)


def fit_alpha_mcmc(
    counts: npt.ArrayLike,
    *,
    shape: float = 2.0,
    rate: float = 1.0,
    draws: int = 2000,
    tune: int = 1000,
    seed: int = 0,
    init: npt.ArrayLike | None = None,
    shared_p: bool = False,
) -> AlphaPosterior:
    """Sample ``p(alpha | X)`` for ``alpha_i ~ Gamma(shape, rate)`` (paper §4, eq. 3 and eq. 10).

    Metropolis-within-Gibbs on ``theta = log alpha``: each sweep proposes
    ``theta_i' = theta_i + s_i z`` for every coordinate in turn. The likelihood is the
    Dirichlet-multinomial eq. 10 (``p`` integrated out), one independent ``p`` per observed
    committee unless ``shared_p`` (one ``p`` for all rows, as in the paper's Listing 1).
    The scales ``s_i`` adapt during ``tune`` sweeps only. ``counts`` may have zero rows, in
    which case the chain samples the prior.
    """
    x = _as_counts(counts)
    if not (math.isfinite(shape) and shape > 0):
        raise ValueError(f"shape must be positive; got {shape}")
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be positive; got {rate}")
    n_draws = _check_int(draws, "draws", 1)
    n_tune = _check_int(tune, "tune", 0)
    if shared_p and x.shape[0] > 0:
        x = x.sum(axis=0, keepdims=True)
    n = x.shape[1]
    k_vals, k_mult = np.unique(x.sum(axis=1), return_counts=True)
    k_valsf = k_vals.astype(np.float64)
    k_multf = k_mult.astype(np.float64)
    columns = []
    for i in range(n):
        vals, mult = np.unique(x[:, i], return_counts=True)
        columns.append((vals.astype(np.float64), mult.astype(np.float64)))

    def total_term(total: float) -> float:
        # sum_t [lgamma(A) - lgamma(A + k_t)]
        return float(np.dot(k_multf, special.gammaln(total) - special.gammaln(total + k_valsf)))

    def column_term(i: int, a_i: float) -> float:
        # sum_t [lgamma(x_ti + alpha_i) - lgamma(alpha_i)]
        vals, mult = columns[i]
        return float(np.dot(mult, special.gammaln(vals + a_i) - special.gammaln(a_i)))

    def log_prior(theta_i: float) -> float:
        # Gamma(shape, rate) density of alpha = e^theta times the Jacobian e^theta.
        return shape * theta_i - rate * math.exp(theta_i)

    alpha = (
        np.full(n, shape / rate, dtype=np.float64)
        if init is None
        else _as_alpha(init, "init").copy()
    )
    if alpha.size != n:
        raise ValueError(f"init must have {n} entries; got {alpha.size}")
    theta = np.log(alpha)
    cur_total = total_term(float(alpha.sum()))
    cur_cols = [column_term(i, float(alpha[i])) for i in range(n)]

    rng = np.random.default_rng(seed)
    iters = n_tune + n_draws
    normals = rng.standard_normal((iters, n))
    log_uniforms = np.log(rng.random((iters, n)))
    log_step = np.full(n, math.log(0.5))
    batch = 50
    batch_acc = np.zeros(n)
    recorded_acc = np.zeros(n)
    samples = np.empty((n_draws, n), dtype=np.float64)

    for it in range(iters):
        for i in range(n):
            th_new = float(theta[i] + math.exp(log_step[i]) * normals[it, i])
            a_new = math.exp(th_new)
            total_new = float(alpha.sum() - alpha[i] + a_new)
            new_total = total_term(total_new)
            new_col = column_term(i, a_new)
            log_ratio = (new_total + new_col + log_prior(th_new)) - (
                cur_total + cur_cols[i] + log_prior(float(theta[i]))
            )
            if log_uniforms[it, i] < log_ratio:
                theta[i] = th_new
                alpha[i] = a_new
                cur_total = new_total
                cur_cols[i] = new_col
                if it < n_tune:
                    batch_acc[i] += 1
                else:
                    recorded_acc[i] += 1
        if it < n_tune and (it + 1) % batch == 0:
            # Adaptive scaling (Roberts & Rosenthal 2009), tuning phase only.
            adj = min(0.5, 1.0 / math.sqrt((it + 1) / batch))
            log_step += np.where(batch_acc / batch > 0.44, adj, -adj)
            batch_acc[:] = 0
        if it >= n_tune:
            samples[it - n_tune] = alpha
    per_comp = recorded_acc / n_draws
    return AlphaPosterior(
        samples=samples,
        acceptance_rate=float(per_comp.mean()),
        acceptance_per_component=per_comp,
        step_sizes=np.exp(log_step),
        seed=seed,
        shape=float(shape),
        rate=float(rate),
    )
