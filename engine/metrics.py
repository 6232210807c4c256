"""Per-day metrics, computed from the day's step records."""

import math
from dataclasses import asdict, dataclass, fields

from engine.types import StepRecord


@dataclass(frozen=True, slots=True)
class DayMetrics:
    day: int
    awake_steps: int
    mean_score: float  # delivered candidate's total, over all awake steps
    mean_recommendation_score: float  # over delivered recommendations only (nan if none)
    recommendations: int
    recs_per_hour: float
    missed_opportunities: int
    pairs: int
    pass_rates: dict[str, float]

    def row(self) -> dict:
        row = {k: v for k, v in asdict(self).items() if k != "pass_rates"}
        row |= {f"pass_{name}": rate for name, rate in self.pass_rates.items()}
        return {k: (round(v, 4) if isinstance(v, float) and not math.isnan(v) else
                    "" if isinstance(v, float) else v) for k, v in row.items()}

    @classmethod
    def from_row(cls, row: dict, criteria: tuple[str, ...]) -> "DayMetrics":
        """The inverse of row(), from a metrics.csv row (strings)."""
        number = lambda key: float(row[key]) if row[key] != "" else float("nan")  # noqa: E731
        return cls(
            day=int(row["day"]), awake_steps=int(row["awake_steps"]), mean_score=number("mean_score"),
            mean_recommendation_score=number("mean_recommendation_score"),
            recommendations=int(row["recommendations"]), recs_per_hour=number("recs_per_hour"),
            missed_opportunities=int(row["missed_opportunities"]), pairs=int(row["pairs"]),
            pass_rates={c: number(f"pass_{c}") for c in criteria},
        )

    @classmethod
    def columns(cls, criteria: tuple[str, ...]) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "pass_rates"] + [f"pass_{c}" for c in criteria]


def day_metrics(day: int, records: list[StepRecord], pairs: int, step_seconds: int,
                criteria: tuple[str, ...]) -> DayMetrics:
    awake = len(records)
    delivered = [r.delivered_rating for r in records]
    recs = [r.delivered_rating.total for r in records if r.delivered_candidate.is_recommendation]
    hours = awake * step_seconds / 3600
    nan = float("nan")
    return DayMetrics(
        day=day,
        awake_steps=awake,
        mean_score=sum(r.total for r in delivered) / awake if awake else nan,
        mean_recommendation_score=sum(recs) / len(recs) if recs else nan,
        recommendations=len(recs),
        recs_per_hour=len(recs) / hours if hours else 0.0,
        missed_opportunities=sum(r.missed_opportunity for r in delivered),
        pairs=pairs,
        pass_rates={c: (sum(r.criteria[c] for r in delivered) / awake if awake else nan) for c in criteria},
    )
