"""The offline judge (`rubric`): scores a candidate from the persona's structured preferences.

The rules, documented with worked examples for researchers in personas/README.md:

- A recommendation is *served* when it passes every criterion. Only served ones use up
  the day's wish: junk neither satisfies nor resets the silence.
- The user *wants* a recommendation now when the time is in a welcome window (and not
  in an avoid window), the activity has no never-interrupt tag, something they would
  welcome exists for it (a catalog item that fits, of a liked topic, in an accepted tone,
  crossing no boundary, not heard in the last REPEAT_MINUTES), the last served one is at least min_gap ago, and fewer than
  per_day max were served today.
- A recommendation passes preference if its topic is liked, it is not a repeat (the
  same item, or the same words, delivered in the last REPEAT_MINUTES) and it is not too
  soon (the last delivered one is min_gap ago: one on top of another is unwanted, so it
  does worse than silence, even after a dud); timing if the
  user is in a welcome window, interruptible, the item fits the activity, it passes
  preference and the last delivered one is min_gap ago (no moment is a good one for an
  unwanted suggestion, or for one right after another); frequency
  if the last *delivered* one is min_gap ago, the day's max is not yet served, and it
  passes preference (an unwanted one is always one too many);
  communication if its tone is accepted and it touches no boundary; novelty (optional)
  if its topic is not among the last few delivered.
- No Recommendation passes everything when the user does not want one. When the user
  does (a missed opportunity), it fails preference and timing, and frequency too once
  the time since the last served one (or since waking) reaches max_silence_minutes.
- A free-text recommendation (no catalog item, e.g. a model's) is rated by the same
  rules from the topic and tone it names: it fits the activity when some catalog item
  of its topic does; its boundaries are the flags whose keywords its text contains;
  with no topic it fails preference, with no tone it fails communication.
"""

from collections.abc import Sequence

import numpy as np

from engine.assistants.base import candidate_of
from engine.catalog import Catalog
from engine.clock import SimClock
from engine.judges.views import PreferenceView, compile_views
from engine.persona import Persona
from engine.seeding import ROLE_JUDGE, rng_for, stable_hash
from engine.types import Candidate, Observation, Rating
from engine.vocab import DEFAULT_CRITERIA, OPTIONAL_CRITERIA, flags_in_text

REPEAT_MINUTES = 240  # the same recommendation again within this is unwelcome


def repeat_key(candidate: Candidate) -> str:
    """What makes two recommendations "the same": the catalog item, else the words."""
    return candidate.item_id if candidate.item_id is not None else " ".join(candidate.text.casefold().split())


