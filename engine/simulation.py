"""The simulation loop: one persona's day after day, with the roles it is handed, as an asyncio task.

The loop never builds a role (engine/compose.py does) and never calls a UI: it emits
typed events to subscribers. Pacing (pause, single step, speed) belongs to whoever
drives `step()`. The TUI talks to it through a small facade: override or release the
user's activity, set a human rater, flush the recording.
"""

import asyncio
import dataclasses
from collections.abc import Callable

from engine.assistants import Assistant
from engine.clock import SimClock
from engine.config import RunConfig
from engine.errors import RunError
from engine.events import Away, DayEnded, DayStarted, Error, RunFinished, StepRecorded
from engine.gc_tuning import fewer_collections
from engine.judges import Judge
from engine.judges.rubric import RubricJudge
from engine.judges.takeover import HumanRater, TakeoverJudge
from engine.metrics import DayMetrics, day_metrics
from engine.persona import Persona
from engine.store import RunStore
from engine.timeutil import format_minutes
from engine.types import Activity, Feedback, Observation, PreferencePair, Rating, StepRecord
from engine.users import UserAgent
from engine.users.takeover import TakeoverUser
from engine.wanted import planned_observations, wanted_range


def make_pairs(day: int, obs: Observation, candidates, ratings: list[Rating], prompt,
               source: str = "simulated", weight: float = 1.0) -> list[PreferencePair]:
    """Every two candidates with different totals form a pair (chosen = higher); ties, identical
    candidates and failed ratings form none. `prompt` is what produced the candidates."""
    pairs = []
    for i in range(len(candidates)):
        for j in range(i + 1, len(candidates)):
            if ratings[i].failed or ratings[j].failed:
                continue
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
    def __init__(self, config: RunConfig, persona: Persona, user: UserAgent, judge: Judge, assistant: Assistant,
                 clock: SimClock, store: RunStore | None = None, backends=None):
        self.config = config
        self.persona = persona  # for display; the assistant never gets it
        self.user = user
        self.judge = judge
        self.assistant = assistant
        self.clock = clock
        self.store = store
        self.backends = backends  # the run's LLM backends and their call ledger (engine.compose.BackendPool)
        self.criteria = judge.criteria
        self._subscribers: list[Callable[[object], None]] = []
        self.day = 0
        self.next_step = 0  # next step index within the day
        self.day_records: list[StepRecord] = []
        self.day_pairs: list[PreferencePair] = []
        self.finished = False
        self._day_open = False
        self._wanted: tuple[int, tuple[int, int]] | None = None  # (day, range), computed once a day

    # --- events ------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[object], None]) -> None:
        self._subscribers.append(callback)

    def emit(self, event: object) -> None:
        for callback in self._subscribers:
            callback(event)

    # --- the facade for a live driver ------------------------------------------------------
    def override_activity(self, activity: Activity, minutes: int) -> None:
        """A human sets what the user does from the next step, for `minutes` (0: until released)."""
        step = self.next_step
        per_step = self.clock.step_seconds
        until = self.clock.steps_per_day if minutes <= 0 else step + max(1, minutes * 60 // per_step)
        self._takeover(self.user, TakeoverUser).set_activity(activity, until)

    def release_activity(self) -> None:
        self._takeover(self.user, TakeoverUser).release_activity()

    def set_rater(self, rater: HumanRater | None) -> None:
        """A human rates from now on (None: the judge again)."""
        self._takeover(self.judge, TakeoverJudge).rater = rater

    def wanted_today(self) -> tuple[int, int] | None:
        """Today's wanted range (engine.wanted) where the rules and the user's plan tell it, else None."""
        judge, user = getattr(self.judge, "inner", self.judge), getattr(self.user, "inner", self.user)
        plan = getattr(user, "day_plan", None)
        if not self._day_open or plan is None or not isinstance(judge, RubricJudge):
            return None
        if self._wanted is None or self._wanted[0] != self.day:
            self._wanted = (self.day, wanted_range(judge, planned_observations(plan(), self.clock, self.day)))
        return self._wanted[1]

    def flush(self) -> None:
        if self.store is not None:
            self.store.flush()

    def copy_recording(self, target) -> None:
        """Copy the run folder as recorded so far to `target` (a named save)."""
        if self.store is None:
            raise RunError("this simulation is not recorded")
        self.store.copy_to(target)

    def close_recording(self) -> None:
        """Flush and close the run folder, giving up its lock (the run can be resumed later). Idempotent."""
        if self.store is not None:
            self.store.close()

    @staticmethod
    def _takeover(role, wrapper: type):
        if not isinstance(role, wrapper):
            raise RunError("this simulation was built without human takeover")
        return role

    async def run_and_close(self) -> None:
        """Run to the end, then close the run's backends whatever happened."""
        try:
            await self.run()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the run's LLM backends, if any (idempotent)."""
        if self.backends is not None:
            await self.backends.aclose()

    # --- driving -----------------------------------------------------------------------
    def start_at(self, day: int) -> None:
        """Begin (or resume) at the start of `day`."""
        self.day, self.next_step, self._day_open = day, 0, False
        self.finished = day >= self.config.days

    async def _open_day(self) -> None:
        self._position(None)
        await self.user.start_day(self.day)
        await self.judge.start_day(self.day)
        self.assistant.start_day(self.day)
        self.day_records, self.day_pairs = [], []
        self._day_open = True
        self.emit(DayStarted(self.day))

    async def observe_now(self) -> Observation | None:
        """The next awake observation of today, skipping sleep and time away from home (each stretch
        away announced by one Away event, as the loop skips past it); None when the day is over."""
        away: tuple[str, Activity] | None = None  # when and what the stretch away being skipped began
        while self.next_step < self.clock.steps_per_day:
            step = self.next_step
            activity = await self.user.next_activity(step)
            if away is not None and activity != away[1]:
                self.emit(Away(self.day, away[0], format_minutes(self.clock.minute_of_day(step)), away[1].text))
                away = None
            if activity.away:
                away = away or (format_minutes(self.clock.minute_of_day(step)), activity)
            elif not activity.asleep:
                minute = self.clock.minute_of_day(step)
                return Observation(self.day, step, minute, self.clock.weekday(self.day),
                                   format_minutes(minute), activity)
            self.next_step += 1
        if away is not None:  # the day ends away
            self.emit(Away(self.day, away[0], format_minutes(24 * 60), away[1].text))
        return None

    async def step(self) -> StepRecord | None:
        """Advance by one awake step, closing the day when it ends. None once the run is over."""
        while not self.finished:
            if not self._day_open:
                await self._open_day()
            obs = await self.observe_now()
            if obs is None:
                await self._close_day()
                continue
            record = await self._decide(obs)
            self.next_step += 1
            return record
        return None

    async def close_day_if_over(self) -> bool:
        """Close today if no awake step is left (so a driver can stop exactly at a day's end)."""
        if self._day_open and not self.finished and await self.observe_now() is None:
            await self._close_day()
            return True
        return False

    async def run(self) -> None:
        """Run to the end as fast as possible."""
        try:
            with fewer_collections():
                while not self.finished:
                    await self.step()
        except Exception as error:  # reported to subscribers, then re-raised for the caller
            self.emit(Error(f"{type(error).__name__}: {error}"))
            raise

    # --- one step ----------------------------------------------------------------------
    def _position(self, step: int | None) -> None:
        if self.backends is not None:
            self.backends.ledger.set_position(self.day, step)

    async def _decide(self, obs: Observation) -> StepRecord:
        self._position(obs.step)
        proposal = await self.assistant.propose(obs, self.config.n_candidates)
        candidates = proposal.candidates
        if len(candidates) != self.config.n_candidates:
            raise RuntimeError(f"assistant returned {len(candidates)} candidates, expected {self.config.n_candidates}")
        ratings = await self.judge.rate(obs, candidates)
        delivered = self.config.deliver
        record = StepRecord(self.day, obs.step, obs, candidates, tuple(ratings), delivered,
                            proposal.retrieved, proposal.prompt)
        self.judge.record(obs, candidates[delivered], ratings[delivered])
        pairs = make_pairs(self.day, obs, candidates, ratings, proposal.prompt, weight=self.config.human_weight)
        self.assistant.observe(Feedback(obs, candidates, tuple(None if r.failed else r.total for r in ratings),
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
        self._position(None)
        # on a thread: the oracle's plan for the day takes tens of milliseconds, which a driver's loop (the
        # app's) should not wait for
        metrics = await asyncio.to_thread(day_metrics, day, self.day_records, len(self.day_pairs),
                                          self.config.step_seconds, self.criteria, self.judge)
        try:
            await self.assistant.end_day(day, self.day_pairs, self.emit)
        except Exception as error:  # never skipped silently: the run stops, earlier days stay resumable
            where = f" (run folder {self.store.folder}; resume with --batch --resume)" if self.store else ""
            raise RunError(f"training at the end of day {day + 1} failed: {type(error).__name__}: {error}. "
                           f"Days before it are checkpointed{where}.") from error
        training = getattr(self.assistant, "training_status", None)  # LLM assistants only
        if training is not None:
            metrics = dataclasses.replace(metrics, training=training)
        if self.store is not None:
            self.store.checkpoint(day, self.assistant.save)
            self.store.end_day(metrics, self.criteria, self.judge.can_fail, training is not None)
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
