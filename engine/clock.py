"""Simulation time: fixed-length steps, whole days, a calendar start date."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class SimClock:
    start_date: date
    days: int = 14
    step_seconds: int = 150

    def __post_init__(self) -> None:
        if self.step_seconds <= 0 or 86400 % self.step_seconds:
            raise ValueError(f"step_seconds must divide a day evenly, got {self.step_seconds}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")

    @property
    def steps_per_day(self) -> int:
        return 86400 // self.step_seconds

    def minute_of_day(self, step: int) -> int:
        """Whole minutes since midnight at the start of `step`."""
        return step * self.step_seconds // 60

    def date_of(self, day: int) -> date:
        return self.start_date + timedelta(days=day)

    def weekday(self, day: int) -> int:
        """0 = Monday ... 6 = Sunday."""
        return self.date_of(day).weekday()

    def timestamp(self, day: int, step: int) -> datetime:
        midnight = datetime.combine(self.date_of(day), datetime.min.time())
        return midnight + timedelta(seconds=step * self.step_seconds)
