"""The persona's preferences as they apply at each step of a given weekday (after `when` overrides).

Compiled once per judge: the rubric judge, the oracle's planner and the wanted range read
these instead of re-applying the persona's conditional overrides at every step.
"""

from dataclasses import dataclass

from engine.clock import SimClock
from engine.persona import Persona
from engine.timeutil import in_windows, parse_window


@dataclass(frozen=True, slots=True)
class PreferenceView:
    liked: frozenset[str]
    disliked: frozenset[str]
    tones: frozenset[str]
    boundaries: frozenset[str]
    never_interrupt: frozenset[str]
    welcome: bool  # inside a welcome window and no avoid window
    min_gap: int
    max_per_day: int
    max_silence: int
    novelty_window: int

    def open_to(self, tags: tuple[str, ...]) -> bool:
        """Welcome, and the activity is not one never to interrupt."""
        return self.welcome and self.never_interrupt.isdisjoint(tags)


_OVERRIDABLE = ("liked_topics", "disliked_topics", "tones", "never_interrupt", "min_gap_minutes")


def compile_views(persona: Persona, clock: SimClock, weekday: int) -> list[PreferenceView]:
    """One PreferenceView per step of that weekday (0 = Monday)."""
    p = persona.preferences
    base = {name: getattr(p, name) for name in _OVERRIDABLE}
    welcome = [parse_window(w) for w in p.welcome]
    conditions = []
    for cond in p.when:
        if not cond.applies_on(weekday):
            continue
        if cond.welcome is not None:
            welcome = [parse_window(w) for w in cond.welcome]
        window = parse_window(cond.window) if cond.window else (0, 24 * 60)
        conditions.append((window, cond.model_dump(include=set(base), exclude_none=True)))
    welcome_windows, avoid = tuple(welcome), tuple(parse_window(w) for w in p.avoid)
    cache: dict[tuple, PreferenceView] = {}
    views = []
    for step in range(clock.steps_per_day):
        minute = clock.minute_of_day(step)
        active = tuple(i for i, (w, _) in enumerate(conditions) if w[0] <= minute < w[1])
        is_welcome = in_windows(minute, welcome_windows) and not in_windows(minute, avoid)
        key = (active, is_welcome)
        if key not in cache:
            values = dict(base)
            for i in active:
                values.update(conditions[i][1])
            cache[key] = PreferenceView(
                liked=frozenset(values["liked_topics"]), disliked=frozenset(values["disliked_topics"]),
                tones=frozenset(values["tones"]), boundaries=frozenset(p.boundaries),
                never_interrupt=frozenset(values["never_interrupt"]), welcome=is_welcome,
                min_gap=values["min_gap_minutes"], max_per_day=p.per_day[1],
                max_silence=p.max_silence_minutes, novelty_window=round(4 * p.novelty),
            )
        views.append(cache[key])
    return views
