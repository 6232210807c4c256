"""A recorded run, read-only, with a cursor: what replay mode shows."""

from pathlib import Path

from engine.errors import RunError
from engine.llm.ledger import CallLedger
from engine.metrics import DayMetrics
from engine.persona import load_persona
from engine.store import RunStore, read_jsonl
from propersim_tui.calls_view import CallsFile


class Replay:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.config = RunStore.read_config(self.run_dir)
        self.persona = load_persona(self.run_dir / "persona.toml", check_name=False)
        records, self.dropped = read_jsonl(self.run_dir / "events.jsonl")
        self.steps = [r for r in records if r.get("type") == "step"]
        if not self.steps:
            raise RunError(f"{self.run_dir} has no recorded steps yet")
        self.days = sorted({s["day"] for s in self.steps})
        self.first_steps = {s["day"]: s["step"] for s in reversed(self.steps)}  # where each day plan shows
        self.calls = CallsFile(self.run_dir / CallLedger.FILENAME)  # indexed on the first look, read per step
        self.cursor = 0
        self._metrics: dict[int, DayMetrics] | None = None

    @property
    def current(self) -> dict:
        return self.steps[self.cursor]

    def day_steps(self, day: int) -> list[dict]:
        return [s for s in self.steps if s["day"] == day]

    def today(self) -> list[dict]:
        """The current day's steps up to the cursor."""
        day = self.current["day"]
        return [s for s in self.steps[: self.cursor + 1] if s["day"] == day]

    def day_metrics(self) -> dict[int, DayMetrics]:
        """Every finished day's metrics, from the run's metrics.csv (where the run wrote them)."""
        if self._metrics is None:
            criteria = tuple(self.config.judge.criteria)
            self._metrics = {int(r["day"]): DayMetrics.from_row(r, criteria) for r in RunStore(self.run_dir).day_rows()}
        return self._metrics

    def daily(self) -> list[DayMetrics]:
        """The days before the cursor's day."""
        rows = self.day_metrics()
        return [rows[day] for day in self.days if day < self.current["day"] and day in rows]

    def wanted(self) -> tuple[int, int] | None:
        m = self.day_metrics().get(self.current["day"])
        return None if m is None or m.wanted_max is None else (m.wanted_min, m.wanted_max)

    def move(self, delta: int) -> bool:
        target = max(0, min(len(self.steps) - 1, self.cursor + delta))
        moved, self.cursor = target != self.cursor, target
        return moved

    def move_day(self, delta: int) -> bool:
        index = self.days.index(self.current["day"]) + delta
        if not 0 <= index < len(self.days):
            return False
        day = self.days[index]
        self.cursor = next(i for i, s in enumerate(self.steps) if s["day"] == day)
        return True

    def jump(self, text: str) -> bool:
        """'HH:MM' on the current day, or 'D HH:MM' on day D (1-based): the first step at or after it."""
        parts = text.split()
        day = self.current["day"] if len(parts) == 1 else int(parts[0]) - 1
        hh, mm = parts[-1].split(":")
        minute = int(hh) * 60 + int(mm)
        for i, s in enumerate(self.steps):
            h, m = map(int, s["clock"].split(":"))
            if s["day"] == day and h * 60 + m >= minute:
                self.cursor = i
                return True
        return False
