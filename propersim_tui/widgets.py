"""The main screen's panels."""

import math

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Label, ProgressBar, Sparkline, Static
from textual.widgets.data_table import CellKey

from engine.house import load_house
from engine.metrics import DayMetrics, step_metrics
from engine.vocab import BIG_FIVE
from propersim_tui.calls_view import calls_text
from propersim_tui.view import CRITERIA_SHORT, floor_plan, is_away, is_recommendation, step_detail, timeline_cells

MAX_ROWS = 1000  # rows kept in the timeline widget; everything stays in memory and on disk
TRIM_SLACK = MAX_ROWS // 4  # the oldest rows go in bulk once this many more have come: O(1) a row


class StatusBar(Static):
    """Persona, Big Five badges, day, clock, speed, mode, backend and run state."""

    def show(self, *, name: str, traits, day: int, days: int, clock: str, speed: str, mode: str,
             backend: str, state: str) -> None:
        text = Text()
        text.append(f" {name} ", style="bold")
        for trait in BIG_FIVE:
            high = getattr(traits, trait) == "high"
            text.append(f" {trait[0].upper()}{'▲' if high else '▼'} ", style="black on green" if high else "black on grey62")
            text.append(" ")
        text.append(f" Day {day}/{days} ", style="bold")
        text.append(f"{clock} ", style="bold cyan")
        text.append(f" {speed} ", style="bold")
        mode_style = {"human takeover": "bold white on magenta", "replay": "bold white on blue"}.get(mode, "bold")
        text.append(f" {mode} ", style=mode_style)
        text.append(f" {backend} ", style="dim")
        text.append(f" {state} ", style="bold yellow" if state != "running" else "bold green")
        self.update(text)


class HomePanel(Static):
    _shown: tuple | None = None

    def show(self, activity: dict | None) -> None:
        compact = self.app.size.width < 120  # no room for the floor plan: name the room instead
        if self._shown == (activity, compact):
            return  # an activity lasts many steps: the floor plan is drawn once for it
        self._shown = (activity, compact)
        house = load_house()
        if activity is None:
            self.update("" if compact else floor_plan(house.rooms, "", ""))
            return
        if compact:
            room = house.rooms[activity["room"]].label
            text = Text.assemble(("● ", "bold yellow"), (room, "bold green"), (f" · {activity['object']}\n", "yellow"))
        else:
            text = floor_plan(house.rooms, activity["room"], activity["object"])
            text.append("\n")
        text.append(activity["text"], style="bold italic" if activity.get("source") == "human" else "bold")
        if activity.get("source") == "human":
            text.append("  (set by you)", style="magenta")
        self.update(text)


