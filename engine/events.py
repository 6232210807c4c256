"""Typed events a simulation emits to its subscribers (TUI, progress bars, tests)."""

from dataclasses import dataclass

from engine.metrics import DayMetrics
from engine.types import StepRecord


@dataclass(frozen=True, slots=True)
class StepRecorded:
    record: StepRecord


@dataclass(frozen=True, slots=True)
class DayStarted:
    day: int


@dataclass(frozen=True, slots=True)
class Away:
    """A stretch of the day the persona spends out of the house, skipped like sleep (no step is
    recorded): one event per stretch, so the absence is still visible. Live only, not recorded."""

    day: int
    start_clock: str  # "HH:MM"
    end_clock: str  # "HH:MM", "24:00" when the day ends away
    text: str  # what the persona is out doing


@dataclass(frozen=True, slots=True)
class DayEnded:
    day: int
    metrics: DayMetrics


@dataclass(frozen=True, slots=True)
class TrainingStarted:
    day: int
    pairs: int


@dataclass(frozen=True, slots=True)
class TrainingProgress:
    day: int
    done: int
    total: int
    loss: float


@dataclass(frozen=True, slots=True)
class TrainingFinished:
    day: int
    loss: float
    seconds: float


@dataclass(frozen=True, slots=True)
class RunFinished:
    days: int


@dataclass(frozen=True, slots=True)
class Error:
    message: str


Event = StepRecorded | DayStarted | Away | DayEnded | TrainingStarted | TrainingProgress | TrainingFinished | RunFinished | Error
