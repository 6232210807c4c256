"""The simulation loop: one persona, one assistant, day after day, as an asyncio task.

The loop never calls a UI: it emits typed events to subscribers. Pacing (pause,
single step, speed) belongs to whoever drives `step()`.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from engine.assistant import Assistant
from engine.catalog import load_catalog
from engine.clock import SimClock
from engine.config import RunConfig
from engine.errors import RunError
from engine.events import DayEnded, DayStarted, Error, RunFinished, StepRecorded
from engine.judge_rubric import DayHistory, RubricJudge
from engine.metrics import DayMetrics, day_metrics
from engine.persona import Persona
from engine.store import RunStore
from engine.timeutil import format_minutes
from engine.types import Feedback, Observation, PreferencePair, Rating, StepRecord
from engine.user_routine import RoutineUser

# Human takeover: a hook that may replace the judge's ratings, by candidate index
# (the delivered one, optionally the others too). It may return an awaitable.
RatingOverride = Callable[[StepRecord], "Awaitable[dict[int, Rating] | None] | dict[int, Rating] | None"]


def make_pairs(day: int, obs: Observation, candidates, ratings, source: str = "simulated",
               weight: float = 1.0) -> list[PreferencePair]:
    """Every two candidates with different totals form a pair (chosen = higher); ties form none."""
    pairs = []
    prompt = obs.render()
    for i in range(len(candidates)):
        for j in range(i + 1, len(candidates)):
            a, b = ratings[i].total, ratings[j].total
            if a == b or candidates[i] == candidates[j]:
                continue
            hi, lo = (i, j) if a > b else (j, i)
            pair_source = "human" if "human" in (ratings[hi].source, ratings[lo].source) else source
            pairs.append(PreferencePair(
                day, obs.step, prompt, candidates[hi], candidates[lo], ratings[hi].total, ratings[lo].total,
                obs, source=pair_source, weight=weight if pair_source == "human" else 1.0,
            ))
    return pairs


class Simulation:
    def __init__(self, config: RunConfig, persona: Persona, assistant: Assistant,
                 store: RunStore | None = None, judge: RubricJudge | None = None):
        self.config = config
        self.persona = persona
        self.assistant = assistant
        self.store = store
        self.clock = SimClock(config.start_date, config.days, config.step_seconds)
        self.catalog = load_catalog()
        self.user = RoutineUser(persona, self.clock, config.seed)
        self.judge = judge or build_judge(config, persona, self.clock)
        self.criteria = self.judge.criteria
        self._subscribers: list[Callable[[object], None]] = []
        self.day = 0
        self.next_step = 0  # next step index within the day
        self.day_records: list[StepRecord] = []
        self.day_pairs: list[PreferencePair] = []
        self.history = DayHistory()
        self.finished = False
        self.rating_override: RatingOverride | None = None
        self._day_open = False

    # --- events ------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[object], None]) -> None:
        self._subscribers.append(callback)

    def emit(self, event: object) -> None:
        for callback in self._subscribers:
            callback(event)

    # --- driving -----------------------------------------------------------------------
    def start_at(self, day: int) -> None:
        """Begin (or resume) at the start of `day`."""
        self.day, self.next_step, self._day_open = day, 0, False
        self.finished = day >= self.config.days

    def _open_day(self) -> None:
        self.user.start_day(self.day)
        self.judge.start_day(self.day)
        self.assistant.start_day(self.day)
        self.history = DayHistory()
        self.day_records, self.day_pairs = [], []
        self._day_open = True
        self.emit(DayStarted(self.day))

    def observe_now(self) -> Observation | None:
        """The next awake observation of today, skipping sleep; None when the day is over."""
        while self.next_step < self.clock.steps_per_day:
            step = self.next_step
            activity = self.user.next_activity(step)
            if not activity.asleep:
                minute = self.clock.minute_of_day(step)
                return Observation(self.day, step, minute, self.clock.weekday(self.day),
                                   format_minutes(minute), activity)
            self.next_step += 1
        return None

    async def step(self) -> StepRecord | None:
        """Advance by one awake step, closing the day when it ends. None once the run is over."""
        while not self.finished:
            if not self._day_open:
                self._open_day()
            obs = self.observe_now()
            if obs is None:
                await self._close_day()
                continue
            record = await self._decide(obs)
            self.next_step += 1
            return record
        return None

    async def close_day_if_over(self) -> bool:
        """Close today if no awake step is left (so a driver can stop exactly at a day's end)."""
        if self._day_open and not self.finished and self.observe_now() is None:
            await self._close_day()
            return True
        return False

    async def run(self) -> None:
        """Run to the end as fast as possible."""
        try:
            while not self.finished:
                await self.step()
        except Exception as error:  # reported to subscribers, then re-raised for the caller
            self.emit(Error(f"{type(error).__name__}: {error}"))
            raise

    # --- one step ----------------------------------------------------------------------
    async def _decide(self, obs: Observation) -> StepRecord:
        candidates = tuple(await self.assistant.propose(obs, self.config.n_candidates))
        if len(candidates) != self.config.n_candidates:
            raise RuntimeError(f"assistant returned {len(candidates)} candidates, expected {self.config.n_candidates}")
        if self.judge.concurrent:
            ratings = list(await asyncio.gather(*(self.judge.rate(obs, c, self.history) for c in candidates)))
        else:
            ratings = [await self.judge.rate(obs, c, self.history) for c in candidates]
        delivered = self.config.deliver
        record = StepRecord(self.day, obs.step, obs, candidates, tuple(ratings), delivered,
                            self.assistant.last_retrieved)
        if self.rating_override is not None:
            human = self.rating_override(record)
            if inspect.isawaitable(human):
                human = await human
            if human:
                ratings = [human.get(i, r) for i, r in enumerate(ratings)]
                record = StepRecord(self.day, obs.step, obs, candidates, tuple(ratings), delivered,
                                    record.retrieved)
        self.history.see(obs, candidates[delivered], ratings[delivered])
        pairs = make_pairs(self.day, obs, candidates, ratings, weight=self.config.human_weight)
        self.assistant.observe(Feedback(obs, candidates, tuple(r.total for r in ratings),
                                        tuple(r.reason for r in ratings), delivered))
        self.day_records.append(record)
        self.day_pairs.extend(pairs)
        if self.store is not None:
            self.store.append_step(record)
            self.store.append_pairs(pairs)
        self.emit(StepRecorded(record))
        return record

    async def _close_day(self) -> DayMetrics:
        day = self.day
        metrics = day_metrics(day, self.day_records, len(self.day_pairs), self.config.step_seconds, self.criteria)
        try:
            await self.assistant.end_day(day, self.day_pairs, self.emit)
        except Exception as error:  # never skipped silently: the run stops, earlier days stay resumable
            where = f" (run folder {self.store.folder}; resume with --batch --resume)" if self.store else ""
            raise RunError(f"training at the end of day {day + 1} failed: {type(error).__name__}: {error}. "
                           f"Days before it are checkpointed{where}.") from error
        if self.store is not None:
            self.store.checkpoint(day, self.assistant.save)
            self.store.end_day(metrics, self.criteria)
        self.day += 1
        self.next_step = 0
        self._day_open = False
        self.emit(DayEnded(day, metrics))
        if self.day >= self.config.days:
            self.finished = True
            if self.store is not None:
                self.store.close()
            self.emit(RunFinished(self.config.days))
        return metrics


def build_judge(config: RunConfig, persona: Persona, clock: SimClock) -> RubricJudge:
    catalog = load_catalog()
    return RubricJudge(persona, clock, config.seed, config.judge.criteria, config.judge.noise,
                       {item.id: item for item in catalog.items})
