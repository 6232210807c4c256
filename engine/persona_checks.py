"""The cross-field checks of a persona that its type schema cannot express: rooms and objects,
routine order through midnight, nights that run into the next day, plan windows."""

from pathlib import Path

from engine.errors import Problem
from engine.house import load_house
from engine.persona import WEEKDAY_NAMES, DayRoutine, Persona
from engine.timeutil import parse_time, parse_window


def semantic_problems(p: Persona, path: Path, check_name: bool) -> list[Problem]:
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
