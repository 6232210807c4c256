"""The main screen's panels."""

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, Sparkline, Static

from engine.house import load_house
from engine.metrics import DayMetrics, step_metrics
from engine.vocab import BIG_FIVE
from propersim_tui.calls_view import calls_text
from propersim_tui.view import CRITERIA_SHORT, floor_plan, is_away, step_detail


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
        self.update(text, layout=False)  # one docked line whatever it says: no layout of the screen each tick


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
    TrainingStatus Label { width: 100%; }
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
        # many a second while training: one line at the panel's width, so no layout of the screen for it
        self.query_one(Label).update(f"Day {day + 1} training: loss {loss:.3f}", layout=False)
        self.query_one(ProgressBar).update(total=total, progress=done)

    def finished(self, day: int, loss: float, seconds: float) -> None:
        self.query_one(Label).update(f"Day {day + 1} trained: loss {loss:.3f} in {seconds:.1f} s")
        self.query_one(ProgressBar).update(progress=self.query_one(ProgressBar).total)


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