class ScoresPanel(Vertical):
    DEFAULT_CSS = """
    ScoresPanel { height: auto; }
    ScoresPanel Sparkline { height: 2; margin: 0 0; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="score-text")
        yield Label("Daily means", id="sparkline-label")
        yield Sparkline([], id="daily-means")

    def show(self, today: list[dict], daily: list[DayMetrics], wanted: tuple[int, int] | None, criteria,
             step_seconds: int) -> None:
        """Today so far, against the day's wanted range (engine.wanted; None where it can't be told),
        and the finished days' means and normalized scores."""
        if not self.query("#score-text"):
            return  # not composed yet; the next refresh shows it
        n = len(today)
        m = step_metrics(today[0]["day"] if today else 0, today, step_seconds, tuple(criteria))
        text = Text()
        text.append("Today's mean ", style="bold")
        text.append("—" if math.isnan(m.mean_score) else f"{m.mean_score:.2f}", style="bold cyan")
        text.append(f" · {n} steps")
        if m.failed_ratings:
            text.append(f" · {m.failed_ratings} unrated", style="yellow")
        text.append("\n")
        for name in criteria:
            rate = 0.0 if math.isnan(m.pass_rates[name]) else m.pass_rates[name]
            bar = "█" * round(rate * 10)
            text.append(f"{CRITERIA_SHORT.get(name, name[0].upper())} {name[:10]:10} ", style="dim")
            text.append(f"{bar:10}", style="green" if rate >= 0.75 else "yellow" if rate >= 0.5 else "red")
            text.append(f" {rate:4.0%}\n")
        text.append("Recs today ", style="bold")
        if wanted is None:
            text.append(f"{m.recommendations}")
        else:  # below the range is only "not yet" while the day goes on
            style = "red" if m.recommendations > wanted[1] else "green" if m.recommendations >= wanted[0] else "yellow"
            text.append(f"{m.recommendations}", style=style)
            text.append(f" · wanted {wanted[0]}–{wanted[1]}", style="dim")
        if not math.isnan(m.precision):
            text.append(f" · {m.precision:.0%} landed", style="dim")
        self.query_one("#score-text", Static).update(text)
        means = [d.mean_score for d in daily if not math.isnan(d.mean_score)]
        sparkline = self.query_one(Sparkline)
        sparkline.display = len(means) >= 2
        sparkline.data = means
        label = "Daily means: " + (" ".join(f"{x:.1f}" for x in means[-6:]) if means else "—")
        normalized = [d.normalized for d in daily[-6:]]
        if any(not math.isnan(x) for x in normalized):
            label += "\nNormalized: " + " ".join("—" if math.isnan(x) else f"{x:.2f}" for x in normalized)
        self.query_one("#sparkline-label", Label).update(label)


