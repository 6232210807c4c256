"""Persona model, strict TOML loading and validation (schema: personas/README.md)."""

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from engine.errors import PersonaError, Problem
from engine.house import load_house
from engine.timeutil import parse_time, parse_window
from engine.vocab import ACTIVITY_TAGS, BIG_FIVE, DEFAULT_CRITERIA, FLAGS, TONES, TOPICS


def _member(vocabulary: tuple[str, ...], kind: str):
    def check(value: str) -> str:
        if value not in vocabulary:
            raise ValueError(f"unknown {kind} {value!r}; expected one of: {', '.join(vocabulary)}")
        return value

    return AfterValidator(check)


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("contains duplicates")
    return values


def _check_time(text: str) -> str:
    parse_time(text)
    return text


def _check_window(text: str) -> str:
    parse_window(text)
    return text


Text = Annotated[str, Field(min_length=1, max_length=2000)]
Time = Annotated[str, AfterValidator(_check_time)]
Window = Annotated[str, AfterValidator(_check_window)]
Tag = Annotated[str, _member(ACTIVITY_TAGS, "activity tag")]
Topic = Annotated[str, _member(TOPICS, "topic")]
Tone = Annotated[str, _member(TONES, "tone")]
Flag = Annotated[str, _member(FLAGS, "flag")]
Tags = Annotated[list[Tag], Field(min_length=1, max_length=3), AfterValidator(_unique)]
Level = Literal["high", "low"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Traits(_Strict):
    extraversion: Level
    agreeableness: Level
    conscientiousness: Level
    openness: Level
    neuroticism: Level

    def code(self) -> str:
        """The trait string, e.g. 'E+A-C+O-N+'."""
        return "".join(
            name[0].upper() + ("+" if getattr(self, name) == "high" else "-") for name in BIG_FIVE
        )


# one first-person text per criterion of the paper's rubric
Rubric = create_model("Rubric", __base__=_Strict, **{name: (Text, ...) for name in DEFAULT_CRITERIA})


class PlanItem(_Strict):
    text: Text
    minutes: Annotated[int, Field(ge=5, le=240)]
    window: Window
    room: str
    object: str
    tags: Tags


class Condition(_Strict):
    days: Literal["weekday", "weekend", "all"]
    window: Window | None = None
    note: str | None = None
    liked_topics: Annotated[list[Topic], AfterValidator(_unique)] | None = None
    disliked_topics: Annotated[list[Topic], AfterValidator(_unique)] | None = None
    tones: Annotated[list[Tone], Field(min_length=1), AfterValidator(_unique)] | None = None
    never_interrupt: Annotated[list[Tag], AfterValidator(_unique)] | None = None
    min_gap_minutes: Annotated[int, Field(ge=5, le=480)] | None = None
    welcome: Annotated[list[Window], Field(max_length=24)] | None = None


class Preferences(_Strict):
    liked_topics: Annotated[list[Topic], Field(min_length=1), AfterValidator(_unique)]
    disliked_topics: Annotated[list[Topic], AfterValidator(_unique)]
    tones: Annotated[list[Tone], Field(min_length=1), AfterValidator(_unique)]
    boundaries: Annotated[list[Flag], AfterValidator(_unique)]
    welcome: Annotated[list[Window], Field(min_length=1, max_length=24)]
    avoid: Annotated[list[Window], Field(max_length=24)]
    never_interrupt: Annotated[list[Tag], AfterValidator(_unique)]
    per_day: Annotated[list[Annotated[int, Field(ge=0, le=200)]], Field(min_length=2, max_length=2)]
    min_gap_minutes: Annotated[int, Field(ge=5, le=480)]
    max_silence_minutes: Annotated[int, Field(ge=10, le=1440)]
    novelty: Annotated[float, Field(ge=0.0, le=1.0)]
    when: Annotated[list[Condition], Field(max_length=24)] = []


class AltActivity(_Strict):
    activity: Text
    object: str


class Block(_Strict):
    start: Time
    activity: Text
    room: str
    object: str
    tags: Tags
    also: Annotated[list[AltActivity], Field(max_length=8)] = []


class DayRoutine(_Strict):
    wake: Time
    bed: Time
    blocks: Annotated[list[Block], Field(min_length=4, max_length=40)]


class Routine(_Strict):
    jitter_minutes: Annotated[int, Field(ge=0, le=30)]
    weekday: DayRoutine
    weekend: DayRoutine
    monday: DayRoutine | None = None
    tuesday: DayRoutine | None = None
    wednesday: DayRoutine | None = None
    thursday: DayRoutine | None = None
    friday: DayRoutine | None = None
    saturday: DayRoutine | None = None
    sunday: DayRoutine | None = None


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Persona(_Strict):
    id: Text
    name: Text
    age: Annotated[int, Field(ge=18, le=100)]
    background: Text
    interests: Annotated[list[Text], Field(min_length=3, max_length=3)]
    lifestyle: Annotated[list[Text], Field(min_length=3, max_length=3)]
    goals: Annotated[list[Text], Field(min_length=1, max_length=5)]
    traits: Traits
    rubric: Rubric
    daily_plan: Annotated[list[PlanItem], Field(min_length=3, max_length=3)]
    preferences: Preferences
    routine: Routine

    def routine_for(self, weekday: int) -> DayRoutine:
        """The routine of a weekday (0 = Monday): its own override, else weekday/weekend."""
        override = getattr(self.routine, WEEKDAY_NAMES[weekday])
        if override is not None:
            return override
        return self.routine.weekend if weekday >= 5 else self.routine.weekday

    def awake_hours(self, weekday: int) -> float:
        """Hours between waking and bed on that weekday (before the routine's jitter)."""
        routine = self.routine_for(weekday)
        return (parse_time(routine.bed) - parse_time(routine.wake)) / 60


def _semantic_problems(p: Persona, path: Path, check_name: bool) -> list[Problem]:
    """Cross-field checks that the type schema cannot express."""
    problems: list[Problem] = []
    rooms = load_house().rooms

    def place(field: str, room: str, obj: str) -> None:
        if room not in rooms:
            problems.append(Problem(f"{field}.room", f"unknown room {room!r}; expected one of: {', '.join(rooms)}"))
        elif obj not in rooms[room].objects:
            problems.append(
                Problem(f"{field}.object", f"{obj!r} is not in the {room}; it has: {', '.join(rooms[room].objects)}")
            )

    if p.id != p.traits.code():
        problems.append(Problem("id", f"{p.id!r} does not spell the traits; expected {p.traits.code()!r}"))
    if check_name and path.stem != p.id:
        problems.append(Problem("id", f"{p.id!r} does not match the file name {path.name!r}"))
    prefs = p.preferences
    both = set(prefs.liked_topics) & set(prefs.disliked_topics)
    if both:
        problems.append(Problem("preferences.disliked_topics", f"also liked: {', '.join(sorted(both))}"))
    low, high = prefs.per_day
    if low > high:
        problems.append(Problem("preferences.per_day", f"min {low} is above max {high}"))
    if prefs.max_silence_minutes <= prefs.min_gap_minutes:
        problems.append(Problem("preferences.max_silence_minutes", "must be longer than min_gap_minutes"))
    if "sleep" not in prefs.never_interrupt:
        problems.append(Problem("preferences.never_interrupt", "must include 'sleep'"))
    for i, cond in enumerate(prefs.when):
        if cond.welcome is not None and cond.window is not None:
            problems.append(Problem(f"preferences.when[{i}]", "'welcome' cannot be combined with 'window'"))
        overrides = cond.model_dump(exclude={"days", "window", "note"}, exclude_none=True)
        if not overrides:
            problems.append(Problem(f"preferences.when[{i}]", "overrides nothing"))
    for i, item in enumerate(p.daily_plan):
        place(f"daily_plan[{i}]", item.room, item.object)
    for day in ("weekday", "weekend", *WEEKDAY_NAMES):
        routine = getattr(p.routine, day)
        if routine is None:
            continue
        field = f"routine.{day}"
        wake, bed = parse_time(routine.wake), parse_time(routine.bed)
        if wake >= bed:
            problems.append(Problem(f"{field}.bed", "must be after wake"))
        starts = [parse_time(b.start) for b in routine.blocks]
        if starts[0] != wake:
            problems.append(Problem(f"{field}.blocks[0].start", f"must equal wake ({routine.wake})"))
        for i, (before, after) in enumerate(zip(starts, starts[1:]), start=1):
            if after <= before:
                problems.append(Problem(f"{field}.blocks[{i}].start", "must be after the previous block's start"))
        if starts[-1] >= bed:
            problems.append(Problem(f"{field}.blocks[{len(starts) - 1}].start", "must be before bed"))
        for i, block in enumerate(routine.blocks):
            place(f"{field}.blocks[{i}]", block.room, block.object)
            if "sleep" in block.tags:
                problems.append(Problem(f"{field}.blocks[{i}].tags", "awake blocks cannot be tagged 'sleep'"))
            for j, alt in enumerate(block.also):
                place(f"{field}.blocks[{i}].also[{j}]", block.room, alt.object)
        for i, item in enumerate(p.daily_plan):
            start, end = parse_window(item.window)
            if start < wake or end > bed:
                problems.append(Problem(f"daily_plan[{i}].window", f"not inside the {day} waking hours"))
    return problems


def _field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in str(part) or "(" in str(part):  # pydantic's validator names, not fields
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for e in error.errors(include_url=False):
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key"
        elif e["type"] == "missing":
            message = "missing field"
        problems.append(Problem(_field_path(e["loc"]), message))
    return problems


def parse_persona(raw: object, path: Path | str = "<persona>", check_name: bool = False) -> Persona:
    path = Path(path)
    try:
        persona = Persona.model_validate(raw)
    except ValidationError as error:
        raise PersonaError(path, _pydantic_problems(error)) from None
    except (RecursionError, OverflowError) as error:  # absurd nesting or numbers
        raise PersonaError(path, [Problem("", f"cannot be read: {type(error).__name__}")]) from None
    problems = _semantic_problems(persona, path, check_name)
    if problems:
        raise PersonaError(path, problems)
    return persona


def load_persona(path: Path | str, check_name: bool = True) -> Persona:
    """Load and validate a persona file; its name must be the id unless check_name is False."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise PersonaError(path, [Problem("", f"cannot read: {error.strerror or error}")]) from None
    except UnicodeDecodeError:
        raise PersonaError(path, [Problem("", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as error:
        raise PersonaError(path, [Problem("", f"invalid TOML: {error}")]) from None
    return parse_persona(raw, path, check_name)