class DayHistory:
    """What the user remembers of today's recommendations."""

    __slots__ = ("delivered", "last_delivered", "served", "last_served", "awake_since", "heard", "recent_topics")

    def __init__(self) -> None:
        self.delivered = 0
        self.last_delivered: int | None = None  # minute of the last delivered recommendation
        self.served = 0  # recommendations that passed every criterion
        self.last_served: int | None = None
        self.awake_since: int | None = None
        self.heard: dict[str, int] = {}  # repeat key -> minute it was last delivered today
        self.recent_topics: list[str] = []

    def see(self, obs: Observation, delivered: Candidate, served: bool) -> None:
        if self.awake_since is None:
            self.awake_since = obs.minute
        if delivered.is_recommendation:
            self.delivered += 1
            self.last_delivered = obs.minute
            if served:
                self.served += 1
                self.last_served = obs.minute
            self.heard[repeat_key(delivered)] = obs.minute
            self.recent_topics.append(delivered.topic or "")
            del self.recent_topics[:-8]

    def silence(self, minute: int) -> int:
        """Minutes since the last served recommendation, or since waking."""
        since = self.last_served if self.last_served is not None else self.awake_since
        return 0 if since is None else minute - since

    def repeated(self, candidate: Candidate, minute: int) -> int | None:
        """Minutes since the same recommendation was delivered, if within REPEAT_MINUTES."""
        last = self.heard.get(repeat_key(candidate))
        return None if last is None or minute - last >= REPEAT_MINUTES else minute - last


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
        self.persona = persona
        self.persona_key = persona.model_dump_json()  # what a day's bounds depend on, hashable
        self.clock = clock
        self.catalog = catalog
        self.criteria = tuple(criteria)
        self.noise = noise
        self.seed = seed
        self._salt = stable_hash(persona.id)
        self._views = [compile_views(persona, clock, weekday) for weekday in range(7)]
        self._items = {item.id: item for item in catalog.items}
        self._topic_fits: dict[str, frozenset[str]] = {}
        for item in catalog.items:
            self._topic_fits[item.topic] = self._topic_fits.get(item.topic, frozenset()) | item.fits
        self._offers: dict[tuple, tuple[Candidate, ...]] = {}
        self._rng: np.random.Generator | None = None
        self.history = DayHistory()
        self.day_log: list[tuple[bool, bool]] = []  # per rated step: (wanted, served)
        self._rated: tuple[Observation, bool, list[Rating]] | None = None  # the last rate(), until its record()

    async def start_day(self, day: int) -> None:
        self._rng = rng_for(self.seed, ROLE_JUDGE, day, self._salt)
        self.history = DayHistory()
        self.day_log = []
        self._rated = None

    async def rate(self, obs: Observation, candidates: Sequence[Candidate]) -> list[Rating]:
        want = self.wants(obs, self.history)  # the same for every candidate: the history moves only in record
        ratings = [self.rate_now(obs, c, self.history, want=want) for c in candidates]
        self._rated = (obs, want, ratings)
        return ratings

    def record(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        """The user's memory follows what truly pleased: the rules' verdict, or a human's."""
        rated, self._rated = self._rated, None
        just_rated = rated is not None and rated[0] is obs  # by rate(), on this very history
        wanted = rated[1] if just_rated else self.wants(obs, self.history)
        noiseless = just_rated and not self.noise and any(rating is r for r in rated[2])
        served = self.served(obs, delivered, rating, self.history, noiseless)
        self.day_log.append((wanted, served))
        self.history.see(obs, delivered, served)

    def served(self, obs: Observation, delivered: Candidate, rating: Rating, history: DayHistory,
               noiseless: bool = False) -> bool:
        """noiseless: `rating` is the rules' own verdict now, without noise (no need to rate it again)."""
        if not delivered.is_recommendation or rating.failed:
            return False
        if rating.source != "human" and not noiseless:  # judge noise flips what is reported, not what the user felt
            rating = self.rate_now(obs, delivered, history, noisy=False)
        return all(rating.criteria.values())

    def view(self, obs: Observation) -> PreferenceView:
        return self._views[obs.weekday][obs.step]

    def wants(self, obs: Observation, history: DayHistory) -> bool:
        """Would the user welcome a recommendation right now?"""
        v = self.view(obs)
        return (
            v.open_to(obs.activity.tags)
            and self.something_for(v, obs.activity.tags, history, obs.minute)
            and (history.last_served is None or obs.minute - history.last_served >= v.min_gap)
            and history.served < v.max_per_day
        )

    def offers(self, v: PreferenceView, tags: tuple[str, ...]) -> tuple[Candidate, ...]:
        """What the user would welcome during this activity, repeats aside: the catalog items that fit
        it, of a liked topic, in an accepted tone, crossing no boundary (cached per view and tags)."""
        key = (v, tags)
        if key not in self._offers:
            self._offers[key] = tuple(
                candidate_of(item) for item in self.catalog.fitting(tags)
                if item.topic in v.liked and item.tone in v.tones and v.boundaries.isdisjoint(item.flags))
        return self._offers[key]

    def something_for(self, v: PreferenceView, tags: tuple[str, ...], history: DayHistory | None = None,
                      minute: int = 0) -> bool:
        """Is there anything the user would welcome now (given the day so far: not heard in the last
        REPEAT_MINUTES)? No one misses what doesn't exist, or what they just heard."""
        offers = self.offers(v, tags)
        if history is None or not history.heard:
            return bool(offers)
        return any(history.repeated(c, minute) is None for c in offers)

    def rate_now(self, obs: Observation, candidate: Candidate, history: DayHistory,
                 noisy: bool = True, want: bool | None = None) -> Rating:
        """want: self.wants(obs, history), when the caller has it already."""
        v = self.view(obs)
        want = self.wants(obs, history) if want is None else want
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
        quiet = history.silence(obs.minute)
        too_long = quiet >= v.max_silence
        verdicts = {"preference": False, "timing": False, "frequency": not too_long}
        results = {name: verdicts.get(name, True) for name in self.criteria}
        reason = "Missed chance: I was free and open to a suggestion"
        reason += f", and nothing good for {quiet} min." if too_long else "."
        return results, reason

    def fits(self, candidate: Candidate, tags: tuple[str, ...]) -> tuple[bool, frozenset[str]]:
        """Whether the candidate fits the activity, and the boundary flags it carries."""
        item = self._items.get(candidate.item_id) if candidate.item_id is not None else None
        if item is not None:
            return not item.fits.isdisjoint(tags), item.flags
        # free text: judged by the topic and tone it names, boundaries by its words
        return not self._topic_fits.get(candidate.topic, frozenset()).isdisjoint(tags), flags_in_text(candidate.text)

    def _rate_recommendation(self, obs, v, candidate, history) -> tuple[dict[str, bool], str]:
        tags = obs.activity.tags
        fits, flags = self.fits(candidate, tags)
        notes = []

        repeat = history.repeated(candidate, obs.minute)
        gap = None if history.last_delivered is None else obs.minute - history.last_delivered
        gap_ok = gap is None or gap >= v.min_gap
        liked = candidate.topic in v.liked
        # one right on top of the last is unwanted whatever it is: the user isn't listening yet
        preference = liked and repeat is None and gap_ok
        notes.append("can't tell what it's about" if candidate.topic is None else
                     f"heard that one {repeat} min ago" if repeat is not None and liked else
                     "another one already" if liked and not gap_ok else
                     f"likes {candidate.topic}" if preference else
                     f"dislikes {candidate.topic}" if candidate.topic in v.disliked else
                     f"not into {candidate.topic}")

        blocked = v.never_interrupt.intersection(tags)
        # no moment is good for an unwanted suggestion, or for one right after another (preference holds both)
        timing = v.welcome and not blocked and fits and preference
        notes.append("good moment" if timing else
                     f"don't interrupt {sorted(blocked)[0]}" if blocked else
                     "not a time I want suggestions" if not v.welcome else
                     "doesn't fit what I'm doing" if not fits else
                     "too soon after the last one" if not gap_ok else "not worth interrupting me for")

        # preference holds the spacing, and an unwanted one is always one too many
        frequency = preference and history.served < v.max_per_day
        notes.append("spacing ok" if frequency else
                     f"only {gap} min since the last one" if not gap_ok else
                     "had enough good ones today" if history.served >= v.max_per_day else "one too many")

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
