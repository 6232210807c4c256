"""The offline judge (`rubric`): scores a candidate from the persona's structured preferences.

The rules, documented for researchers in personas/README.md:

- The user *wants* a recommendation now when the time is in a welcome window (and
  not in an avoid window), the activity has no never-interrupt tag, the last
  *satisfying* recommendation (liked topic, acceptable tone and content) is at least
  min_gap ago, and fewer than per_day max have been delivered today. A poor
  recommendation does not satisfy: silence right after it still misses the chance.
- A recommendation passes preference if its topic is liked; timing if the user is
  in a welcome window, interruptible, and the item fits the activity; frequency if
  the gap and the daily max both allow it; communication if its tone is accepted and
  it touches no boundary; novelty (optional) if its topic is not among the last few
  delivered.
- No Recommendation passes everything when the user does not want one. When the
  user does (a missed opportunity), it fails preference and timing, and frequency
  too once the silence has lasted max_silence_minutes.
- A free-text recommendation (no catalog item, e.g. a model's) is rated by the same
  rules from the topic and tone it names: it fits the activity when some catalog item
  of its topic does; its boundaries are the flags whose keywords its text contains;
  with no topic it fails preference, with no tone it fails communication.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.clock import SimClock
from engine.persona import Persona
from engine.seeding import ROLE_JUDGE, rng_for, stable_hash
from engine.timeutil import in_windows, parse_window
from engine.types import Candidate, Observation, Rating
from engine.vocab import DEFAULT_CRITERIA, OPTIONAL_CRITERIA, flags_in_text


@dataclass(frozen=True, slots=True)
class PreferenceView:
    """The persona's preferences as they apply at one moment (after conditional overrides)."""

    liked: frozenset[str]
    disliked: frozenset[str]
    tones: frozenset[str]
    boundaries: frozenset[str]
    never_interrupt: frozenset[str]
    welcome: bool
    min_gap: int
    max_per_day: int
    max_silence: int
    novelty_window: int


