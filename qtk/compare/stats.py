"""Statistics of a multi-seed comparison: Student-t intervals of a mean over seeds and of the
paired (same seed) difference to the baseline. Pure Python + scipy; no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Interval:
    """Mean, sample std and a two-sided Student-t confidence interval of n values. With one value
    the std and interval are undefined (None): one seed says nothing about seed-to-seed spread."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def t_interval(values: list[float], level: float = 0.95) -> Interval:
    """mean +- t_{(1+level)/2, n-1} * std / sqrt(n), std with n-1 degrees of freedom."""
    from scipy import stats

    n = len(values)
    if n == 0:
        raise ValueError("t_interval of no values")
    mean = sum(values) / n
    if n == 1:
        return Interval(1, mean, None, None, None)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def paired(variant: dict[int, float], baseline: dict[int, float], level: float = 0.95) -> Interval | None:
    """Interval of variant - baseline over the seeds both have, each difference taken within one
    seed (same data order, same init seed): the seed's shared luck cancels out of the difference."""
    seeds = sorted(set(variant) & set(baseline))
    if not seeds:
        return None
    return t_interval([variant[s] - baseline[s] for s in seeds], level)


def ratio_geomean(variant: dict[int, float], baseline: dict[int, float]) -> float | None:
    """Geometric mean over shared seeds of variant / baseline: each ratio is taken within one
    round, so load that changes between rounds hits both sides of a ratio alike."""
    seeds = [s for s in sorted(set(variant) & set(baseline)) if variant[s] > 0 and baseline[s] > 0]
    if not seeds:
        return None
    return math.exp(sum(math.log(variant[s] / baseline[s]) for s in seeds) / len(seeds))
