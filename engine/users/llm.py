"""The LLM user (`llm`): the persona plans its day with ONE structured call in start_day.

The plan is a list of timed activities in the house's rooms, with objects and tags from the
closed vocabularies (constrained by the schema). A plan that is valid JSON but silly is repaired
deterministically: an object not in its room becomes the room's first object; items with bad
times, ending before they start or overlapping an earlier item are dropped. A plan that fails
(no valid answer after the re-ask, or nothing left after repair) falls back to the routine
user's plan of that day and is counted in `failed_plans`. Uncovered minutes are sleep.
"""

import functools
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from engine.clock import SimClock
from engine.house import load_house
from engine.llm import Backend
from engine.llm.structured import chat_structured
from engine.persona import Persona
from engine.prompts import template
from engine.seeding import ROLE_USER, stable_hash
from engine.types import Activity
from engine.users.routine import SLEEPING, RoutineUser
from engine.vocab import ACTIVITY_TAGS

MAX_ACTIVITIES = 16
CLOCK_TIMES = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(0, 60, 5)) + ("24:00",)  # 5-minute grid
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class LLMUserOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7
    max_tokens: Annotated[int, Field(ge=32, le=8192)] = 1200


@functools.cache  # one class shared by every user: its JSON schema is then made once
def plan_model() -> type[BaseModel]:
    """The schema of a day's plan, with the house's rooms and objects as closed vocabularies."""
    rooms = load_house().rooms
    objects = tuple(sorted({o for room in rooms.values() for o in room.objects}))
    # times as an enum on a 5-minute grid: a closed vocabulary even a weak model can hit (a regex
    # `pattern` crashes llama.cpp's grammar sampler)
    time = Literal[CLOCK_TIMES]
    item = create_model(
        "PlannedActivity", start=(time, ...), end=(time, ...),
        activity=(Annotated[str, Field(min_length=1, max_length=60)], ...),
        room=(Literal[tuple(rooms)], ...), object=(Literal[objects], ...),
        tags=(Annotated[list[Literal[ACTIVITY_TAGS]], Field(min_length=1, max_length=3)], ...))
    return create_model("DayPlan", activities=(Annotated[list[item], Field(max_length=MAX_ACTIVITIES)], ...))


def _minute(text: str) -> int | None:
    match = _TIME.match(text)
    if not match:
        return None
    minute = int(match.group(1)) * 60 + int(match.group(2))
    return minute if minute <= 24 * 60 else None


def repair(items: list) -> list[tuple[int, int, Activity]]:
    """Segments (start, end, activity) from a schema-valid plan: deterministic, never raising."""
    rooms = load_house().rooms
    segments = []
    for item in items:
        start, end = _minute(item.start), _minute(item.end)
        if start is None or end is None or end <= start or not item.activity.strip():
            continue
        objects = rooms[item.room].objects
        obj = item.object if item.object in objects else objects[0]
        tags = tuple(dict.fromkeys(item.tags))
        segments.append((start, end, Activity(item.activity.strip(), item.room, obj, tags)))
    segments.sort(key=lambda s: (s[0], s[1]))
    kept: list[tuple[int, int, Activity]] = []
    for segment in segments:
        if kept and segment[0] < kept[-1][1]:
            continue  # overlaps an earlier item
        kept.append(segment)
    return kept


def persona_text(persona: Persona) -> str:
    t = persona.traits
    lines = [
        f"I am {persona.name}, {persona.age}. {persona.background}",
        "Interests: " + "; ".join(persona.interests),
        "Lifestyle: " + "; ".join(persona.lifestyle),
        "Goals: " + "; ".join(persona.goals),
        "Personality (Big Five): " + ", ".join(f"{n} {getattr(t, n)}" for n in type(t).model_fields),
        "Every day I also: " + "; ".join(f"{p.text} ({p.minutes} min, {p.window}, {p.room})"
                                         for p in persona.daily_plan),
    ]
    return "\n".join(lines)


def house_text() -> str:
    return "Rooms and their objects:\n" + "\n".join(
        f"- {room.id}: {', '.join(room.objects)}" for room in load_house().rooms.values())


class LLMUser:
    kind = "llm"

    def __init__(self, backend: Backend, persona: Persona, clock: SimClock, seed: int,
                 temperature: float = 0.7, max_tokens: int = 1200):
        self.backend = backend
        self.clock = clock
        self.seed = seed
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.failed_plans = 0
        self.last_error: str | None = None
        self._fallback = RoutineUser(persona, clock, seed)
        self._model = plan_model()
        self._static = [
            {"role": "system", "content": template("user_system") + "\nTags: " + ", ".join(ACTIVITY_TAGS) + "."},
            {"role": "user", "content": persona_text(persona) + "\n\n" + house_text()},
        ]
        self._plan: list[Activity] = []

    def messages(self, day: int) -> list[dict]:
        date = self.clock.date_of(day)
        return [*self._static[:1], {"role": "user", "content": self._static[1]["content"]
                                    + f"\n\nPlan {DAY_NAMES[date.weekday()]} {date.isoformat()}."}]

    async def start_day(self, day: int) -> None:
        seed = stable_hash(f"{self.seed}:{ROLE_USER}:{day}")
        [answer] = await chat_structured(self.backend, self.messages(day), self._model, temperature=self.temperature,
                                         max_tokens=self.max_tokens, seed=seed)
        segments = [] if answer.failed else repair(answer.value.activities)
        if not segments:
            self.failed_plans += 1
            self.last_error = answer.error or "no usable activity in the plan"
            self._plan = self._fallback.plan_day(day)
            return
        self.last_error = None
        plan, i = [], 0
        for step in range(self.clock.steps_per_day):
            minute = self.clock.minute_of_day(step)
            while i < len(segments) and segments[i][1] <= minute:
                i += 1
            plan.append(segments[i][2] if i < len(segments) and segments[i][0] <= minute else SLEEPING)
        self._plan = plan

    async def next_activity(self, step: int) -> Activity:
        return self._plan[step]


def build(ctx, options: LLMUserOptions) -> LLMUser:
    return LLMUser(ctx.backend("user"), ctx.persona, ctx.clock, ctx.config.seed, options.temperature,
                   options.max_tokens)
