"""Persona model and strict TOML loading (schema: personas/README.md); the cross-field checks
are engine/persona_checks.py."""

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from engine.errors import PersonaError, Problem
from engine.safe_text import text_problem
from engine.timeutil import parse_time, parse_window
from engine.tomlfile import read_toml
from engine.vocab import ACTIVITY_TAGS, BIG_FIVE, DEFAULT_CRITERIA, FLAGS, TONES, TOPICS


def shown(text: str, limit: int = 60) -> str:
    """`text` quoted for an error message: control characters escaped (repr), cut at `limit`."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _member(vocabulary: tuple[str, ...], kind: str):
    def check(value: str) -> str:
        if value not in vocabulary:
            raise ValueError(f"unknown {kind} {shown(value)}; expected one of: {', '.join(vocabulary)}")
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


# An id names the file, the run folders and the command line: a short slug, safe as one path
# component. A double underscore is out: it separates the parts of a run folder's name.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9+_-]{0,47}")


def check_id(text: str) -> str:
    """`text` if it is a valid persona id, else ValueError saying the rule."""
    if not _ID.fullmatch(text) or "__" in text:
        raise ValueError(f"{shown(text)} is not a valid id: use 1-48 letters, digits, '+', '-' or '_' (no '__'), "
                         "starting with a letter or digit")
    return text


DAY_ABBREVIATIONS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_GROUPS = {"weekday": frozenset(range(5)), "weekend": frozenset((5, 6)), "all": frozenset(range(7))}


def weekdays_of(days: str) -> frozenset[int]:
    """The weekdays (0 = Monday) that a `when` block's `days` names: a group or a comma list."""
    if days in _DAY_GROUPS:
        return _DAY_GROUPS[days]
    names = [name.strip() for name in days.split(",")]
    unknown = [name for name in names if name not in DAY_ABBREVIATIONS]
    if unknown:
        raise ValueError(f"unknown day {shown(unknown[0])}; expected weekday, weekend, all, or a comma list of: "
                         f"{', '.join(DAY_ABBREVIATIONS)}")
    if len(set(names)) != len(names):
        raise ValueError("names a day twice")
    return frozenset(DAY_ABBREVIATIONS.index(name) for name in names)


def _check_days(text: str) -> str:
    weekdays_of(text)
    return text


def _checked_text(multiline: bool):
    def check(value: str) -> str:
        problem = text_problem(value, multiline)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


# Every string has a length cap and is checked for control characters, escape sequences and
# blank-only text (engine/safe_text.py) before any other rule reads it.
Text = Annotated[str, Field(min_length=1, max_length=2000), _checked_text(multiline=True)]  # prose
Line = Annotated[str, Field(min_length=1, max_length=300), _checked_text(multiline=False)]  # one line
Note = Annotated[str, Field(min_length=1, max_length=500), _checked_text(multiline=True)]
Word = Annotated[str, Field(min_length=1, max_length=64), _checked_text(multiline=False)]  # room, object
Time = Annotated[str, AfterValidator(_check_time)]
Window = Annotated[str, Field(max_length=32), AfterValidator(_check_window)]
Tag = Annotated[str, _member(ACTIVITY_TAGS, "activity tag")]
Topic = Annotated[str, _member(TOPICS, "topic")]
Tone = Annotated[str, _member(TONES, "tone")]
Flag = Annotated[str, _member(FLAGS, "flag")]
Tags = Annotated[list[Tag], Field(min_length=1, max_length=3), AfterValidator(_unique)]
Level = Literal["high", "low"]
Id = Annotated[str, AfterValidator(check_id)]
Days = Annotated[str, Field(max_length=64), _checked_text(multiline=False), AfterValidator(_check_days)]


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
    text: Line
    minutes: Annotated[int, Field(ge=5, le=240)]
    window: Window
    room: Word
    object: Word
    tags: Tags


