"""Runs a live simulation as an async worker on the app's event loop, paced from the UI.

Input always wins: flat out, the engine steps in short bursts and, between them, lets
everything else that is ready on the loop run first (a key press takes several hops from
the input thread to the repaint); the burst shrinks while the UI is busy. Day-end training
runs on a thread (see the assistant), and so do the day-end writes (day_end_writer). The UI
only consumes the engine's events, which pile up in a queue it drains on a timer.

The live run is always recorded (into saves/.live-<stamp>/), so a crash loses at
most the last few steps; `save` copies it to a named run folder.
"""

import asyncio
import datetime as dt
import shutil
import time
from collections import deque
from pathlib import Path

from engine.compose import new_run
from engine.config import RunConfig
from engine.errors import RunError
from engine.events import (
    Away,
    DayEnded,
    Error,
    RunFinished,
    StepRecorded,
    TrainingFinished,
    TrainingProgress,
    TrainingStarted,
)
from engine.house import load_house
from engine.judges.takeover import HumanRater
from engine.simulation import Simulation
from engine.types import Activity, StepRecord
from propersim_tui.day_end_writer import DayEndWriter

# Simulated seconds per wall second; None runs flat out.
SPEEDS: tuple[float | None, ...] = (1, 10, 60, 150, 600, 1500, 6000, None)
DEFAULT_SPEED = 1500
# Flat out, the engine holds the loop for at most a burst: BURST_SECONDS while the UI is idle,
# down to MIN_BURST_SECONDS while it has work (the time it took is the loop's lag).
BURST_SECONDS = 0.008
MIN_BURST_SECONDS = 0.001
UI_BUSY_SECONDS = 0.001  # the UI took longer than this between two bursts: halve the next one
YIELD_CAP_SECONDS = 0.05  # however busy the UI, the engine runs again after this (it never starves)


def speed_label(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}x"


class EngineDriver:
    def __init__(self, config: RunConfig, root: Path = Path("saves")):
        self.config = config
        self.root = root
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        self.live_dir = root / f".live-{stamp}"
        self.sim: Simulation = new_run(config, self.live_dir, takeover=True)
        self.writer = self.sim.store = DayEndWriter(self.sim.store)  # the live run is always recorded
        self.burst_seconds = BURST_SECONDS
        self.events: deque = deque()  # engine -> UI
        self.speed_index = SPEEDS.index(DEFAULT_SPEED)
        self.paused = False
        self.pending_steps = 0  # single steps requested while paused
        self.run_until_day: int | None = None
        self._human: HumanRater | None = None
        self.saved_steps = 0
        self.steps_done = 0
        self.saved_to: Path | None = None
        self.stopped = False
        self._wake = asyncio.Event()
        self.sim.subscribe(self._on_event)

    # --- controls ----------------------------------------------------------------------
    @property
    def speed(self) -> float | None:
        """Simulated seconds per wall second (None: flat out, as while running to the end of a day)."""
        return None if self.run_until_day is not None else SPEEDS[self.speed_index]

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.pending_steps = 0
        self._wake.set()

    def step_once(self) -> None:
        self.paused = True
        self.pending_steps += 1
        self._wake.set()

    def change_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + delta))
        self._wake.set()

    def run_to_end_of_day(self) -> None:
        self.run_until_day = self.sim.day
        self.paused = False
        self._wake.set()

    def set_activity(self, text: str, room: str, minutes: int, tags: tuple[str, ...] = ("leisure",)) -> None:
        """The human sets what the user does, from the next step, for `minutes` (0: until released)."""
        obj = load_house().rooms[room].objects[0]
        self.sim.override_activity(Activity(text, room, obj, tags, source="human"), minutes)

    def release_activity(self) -> None:
        self.sim.release_activity()

    @property
    def human(self) -> HumanRater | None:
        return self._human

    @human.setter
    def human(self, rater: HumanRater | None) -> None:
        """The human rates delivered recommendations (None: the judge rates everything again)."""
        self._human = rater
        self.sim.set_rater(None if rater is None else self._rate_recommendations)

    async def _rate_recommendations(self, record: StepRecord):
        if self._human is None or not record.delivered_candidate.is_recommendation:
            return None
        return await self._human(record)

    @property
    def unsaved(self) -> bool:
        return self.steps_done > self.saved_steps

    def save(self, name: str | None = None) -> Path:
        """Copy the live run to saves/<name>/ (default: a timestamped name); returns the folder."""
        default = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{self.config.persona}-{self.config.assistant}"
        target = self.saved_to or self.root / (name or default)
        self.sim.copy_recording(target)
        self.saved_to = target
        self.saved_steps = self.steps_done
        return target

    def discard(self) -> None:
        """Forget the live recording (saved or not wanted)."""
        self.stop()
        shutil.rmtree(self.live_dir, ignore_errors=True)

    def stop(self) -> None:
        """Stop after the current step and close the recording (flushed)."""
        self.stopped = True
        self._wake.set()
        self.sim.close_recording()

    # --- the engine side ---------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if isinstance(event, StepRecorded):
            self.steps_done += 1
        if isinstance(event, (StepRecorded, Away, DayEnded, RunFinished, TrainingStarted, TrainingProgress,
                              TrainingFinished)):
            self.events.append(event)

    async def _wait(self, seconds: float | None) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass
        self._wake.clear()

    async def run(self) -> None:
        """The engine loop; an engine error pauses the run and is shown, never a crash of the app."""
        try:
            await self._loop()
        except Exception as error:
            self.paused = True
            self.events.append(Error(f"{type(error).__name__}: {error}" if not isinstance(error, RunError) else str(error)))

    async def _loop(self) -> None:
        """Bursts of steps, paced by the speed, yielding to the UI between them."""
        sim = self.sim
        while not self.stopped and not sim.finished:
            if self.paused and self.pending_steps == 0:
                await self._wait(None)
                continue
            if self.pending_steps:
                self.pending_steps -= 1
            burst_start = time.perf_counter()
            while not self.stopped:
                record = await sim.step()
                if record is None:
                    break
                if await self._close_day_if_over():
                    if self.run_until_day is not None:
                        self.run_until_day, self.paused = None, True
                    break
                if self.speed is not None or self.paused or time.perf_counter() - burst_start > self.burst_seconds:
                    break
            if self.speed is not None and not self.paused:
                await self._wait(sim.clock.step_seconds / self.speed)
            else:
                await self._yield_to_ui()

    async def _close_day_if_over(self) -> bool:
        """Close the day right after its last step, its writes in a worker thread; the next step
        waits for them (see day_end_writer)."""
        with self.writer.deferring():
            closed = await self.sim.close_day_if_over()
        if self.writer.queued:
            await asyncio.to_thread(self.writer.write_queued)
        return closed

    async def _yield_to_ui(self) -> None:
        """Let everything else that is ready on the loop run before the next burst, however many
        loop iterations it takes (each hop of a key press is one); adapt the burst to the lag."""
        ready = getattr(asyncio.get_running_loop(), "_ready", None)  # CPython's queue of ready callbacks
        start = time.perf_counter()
        await asyncio.sleep(0)
        while ready and time.perf_counter() - start < YIELD_CAP_SECONDS:
            await asyncio.sleep(0)
        lag = time.perf_counter() - start
        if lag > UI_BUSY_SECONDS:
            self.burst_seconds = max(MIN_BURST_SECONDS, self.burst_seconds / 2)
        else:
            self.burst_seconds = min(BURST_SECONDS, self.burst_seconds * 1.25)
