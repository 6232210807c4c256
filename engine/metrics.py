"""Per-day metrics, computed from the day's step records: the one place they are computed.

A failed rating (no valid judgment) is counted in `failed_ratings` and left out of every
mean and pass rate; the column appears only for judges that can fail, so the files of
rule-based runs keep their shape.
"""

import math
from dataclasses import asdict, dataclass, fields

from engine.types import StepRecord, is_recommendation_text


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
    failed_ratings: int = 0  # delivered candidates with no valid judgment
    training: str = ""  # what an LLM assistant's day-end training did (its column only for those)

    def row(self, failures: bool = False, training: bool = False) -> dict:
        row = {k: v for k, v in asdict(self).items() if k in _shown(failures, training)}
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
            failed_ratings=int(row.get("failed_ratings") or 0), training=row.get("training") or "",
        )

    @classmethod
    def columns(cls, criteria: tuple[str, ...], failures: bool = False, training: bool = False) -> list[str]:
        return [f.name for f in fields(cls) if f.name in _shown(failures, training)] + [f"pass_{c}" for c in criteria]


def _shown(failures: bool, training: bool) -> set[str]:
    """The scalar columns a run's metrics.csv has: the optional ones only where they can say something."""
    names = {f.name for f in fields(DayMetrics)} - {"pass_rates", "failed_ratings", "training"}
    return names | ({"failed_ratings"} if failures else set()) | ({"training"} if training else set())


def day_metrics(day: int, records: list[StepRecord], pairs: int, step_seconds: int,
                criteria: tuple[str, ...]) -> DayMetrics:
    """From StepRecords (a live run)."""
    return metrics_of(day, [(r.delivered_candidate.is_recommendation, r.delivered_rating.failed,
                             r.delivered_rating.total, r.delivered_rating.missed_opportunity,
                             r.delivered_rating.criteria) for r in records], pairs, step_seconds, criteria)


def step_metrics(day: int, steps: list[dict], step_seconds: int, criteria: tuple[str, ...],
                 pairs: int = 0) -> DayMetrics:
    """From step records as events.jsonl holds them (replays, the TUI's panels)."""
    rows = []
    for step in steps:
        c = step["candidates"][step["delivered"]]
        r = c["rating"]
        rows.append((is_recommendation_text(c["text"]), r.get("failed", False), r["total"] or 0, r["missed"],
                     r["criteria"]))
    return metrics_of(day, rows, pairs, step_seconds, criteria)


def metrics_of(day: int, rows: list[tuple], pairs: int, step_seconds: int, criteria: tuple[str, ...]) -> DayMetrics:
    """rows: (is recommendation, failed, total, missed, criteria) of each awake step's delivered candidate."""
    awake = len(rows)
    judged = [r for r in rows if not r[1]]
    recs = [r[2] for r in judged if r[0]]
    hours = awake * step_seconds / 3600
    nan = float("nan")
    n = len(judged)
    return DayMetrics(
        day=day,
        awake_steps=awake,
        mean_score=sum(r[2] for r in judged) / n if n else nan,
        mean_recommendation_score=sum(recs) / len(recs) if recs else nan,
        recommendations=sum(1 for r in rows if r[0]),
        recs_per_hour=sum(1 for r in rows if r[0]) / hours if hours else 0.0,
        missed_opportunities=sum(1 for r in judged if r[3]),
        pairs=pairs,
        pass_rates={c: (sum(r[4][c] for r in judged) / n if n else nan) for c in criteria},
        failed_ratings=awake - n,
    )
