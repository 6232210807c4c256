"""The data that flows through a simulation step. Plain slotted dataclasses: this is the hot path."""

from dataclasses import dataclass, field

NO_RECOMMENDATION = "No Recommendation"


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
    """One recommendation, or No Recommendation when item_id is None."""

    item_id: str | None
    text: str = NO_RECOMMENDATION
    topic: str | None = None
    tone: str | None = None

    @property
    def is_recommendation(self) -> bool:
        return self.item_id is not None

    def to_json(self) -> dict:
        return {"item": self.item_id, "text": self.text, "topic": self.topic, "tone": self.tone}


ABSTAIN = Candidate(None)


@dataclass(frozen=True, slots=True)
class Rating:
    criteria: dict[str, bool]
    reason: str
    missed_opportunity: bool = False  # No Recommendation at a moment the user wanted one
    source: str = "simulated"  # simulated | human

    @property
    def total(self) -> int:
        return sum(self.criteria.values())

    def to_json(self) -> dict:
        return {
            "criteria": self.criteria, "total": self.total, "reason": self.reason,
            "missed": self.missed_opportunity, "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class StepRecord:
    day: int
    step: int
    observation: Observation
    candidates: tuple[Candidate, ...]
    ratings: tuple[Rating, ...]
    delivered: int  # index into candidates
    retrieved: tuple[str, ...] = ()  # memories the assistant used, for display

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
