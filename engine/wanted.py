"""How many recommendations a persona wants on a given day: the one definition of the wanted range.

The persona states `per_day = [min, max]`; a day's routine may leave room for fewer. The
range of a day is that pair capped by its room: how many recommendations fit into the
day's open moments (welcome, an activity that may be interrupted and that something the
persona likes fits) at least min_gap apart. A weekends-only persona's weekday wants (0, 0). The TUI, the metrics and the
benchmarks all count a day's delivered recommendations against this.
"""

from collections.abc import Sequence

from engine.clock import SimClock
from engine.timeutil import format_minutes
from engine.types import Activity, Observation


def wanted_range(judge, observations: Sequence[Observation]) -> tuple[int, int]:
    """(low, high) for the day whose awake observations are given, under the rubric judge's views."""
    low, high = judge.persona.preferences.per_day
    room, last = 0, None
    for obs in observations:
        v = judge.view(obs)
        if v.open_to(obs.activity.tags) and judge.something_for(v, obs.activity.tags) and (last is None or obs.minute - last >= v.min_gap):
            room, last = room + 1, obs.minute
    high = min(high, room)
    return min(low, high), high


def planned_observations(plan: Sequence[Activity], clock: SimClock, day: int) -> list[Observation]:
    """The awake observations of a day planned in advance (a routine user's day plan)."""
    weekday = clock.weekday(day)
    return [Observation(day, step, clock.minute_of_day(step), weekday, format_minutes(clock.minute_of_day(step)),
                        activity)
            for step, activity in enumerate(plan) if not (activity.asleep or activity.away)]


def in_range(count: int, wanted: tuple[int, int]) -> bool:
    return wanted[0] <= count <= wanted[1]
