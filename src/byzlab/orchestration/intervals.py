"""Confidence intervals for the report: a median's, a proportion's, and a power law's exponent.

Theory of operation
-------------------
The report puts an interval on every number it plots, at 95% (``LEVEL``), each with the
method named in the figure's caption:

* the **median** of a sample gets the distribution-free interval of order statistics: with k
  sorted values x_(1) <= ... <= x_(k), the interval [x_(j), x_(k+1-j)] covers the median
  with probability 1 - 2 P(B <= j-1), B ~ Binomial(k, 1/2), whatever the distribution. j is the
  largest index that keeps that coverage at or above 95%. Below six values no j does (at
  k = 5 the range covers 1 - 2/32 = 93.75%), and the interval is the range of the sample; its
  ``coverage`` says how much less than 95% that is. Latencies are skewed and heavy-tailed
  under attack, which is why this is used rather than a t-interval on the mean;
* a **proportion** (agreement rate, unanimous coins) gets the Wilson score interval, which,
  unlike the normal approximation, stays inside [0, 1] and is not empty at 0 or k successes;
* the **exponent** of y ~ a n^b, fitted by least squares on (log n, log y), gets the
  t-interval of the slope with N - 2 degrees of freedom (N points).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["LEVEL", "Interval", "median_interval", "slope_interval", "wilson_interval"]

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval; ``coverage`` is the interval's actual confidence."""

    estimate: float
    low: float
    high: float
    coverage: float

    def errorbar(self) -> tuple[float, float]:
        """The distances below and above the estimate, as matplotlib's ``yerr`` takes them."""
        return (self.estimate - self.low, self.high - self.estimate)


def median_interval(values: Iterable[float], level: float = LEVEL) -> Interval | None:
    """The sample median with its order-statistic interval; None for no values."""
    xs = np.sort(np.asarray(list(values), dtype=np.float64))
    k = len(xs)
    if k == 0:
        return None
    alpha = 1.0 - level
    # the largest j with P(B <= j - 1) <= alpha / 2; j = 1 (the range) when none is
    j = 1
    while j < (k + 1) // 2 and stats.binom.cdf(j, k, 0.5) <= alpha / 2:
        j += 1
    coverage = 1.0 - 2.0 * float(stats.binom.cdf(j - 1, k, 0.5))
    return Interval(float(np.median(xs)), float(xs[j - 1]), float(xs[k - j]), coverage)


def wilson_interval(successes: int, trials: int, level: float = LEVEL) -> Interval | None:
    """The Wilson score interval of successes/trials; None for no trials."""
    if trials <= 0:
        return None
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), level)


def slope_interval(
    x: np.ndarray, y: np.ndarray, slope: float, intercept: float, level: float = LEVEL
) -> tuple[float, float] | None:
    """The t-interval of a least-squares slope; None with fewer than three points."""
    points = len(x)
    sxx = float(np.sum((x - x.mean()) ** 2))
    if points < 3 or sxx <= 0:
        return None
    residual = y - (slope * x + intercept)
    se = math.sqrt(float(np.sum(residual**2)) / (points - 2) / sxx)
    half = float(stats.t.ppf(0.5 + level / 2, points - 2)) * se
    return (slope - half, slope + half)