class TrainingStatus(Vertical):
    DEFAULT_CSS = """
    TrainingStatus { height: auto; display: none; }
    TrainingStatus.-active { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Label("Training", id="training-label")
        yield ProgressBar(total=1, show_eta=False, id="training-bar")

    def started(self, day: int, pairs: int) -> None:
        self.add_class("-active")
        self.query_one(Label).update(f"Day {day + 1} training: DPO on {pairs} pairs")
        self.query_one(ProgressBar).update(total=1, progress=0)

    def progress(self, day: int, done: int, total: int, loss: float) -> None:
        self.add_class("-active")
        self.query_one(Label).update(f"Day {day + 1} training: loss {loss:.3f}")
        self.query_one(ProgressBar).update(total=total, progress=done)

    def finished(self, day: int, loss: float, seconds: float) -> None:
        self.query_one(Label).update(f"Day {day + 1} trained: loss {loss:.3f} in {seconds:.1f} s")
        self.query_one(ProgressBar).update(progress=self.query_one(ProgressBar).total)


class Timeline(DataTable):
    """One row per awake step (and one per stretch away from home), optionally only
    recommendations: the newest MAX_ROWS to MAX_ROWS + TRIM_SLACK are in the table."""

    FIXED = (("day", 3), ("time", 5), ("activity", 0), ("delivered", 0), ("score", 5), ("criteria", 12), ("", 2))
    KEPT_CELLS = 20_000  # rendered cells kept (a screenful is a few hundred)

    def __init__(self, *args, **kwargs):
        self._kept_cells: dict[tuple, object] = {}
        super().__init__(*args, **kwargs)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, width in self.FIXED:
            self.add_column(label, width=width or 10, key=label or "human")
        self._fit_columns()
        self.only_recommendations = False
        self.steps: list[dict] = []  # the rows' step records, in order

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Share the free width between activity (2/5) and the recommendation (3/5)."""
        fixed = sum(w for _, w in self.FIXED) + 2 * len(self.FIXED) + 2
        free = max(30, self.size.width - fixed)
        self.columns["activity"].width = free * 2 // 5
        self.columns["delivered"].width = free - free * 2 // 5
        self.refresh()

    def visible(self, step: dict) -> bool:
        if is_away(step):
            return not self.only_recommendations
        return not self.only_recommendations or is_recommendation(step)

    def append_steps(self, steps: list[dict], follow: bool = True) -> None:
        shown = [s for s in steps if self.visible(s)]
        if not shown:
            return
        if len(shown) >= MAX_ROWS:  # the whole table turns over: only the newest rows are built
            self.clear()
            self.steps = []
            shown = shown[-MAX_ROWS:]
        for step in shown:
            key = f"{step['day']}-away-{step['clock']}" if is_away(step) else f"{step['day']}-{step['step']}"
            self.add_row(*timeline_cells(step), key=key)
        self.steps.extend(shown)
        if len(self.steps) > MAX_ROWS + TRIM_SLACK:
            self._drop_oldest(len(self.steps) - MAX_ROWS)
        if follow:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def _drop_oldest(self, count: int) -> None:
        """Remove the first `count` rows in one pass. DataTable.remove_row re-indexes every row on
        each call (O(rows) a row); this does what it does, once for all of them."""
        locations = self._row_locations
        gone = [locations.get_key(index) for index in range(count)]
        kept = TwoWayDict({})
        for key in locations:
            index = locations.get(key)
            if index >= count:
                kept[key] = index - count
        self._row_locations = kept
        for key in gone:
            for column_key in self._data[key]:
                self._updated_cells.discard(CellKey(key, column_key))
            self._new_rows.discard(key)
            del self.rows[key]
            del self._data[key]
        del self.steps[:count]
        self._require_update_dimensions = True
        row, column = self.cursor_coordinate
        self.cursor_coordinate = Coordinate(max(0, row - count), column)  # on the same step as before
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)
        self.check_idle()

    def _render_cell(self, row_index: int, column_index: int, base_style, width: int, cursor: bool = False,
                     hover: bool = False):
        """DataTable keys its cell cache on every change to the table, so each new row re-renders
        every visible cell; a timeline row never changes once added, so its rendered cells are kept
        (until the table is cleared or restyled: see _clear_caches)."""
        row_key = self._row_locations.get_key(row_index) if row_index >= 0 else None
        key = (row_key, row_index, column_index, base_style, width, cursor, hover, self._show_hover_cursor,
               self._pseudo_class_state)
        lines = self._kept_cells.get(key)
        if lines is None:
            if len(self._kept_cells) >= self.KEPT_CELLS:
                self._kept_cells.clear()
            lines = self._kept_cells[key] = super()._render_cell(row_index, column_index, base_style, width,
                                                                 cursor, hover)
        return lines

    def _update_dimensions(self, new_rows) -> None:
        """DataTable measures every cell of every new row to size auto-width columns; every column
        here has a set width and every row one line, so hundreds of new rows cost nothing to size."""
        super()._update_dimensions(())

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._kept_cells.clear()

    def reset(self, steps: list[dict], follow: bool = True) -> None:
        self.clear()
        self.steps = []
        self.append_steps(steps, follow)

    def selected_step(self) -> dict | None:
        if not self.steps or self.cursor_row < 0 or self.cursor_row >= len(self.steps):
            return None
        return self.steps[self.cursor_row]


class DetailPanel(Static):
    """The selected step; with LLM roles, also each call made for it (see calls_view)."""

    _shown: tuple | None = None

    def show(self, step: dict | None, calls=None, first_of_day: bool = False) -> None:
        """`calls`: a CallsFile or LedgerCalls, or None. The same step again is not re-rendered:
        the live view asks on every tick."""
        shown = (step, calls, first_of_day)
        if self._shown is not None and all(a is b for a, b in zip(shown, self._shown)):
            return
        self._shown = shown
        if not step:
            self.update(Text("Select a row to see both candidates, the judge's reasons "
                             "and the memories the assistant recalled.", style="dim"))
            return
        text = step_detail(step)
        if calls is not None and not is_away(step):
            plan = calls.calls_at(step["day"], None) if first_of_day else []
            text.append_text(calls_text(calls.calls_at(step["day"], step["step"]), plan))
        self.update(text)
