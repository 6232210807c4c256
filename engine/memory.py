"""The assistant's internal state: recent raw events and rolling summaries.

- recent: the last 4 steps (10 minutes) as raw events;
- the current hour's summary, updated in O(1) per step;
- up to 3 closed hourly summaries for the current 4-hour block;
- closed 4-hour block summaries (the last 6, one day);
- run-long totals per topic and tone.

Every summary states how many recommendations were delivered in its window. What
an event holds depends on the memory level. Summaries here are extractive (counts
and mean scores per topic and tone); an LLM summarizer can fill the same shape.
"""

import bisect
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

from engine.types import Candidate, Feedback

UNNAMED = "(unnamed)"  # the topic or tone key of a recommendation that names none


class MemoryLevel(IntEnum):
    NONE = 0  # nothing remembered
    ACTIONS = 1  # what the user did
    RECOMMENDATIONS = 2  # + what was recommended (AR)
    SCORES = 3  # + how it was scored (ARS)
    REASONS = 4  # + the judge's reason


@dataclass(frozen=True, slots=True)
class MemoryEvent:
    day: int
    step: int
    minute: int
    weekday: int
    activity: str
    tags: tuple[str, ...]
    delivered: Candidate | None = None  # None below RECOMMENDATIONS
    score: int | None = None  # None below SCORES
    reason: str | None = None  # None below REASONS

    def render(self) -> str:
        text = f"day {self.day + 1} {self.minute // 60:02d}:{self.minute % 60:02d} {self.activity}"
        if self.delivered is not None:
            text += f" -> {self.delivered.text if self.delivered.is_recommendation else 'no recommendation'}"
        if self.score is not None:
            text += f" [{self.score}/4]"
        return text

    def to_json(self) -> dict:
        return {
            "day": self.day, "step": self.step, "minute": self.minute, "weekday": self.weekday,
            "activity": self.activity, "tags": list(self.tags),
            "delivered": None if self.delivered is None else self.delivered.to_json(),
            "score": self.score, "reason": self.reason,
        }

    @classmethod
    def from_json(cls, raw: dict) -> "MemoryEvent":
        d = raw["delivered"]
        delivered = None if d is None else Candidate(d["item"], d["text"], d["topic"], d["tone"])
        return cls(raw["day"], raw["step"], raw["minute"], raw["weekday"], raw["activity"], tuple(raw["tags"]),
                   delivered, raw["score"], raw["reason"])


