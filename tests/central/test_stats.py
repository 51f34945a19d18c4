"""The experiments' statistics (central/stats.py) against scipy's own results, computed here,
and against a published worked example."""

from __future__ import annotations

import random

import pytest
from scipy import stats as sp

from central.stats import (
    mann_whitney,
    mean_interval,
    median_interval,
    two_proportions,
    wilson,
)


def test_two_proportions_matches_a_worked_example_and_scipy():
    # Penn State STAT 415, lesson 9.4: 351 of 605 vs 41 of 195 smokers: z = 8.99 (rounded)
    test = two_proportions(351, 605, 41, 195)
    assert test.statistic == pytest.approx(8.985, abs=0.01)
    for s1, n1, s2, n2 in ((480, 1000, 520, 1000), (12, 40, 30, 60), (95, 100, 90, 100)):
        test = two_proportions(s1, n1, s2, n2)
        p = (s1 + s2) / (n1 + n2)
        z = (s1 / n1 - s2 / n2) / (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5
        assert test.statistic == pytest.approx(z)
        assert test.p_value == pytest.approx(2 * sp.norm.sf(abs(z)), rel=1e-9)


def test_wilson_interval_matches_scipy():
    for k, n in ((0, 10), (3, 10), (50, 100), (999, 1000), (7, 7)):
        ours = wilson(k, n)
        theirs = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), abs=1e-9)
        assert 0.0 <= ours.low <= ours.value <= ours.high <= 1.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mann_whitney_matches_scipy_with_ties(seed):
    rng = random.Random(seed)
    first = [rng.choice((1, 2, 3, 3, 4, 4, 4)) for _ in range(rng.randint(20, 300))]
    second = [rng.choice((1, 2, 2, 3, 3, 4, 4)) for _ in range(rng.randint(20, 300))]
    ours = mann_whitney(first, second)
    theirs = sp.mannwhitneyu(first, second, alternative="two-sided", method="asymptotic",
                             use_continuity=True)
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6, abs=1e-12)


def test_mann_whitney_on_times_without_ties_matches_scipy():
    rng = random.Random(9)
    first = [rng.lognormvariate(4.0, 0.5) for _ in range(150)]
    second = [rng.lognormvariate(4.2, 0.5) for _ in range(170)]
    ours = mann_whitney(first, second)
    theirs = sp.mannwhitneyu(first, second, alternative="two-sided", method="asymptotic")
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6)
    assert ours.p_value < 0.05


def test_intervals_of_a_mean_and_a_median():
    values = [3, 4, 4, 2, 4, 3, 1, 4, 3, 4] * 10
    ours = mean_interval(values)
    half = sp.norm.ppf(0.975) * sp.sem(values)
    assert (ours.low, ours.high) == pytest.approx((ours.value - half, ours.value + half))
    rng = random.Random(4)
    times = sorted(rng.lognormvariate(4.0, 0.5) for _ in range(101))
    median = median_interval(times)
    assert median.value == times[50]
    assert median.low <= median.value <= median.high
    # the order-statistic interval: about 95 % coverage (binomial tails either side)
    below = times.index(median.low)
    above = times.index(median.high)
    coverage = sp.binom.cdf(above, 101, 0.5) - sp.binom.cdf(below - 1, 101, 0.5)
    assert 0.93 <= coverage <= 0.98


def test_nothing_to_test_is_said_so():
    with pytest.raises(ValueError):
        wilson(0, 0)
    with pytest.raises(ValueError):
        mann_whitney([], [1.0])
    assert two_proportions(5, 5, 9, 9).p_value == 1.0  # all succeeded: no difference to see
