"""The best and the silent day under the rubric judge: the oracle's plan and the score bounds.

The oracle plans the whole day by dynamic programming over when to serve (a
recommendation that passes every criterion), with the state the rules depend on: steps
since the last served recommendation (or waking) and how many were served. Between its
serves it fills a wanted moment it cannot serve with the best item it has, where that
scores above silence and blocks no planned serve. Every plan is executed through the
judge's own `rate_now`, so a bound is a score some policy really gets, never an estimate.

`day_bounds` gives the two ends of the normalized score: always-abstain and the oracle,
on the day's actual observations.
"""

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.assistants.base import candidate_of
from engine.judges.rubric import DayHistory, RubricJudge
from engine.types import ABSTAIN, Candidate, Observation, Rating


@dataclass(frozen=True, slots=True)
class DayBounds:
    abstain: float  # mean delivered score of always-abstain over the day's awake steps
    oracle: float  # mean of the oracle's planned day

    def normalized(self, score: float, least_at_stake: float = 0.05) -> float:
        """(score - abstain) / (oracle - abstain); nan on a day with (almost) nothing at stake."""
        spread = self.oracle - self.abstain
        return (score - self.abstain) / spread if spread >= least_at_stake else math.nan


def servable(judge: RubricJudge, obs: Observation, history: DayHistory) -> list[Candidate]:
    """Candidates that pass preference, timing and communication now, best first (frequency aside)."""
    v = judge.view(obs)
    if not v.open_to(obs.activity.tags):
        return []
    out = [c for c in judge.offers(v, obs.activity.tags) if history.repeated(c, obs.minute) is None]
    recent = set(history.recent_topics[-max(v.novelty_window, 1):])
    out.sort(key=lambda c: c.topic in recent)  # stable: catalog order otherwise
    return out


def best_item(judge: RubricJudge, obs: Observation, history: DayHistory) -> tuple[Candidate, int]:
    """The highest-scoring recommendation now (any catalog item) and its total."""
    best, best_total = ABSTAIN, -1
    for item in judge.catalog.fitting(obs.activity.tags) or judge.catalog.items:
        candidate = candidate_of(item)
        total = judge.rate_now(obs, candidate, history, noisy=False).total
        if total > best_total:
            best, best_total = candidate, total
    return best, best_total


def plan_serves(judge: RubricJudge, observations: dict[int, Observation], start: int, since: int,
                served: int) -> set[int]:
    """The steps at which to serve from `start` on, maximizing the day's total.

    observations: step -> the awake observation; since: steps since the last served (or
    waking) at `start`; served: how many were served before `start`.
    """
    steps = judge.clock.steps_per_day
    if not observations:
        return set()
    views = {t: judge.view(o) for t, o in observations.items()}
    most = max(v.max_per_day for v in views.values())
    if served >= most:
        return set()
    longest = max(max(v.min_gap, v.max_silence) for v in views.values())
    cap = math.ceil(longest * 60 / judge.clock.step_seconds) + 2  # k == cap: every gap is long enough
    n = len(judge.criteria)
    minutes = [judge.clock.minute_of_day(t) for t in range(steps)]
    value = np.zeros((cap + 1, most + 1))  # value[k, c]: the best total from t on in state (k, c)
    serve_at: dict[int, np.ndarray] = {}
    rules: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
    for t in range(steps - 1, start - 1, -1):
        after = np.empty_like(value)  # after[k] = value[min(k + 1, cap)]: one more step since the last
        after[:-1], after[-1] = value[1:], value[-1]
        obs = observations.get(t)
        if obs is None:
            value = after
            continue
        v = views[t]
        if not (v.open_to(obs.activity.tags) and judge.something_for(v, obs.activity.tags)):  # repeats aside
            after += n  # silence passes every criterion
            value = after
            continue
        # the gap grows with k, so "a gap of at least x minutes" holds for every k from a threshold on
        # (from cap, or from t + 1 for "since waking", every gap is long enough)
        gap_from, long_from = (min(t - bisect.bisect_right(minutes, minutes[t] - x) + 1, cap)
                               for x in (v.min_gap, v.max_silence))
        key = (gap_from, long_from, v.max_per_day)
        if key not in rules:
            rules[key] = _step_rules(value.shape, n, *key)
        wanted, silence_score = rules[key]
        silence = after
        silence += silence_score
        serve = np.full(most + 1, -np.inf)  # served now: k = 1 and one more served
        serve[:v.max_per_day] = n + value[1 if cap >= 1 else 0, 1:v.max_per_day + 1]
        choose = (serve >= silence) & wanted  # ties: serve (it counts toward the wanted range)
        serve_at[t] = choose
        value = np.where(choose, serve, silence)
    plan, k, c = set(), min(since, cap), served
    for t in range(start, steps):
        if t in observations and t in serve_at and c <= most and serve_at[t][k, min(c, most)]:
            plan.add(t)
            k, c = 1, c + 1
        elif t in observations or k:
            k = min(k + 1, cap)
    return plan


