"""Modal dialogs: rating, activity, new run, open run, jump, help and quit."""

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from engine.house import load_house
from engine.types import Rating
from engine.vocab import ACTIVITY_TAGS, CRITERIA

REASON_MAX_CHARS = 280  # a human's reason is a sentence or two, not a paste of a document


def one_line(text: str) -> str:
    """Text as one printable line: control characters (newlines, tabs, escapes) become spaces."""
    return "".join(" " if not ch.isprintable() else ch for ch in text)


class ReasonInput(Input):
    """The reason field: control characters become spaces and what does not fit the cap is cut, not refused."""

    def replace(self, text: str, start: int, end: int) -> None:
        room = REASON_MAX_CHARS - (len(self.value) - (end - start))
        super().replace(one_line(text)[:max(room, 0)], start, end)


class RatingDialog(ModalScreen[Rating | None]):
    """The human rates one candidate: keys 0-4 set the score, r (or Tab) goes to the reason, Enter accepts.

    Until the reason field has focus, h (takeover off), s (save) and q (quit) work here as on the main
    screen; in the reason field ctrl+t, ctrl+s and ctrl+q (the app's own) do the same.
    """

    DEFAULT_CSS = """
    RatingDialog { align: center middle; }
    #rating { width: 82; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    #rating Checkbox { border: none; padding: 0; height: 1; }
    #rating .hint { color: $text-muted; }
    #rating-score { text-style: bold; }
    """
    AUTO_FOCUS = ""  # nothing focused: keys score and control the app until the human asks for the reason
    BINDINGS = [
        *(Binding(str(k), f"quick({k})", f"{k} points", show=False) for k in range(6)),
        Binding("r,tab", "focus_reason", "Reason", show=False),
        Binding("m", "sampling", "Rate fewer", show=False),
        Binding("enter", "accept", "Accept", priority=True),
        Binding("escape", "escape", "Use the judge's rating"),
        # a modal screen hides the app's bindings: these bring back the ones a human needs mid-rating
        Binding("h", "app.toggle_takeover", "Takeover off", show=False),
        Binding("s", "app.save", "Save", show=False),
        Binding("q", "app.quit", "Quit", show=False),
        Binding("ctrl+t", "app.toggle_takeover", "Takeover off", priority=True),
        Binding("ctrl+s", "app.save", "Save", priority=True),
    ]

    def __init__(self, step: dict, candidate_index: int, criteria: tuple[str, ...],
                 sampling: str = "", change_sampling: Callable[[], str] | None = None):
        super().__init__()
        self.step = step
        self.index = candidate_index
        self.criteria = criteria
        self.sampling = sampling  # which recommendations the human rates, in words
        self.change_sampling = change_sampling  # moves to the next choice, returns it in words

    def compose(self) -> ComposeResult:
        c = self.step["candidates"][self.index]
        a = self.step["activity"]
        role = "delivered" if self.index == self.step["delivered"] else "other candidate"
        with Vertical(id="rating"):
            yield Label(Text(f"Rate the {role} — day {self.step['day'] + 1}, {self.step['clock']}", style="bold"))
            yield Label(Text(f"You are: {a['text']} ({a['room'].replace('_', ' ')}, {a['object']})", style="italic"))
            yield Static(Text(f"“{c['text']}”", style="bold cyan"), id="rating-text")
            for name in self.criteria:
                box = Checkbox(CRITERIA.get(name, ("", name))[1], value=False, id=f"crit-{name}")
                box.can_focus = False  # a click toggles it; keys score, so typed text never lands in a toggle
                yield box
            yield Label(self._score_text(), id="rating-score")
            yield ReasonInput(placeholder="Why? (optional: press r or Tab to type)", max_length=REASON_MAX_CHARS,
                              id="rating-reason")
            yield Label(self._sampling_text(), id="rating-sampling", classes="hint")
            yield Label(f"0-{len(self.criteria)} score · r/Tab reason · Enter accept · Esc keep the judge's rating\n"
                        "h takeover off · s save · q quit (typing a reason: ctrl+t · ctrl+s · ctrl+q)",
                        classes="hint")

    def _score_text(self) -> str:
        return f"Score: {self.score()} / {len(self.criteria)}"

    def _sampling_text(self) -> str:
        return f"You rate {self.sampling} · m rates fewer" if self.sampling else ""

    def score(self) -> int:
        return sum(self.query_one(f"#crit-{name}", Checkbox).value for name in self.criteria) if self.is_mounted \
            else 0

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#rating-score", Label).update(self._score_text())

    def action_quick(self, points: int) -> None:
        for i, name in enumerate(self.criteria):
            self.query_one(f"#crit-{name}", Checkbox).value = i < points

    def action_focus_reason(self) -> None:
        self.query_one("#rating-reason", Input).focus()

    def action_sampling(self) -> None:
        if self.change_sampling is not None:
            self.sampling = self.change_sampling()
            self.query_one("#rating-sampling", Label).update(self._sampling_text())

    def rating(self) -> Rating:
        criteria = {name: self.query_one(f"#crit-{name}", Checkbox).value for name in self.criteria}
        reason = " ".join(one_line(self.query_one("#rating-reason", Input).value).split())[:REASON_MAX_CHARS]
        return Rating(criteria, reason or "Rated by a human.", missed_opportunity=False, source="human")

    def action_accept(self) -> None:
        self.dismiss(self.rating())

    def action_escape(self) -> None:
        """In the reason field Esc only leaves it (what was typed stays); otherwise the judge's rating stands."""
        if isinstance(self.focused, Input):
            self.set_focus(None)
        else:
            self.dismiss(None)