class DayHistory:
    """What the user remembers of today's delivered recommendations."""

    __slots__ = ("count", "last_minute", "last_satisfied", "awake_since", "recent_topics")

    def __init__(self) -> None:
        self.count = 0
        self.last_minute: int | None = None
        self.last_satisfied: int | None = None  # minute of the last recommendation whose content pleased
        self.awake_since: int | None = None
        self.recent_topics: list[str] = []

    def see(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        if self.awake_since is None:
            self.awake_since = obs.minute
        if delivered.is_recommendation:
            self.count += 1
            self.last_minute = obs.minute
            if rating.criteria.get("preference") and rating.criteria.get("communication"):
                self.last_satisfied = obs.minute
            self.recent_topics.append(delivered.topic or "")
            del self.recent_topics[:-8]

    def silence(self, minute: int) -> int:
        since = self.last_minute if self.last_minute is not None else self.awake_since
        return 0 if since is None else minute - since


def compile_views(persona: Persona, clock: SimClock, weekend: bool) -> list[PreferenceView]:
    """One PreferenceView per step of a weekday or weekend day."""
    p = persona.preferences
    base = {
        "liked_topics": p.liked_topics, "disliked_topics": p.disliked_topics, "tones": p.tones,
        "never_interrupt": p.never_interrupt, "min_gap_minutes": p.min_gap_minutes,
    }
    welcome = [parse_window(w) for w in p.welcome]
    conditions = []
    for cond in p.when:
        if cond.days != "all" and (cond.days == "weekend") != weekend:
            continue
        if cond.welcome is not None:
            welcome = [parse_window(w) for w in cond.welcome]
        window = parse_window(cond.window) if cond.window else (0, 24 * 60)
        conditions.append((window, cond.model_dump(include=set(base), exclude_none=True)))
    welcome_windows, avoid = tuple(welcome), tuple(parse_window(w) for w in p.avoid)
    cache: dict[tuple, PreferenceView] = {}
    views = []
    for step in range(clock.steps_per_day):
        minute = clock.minute_of_day(step)
        active = tuple(i for i, (w, _) in enumerate(conditions) if w[0] <= minute < w[1])
        is_welcome = in_windows(minute, welcome_windows) and not in_windows(minute, avoid)
        key = (active, is_welcome)
        if key not in cache:
            values = dict(base)
            for i in active:
                values.update(conditions[i][1])
            cache[key] = PreferenceView(
                liked=frozenset(values["liked_topics"]), disliked=frozenset(values["disliked_topics"]),
                tones=frozenset(values["tones"]), boundaries=frozenset(p.boundaries),
                never_interrupt=frozenset(values["never_interrupt"]), welcome=is_welcome,
                min_gap=values["min_gap_minutes"], max_per_day=p.per_day[1],
                max_silence=p.max_silence_minutes, novelty_window=round(4 * p.novelty),
            )
        views.append(cache[key])
    return views


class RubricJudge:
    kind = "rubric"
    can_fail = False  # rules always reach a verdict

    def __init__(self, persona: Persona, clock: SimClock, seed: int, catalog: Catalog,
                 criteria: tuple[str, ...] = DEFAULT_CRITERIA, noise: float = 0.0):
        unknown = set(criteria) - set(DEFAULT_CRITERIA) - set(OPTIONAL_CRITERIA)
        if unknown:
            raise ValueError(f"unknown rubric criteria: {', '.join(sorted(unknown))}")
        if not 0.0 <= noise <= 0.5:
            raise ValueError(f"judge noise must be within 0-0.5, got {noise}")
        self.criteria = tuple(criteria)
        self.noise = noise
        self.seed = seed
        self._salt = stable_hash(persona.id)
        self._views = {
            weekend: compile_views(persona, clock, weekend) for weekend in (False, True)
        }
        self._items = {item.id: item for item in catalog.items}
        self._topic_fits: dict[str, frozenset[str]] = {}
        for item in catalog.items:
            self._topic_fits[item.topic] = self._topic_fits.get(item.topic, frozenset()) | item.fits
        self._rng: np.random.Generator | None = None
        self.history = DayHistory()

    async def start_day(self, day: int) -> None:
        self._rng = rng_for(self.seed, ROLE_JUDGE, day, self._salt)
        self.history = DayHistory()

    async def rate(self, obs: Observation, candidates: Sequence[Candidate]) -> list[Rating]:
        return [self.rate_now(obs, c, self.history) for c in candidates]

    def record(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        self.history.see(obs, delivered, rating)

    def view(self, obs: Observation) -> PreferenceView:
        return self._views[obs.weekday >= 5][obs.step]

    def wants(self, obs: Observation, history: DayHistory) -> bool:
        """Would the user welcome a recommendation right now?"""
        v = self.view(obs)
        return (
            v.welcome
            and v.never_interrupt.isdisjoint(obs.activity.tags)
            and (history.last_satisfied is None or obs.minute - history.last_satisfied >= v.min_gap)
            and history.count < v.max_per_day
        )

    def rate_now(self, obs: Observation, candidate: Candidate, history: DayHistory,
                 noisy: bool = True) -> Rating:
        v = self.view(obs)
        want = self.wants(obs, history)
        recommends = candidate.is_recommendation
        if not recommends:
            results, reason = self._rate_silence(obs, v, want, history)
        else:
            results, reason = self._rate_recommendation(obs, v, candidate, history)
        if noisy and self.noise:
            flips = self._rng.random(len(self.criteria)) < self.noise
            if flips.any():
                for name, flip in zip(self.criteria, flips):
                    if flip:
                        results[name] = not results[name]
                reason += " (judged inconsistently)"
        return Rating(results, reason, missed_opportunity=want and not recommends)

    def _rate_silence(self, obs, v, want, history) -> tuple[dict[str, bool], str]:
        if not want:
            return dict.fromkeys(self.criteria, True), "Quiet was right: not a moment I wanted anything."
        too_long = history.silence(obs.minute) >= v.max_silence
        verdicts = {"preference": False, "timing": False, "frequency": not too_long}
        results = {name: verdicts.get(name, True) for name in self.criteria}
        reason = "Missed chance: I was free and open to a suggestion"
        reason += f", and it's been quiet for {history.silence(obs.minute)} min." if too_long else "."
        return results, reason

    def _rate_recommendation(self, obs, v, candidate, history) -> tuple[dict[str, bool], str]:
        tags = obs.activity.tags
        item = self._items.get(candidate.item_id) if candidate.item_id is not None else None
        if item is not None:
            fits, flags = not item.fits.isdisjoint(tags), item.flags
        else:  # free text: judged by the topic and tone it names, boundaries by its words
            fits = not self._topic_fits.get(candidate.topic, frozenset()).isdisjoint(tags)
            flags = flags_in_text(candidate.text)
        notes = []

        preference = candidate.topic in v.liked
        notes.append("can't tell what it's about" if candidate.topic is None else
                     f"likes {candidate.topic}" if preference else
                     f"dislikes {candidate.topic}" if candidate.topic in v.disliked else
                     f"not into {candidate.topic}")

        blocked = v.never_interrupt.intersection(tags)
        timing = v.welcome and not blocked and fits
        notes.append("good moment" if timing else
                     f"don't interrupt {sorted(blocked)[0]}" if blocked else
                     "not a time I want suggestions" if not v.welcome else "doesn't fit what I'm doing")

        gap = None if history.last_minute is None else obs.minute - history.last_minute
        gap_ok = gap is None or gap >= v.min_gap
        frequency = gap_ok and history.count < v.max_per_day
        notes.append("spacing ok" if frequency else
                     f"only {gap} min since the last one" if not gap_ok else "too many today")

        crossed = v.boundaries.intersection(flags)
        communication = candidate.tone in v.tones and not crossed
        notes.append(f"{candidate.tone} tone ok" if communication else
                     f"crosses my {sorted(crossed)[0]} boundary" if crossed else
                     "no tone I can place" if candidate.tone is None else
                     f"{candidate.tone} tone doesn't suit me")

        results = {"preference": preference, "timing": timing, "frequency": frequency,
                   "communication": communication}
        if "novelty" in self.criteria:
            recent = history.recent_topics[-v.novelty_window:] if v.novelty_window else []
            results["novelty"] = candidate.topic not in recent
            notes.append("fresh topic" if results["novelty"] else f"{candidate.topic} again")
        return {name: results[name] for name in self.criteria}, "; ".join(notes) + "."


def build(ctx, options) -> RubricJudge:
    return RubricJudge(ctx.persona, ctx.clock, ctx.config.seed, ctx.catalog, ctx.config.judge.criteria,
                       ctx.config.judge.noise)
