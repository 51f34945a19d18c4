"""The statistics of an experiment's result: an estimate with its 95 % interval per variant, and
a two-sided test of the difference between two variants.

Why our own few functions and not scipy: they are four textbook formulas, and scipy would add
tens of megabytes to every central install for them. `tests/central/test_stats.py` holds them
to scipy's own results (and to a published worked example), so they cannot drift.

Which test for which outcome:
- a share (completion rate, receipt choice): the two-proportion z-test with the pooled standard
  error; the interval per variant is Wilson's score interval (it stays inside 0..1 and behaves
  for small counts, where the plain normal interval does not);
- a score or a time (satisfaction 1..4, visit seconds): the Mann-Whitney U test with the normal
  approximation, tie correction and continuity correction (scipy's "asymptotic" method); the
  interval per variant is the mean's normal interval (for satisfaction) or, for times, the
  median with the distribution-free interval from the order statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963...


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Test:
    name: str
    statistic: float
    p_value: float


def _two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def wilson(successes: int, n: int, z: float = Z95) -> Estimate:
    """A share with Wilson's score interval."""
    if n <= 0:
        raise ValueError("no observations")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at 0 of n (or n of n) the bound is exactly 0 (or 1); the formula leaves a rounding crumb
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Estimate(p, low, high)


def two_proportions(s1: int, n1: int, s2: int, n2: int) -> Test:
    """Two-sided two-proportion z-test, pooled standard error."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("no observations")
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return Test("two-proportion z-test", 0.0, 1.0)
    z = (s1 / n1 - s2 / n2) / se
    return Test("two-proportion z-test", z, _two_sided(z))


def mean_interval(values: Sequence[float], z: float = Z95) -> Estimate:
    """The mean with its normal 95 % interval (the sample standard deviation)."""
    n = len(values)
    if n == 0:
        raise ValueError("no observations")
    mean = sum(values) / n
    if n == 1:
        return Estimate(mean, mean, mean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = z * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half)


def median_interval(values: Sequence[float], z: float = Z95) -> Estimate:
    """The median with the distribution-free interval from the order statistics (the ranks
    n/2 -+ z*sqrt(n)/2), so a few very long visits do not widen it as they would a mean's."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no observations")
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    half = z * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return Estimate(median, ordered[low], ordered[high])


def mann_whitney(first: Sequence[float], second: Sequence[float]) -> Test:
    """Two-sided Mann-Whitney U test, normal approximation with tie and continuity
    correction; the statistic is U of `first` (as scipy.stats.mannwhitneyu reports it)."""
    n1, n2 = len(first), len(second)
    if n1 == 0 or n2 == 0:
        raise ValueError("no observations")
    ranks, ties = _ranks([*first, *second])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    mu = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return Test("Mann-Whitney U", u1, 1.0)
    u = max(u1, n1 * n2 - u1)
    z = (u - mu - 0.5) / math.sqrt(variance)
    return Test("Mann-Whitney U", u1, min(1.0, 2 * (1 - NormalDist().cdf(z))))


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Mid-ranks (1-based) in the order given, and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[order[k]] = rank
        t = end - start + 1
        ties += t ** 3 - t
        start = end + 1
    return ranks, ties
