"""Per-day metrics, computed from the day's step records: the one place they are computed.

A failed rating (no valid judgment) is counted in `failed_ratings` and left out of every
mean and pass rate; the column appears only for judges that can fail, so the files of
rule-based runs keep their shape.
"""

import dataclasses
import math
from dataclasses import asdict, dataclass

from engine.judges.day_plan import day_bounds
from engine.judges.rubric import RubricJudge
from engine.types import Observation, StepRecord, is_recommendation_text
from engine.wanted import wanted_range

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class DayMetrics:
    day: int
    awake_steps: int
    mean_score: float  # delivered candidate's total, over all awake steps (the paper's number)
    mean_recommendation_score: float  # over delivered recommendations only (nan if none)
    recommendations: int
    recs_per_hour: float
    missed_opportunities: int
    pairs: int
    pass_rates: dict[str, float]
    failed_ratings: int = 0  # delivered candidates with no valid judgment
    training: str = ""  # what an LLM assistant's day-end training did (its column only for those)
    # under the rubric judge (blank for others): the day's score between always-abstain and the oracle
    normalized: float = NAN  # (mean - abstain) / (oracle - abstain); blank on a day with nothing at stake
    precision: float = NAN  # share of delivered recommendations that passed every criterion
    recall: float = NAN  # share of wanted moments that were served
    wanted_min: int | None = None  # the day's wanted range (engine.wanted)
    wanted_max: int | None = None
    abstain_score: float = NAN  # the bounds of the normalized score
    oracle_score: float = NAN

    def row(self, failures: bool = False, training: bool = False) -> dict:
        values = asdict(self)
        row = {k: values[k] for k in _shown(failures, training) if k != "pass_rates"}
        row |= {f"pass_{name}": rate for name, rate in self.pass_rates.items()}
        row |= {k: values[k] for k in BOUNDS}
        return {k: (round(v, 4) if isinstance(v, float) and not math.isnan(v) else
                    "" if isinstance(v, float) or v is None else v) for k, v in row.items()}

    @classmethod
    def from_row(cls, row: dict, criteria: tuple[str, ...]) -> "DayMetrics":
        """The inverse of row(), from a metrics.csv row (strings; columns an older file lacks read as blank)."""
        number = lambda key: float(row[key]) if row.get(key, "") != "" else NAN  # noqa: E731
        count = lambda key: int(row[key]) if row.get(key, "") != "" else None  # noqa: E731
        return cls(
            day=int(row["day"]), awake_steps=int(row["awake_steps"]), mean_score=number("mean_score"),
            mean_recommendation_score=number("mean_recommendation_score"),
            recommendations=int(row["recommendations"]), recs_per_hour=number("recs_per_hour"),
            missed_opportunities=int(row["missed_opportunities"]), pairs=int(row["pairs"]),
            pass_rates={c: number(f"pass_{c}") for c in criteria},
            failed_ratings=int(row.get("failed_ratings") or 0), training=row.get("training") or "",
            normalized=number("normalized"), precision=number("precision"), recall=number("recall"),
            wanted_min=count("wanted_min"), wanted_max=count("wanted_max"),
            abstain_score=number("abstain_score"), oracle_score=number("oracle_score"),
        )

    @classmethod
    def columns(cls, criteria: tuple[str, ...], failures: bool = False, training: bool = False) -> list[str]:
        return [k for k in _shown(failures, training) if k != "pass_rates"] + [f"pass_{c}" for c in criteria] + \
            list(BOUNDS)

    @property
    def in_wanted_range(self) -> bool | None:
        if self.wanted_min is None or self.wanted_max is None:
            return None
        return self.wanted_min <= self.recommendations <= self.wanted_max


# metrics.csv's columns in order; the optional ones only where they can say something
COLUMNS = ("day", "awake_steps", "mean_score", "normalized", "precision", "recall", "mean_recommendation_score",
           "recommendations", "wanted_min", "wanted_max", "recs_per_hour", "missed_opportunities", "pairs",
           "failed_ratings", "training", "pass_rates")
BOUNDS = ("abstain_score", "oracle_score")


def _shown(failures: bool, training: bool) -> list[str]:
    return [k for k in COLUMNS if (k != "failed_ratings" or failures) and (k != "training" or training)]


def day_metrics(day: int, records: list[StepRecord], pairs: int, step_seconds: int,
                criteria: tuple[str, ...], judge=None) -> DayMetrics:
    """From StepRecords (a live run); with the rubric judge (or a takeover of it), its scores too."""
    rules = getattr(judge, "inner", judge)
    metrics = metrics_of(day, [(r.delivered_candidate.is_recommendation, r.delivered_rating.failed,
                             r.delivered_rating.total, r.delivered_rating.missed_opportunity,
                             r.delivered_rating.criteria) for r in records], pairs, step_seconds, criteria)
    if isinstance(rules, RubricJudge):
        metrics = with_rubric(metrics, rules, [r.observation for r in records])
    return metrics


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
        precision=(sum(1 for r in judged if r[0] and all(r[4].values())) / len(recs)) if recs else nan,
    )


def with_rubric(metrics: DayMetrics, judge, observations: list[Observation]) -> DayMetrics:
    """The scores only the rules can give: the normalized score, recall and the wanted range."""
    bounds = day_bounds(judge, observations)
    low, high = wanted_range(judge, observations)
    moments = served = 0
    before = False
    for wanted, was_served in judge.day_log:
        moments += wanted and not before  # a wanted moment lasts until it is served or passes
        served += was_served
        before = wanted and not was_served
    return dataclasses.replace(
        metrics, wanted_min=low, wanted_max=high, recall=served / moments if moments else math.nan,
        normalized=bounds.normalized(metrics.mean_score) if bounds else math.nan,
        abstain_score=bounds.abstain if bounds else math.nan, oracle_score=bounds.oracle if bounds else math.nan,
    )
