"""The data that flows through a simulation step. Plain slotted dataclasses: this is the hot path."""

import json
from dataclasses import dataclass, field
from functools import lru_cache

NO_RECOMMENDATION = "No Recommendation"
# The room and only tag of time away from home. Not an activity tag of the vocabulary: no persona
# file can tag a block with it or list it in never_interrupt; only an `away` routine block makes it.
AWAY = "away"


@dataclass(frozen=True, slots=True)
class Activity:
    text: str
    room: str
    object: str
    tags: tuple[str, ...]
    source: str = "routine"  # routine | human

    @property
    def asleep(self) -> bool:
        return "sleep" in self.tags

    @property
    def away(self) -> bool:
        """Out of the house: like sleep, no decision is made (the assistant is not heard)."""
        return AWAY in self.tags


@dataclass(frozen=True, slots=True)
class Observation:
    """All the assistant may know about the moment: time and what the user is visibly doing."""

    day: int
    step: int
    minute: int  # minute of the day
    weekday: int  # 0 = Monday
    clock: str  # "HH:MM"
    activity: Activity

    def render(self) -> str:
        a = self.activity
        day_name = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[self.weekday]
        return f"{day_name} {self.clock} | {a.text} ({a.room.replace('_', ' ')}, {a.object})"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One recommendation, or No Recommendation.

    What makes it a recommendation is its text, not where it came from: a catalog item
    (item_id set) and a model's free text (item_id None, topic and tone optional) are both
    recommendations; the text NO_RECOMMENDATION (or blank) is the abstention.
    """

    item_id: str | None
    text: str = NO_RECOMMENDATION
    topic: str | None = None
    tone: str | None = None

    @property
    def is_recommendation(self) -> bool:
        return is_recommendation_text(self.text)

    def to_json(self) -> dict:
        return {"item": self.item_id, "text": self.text, "topic": self.topic, "tone": self.tone}


ABSTAIN = Candidate(None)


@lru_cache(maxsize=8192)  # asked ~25 times a step, of the same few texts
def is_recommendation_text(text: str) -> bool:
    """The one test of whether a candidate's text recommends something."""
    stripped = text.strip()
    return bool(stripped) and stripped.rstrip(".").casefold() != NO_RECOMMENDATION.casefold()


def candidate_from_json(raw: dict) -> Candidate:
    return Candidate(raw.get("item"), raw["text"], raw.get("topic"), raw.get("tone"))


@dataclass(frozen=True, slots=True)
class Proposal:
    """What an assistant proposes at one step: its candidates, the exact prompt that produced
    them (what preference pairs are trained on) and what it recalled (for display)."""

    candidates: tuple[Candidate, ...]
    prompt: str | tuple[dict, ...]  # text for the offline policy, chat messages for an LLM
    retrieved: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rating:
    """A judgment of one candidate. A *failed* rating (no valid judgment could be had) has no
    criteria and no score: it is counted in the metrics, never averaged, never part of a pair."""

    criteria: dict[str, bool]
    reason: str
    missed_opportunity: bool = False  # No Recommendation at a moment the user wanted one
    source: str = "simulated"  # simulated | human
    failed: bool = False

    @property
    def total(self) -> int:
        return sum(self.criteria.values())

    def to_json(self) -> dict:
        out = {
            "criteria": self.criteria, "total": None if self.failed else self.total, "reason": self.reason,
            "missed": self.missed_opportunity, "source": self.source,
        }
        if self.failed:  # only then, so lines of judges that cannot fail stay as they were
            out["failed"] = True
        return out


def failed_rating(reason: str, source: str = "simulated") -> Rating:
    return Rating({}, reason, source=source, failed=True)