def _step_rules(shape: tuple[int, int], n: int, gap_from: int, long_from: int,
                max_per_day: int) -> tuple[np.ndarray, np.ndarray]:
    """For states (k, c) at one step: where a recommendation is wanted, and what silence scores there.

    Wanted: c < max_per_day and (the gap is long enough or nothing was served yet today). Silence at a
    wanted moment fails two criteria, three once the silence has lasted too long."""
    k, c = np.indices(shape)
    wanted = (c < max_per_day) & ((k >= gap_from) | (c == 0))
    return wanted, np.where(wanted, n - 2 - (k >= long_from), n).astype(float)


class DayPlanner:
    """Executes the oracle's plan step by step through the judge, re-planning if the day diverges."""

    def __init__(self, judge: RubricJudge, observations: Sequence[Observation]):
        self.judge = judge
        self.observations = {o.step: o for o in observations}
        self.history = DayHistory()
        self._since: int | None = None  # step of the last served recommendation, or of waking
        self._plan = plan_serves(judge, self.observations, 0, 0, 0)
        self._planned_served, self._stale = 0, False

    def choose(self, obs: Observation) -> Candidate:
        judge, h = self.judge, self.history
        if self.observations.get(obs.step) != obs or h.served != self._planned_served or self._stale:
            self.observations[obs.step] = obs
            since = 0 if self._since is None else obs.step - self._since
            self._plan = plan_serves(judge, self.observations, obs.step, since, h.served)
            self._planned_served, self._stale = h.served, False
        if obs.step in self._plan:
            options = servable(judge, obs, h)
            if options:
                self._planned_served += 1
                return options[0]
            self._stale = True  # everything it could serve was heard lately (the plan can't see repeats)
        if judge.wants(obs, h):  # a wanted moment it won't serve: the best item, if that beats silence
            item, total = best_item(judge, obs, h)
            quiet = judge.rate_now(obs, ABSTAIN, h, noisy=False).total
            if total > quiet and not self._serve_within(obs, judge.view(obs).min_gap):
                return item
        return ABSTAIN

    def see(self, obs: Observation, delivered: Candidate, rating: Rating | None = None) -> None:
        """`rating`: the rules' noiseless verdict on `delivered` now, when the caller has it already."""
        if rating is None:
            rating = self.judge.rate_now(obs, delivered, self.history, noisy=False)
        served = delivered.is_recommendation and all(rating.criteria.values())
        if served or self._since is None:
            self._since = obs.step
        self.history.see(obs, delivered, served)

    def _serve_within(self, obs: Observation, minutes: int) -> bool:
        minute = self.judge.clock.minute_of_day
        return any(t > obs.step and minute(t) - obs.minute < minutes for t in self._plan)


def run_plan(judge: RubricJudge, observations: Sequence[Observation]) -> list[int]:
    """The oracle's totals at each awake step of the day."""
    planner, totals = DayPlanner(judge, observations), []
    for obs in observations:
        candidate = planner.choose(obs)
        rating = judge.rate_now(obs, candidate, planner.history, noisy=False)
        totals.append(rating.total)
        planner.see(obs, candidate, rating)
    return totals


def abstain_totals(judge: RubricJudge, observations: Sequence[Observation]) -> list[int]:
    history, totals = DayHistory(), []
    for obs in observations:
        totals.append(judge.rate_now(obs, ABSTAIN, history, noisy=False).total)
        history.see(obs, ABSTAIN, False)
    return totals


_BOUNDS_CACHE: dict[tuple, DayBounds] = {}  # per process: the same day recurs in every policy of a sweep


def day_bounds(judge: RubricJudge, observations: Sequence[Observation]) -> DayBounds | None:
    if not observations:
        return None
    key = (judge.persona_key, judge.criteria, id(judge.catalog), judge.clock.step_seconds, tuple(observations))
    bounds = _BOUNDS_CACHE.get(key)  # read once: runs of one process may close their days on threads at once
    if bounds is None:
        oracle, abstain = run_plan(judge, observations), abstain_totals(judge, observations)
        bounds = DayBounds(sum(abstain) / len(abstain), sum(oracle) / len(oracle))
        if len(_BOUNDS_CACHE) >= 4096:
            _BOUNDS_CACHE.clear()
        _BOUNDS_CACHE[key] = bounds
    return bounds
