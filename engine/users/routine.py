"""The offline user (`routine`): a day built from the persona's routine, jittered and alive.

Each day is planned once (seeded by run seed and day): block starts are jittered,
long blocks are split into sub-activities and short breaks, and the persona's
daily-plan requirements are inserted at a seeded time in their windows.

A routine whose bed is before its wake runs past midnight: its waking day is planned on
one timeline from wake to bed the next morning, and calendar day d begins with the tail
of day d-1's routine (until its bed), then sleep until day d's wake. Day 0 begins with the
tail of the eve's routine (the weekday before the start date, its own seeded stream), as if
the persona had lived the day before the simulation started.
"""

from engine.clock import SimClock
from engine.house import load_house
from engine.persona import Persona
from engine.seeding import ROLE_USER, rng_for, stable_hash
from engine.timeutil import parse_time, parse_window
from engine.types import AWAY, Activity

SLEEPING = Activity("Sleeping", "bedroom", "bed", ("sleep",))
SPLIT_OVER_MINUTES = 40
DAY_MINUTES = 24 * 60


class RoutineUser:
    kind = "routine"

    def __init__(self, persona: Persona, clock: SimClock, seed: int):
        self.persona = persona
        self.clock = clock
        self.seed = seed
        self._salt = stable_hash(persona.id)
        self._plan: list[Activity] = []

    async def start_day(self, day: int) -> None:
        self._plan = self.plan_day(day)

    async def next_activity(self, step: int) -> Activity:
        return self._plan[step]

    def day_plan(self) -> list[Activity]:
        """Today's activity at every step (what the oracle plans over)."""
        return self._plan

    def plan_day(self, day: int) -> list[Activity]:
        """What the persona does at each step of calendar day `day` (00:00 to 24:00)."""
        segments = self._waking_day(day)
        if self.persona.routine_for(self.clock.weekday(day - 1)).wraps:
            tail = [(max(s, DAY_MINUTES) - DAY_MINUTES, e - DAY_MINUTES, a)
                    for s, e, a in self._waking_day(day - 1) if e > DAY_MINUTES]
            if tail:  # last night's routine runs on until its bed; today's starts after it
                night_end = tail[-1][1]
                segments = tail + [(max(s, night_end), e, a) for s, e, a in segments if e > night_end]

        plan = []
        minute_of = self.clock.minute_of_day
        i = 0
        for step in range(self.clock.steps_per_day):
            minute = minute_of(step)
            while i < len(segments) and segments[i][1] <= minute:
                i += 1
            if i < len(segments) and segments[i][0] <= minute:
                plan.append(segments[i][2])
            else:
                plan.append(SLEEPING)
        return plan

    def _rng(self, day: int):
        if day < 0:  # the eve of day 0: a stream of its own (seeds cannot be negative)
            return rng_for(self.seed, ROLE_USER, 0, self._salt, -day)
        return rng_for(self.seed, ROLE_USER, day, self._salt)

    def _waking_day(self, day: int) -> list[tuple[int, int, Activity]]:
        """Segments (start, end, activity) of the routine of `day`, in minutes from that day's
        midnight: from wake to bed, which is past 24:00 when the routine wraps."""
        rng = self._rng(day)
        routine = self.persona.routine_for(self.clock.weekday(day))
        jitter = self.persona.routine.jitter_minutes

        def jittered(minute: int) -> int:
            return minute + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)

        on_day = routine.on_day  # the identity unless the routine wraps
        bed = min(jittered(on_day(parse_time(routine.bed))), 2 * DAY_MINUTES if routine.wraps else DAY_MINUTES)
        starts = [jittered(on_day(parse_time(b.start))) for b in routine.blocks]
        for i in range(1, len(starts)):  # keep blocks ordered and at least 10 minutes long
            starts[i] = max(starts[i], starts[i - 1] + 10)
        bed = max(bed, starts[-1] + 10)
        ends = starts[1:] + [bed]

        segments: list[tuple[int, int, Activity]] = []
        house = load_house()
        for block, start, end in zip(routine.blocks, starts, ends):
            if block.away:  # out of the house: one stretch, no breaks at home
                segments.append((start, end, Activity(block.activity, AWAY, AWAY, (AWAY,))))
                continue
            main = Activity(block.activity, block.room, block.object, tuple(block.tags))
            variants = [main] + [Activity(a.activity, block.room, a.object,
                                          main.tags if a.tags is None else tuple(a.tags)) for a in block.also]
            if end - start <= SPLIT_OVER_MINUTES:
                segments.append((start, end, main))
                continue
            t, turn = start, 0
            while t < end:
                length = min(int(rng.integers(20, 46)), end - t)
                segments.append((t, t + length, variants[turn % len(variants)]))
                t += length
                turn += 1
                if t < end - 15 and rng.random() < 0.3:
                    pause = house.breaks[int(rng.integers(len(house.breaks)))]
                    minutes = int(rng.integers(5, 11))
                    segments.append((t, t + minutes, Activity(pause.text, pause.room, pause.object, pause.tags)))
                    t += minutes

        for item in self.persona.daily_plan:
            w_start, w_end = parse_window(item.window)
            w_start, w_end = on_day(w_start), on_day(w_start) + (w_end - w_start)
            latest = max(w_start, w_end - item.minutes)
            start = int(rng.integers(w_start, latest + 1))
            end = min(start + item.minutes, w_end)
            planned = Activity(item.text, item.room, item.object, tuple(item.tags))
            segments = _overwrite(segments, start, end, planned)
        return segments


def build(ctx, options) -> RoutineUser:
    return RoutineUser(ctx.persona, ctx.clock, ctx.config.seed)


def _overwrite(segments: list, start: int, end: int, activity: Activity) -> list:
    """Replace whatever happens in [start, end) with `activity`, trimming what overlaps."""
    out = []
    for s, e, a in segments:
        if e <= start or s >= end:
            out.append((s, e, a))
            continue
        if s < start:
            out.append((s, start, a))
        if e > end:
            out.append((end, e, a))
    out.append((start, end, activity))
    out.sort(key=lambda seg: seg[0])
    return out
