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
* a **proportion** of independent trials (agreement rate: one trial per run) gets the Wilson
  score interval, which, unlike the normal approximation, stays inside [0, 1] and is not
  empty at 0 or k successes;
* a proportion of trials that come in **clusters** (unanimous coins: up to dozens of flips in
  one run, which share the run's seed, schedule and weights, so they are not independent)
  gets the Wilson interval over an *effective* number of trials (Korn and Graubard, "Confidence
  intervals for proportions with small expected number of positive counts estimated from
  survey data", Survey Methodology 24(2), 1998): the variance of the ratio estimate
  p = sum u_i / sum t_i is estimated over the clusters (the linearised, cluster-robust one,
  K / (K - 1) sum (u_i - p t_i)^2 / (sum t_i)^2 for K clusters), the trials are scaled
  down to p (1 - p) / variance, never above their real count, and then by (z / t_{K-1})^2
  for the K - 1 degrees of freedom of that variance. A cluster is then one unit of
  evidence, not each trial: 40 unanimous flips in one run are not 40 independent successes.
  When every trial succeeded or every one failed the variance says nothing about how alike
  the trials of a cluster are, and the worst case is assumed: one trial per cluster;
* the **exponent** of y ~ a n^b, fitted by least squares on (log n, log y) with one point per
  size (the median of its runs, see plots.fit_power_law), gets the t-interval of the slope
  with N - 2 degrees of freedom (N points, that is N sizes). Runs of one size are not
  independent draws around the line: a size has its own offset from any power law (the
  protocol's parameters and thresholds change with n in steps), which more runs do not
  average away, so a fit over every run would take N - 2 for hundreds of degrees of freedom
  and give an interval far too narrow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "LEVEL",
    "ClusteredProportion",
    "Interval",
    "cluster_proportion_interval",
    "median_interval",
    "slope_interval",
    "wilson_interval",
]

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
    return _wilson(successes / trials, trials, level)


def _wilson(p: float, trials: float, level: float) -> Interval:
    """Wilson's interval around p from ``trials`` trials (a real number: an effective count)."""
    z = float(stats.norm.ppf(0.5 + level / 2))
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


@dataclass(frozen=True)
class ClusteredProportion:
    """A proportion over clustered trials: the interval, and the evidence it rests on."""

    interval: Interval
    successes: int
    trials: int
    clusters: int
    effective_trials: float  # what the interval counts as independent trials


def cluster_proportion_interval(
    clusters: Iterable[tuple[int, int]], level: float = LEVEL
) -> ClusteredProportion | None:
    """The proportion sum(successes) / sum(trials) over clusters of (successes, trials), with
    the Wilson interval over the effective number of trials (see the module's docs); None
    without a trial. Clusters without a trial are left out."""
    pairs = [(int(u), int(t)) for u, t in clusters if t > 0]
    successes = sum(u for u, _ in pairs)
    trials = sum(t for _, t in pairs)
    if trials <= 0:
        return None
    k = len(pairs)
    p = successes / trials
    effective = float(k)  # the worst case: every trial of a cluster alike
    if 0 < successes < trials and k > 1:
        variance = k / (k - 1) * sum((u - p * t) ** 2 for u, t in pairs) / trials**2
        effective = trials if variance <= 0 else min(float(trials), p * (1 - p) / variance)
        # a variance estimated from k clusters has k - 1 degrees of freedom: Korn and
        # Graubard's adjustment shrinks the count by (z / t_{k-1})^2, so that few runs give
        # a wider interval (at k = 8, about a third fewer effective flips)
        z = float(stats.norm.ppf(0.5 + level / 2))
        effective *= (z / float(stats.t.ppf(0.5 + level / 2, k - 1))) ** 2
    return ClusteredProportion(_wilson(p, effective, level), successes, trials, k, effective)
