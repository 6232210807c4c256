"""Persona model, strict TOML loading and validation (schema: personas/README.md)."""

import re
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


# An id names the file, the run folders and the command line: a short slug, safe as one path
# component. A double underscore is out: it separates the parts of a run folder's name.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9+_-]{0,47}")


def check_id(text: str) -> str:
    """`text` if it is a valid persona id, else ValueError saying the rule."""
    if not _ID.fullmatch(text) or "__" in text:
        shown = repr(text[:60]) + ("..." if len(text) > 60 else "")  # repr: control characters escaped
        raise ValueError(f"{shown} is not a valid id: use 1-48 letters, digits, '+', '-' or '_' (no '__'), "
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
        raise ValueError(f"unknown day {unknown[0]!r}; expected weekday, weekend, all, or a comma list of: "
                         f"{', '.join(DAY_ABBREVIATIONS)}")
    if len(set(names)) != len(names):
        raise ValueError("names a day twice")
    return frozenset(DAY_ABBREVIATIONS.index(name) for name in names)


def _check_days(text: str) -> str:
    weekdays_of(text)
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
Id = Annotated[str, AfterValidator(check_id)]
Days = Annotated[str, AfterValidator(_check_days)]


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
    days: Days
    window: Window | None = None
    note: str | None = None
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
    activity: Text
    object: str
    tags: Tags | None = None  # None: the block's tags


class Block(_Strict):
    """A stretch of the day at home (room, object and tags required), or away from home (`away`:
    none of them; the persona is out and hears nothing)."""

    start: Time
    activity: Text
    room: str | None = None
    object: str | None = None
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
        """Hours between waking and bed on that weekday (before the routine's jitter), through
        midnight when its bed is before its wake."""
        wake, bed = self.routine_for(weekday).awake_span()
        return (bed - wake) / 60


def _semantic_problems(p: Persona, path: Path, check_name: bool) -> list[Problem]:
    """Cross-field checks that the type schema cannot express."""
    problems: list[Problem] = []
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
        _place(problems, f"daily_plan[{i}]", item.room, item.object)
    for day in ("weekday", "weekend", *WEEKDAY_NAMES):
        routine = getattr(p.routine, day)
        if routine is not None:
            problems.extend(_routine_problems(p, f"routine.{day}", day, routine))
    problems.extend(_night_problems(p))
    return problems


def _place(problems: list[Problem], field: str, room: str, obj: str) -> None:
    rooms = load_house().rooms
    if room not in rooms:
        problems.append(Problem(f"{field}.room", f"unknown room {room!r}; expected one of: {', '.join(rooms)}"))
    elif obj not in rooms[room].objects:
        problems.append(
            Problem(f"{field}.object", f"{obj!r} is not in the {room}; it has: {', '.join(rooms[room].objects)}")
        )


def _routine_problems(p: Persona, field: str, day: str, routine: DayRoutine) -> list[Problem]:
    """One day's routine, on its waking day: from wake, through midnight when bed is before wake."""
    problems: list[Problem] = []
    if parse_time(routine.wake) == 24 * 60:
        problems.append(Problem(f"{field}.wake", "must be before 24:00"))
    elif parse_time(routine.wake) == parse_time(routine.bed):
        problems.append(Problem(f"{field}.bed", "must differ from wake (a bed before wake means awake past midnight)"))
    wake, bed = routine.awake_span()
    starts = [routine.on_day(parse_time(b.start)) for b in routine.blocks]
    if starts[0] != wake:
        problems.append(Problem(f"{field}.blocks[0].start", f"must equal wake ({routine.wake})"))
    for i, (before, after) in enumerate(zip(starts, starts[1:]), start=1):
        if after <= before:
            problems.append(Problem(f"{field}.blocks[{i}].start", "must be after the previous block's start"
                                    + (" (a start before wake is the next morning's)" if routine.wraps else "")))
    if starts[-1] >= bed:
        problems.append(Problem(f"{field}.blocks[{len(starts) - 1}].start", "must be before bed"))
    for i, block in enumerate(routine.blocks):
        where = f"{field}.blocks[{i}]"
        if block.away:
            for key in ("room", "object", "tags", "also"):
                if getattr(block, key):
                    problems.append(Problem(f"{where}.{key}", "an away block has none: the persona is not at home"))
            continue
        for key in ("room", "object", "tags"):
            if getattr(block, key) is None:
                problems.append(Problem(f"{where}.{key}", "missing field"))
        if block.room is not None and block.object is not None:
            _place(problems, where, block.room, block.object)
        for j, alt in enumerate(block.also):
            if block.room is not None:
                _place(problems, f"{where}.also[{j}]", block.room, alt.object)
            if alt.tags is not None and "sleep" in alt.tags:
                problems.append(Problem(f"{where}.also[{j}].tags", "awake blocks cannot be tagged 'sleep'"))
        if block.tags is not None and "sleep" in block.tags:
            problems.append(Problem(f"{where}.tags", "awake blocks cannot be tagged 'sleep'"))
    if all(block.away for block in routine.blocks):
        problems.append(Problem(f"{field}.blocks", "at least one block must be at home"))
    ends = starts[1:] + [bed]
    away = [(s, e, b.start) for s, e, b in zip(starts, ends, routine.blocks) if b.away]
    for i, item in enumerate(p.daily_plan):
        w_start, w_end = parse_window(item.window)
        start = routine.on_day(w_start)
        end = start + (w_end - w_start)
        if start < wake or end > bed:
            problems.append(Problem(f"daily_plan[{i}].window", f"not inside the {day} waking hours"))
        for s, e, clock in away:
            if start < e and s < end:
                problems.append(Problem(f"daily_plan[{i}].window",
                                        f"overlaps the {day} away block at {clock} (the persona is out)"))
    return problems


def _night_problems(p: Persona) -> list[Problem]:
    """A night that runs past midnight must end before the next day's routine wakes."""
    problems: list[Problem] = []
    seen = set()
    for weekday in range(7):
        tonight, tomorrow = p.routine_for(weekday), p.routine_for((weekday + 1) % 7)
        if not tonight.wraps or parse_time(tomorrow.wake) >= parse_time(tonight.bed):
            continue
        field, next_field = _routine_field(p, weekday), _routine_field(p, (weekday + 1) % 7)
        if (field, next_field) not in seen:
            seen.add((field, next_field))
            problems.append(Problem(f"{field}.bed", f"the night ends at {tonight.bed} on "
                                    f"{WEEKDAY_NAMES[(weekday + 1) % 7].capitalize()}, after that day's wake "
                                    f"({tomorrow.wake} in {next_field})"))
    return problems


def _routine_field(p: Persona, weekday: int) -> str:
    """Which table of [routine] a weekday follows."""
    name = WEEKDAY_NAMES[weekday]
    if getattr(p.routine, name) is not None:
        return f"routine.{name}"
    return "routine.weekend" if weekday >= 5 else "routine.weekday"


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