@dataclass(frozen=True, slots=True)
class StepRecord:
    day: int
    step: int
    observation: Observation
    candidates: tuple[Candidate, ...]
    ratings: tuple[Rating, ...]
    delivered: int  # index into candidates
    retrieved: tuple[str, ...] = ()  # memories the assistant used, for display
    prompt: str | tuple[dict, ...] = ""  # what the assistant saw (not written: pairs carry it)

    @property
    def delivered_candidate(self) -> Candidate:
        return self.candidates[self.delivered]

    @property
    def delivered_rating(self) -> Rating:
        return self.ratings[self.delivered]

    def to_json(self) -> dict:
        obs, act = self.observation, self.observation.activity
        return {
            "type": "step", "day": self.day, "step": self.step, "clock": obs.clock,
            "weekday": obs.weekday,
            "activity": {"text": act.text, "room": act.room, "object": act.object,
                         "tags": list(act.tags), "source": act.source},
            "candidates": [
                c.to_json() | {"rating": r.to_json()} for c, r in zip(self.candidates, self.ratings)
            ],
            "delivered": self.delivered,
            "retrieved": list(self.retrieved),
        }

    def to_json_line(self) -> str:
        """Exactly `json.dumps(self.to_json(), sort_keys=True)`, built from fragments cached per activity,
        candidate, rating and retrieved memories: the same few of each recur all run long."""
        obs, a = self.observation, self.observation.activity
        return "".join((
            '{"activity": ', _cached(a, lambda: _encode({"text": a.text, "room": a.room, "object": a.object,
                                                          "tags": list(a.tags), "source": a.source})),
            ', "candidates": [', ", ".join(_candidate_json(c, r) for c, r in zip(self.candidates, self.ratings)),
            '], "clock": ', _encode(obs.clock), ', "day": ', _int(self.day), ', "delivered": ', _int(self.delivered),
            ', "retrieved": ', _cached(self.retrieved, lambda: _encode(list(self.retrieved))),
            ', "step": ', _int(self.step), ', "type": "step", "weekday": ', _int(obs.weekday), "}",
        ))


_encode = json.JSONEncoder(sort_keys=True).encode  # what json.dumps(x, sort_keys=True) does
_FRAGMENTS: dict = {}  # what a value (activity, candidate, rating, retrieved tuple) serializes to
_MAX_FRAGMENTS = 20_000  # free-text activities and LLM reasons may never repeat: start over past this


def _cached(key, make):
    try:
        fragment = _FRAGMENTS.get(key)
    except TypeError:  # unhashable (tags given as a list, say): serialized as it is, uncached
        return make()
    if fragment is None:
        if len(_FRAGMENTS) >= _MAX_FRAGMENTS:
            _FRAGMENTS.clear()
        fragment = _FRAGMENTS[key] = make()
    return fragment


def _int(value) -> str:
    return str(value) if type(value) is int else _encode(value)


def _candidate_json(c: Candidate, r: Rating) -> str:
    """c.to_json() | {"rating": r.to_json()}: keys item, rating, text, tone, topic, in sorted order."""
    before, after = _cached(c, lambda: ('{"item": ' + _encode(c.item_id) + ', "rating": ', ', "text": '
                                        + _encode(c.text) + ', "tone": ' + _encode(c.tone) + ', "topic": '
                                        + _encode(c.topic) + "}"))
    # types are part of the key: True == 1 as keys, but JSON writes them differently
    key = ("rating", tuple(r.criteria.items()), tuple(map(type, r.criteria.values())), r.reason,
           r.missed_opportunity, type(r.missed_opportunity), r.source, r.failed)
    return before + _cached(key, lambda: _encode(r.to_json())) + after


@dataclass(frozen=True, slots=True)
class Feedback:
    """What an assistant is told after a step: its candidates' scores and what was delivered.

    The memory level decides how much of it an assistant keeps.
    """

    observation: Observation
    candidates: tuple[Candidate, ...]
    totals: tuple[int, ...]
    reasons: tuple[str, ...]
    delivered: int


@dataclass(frozen=True, slots=True)
class PreferencePair:
    day: int
    step: int
    prompt: str
    chosen: Candidate
    rejected: Candidate
    chosen_score: int
    rejected_score: int
    observation: Observation
    source: str = "simulated"
    weight: float = 1.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "prompt": self.prompt, "chosen": self.chosen.text, "rejected": self.rejected.text,
            "day": self.day, "step": self.step, "chosen_item": self.chosen.item_id,
            "rejected_item": self.rejected.item_id, "chosen_score": self.chosen_score,
            "rejected_score": self.rejected_score, "source": self.source, "weight": self.weight,
        }
