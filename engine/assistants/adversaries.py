"""Adversaries: feedback-free policies that try to game the rubric judge's rules.

They exist to show the judge cannot be gamed: none reads the persona, the judge or any
feedback (observe() is the base no-op). Each sees only the Observation (day, step, minute,
weekday, clock, activity) and remembers only what it itself said today; its random
choices come from self.rng (per run seed and day, BaseAssistant.start_day). Every
recommendation is proposed n times ([candidate] * n), so what it believes it said is what
was delivered.

The `crowd-*` adversaries use a *population prior*: statistics over all shipped persona
files (the package folder `personas`, never a PROPERSIM_PERSONAS override), computed once
per process. That is what anyone could know about "people in general", not the preferences
of the persona under test (which is one of 32 in the population).

SUITE lists every variant the benchmark should run: (registry name, options, label).
"""

from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.assistants.base import BaseAssistant, candidate_of
from engine.catalog import Catalog, CatalogItem, load_catalog
from engine.house import load_house
from engine.persona import load_persona
from engine.persona_library import persona_paths
from engine.timeutil import in_windows, parse_window
from engine.types import ABSTAIN, Activity, Candidate, Observation
from engine.vocab import TONES, TOPICS

Minutes = Annotated[float, Field(gt=0, le=24 * 60)]
REPEAT_MINUTES = 240  # the judge's documented rule: the same item again within 4 hours is a repeat

# --- the population prior ----------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """What the shipped personas have in common (plain values: no Persona is kept)."""

    topic: str  # most often in liked_topics (ties: vocabulary order)
    tone: str  # most often among accepted tones (ties: vocabulary order)
    min_gap: int  # median min_gap_minutes
    max_per_day: int  # median per_day maximum
    never_interrupt: frozenset[str]  # tags more than half the personas never want interrupted
    welcome_share: tuple[tuple[float, ...], ...]  # [weekday][minute of day]: share of personas welcoming it