class Condition(_Strict):
    days: Days
    window: Window | None = None
    note: Note | None = None
    liked_topics: Annotated[list[Topic], AfterValidator(_unique)] | None = None
    disliked_topics: Annotated[list[Topic], AfterValidator(_unique)] | None = None
    tones: Annotated[list[Tone], Field(min_length=1), AfterValidator(_unique)] | None = None
    never_interrupt: Annotated[list[Tag], AfterValidator(_unique)] | None = None
    min_gap_minutes: Annotated[int, Field(ge=5, le=480)] | None = None
    welcome: Annotated[list[Window], Field(max_length=24)] | None = None

    def applies_on(self, weekday: int) -> bool:
        """Whether this override holds on a weekday (0 = Monday)."""
        return weekday in weekdays_of(self.days)


class Preferences(_Strict):
    liked_topics: Annotated[list[Topic], Field(min_length=1), AfterValidator(_unique)]
    disliked_topics: Annotated[list[Topic], AfterValidator(_unique)]
    tones: Annotated[list[Tone], Field(min_length=1), AfterValidator(_unique)]
    boundaries: Annotated[list[Flag], AfterValidator(_unique)]
    welcome: Annotated[list[Window], Field(max_length=24)]  # may be empty: welcome only where a `when` says
    avoid: Annotated[list[Window], Field(max_length=24)]
    never_interrupt: Annotated[list[Tag], AfterValidator(_unique)]
    per_day: Annotated[list[Annotated[int, Field(ge=0, le=200)]], Field(min_length=2, max_length=2)]
    min_gap_minutes: Annotated[int, Field(ge=5, le=480)]
    max_silence_minutes: Annotated[int, Field(ge=10, le=1440)]
    novelty: Annotated[float, Field(ge=0.0, le=1.0)]
    when: Annotated[list[Condition], Field(max_length=24)] = []


class AltActivity(_Strict):
    activity: Line
    object: Word
    tags: Tags | None = None  # None: the block's tags


class Block(_Strict):
    """A stretch of the day at home (room, object and tags required), or away from home (`away`:
    none of them; the persona is out and hears nothing)."""

    start: Time
    activity: Line
    room: Word | None = None
    object: Word | None = None
    tags: Tags | None = None
    also: Annotated[list[AltActivity], Field(max_length=8)] = []
    away: bool = False


class DayRoutine(_Strict):
    wake: Time
    bed: Time
    blocks: Annotated[list[Block], Field(min_length=4, max_length=40)]

    @property
    def wraps(self) -> bool:
        """Bed before wake: awake from wake through midnight until bed the next morning (a night shift)."""
        return parse_time(self.bed) < parse_time(self.wake)

    def on_day(self, minute: int) -> int:
        """A clock minute placed on this routine's waking day, which runs from wake for up to 24 h:
        in a routine that wraps, a time before wake is the next morning's (+24 h)."""
        return minute + 24 * 60 if self.wraps and minute < parse_time(self.wake) else minute

    def awake_span(self) -> tuple[int, int]:
        """(wake, bed) in minutes on the waking day; bed may be past 24:00 when the routine wraps."""
        return parse_time(self.wake), self.on_day(parse_time(self.bed))


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
    id: Id
    name: Line
    age: Annotated[int, Field(ge=18, le=100)]
    background: Text
    interests: Annotated[list[Line], Field(min_length=3, max_length=3)]
    lifestyle: Annotated[list[Line], Field(min_length=3, max_length=3)]
    goals: Annotated[list[Line], Field(min_length=1, max_length=5)]
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
        """Hours between waking and bed on that weekday (before the routine's jitter), through
        midnight when its bed is before its wake."""
        wake, bed = self.routine_for(weekday).awake_span()
        return (bed - wake) / 60


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
    from engine.persona_checks import semantic_problems  # they need the model above

    problems = semantic_problems(persona, path, check_name)
    if problems:
        raise PersonaError(path, problems)
    return persona


def load_persona(path: Path | str, check_name: bool = True) -> Persona:
    """Load and validate a persona file; its name must be the id unless check_name is False."""
    path = Path(path)
    return parse_persona(read_toml(path, PersonaError), path, check_name)
