"""Modal dialogs: rating, activity, new run, open run, jump, help and quit."""

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


class RatingDialog(ModalScreen[Rating | None]):
    """The human rates one candidate: a toggle per criterion, 0-4 quick keys, an optional reason."""

    DEFAULT_CSS = """
    RatingDialog { align: center middle; }
    #rating { width: 76; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    #rating Checkbox { border: none; padding: 0; height: 1; }
    #rating .hint { color: $text-muted; }
    """
    BINDINGS = [
        *(Binding(str(k), f"quick({k})", f"{k} points", show=False) for k in range(6)),
        Binding("enter", "accept", "Accept", priority=True),
        Binding("escape", "skip", "Use the judge's rating"),
    ]

    def __init__(self, step: dict, candidate_index: int, criteria: tuple[str, ...]):
        super().__init__()
        self.step = step
        self.index = candidate_index
        self.criteria = criteria

    def compose(self) -> ComposeResult:
        c = self.step["candidates"][self.index]
        a = self.step["activity"]
        role = "delivered" if self.index == self.step["delivered"] else "other candidate"
        with Vertical(id="rating"):
            yield Label(Text(f"Rate the {role} — day {self.step['day'] + 1}, {self.step['clock']}", style="bold"))
            yield Label(Text(f"You are: {a['text']} ({a['room'].replace('_', ' ')}, {a['object']})", style="italic"))
            yield Static(Text(f"“{c['text']}”", style="bold cyan"), id="rating-text")
            for name in self.criteria:
                yield Checkbox(CRITERIA.get(name, ("", name))[1], value=False, id=f"crit-{name}")
            yield Input(placeholder="Why? (optional)", id="rating-reason")
            yield Label(f"Keys 0-{len(self.criteria)} set the score · Enter accepts · Esc keeps the judge's rating",
                        classes="hint")

    def on_mount(self) -> None:
        self.query_one(f"#crit-{self.criteria[0]}", Checkbox).focus()

    def action_quick(self, points: int) -> None:
        if isinstance(self.focused, Input):
            self.focused.insert_text_at_cursor(str(points))
            return
        for i, name in enumerate(self.criteria):
            self.query_one(f"#crit-{name}", Checkbox).value = i < points

    def rating(self) -> Rating:
        criteria = {name: self.query_one(f"#crit-{name}", Checkbox).value for name in self.criteria}
        reason = self.query_one("#rating-reason", Input).value.strip() or "Rated by a human."
        return Rating(criteria, reason, missed_opportunity=False, source="human")

    def action_accept(self) -> None:
        self.dismiss(self.rating())

    def action_skip(self) -> None:
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
    """Open a recorded run (live or --batch) for replay."""

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
        self.dismiss(self.runs[event.option_index])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not (path / "run.toml").exists():
            self.notify(f"{path} is not a run folder (no run.toml)", severity="error")
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
  With takeover on, the run pauses at every delivered recommendation. Toggle the
  criteria (or press 0-4), optionally say why, and press Enter. Your rating replaces
  the judge's, is stored with source = human, and the next training round uses it.
  Esc keeps the judge's rating.

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