@cache
def population() -> Population:
    people = [load_persona(p).preferences for p in persona_paths(Path(str(resources.files("personas"))))]
    topics = Counter(t for p in people for t in p.liked_topics)
    tones = Counter(t for p in people for t in p.tones)
    shares = []
    for weekday in range(7):
        counts = [0] * (24 * 60)
        for p in people:
            welcome = p.welcome
            for cond in p.when:  # a welcome override for some days, as the persona files define it
                if cond.welcome is not None and cond.applies_on(weekday):
                    welcome = cond.welcome
            windows, avoid = tuple(map(parse_window, welcome)), tuple(map(parse_window, p.avoid))
            for minute in range(24 * 60):
                counts[minute] += in_windows(minute, windows) and not in_windows(minute, avoid)
        shares.append(tuple(c / len(people) for c in counts))
    tags = Counter(t for p in people for t in p.never_interrupt)
    return Population(
        topic=max(TOPICS, key=lambda t: (topics[t], -TOPICS.index(t))),
        tone=max(TONES, key=lambda t: (tones[t], -TONES.index(t))),
        min_gap=sorted(p.min_gap_minutes for p in people)[len(people) // 2],
        max_per_day=sorted(p.per_day[1] for p in people)[len(people) // 2],
        never_interrupt=frozenset(t for t, k in tags.items() if k > len(people) / 2),
        welcome_share=tuple(shares),
    )


# --- options -------------------------------------------------------------------------------


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimerOptions(_Options):
    every_minutes: Minutes = 60


class BurstOptions(_Options):
    count: Annotated[int, Field(ge=1, le=500)] = 8


class GapOptions(_Options):
    gap_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 30  # at least this long between two


class CrowdOptions(_Options):
    every_minutes: Minutes = 30


def _known_item(item: str | None) -> str | None:
    if item is not None and item not in {i.id for i in load_catalog().items}:
        raise ValueError(f"no catalog item {item!r}")
    return item


def _window(text: str) -> str:
    parse_window(text)
    return text


class SameItemOptions(_Options):
    item: Annotated[str | None, AfterValidator(_known_item)] = None  # None: the crowd topic's first item
    every_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 0  # 0: every step


class EveningOptions(_Options):
    every_minutes: Minutes = 30
    window: Annotated[str, AfterValidator(_window)] = "18:00-22:00"


class ChangeTimerOptions(_Options):
    gap_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 30  # between two at tag changes
    backstop_minutes: Minutes = 90  # never silent longer than this


class CrowdScheduleOptions(_Options):
    share: Annotated[float, Field(gt=0, le=1)] = 0.5  # welcome to at least this share of the population


# --- the policies --------------------------------------------------------------------------


class Adversary(BaseAssistant):
    """Decides from the observation and its own day so far; subclasses say when (due) and what (pick)."""

    def __init__(self, catalog: Catalog, seed: int, options: BaseModel):
        super().__init__(catalog, seed)
        self.options = options
        self._reset()

    @classmethod
    def build(cls, ctx, options: BaseModel) -> "Adversary":
        return cls(ctx.catalog, ctx.assistant_seed, options)

    def start_day(self, day: int) -> None:
        super().start_day(day)
        self._reset()

    def _reset(self) -> None:
        self.woke: int | None = None  # minute of the day's first awake observation
        self.last: int | None = None  # minute of its last recommendation today
        self.sent = 0  # recommendations today
        self.steps = 0  # awake steps seen today
        self.said: dict[str, int] = {}  # item id -> minute it was last recommended
        self.prev: Activity | None = None  # the previous step's activity

    def choose(self, obs: Observation, n: int) -> list[Candidate]:
        if self.woke is None:
            self.woke = obs.minute
        item = self.pick(obs) if self.due(obs) else None
        self.prev, self.steps = obs.activity, self.steps + 1
        if item is None:
            return [ABSTAIN] * n
        self.last, self.sent, self.said[item.id] = obs.minute, self.sent + 1, obs.minute
        return [candidate_of(item)] * n

    def due(self, obs: Observation) -> bool:
        raise NotImplementedError

    def pick(self, obs: Observation) -> CatalogItem | None:
        return self.random_item(obs)

    # helpers
    def quiet_for(self, obs: Observation) -> float:
        """Minutes since its last recommendation (or since waking)."""
        return obs.minute - (self.last if self.last is not None else self.woke)

    def random_item(self, obs: Observation) -> CatalogItem:
        """A random catalog item that fits the activity (any item if none fits)."""
        items = self.catalog.fitting(obs.activity.tags) or self.catalog.items
        return items[int(self.rng.integers(len(items)))]

    def freshest(self, items) -> CatalogItem:
        """The item it said least recently today (never beats any time), ties at random."""
        oldest = min(self.said.get(i.id, -1) for i in items)
        pool = [i for i in items if self.said.get(i.id, -1) == oldest]
        return pool[int(self.rng.integers(len(pool)))]

    def fits(self, item: CatalogItem, obs: Observation) -> bool:
        return not item.fits.isdisjoint(obs.activity.tags)


class Timer(Adversary):
    """A random fitting item every K minutes after waking."""

    def due(self, obs):
        return self.quiet_for(obs) >= self.options.every_minutes


class Burst(Adversary):
    """A random fitting item at each of the first N awake steps, then silence."""

    def due(self, obs):
        return self.steps < self.options.count


BREAK_TAGS = frozenset({"leisure", "rest", "social", "music", "reading"})


class BreaksOnly(Adversary):
    """A random fitting item during leisure/rest/social/music/reading or a house break, M minutes apart."""

    def __init__(self, catalog, seed, options):
        super().__init__(catalog, seed, options)
        self.breaks = frozenset((b.text, b.room, b.object) for b in load_house().breaks)

    def due(self, obs):
        a = obs.activity
        relaxed = not BREAK_TAGS.isdisjoint(a.tags) or (a.text, a.room, a.object) in self.breaks
        return relaxed and (self.last is None or obs.minute - self.last >= self.options.gap_minutes)


class CrowdPleaser(Timer):
    """The population's most liked topic in its most accepted tone, every K minutes after waking.

    A population prior (see the module docstring), not the preferences of the persona under
    test: items of that topic and tone that fit the activity, else of that topic that fit,
    else of that topic and tone, else of that topic; in each, only items not said within the
    judge's (documented) repeat window, the least recently said first.
    """

    def __init__(self, catalog, seed, options):
        super().__init__(catalog, seed, options)
        crowd = population()
        self.topic_items = tuple(i for i in catalog.items if i.topic == crowd.topic)
        self.tone = crowd.tone

    def pick(self, obs):
        mine = self.topic_items
        tiers = ([i for i in mine if i.tone == self.tone and self.fits(i, obs)],
                 [i for i in mine if self.fits(i, obs)], [i for i in mine if i.tone == self.tone], mine)
        for tier in tiers:  # the best tier with an item it has not said within the repeat window
            unheard = [i for i in tier if obs.minute - self.said.get(i.id, -REPEAT_MINUTES) >= REPEAT_MINUTES]
            if unheard:
                return self.freshest(unheard)
        return self.freshest(next(tier for tier in tiers if tier))


class SameItem(Adversary):
    """One fixed catalog item all day: at every step, or every K minutes after waking."""

    def __init__(self, catalog, seed, options):
        super().__init__(catalog, seed, options)
        wanted = options.item or next(i.id for i in catalog.items if i.topic == population().topic)
        self.item = next(i for i in catalog.items if i.id == wanted)

    def due(self, obs):
        return self.options.every_minutes == 0 or self.quiet_for(obs) >= self.options.every_minutes

    def pick(self, obs):
        return self.item


class TopicRoundRobin(Timer):
    """Every K minutes, a fitting item of the next topic in turn (from a per-day random start),
    never an item already said today: some land on liked topics by chance, none repeats."""

    def _reset(self):
        super()._reset()
        self.turn = int(self.rng.integers(len(TOPICS)))

    def pick(self, obs):
        fitting = [i for i in self.catalog.fitting(obs.activity.tags) if i.id not in self.said]
        for k in range(len(TOPICS)):
            topic = TOPICS[(self.turn + k) % len(TOPICS)]
            items = [i for i in fitting if i.topic == topic]
            if items:
                self.turn += k + 1
                return items[int(self.rng.integers(len(items)))]
        return self.freshest(self.catalog.fitting(obs.activity.tags) or self.catalog.items)


# what someone doing X would plausibly like to hear about
MIRROR: dict[str, tuple[str, ...]] = {
    "reading": ("books",), "cooking": ("cooking", "nutrition"), "meal": ("nutrition", "cooking"),
    "exercise": ("fitness",), "music": ("music",), "outdoor": ("nature", "gardening"), "creative": ("art",),
    "social": ("social", "family"), "study": ("learning",), "screen": ("films", "games"), "chores": ("home",),
    "rest": ("mindfulness",),
}


class Mirror(Timer):
    """Every K minutes, an item on what the user is doing (reading -> books, cooking -> cooking or
    nutrition, exercise -> fitness, music -> music, ...), warm tone first; waits while nothing mirrors."""

    def pick(self, obs):
        topics = {t for tag in obs.activity.tags for t in MIRROR.get(tag, ())}
        items = [i for i in self.catalog.items if i.topic in topics and self.fits(i, obs)]
        if items:
            return self.freshest([i for i in items if i.tone == "warm"] or items)
        return None


class EveningTimer(Adversary):
    """A random fitting item every K minutes inside one window of the evening (default 18:00-22:00)."""

    def __init__(self, catalog, seed, options):
        super().__init__(catalog, seed, options)
        self.window = parse_window(options.window)

    def due(self, obs):
        start, end = self.window
        inside = start <= obs.minute < end
        return inside and (self.last is None or obs.minute - self.last >= self.options.every_minutes)


class OnChange(Adversary):
    """A random fitting item right after the user switches activity (waking counts), M minutes apart."""

    def due(self, obs):
        a, p = obs.activity, self.prev
        changed = p is None or (a.text, a.room, a.object) != (p.text, p.room, p.object)
        return changed and (self.last is None or obs.minute - self.last >= self.options.gap_minutes)


class TagChangeTimer(Adversary):
    """A long-gap timer that resets at every change of the activity's tags: a random fitting item at a
    tag change (at least `gap_minutes` after the last), else once silent `backstop_minutes`."""

    def due(self, obs):
        changed = self.prev is not None and set(obs.activity.tags) != set(self.prev.tags)
        return (changed and (self.last is None or obs.minute - self.last >= self.options.gap_minutes)
                or self.quiet_for(obs) >= self.options.backstop_minutes)


class CrowdSchedule(CrowdPleaser):
    """The whole population prior: when at least `share` of the shipped personas welcome suggestions,
    not during a tag most of them never want interrupted, the population's median min_gap apart and at
    most its median daily maximum; the crowd-pleaser's items. Not the persona under test's preferences."""

    def due(self, obs):
        crowd = population()
        return (crowd.welcome_share[obs.weekday][obs.minute] >= self.options.share
                and crowd.never_interrupt.isdisjoint(obs.activity.tags)
                and (self.last is None or obs.minute - self.last >= crowd.min_gap)
                and self.sent < crowd.max_per_day)


SUITE: tuple[tuple[str, dict, str], ...] = (
    *(("timer", {"every_minutes": k}, f"timer-{k}m") for k in (30, 60, 90, 120, 180)),
    # the largest shipped per_day maximum is 22: 24 is just above it, 48 about twice
    *(("burst", {"count": n}, f"burst-{n}") for n in (2, 4, 8, 16, 24, 48)),
    *(("breaks-only", {"gap_minutes": m}, f"breaks-only-{m}m") for m in (15, 30, 60)),
    *(("crowd-pleaser", {"every_minutes": k}, f"crowd-pleaser-{k}m") for k in (30, 60)),
    ("same-item", {}, "same-item-every-step"),
    ("same-item", {"every_minutes": 30}, "same-item-30m"),
    *(("topic-round-robin", {"every_minutes": k}, f"topic-round-robin-{k}m") for k in (30, 60)),
    ("mirror", {"every_minutes": 30}, "mirror-30m"),
    ("evening-timer", {"every_minutes": 30}, "evening-timer-30m"),
    *(("on-change", {"gap_minutes": m}, f"on-change-{m}m") for m in (0, 30)),
    ("tag-change-timer", {"gap_minutes": 30, "backstop_minutes": 90}, "tag-change-timer-30m-90m"),
    ("crowd-schedule", {}, "crowd-schedule"),
)
