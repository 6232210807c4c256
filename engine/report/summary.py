"""The report's figures, as one JSON-ready dict: per assistant across personas and seeds, with 95%
intervals over runs. A run's figure is the mean of its days (metrics.csv); the interval is over runs."""

import math

from engine.report.collect import RunResult
from engine.report.stats import Interval, interval95, nanmean
from engine.vocab import BIG_FIVE

WEEK = 7


def run_figures(run: RunResult) -> dict[str, float]:
    """One run's figures: day means of metrics.csv's columns, and its learning comparison."""
    days = run.days
    hours = [m.awake_steps * run.step_seconds / 3600 for m in days]
    figures = {
        "mean_score": nanmean(m.mean_score for m in days),
        "normalized": nanmean(m.normalized for m in days),
        "recs_per_hour": nanmean(m.recs_per_hour for m in days),
        "wanted_min_per_hour": nanmean(m.wanted_min / h if m.wanted_min is not None and h else math.nan
                                       for m, h in zip(days, hours)),
        "wanted_max_per_hour": nanmean(m.wanted_max / h if m.wanted_max is not None and h else math.nan
                                       for m, h in zip(days, hours)),
        "in_range": nanmean(float(m.in_wanted_range) if m.in_wanted_range is not None else math.nan for m in days),
        "precision": nanmean(m.precision for m in days),
        "recall": nanmean(m.recall for m in days),
        "missed_per_day": nanmean(float(m.missed_opportunities) for m in days),
    }
    for criterion in run.criteria:
        figures[f"pass_{criterion}"] = nanmean(m.pass_rates[criterion] for m in days)
    figures |= learning(days)
    return figures


def learning(days: list) -> dict[str, float]:
    """Week-aligned: day 1 vs day 8 and week 1 vs week 2 over the same weekdays (days 1..k vs 8..7+k).
    A run shorter than 8 days compares its last day with its first."""
    n = len(days)
    out = {"day1": days[0].mean_score if days else math.nan, "day8": math.nan, "week1": math.nan, "week2": math.nan}
    if n > WEEK:
        k = min(n, 2 * WEEK) - WEEK
        out |= {"day8": days[WEEK].mean_score, "week1": nanmean(m.mean_score for m in days[:k]),
                "week2": nanmean(m.mean_score for m in days[WEEK:WEEK + k])}
        out["improvement"] = out["week2"] - out["week1"]
    else:
        out["improvement"] = days[-1].mean_score - days[0].mean_score if n >= 2 else math.nan
    return out


def improvement_label(runs: list[RunResult]) -> str:
    n = min((len(r.days) for r in runs), default=0)
    if n > WEEK:
        return "week 2 − week 1" if n >= 2 * WEEK else f"days 8–{n} − days 1–{n - WEEK}"
    return f"day {n} − day 1" if n >= 2 else "n/a (one day)"


def _by(runs: list[RunResult], key) -> dict:
    groups: dict = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    return groups


def _curve(runs: list[RunResult], field) -> list[dict]:
    length = max((len(r.days) for r in runs), default=0)
    return [interval95(field(r.days[d]) for r in runs if d < len(r.days)).to_json() for d in range(length)]


def _cost(runs: list[RunResult]) -> dict[str, dict]:
    roles: dict[str, dict] = {}
    for run in runs:
        for role, t in run.calls.items():
            entry = roles.setdefault(role, dict.fromkeys(("calls", "prompt_tokens", "completion_tokens", "cached",
                                                          "failed"), 0))
            for key in entry:
                entry[key] += getattr(t, key)
    return roles


def build_report(runs: list[RunResult]) -> dict:
    criteria = runs[0].criteria
    figures = {run.name: run_figures(run) for run in runs}
    by_assistant = _by(runs, lambda r: r.assistant)
    report: dict = {
        "runs": len(runs), "personas": sorted({r.persona for r in runs}), "assistants": list(by_assistant),
        "seeds": sorted({r.seed for r in runs}), "days": max((len(r.days) for r in runs), default=0),
        "incomplete_runs": sorted(r.name for r in runs if len(r.days) < r.planned_days),
        "criteria": list(criteria), "improvement": improvement_label(runs),
        "assistants_table": {}, "curves": {}, "traits": {}, "personas_ranked": {}, "complexity": {}, "costs": {},
    }
    metrics = ["mean_score", "normalized", "recs_per_hour", "wanted_min_per_hour", "wanted_max_per_hour", "in_range",
               "precision", "recall", *(f"pass_{c}" for c in criteria), "missed_per_day",
               "day1", "day8", "week1", "week2", "improvement"]
    for assistant, group in by_assistant.items():
        values = [figures[r.name] for r in group]
        report["assistants_table"][assistant] = {k: interval95(v[k] for v in values).to_json() for k in metrics}
        report["curves"][assistant] = {
            "mean_score": _curve(group, lambda m: m.mean_score),
            "recs_per_hour": _curve(group, lambda m: m.recs_per_hour),
            "normalized": _curve(group, lambda m: m.normalized)}
        report["traits"][assistant] = {
            trait: {level: interval95(figures[r.name]["improvement"] for r in group if r.traits[trait] == level).to_json()
                    for level in ("high", "low")} for trait in BIG_FIVE}
        per_persona = _by(group, lambda r: r.persona)
        ranked = [{"persona": p, "mean_score": round(nanmean(figures[r.name]["mean_score"] for r in rs), 4),
                   "improvement": round(nanmean(figures[r.name]["improvement"] for r in rs), 4),
                   "conditional": rs[0].conditional} for p, rs in per_persona.items()]
        report["personas_ranked"][assistant] = sorted(ranked, key=lambda x: (-_key(x["mean_score"]), x["persona"]))
        report["complexity"][assistant] = {
            kind: {"personas": len({r.persona for r in group if r.conditional == flag}),
                   "mean_score": interval95(figures[r.name]["mean_score"] for r in group
                                            if r.conditional == flag).to_json(),
                   "improvement": interval95(figures[r.name]["improvement"] for r in group
                                             if r.conditional == flag).to_json()}
            for kind, flag in (("conditional", True), ("simple", False))}
        cost = _cost(group)
        if cost:
            report["costs"][assistant] = cost
    return _clean(report)


def _key(x) -> float:
    return -math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _clean(value):
    """nan -> None, everywhere (JSON has no nan)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def interval(entry: dict) -> Interval:
    """An interval back from its JSON form (for the renderers)."""
    nan = math.nan
    mean = nan if entry["mean"] is None else entry["mean"]
    half = nan if entry["high"] is None or entry["mean"] is None else entry["high"] - entry["mean"]
    return Interval(mean, half, entry["n"])