class ActivityDialog(ModalScreen[tuple | None]):
    """Set what the simulated user is doing, or release it back to the routine."""

    DEFAULT_CSS = """
    ActivityDialog { align: center middle; }
    #activity { width: 64; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        rooms = load_house().rooms
        with Vertical(id="activity"):
            yield Label(Text("What is the user doing now?", style="bold"))
            yield Input(placeholder="e.g. Baking bread", id="activity-text")
            yield Select([(r.label, rid) for rid, r in rooms.items()], value="common_room", allow_blank=False,
                         id="activity-room")
            yield Select([(t, t) for t in ACTIVITY_TAGS if t != "sleep"], value="leisure", allow_blank=False,
                         id="activity-tag")
            yield Input(value="30", placeholder="minutes (0 = until released)", type="integer", id="activity-minutes")
            with Horizontal():
                yield Button("Set", variant="primary", id="set")
                yield Button("Release", id="release")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "set":
            self._submit()
        elif event.button.id == "release":
            self.dismiss(("release",))
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def _submit(self) -> None:
        text = self.query_one("#activity-text", Input).value.strip()
        if not text:
            self.notify("Describe the activity first.", severity="warning")
            return
        minutes = int(self.query_one("#activity-minutes", Input).value or 0)
        self.dismiss(("set", text, self.query_one("#activity-room", Select).value,
                      self.query_one("#activity-tag", Select).value, minutes))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NewRunDialog(ModalScreen[tuple | None]):
    """Pick a persona (traits and background shown) and an assistant."""

    DEFAULT_CSS = """
    NewRunDialog { align: center middle; }
    #new-run { width: 90%; height: 85%; border: thick $accent; background: $surface; padding: 1 2; }
    #new-run OptionList { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, personas: list, assistants: dict[str, str], current: tuple[str, str]):
        super().__init__()
        self.personas = personas
        self.assistants = assistants
        self.current = current

    def compose(self) -> ComposeResult:
        from propersim_tui.persona_cli import trait_words
        with Vertical(id="new-run"):
            yield Label(Text("New run: choose a persona and an assistant", style="bold"))
            options = [Option(Text.assemble((f"{p.id}  ", "bold"), (f"{p.name}, {p.age} — ", ""),
                                            (trait_words(p), "cyan"), ("\n    " + p.background[:110], "dim")), id=p.id)
                       for p in self.personas]
            yield OptionList(*options, id="persona-list")
            yield Select([(f"{name} — {summary}", name) for name, summary in self.assistants.items()],
                         value=self.current[1], allow_blank=False, id="assistant-select")
            with Horizontal():
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        ids = [p.id for p in self.personas]
        listing = self.query_one(OptionList)
        if self.current[0] in ids:
            listing.highlighted = ids.index(self.current[0])
        listing.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.dismiss(None)

    def _start(self) -> None:
        listing = self.query_one(OptionList)
        if listing.highlighted is None:
            return
        self.dismiss((self.personas[listing.highlighted].id, self.query_one(Select).value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class OpenRunDialog(ModalScreen[Path | None]):
    """Open a recorded run (live or --batch) for replay, or a grid folder for its report."""

    DEFAULT_CSS = """
    OpenRunDialog { align: center middle; }
    #open-run { width: 90%; height: 80%; border: thick $accent; background: $surface; padding: 1 2; }
    #open-run OptionList { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, runs: list[Path]):
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical(id="open-run"):
            yield Label(Text("Open a recorded run for replay", style="bold"))
            options = [Option(Text.assemble((str(r), "bold"),
                                            ("  (unsaved live run)" if r.name.startswith(".live-") else "", "yellow")))
                       for r in self.runs]
            yield OptionList(*options) if options else Label("No runs under saves/ yet.")
            yield Input(placeholder="…or type a run folder and press Enter", id="open-path")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(self.runs[event.option_index])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._choose(Path(event.value.strip()).expanduser())

    def _choose(self, path: Path) -> None:
        """Only a run whose run.toml reads is opened; otherwise the dialog says why and stays open."""
        from engine.errors import ConfigError, RunError
        from engine.store import RunStore
        from propersim_tui.report_screen import is_grid_folder

        try:
            if not is_grid_folder(path):  # a grid folder opens as its report
                RunStore.read_config(path)
        except (ConfigError, RunError, OSError) as error:
            self.notify(str(error), title="Cannot open this run", severity="error", markup=False)
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)


class JumpDialog(ModalScreen[str | None]):
    DEFAULT_CSS = """
    JumpDialog { align: center middle; }
    #jump { width: 40; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump"):
            yield Label("Jump to a time (HH:MM, or D HH:MM for day D)")
            yield Input(placeholder="18:30", id="jump-time")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitDialog(ModalScreen[str]):
    """Ask before losing unsaved work: save, discard or stay."""

    DEFAULT_CSS = """
    QuitDialog { align: center middle; }
    #quit { grid-size: 3; grid-gutter: 1 2; grid-rows: auto 3; width: 70; height: auto;
            border: thick $warning; background: $surface; padding: 1 2; }
    #quit-question { column-span: 3; }
    """
    BINDINGS = [Binding("escape", "stay", "Cancel"), Binding("s", "choose('save')", "Save"),
                Binding("d", "choose('discard')", "Discard")]

    def compose(self) -> ComposeResult:
        with Grid(id="quit"):
            yield Label("This run has unsaved steps. Save before quitting?", id="quit-question")
            yield Button("Save and quit", variant="primary", id="save")
            yield Button("Quit without saving", variant="error", id="discard")
            yield Button("Cancel", id="stay")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_stay(self) -> None:
        self.dismiss("stay")


KEYS_HELP = """\
[b]Live[/b]
  space   pause / resume            n   single step
  + / -   faster / slower           d   run to the end of the day
  h       human takeover on/off     a   set the user's activity
  f       only recommendations      s   save the run
  o       open a saved run          p   new run (persona & assistant)
  ?       this help                 q   quit (asks to save)
  ↑/↓     select a timeline row: its candidates, reasons and recalled memories show below
          (and, with LLM roles, each call's exact prompt and answer); Enter enlarges that pane

[b]Human takeover[/b]
  With takeover on, the run pauses at a delivered recommendation. Press 0-4 for the
  score (or click the criteria), r or Tab to type why, and Enter. Your rating replaces
  the judge's, is stored with source = human, and the next training round uses it.
  Esc keeps the judge's rating (in the reason field, Esc only leaves the field).
  m in the dialog rates fewer: every recommendation, or at most one every 15, 30, 60
  or 120 simulated minutes; the judge rates the rest.
  In the dialog h, s and q still switch takeover off, save and quit; while typing a
  reason use ctrl+t, ctrl+s and ctrl+q.

[b]Replay[/b]
  ← / →   previous / next step      [ / ]   previous / next day
  g       jump to a time            space   play / pause (speed with + / -)
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 92; height: auto; max-height: 90%; border: thick $accent; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(KEYS_HELP)

    def action_close(self) -> None:
        self.dismiss(None)