@dataclass(slots=True)
class Summary:
    """Counts over a window of steps. Scores are only counted at the SCORES level and above."""

    day: int
    start_minute: int
    end_minute: int
    steps: int = 0
    recommendations: int = 0
    score_sum: int = 0
    scored: int = 0
    by_topic: dict[str, list[int]] = field(default_factory=dict)  # topic -> [count, score_sum]
    by_tone: dict[str, list[int]] = field(default_factory=dict)

    def add(self, event: MemoryEvent) -> None:
        self.steps += 1
        if event.score is not None:
            self.score_sum += event.score
            self.scored += 1
        d = event.delivered
        if d is not None and d.is_recommendation:
            self.recommendations += 1
            # a free-text recommendation may name no topic or tone: it is still counted
            for table, key in ((self.by_topic, d.topic or UNNAMED), (self.by_tone, d.tone or UNNAMED)):
                entry = table.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] += event.score or 0

    def merge(self, other: "Summary") -> None:
        self.steps += other.steps
        self.recommendations += other.recommendations
        self.score_sum += other.score_sum
        self.scored += other.scored
        for mine, theirs in ((self.by_topic, other.by_topic), (self.by_tone, other.by_tone)):
            for key, (count, total) in theirs.items():
                entry = mine.setdefault(key, [0, 0])
                entry[0] += count
                entry[1] += total

    def render(self) -> str:
        span = f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}-{self.end_minute // 60:02d}:{self.end_minute % 60:02d}"
        text = f"day {self.day + 1} {span}: {self.recommendations} recommendation(s) in {self.steps} steps"
        if self.scored:
            text += f", mean score {self.score_sum / self.scored:.1f}"
        if self.by_topic:
            text += " (" + ", ".join(f"{t} x{c}" for t, (c, _) in sorted(self.by_topic.items())) + ")"
        return text

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_json(cls, raw: dict) -> "Summary":
        return cls(**raw)


class Memory:
    RECENT_STEPS = 4
    GOOD = 4  # a score that means the recommendation landed (every criterion of the paper's rubric)
    HOURS_PER_BLOCK = 4
    KEPT_BLOCKS = 6

    def __init__(self, level: MemoryLevel):
        self.level = level
        self.recent: deque[MemoryEvent] = deque(maxlen=self.RECENT_STEPS)
        self.hour: Summary | None = None
        self.hours: list[Summary] = []  # closed hours of the current block
        self.blocks: deque[Summary] = deque(maxlen=self.KEPT_BLOCKS)
        self.totals = Summary(-1, 0, 24 * 60)  # the whole run, per topic and tone
        self.day_recommendations = 0
        self.last_recommendation: tuple[int, int] | None = None  # (day, minute)
        # today's own recommendations (minute, item id or text), and the well-received ones (with scores)
        self.said_today: list[tuple[int, str]] = []
        self.good_today = 0
        self.last_good: tuple[int, int] | None = None  # (day, minute) of the last scored >= GOOD

    def event_of(self, feedback: Feedback) -> MemoryEvent:
        obs, level = feedback.observation, self.level
        delivered = feedback.candidates[feedback.delivered]
        return MemoryEvent(
            obs.day, obs.step, obs.minute, obs.weekday, obs.activity.text, obs.activity.tags,
            delivered if level >= MemoryLevel.RECOMMENDATIONS else None,
            feedback.totals[feedback.delivered] if level >= MemoryLevel.SCORES else None,
            feedback.reasons[feedback.delivered] if level >= MemoryLevel.REASONS else None,
        )

    def add(self, feedback: Feedback) -> MemoryEvent | None:
        if self.level == MemoryLevel.NONE:
            return None
        event = self.event_of(feedback)
        self._roll(event.day, event.minute)
        self.recent.append(event)
        self.hour.add(event)
        self.totals.add(event)
        if event.delivered is not None and event.delivered.is_recommendation:
            self.day_recommendations += 1
            self.last_recommendation = (event.day, event.minute)
            self.said_today.append((event.minute, event.delivered.item_id or event.delivered.text))
            if event.score is not None and event.score >= self.GOOD:
                self.good_today += 1
                self.last_good = (event.day, event.minute)
        return event

    def _roll(self, day: int, minute: int) -> None:
        """Close the current hour (and block) when `minute` of `day` lies past it."""
        hour_start = minute // 60 * 60
        if self.hour is not None and (self.hour.day, self.hour.start_minute) == (day, hour_start):
            return
        if self.hour is not None:
            self.hours.append(self.hour)
            block_of = lambda s: (s.day, s.start_minute // (60 * self.HOURS_PER_BLOCK))  # noqa: E731
            if self.hours and block_of(self.hours[0]) != (day, hour_start // (60 * self.HOURS_PER_BLOCK)):
                self._close_block()
        if self.hour is None or self.hour.day != day:
            self.day_recommendations, self.said_today, self.good_today = 0, [], 0
        self.hour = Summary(day, hour_start, hour_start + 60)

    def _close_block(self) -> None:
        first = self.hours[0]
        block_start = first.start_minute // (60 * self.HOURS_PER_BLOCK) * 60 * self.HOURS_PER_BLOCK
        block = Summary(first.day, block_start, block_start + 60 * self.HOURS_PER_BLOCK)
        for hour in self.hours:
            block.merge(hour)
        self.blocks.append(block)
        self.hours = []

    def minutes_since_recommendation(self, day: int, minute: int) -> int | None:
        if self.last_recommendation is None or self.last_recommendation[0] != day:
            return None
        return minute - self.last_recommendation[1]

    def minutes_since_good(self, day: int, minute: int) -> int | None:
        """Since the last well-received recommendation today (None: none yet, or no scores kept)."""
        if self.last_good is None or self.last_good[0] != day:
            return None
        return minute - self.last_good[1]

    def good_recommendations_today(self, day: int) -> int:
        return self.good_today if self.hour is not None and self.hour.day == day else 0

    def said_within(self, day: int, minute: int, minutes: int) -> frozenset[str]:
        """What it recommended today in the last `minutes` (item ids, or texts)."""
        if self.hour is None or self.hour.day != day:
            return frozenset()
        # said_today is in time order: a chatty day holds hundreds, and only the last few hours count
        start = bisect.bisect_right(self.said_today, minute - minutes, key=lambda said: said[0])
        return frozenset(key for _, key in self.said_today[start:])

    def recommendations_today(self, day: int) -> int:
        return self.day_recommendations if self.hour is not None and self.hour.day == day else 0

    def render(self) -> list[str]:
        """The memory as lines of text, oldest first (what an LLM prompt would hold)."""
        lines = [b.render() for b in self.blocks] + [h.render() for h in self.hours]
        if self.hour is not None:
            lines.append(self.hour.render() + " (so far)")
        return lines + [e.render() for e in self.recent]

    def to_json(self) -> dict:
        return {
            "level": int(self.level), "recent": [e.to_json() for e in self.recent],
            "hour": None if self.hour is None else self.hour.to_json(),
            "hours": [h.to_json() for h in self.hours], "blocks": [b.to_json() for b in self.blocks],
            "totals": self.totals.to_json(),
            "day_recommendations": self.day_recommendations,
            "last_recommendation": self.last_recommendation,
            "said_today": self.said_today, "good_today": self.good_today, "last_good": self.last_good,
        }

    def load_json(self, raw: dict) -> None:
        self.level = MemoryLevel(raw["level"])
        self.recent = deque((MemoryEvent.from_json(e) for e in raw["recent"]), maxlen=self.RECENT_STEPS)
        self.hour = None if raw["hour"] is None else Summary.from_json(raw["hour"])
        self.hours = [Summary.from_json(h) for h in raw["hours"]]
        self.blocks = deque((Summary.from_json(b) for b in raw["blocks"]), maxlen=self.KEPT_BLOCKS)
        self.totals = Summary.from_json(raw["totals"])
        self.day_recommendations = raw["day_recommendations"]
        last = raw["last_recommendation"]
        self.last_recommendation = None if last is None else tuple(last)
        self.said_today = [tuple(x) for x in raw.get("said_today", [])]
        self.good_today = raw.get("good_today", 0)
        good = raw.get("last_good")
        self.last_good = None if good is None else tuple(good)
