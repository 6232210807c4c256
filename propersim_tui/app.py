"""The live Textual app: watch the offline world unfold."""

import asyncio
import math

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from engine.config import RunConfig
from engine.events import DayEnded, StepRecorded
from engine.simulation import Simulation
from engine.types import StepRecord
from training.runs import new_run

SCORE_COLOURS = ("red", "red", "yellow", "green", "bold green")
MAX_ROWS = 2000  # the timeline keeps the newest rows; older ones stay in the run store


def score_text(total: int) -> str:
    return f"[{SCORE_COLOURS[min(total, 4)]}]{total}[/]"


class ProPerSimApp(App):
    TITLE = "ProPerSim"
    CSS = """
    #status { height: 1; background: $panel; padding: 0 1; }
    #left { width: 42; }
    #home, #scores { border: round $primary; padding: 0 1; height: auto; }
    #timeline { border: round $primary; }
    """
    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/Resume"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, config: RunConfig, steps_per_second: float = 40.0):
        super().__init__()
        self.config = config
        self.steps_per_second = steps_per_second
        self.sim: Simulation | None = None
        self.paused = False
        self._pending: list[StepRecord] = []
        self._today: list[int] = []
        self._last: StepRecord | None = None
        self.records_seen = 0

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal():
            with Vertical(id="left"):
                yield Static(id="home")
                yield Static(id="scores")
            yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sim = new_run(self.config, None)
        self.sim.subscribe(self._on_event)
        table = self.query_one("#timeline", DataTable)
        table.add_columns("day", "time", "activity", "delivered", "score")
        self.set_interval(0.1, self._refresh_view)
        self._refresh_view()
        self.run_worker(self._drive(), exclusive=True, name="engine")

    def _on_event(self, event: object) -> None:
        if isinstance(event, StepRecorded):
            self._pending.append(event.record)
            self.records_seen += 1
        elif isinstance(event, DayEnded):
            self._today = []

    async def _drive(self) -> None:
        while self.sim is not None and not self.sim.finished:
            if self.paused:
                await asyncio.sleep(0.05)
                continue
            await self.sim.step()
            await asyncio.sleep(1.0 / self.steps_per_second)

    def _refresh_view(self) -> None:
        table = self.query_one("#timeline", DataTable)
        for record in self._pending:
            c, r = record.delivered_candidate, record.delivered_rating
            self._today.append(r.total)
            table.add_row(str(record.day + 1), record.observation.clock, record.observation.activity.text,
                          c.text if c.is_recommendation else "[dim]· no recommendation[/]", score_text(r.total))
            self._last = record
        if self._pending:
            while table.row_count > MAX_ROWS:
                table.remove_row(next(iter(table.rows)))
            table.move_cursor(row=table.row_count - 1)
            self._pending = []
        self._render_panels()

    def _render_panels(self) -> None:
        sim, last = self.sim, self._last
        state = "paused" if self.paused else ("finished" if sim and sim.finished else "running")
        clock = last.observation.clock if last else "--:--"
        day = (last.day + 1) if last else 1
        self.query_one("#status", Static).update(
            f"[bold]{sim.persona.name if sim else ''}[/] · day {day}/{self.config.days} · {clock} · "
            f"{self.config.assistant} · {state}"
        )
        activity = last.observation.activity if last else None
        self.query_one("#home", Static).update(
            f"[bold]Now[/]\n{activity.text}\n[dim]{activity.room.replace('_', ' ')} · {activity.object}[/]"
            if activity else "[bold]Now[/]\n…"
        )
        mean = sum(self._today) / len(self._today) if self._today else math.nan
        self.query_one("#scores", Static).update(
            f"[bold]Today's mean[/] {'—' if math.isnan(mean) else f'{mean:.2f}'}  ({len(self._today)} steps)"
        )

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._render_panels()


def launch(persona: str, assistant: str, days: int, seed: int, options: dict) -> int:
    from engine.persona_library import resolve_persona

    resolve_persona(persona)  # a clear error before the screen opens
    config = RunConfig(persona=persona, assistant=assistant, days=days, seed=seed, assistant_options=options)
    ProPerSimApp(config).run()
    return 0
