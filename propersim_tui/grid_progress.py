"""The grid's one progress bar: simulated days over the whole grid, runs finished, an ETA, and the
active runs underneath. Fed by day-end events (runs in this process) or by polling the run folders
(the process pool, Ray), whichever executor runs the grid."""

import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from engine.grid import completed_days
from engine.runlock import LOCK_NAME

ACTIVE_SHOWN = 6


class GridProgress(Progress):
    def __init__(self, console: Console, days: dict[Path, int], done: dict[Path, int]):
        self.days = days  # run folder -> days it runs to
        self.done = dict(done)  # run folder -> days complete
        self.active: dict[Path, None] = {}  # insertion-ordered set
        super().__init__(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                         TextColumn("days"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                         console=console, refresh_per_second=4)
        self.task = self.add_task(self._description(), total=sum(days.values()), completed=sum(self.done.values()))

    def _description(self) -> str:
        finished = sum(1 for d, n in self.done.items() if n >= self.days[d])
        return f"{finished}/{len(self.days)} runs"

    def started(self, run_dir: Path) -> None:
        self.active[run_dir] = None
        self.refresh()

    def day_done(self, run_dir: Path, days: int) -> None:
        self.done[run_dir] = days
        if days >= self.days[run_dir]:
            self.active.pop(run_dir, None)
        self.update(self.task, completed=sum(self.done.values()), description=self._description())

    def poll(self) -> None:
        """Read progress from the run folders: days from metrics.csv, active from a held run lock."""
        for run_dir, total in self.days.items():
            if self.done[run_dir] >= total:
                continue
            self.done[run_dir] = completed_days(run_dir)
            lock = run_dir / LOCK_NAME
            if self.done[run_dir] < total and lock.exists() and os.path.getsize(lock) > 0:
                self.active[run_dir] = None
            else:
                self.active.pop(run_dir, None)
        self.update(self.task, completed=sum(self.done.values()), description=self._description())

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        if self.active:
            names = [f"{d.name} (day {self.done[d] + 1}/{self.days[d]})" for d in list(self.active)[:ACTIVE_SHOWN]]
            more = len(self.active) - ACTIVE_SHOWN
            yield Text("active: " + ", ".join(names) + (f" and {more} more" if more > 0 else ""), style="dim")
