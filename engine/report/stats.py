"""Means and 95% intervals over runs (Student's t: grids have few seeds and personas per cell)."""

import math
import statistics
from dataclasses import dataclass

# two-sided 95% quantiles of Student's t by degrees of freedom; above 30 the normal's 1.96 is close enough
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def nanmean(values) -> float:
    """The mean of the values that are numbers (a blank day, nan, is left out); nan if none."""
    values = finite(values)
    return statistics.fmean(values) if values else math.nan


@dataclass(frozen=True)
class Interval:
    mean: float
    half: float  # half-width of the 95% interval; nan with fewer than two values
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def to_json(self) -> dict:
        r = lambda x: None if math.isnan(x) else round(x, 4)  # noqa: E731
        return {"mean": r(self.mean), "low": r(self.low), "high": r(self.high), "n": self.n}

    def text(self, digits: int = 2) -> str:
        if math.isnan(self.mean):
            return "—"
        return f"{self.mean:.{digits}f}" + ("" if math.isnan(self.half) else f" ±{self.half:.{digits}f}")


def interval95(values) -> Interval:
    values = finite(values)
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if n == 1:
        return Interval(mean, math.nan, 1)
    t = T975[n - 2] if n - 1 <= len(T975) else 1.96
    return Interval(mean, t * statistics.stdev(values) / math.sqrt(n), n)
