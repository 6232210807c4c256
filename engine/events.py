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


Event = StepRecorded | DayStarted | DayEnded | TrainingStarted | TrainingProgress | TrainingFinished | RunFinished | Error
