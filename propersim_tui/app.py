"""The Textual app: watch a simulation live, take over the user, replay a recorded run."""

import os
import time
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer

from engine.config import RunConfig
from engine.errors import ConfigError, RunError
from engine.events import (
    Away,
    DayEnded,
    Error,
    RunFinished,
    StepRecorded,
    TrainingFinished,
    TrainingProgress,
    TrainingStarted,
)
from engine.metrics import DayMetrics
from propersim_tui.calls_view import LedgerCalls
from propersim_tui.dialogs import ActivityDialog, HelpScreen
from propersim_tui.driver import SPEEDS, EngineDriver, speed_label
from propersim_tui.replay import Replay
from propersim_tui.replay_controls import ReplayControls
from propersim_tui.run_controls import RunControls
from propersim_tui.takeover import TakeoverControls
from propersim_tui.timeline import Timeline
from propersim_tui.view import away_row
from propersim_tui.widgets import DetailPanel, HomePanel, ScoresPanel, StatusBar, TrainingStatus

REFRESH_SECONDS = 0.1
# New rows, and the panels that follow them, are painted at most every PAINT_SECONDS while running
# (the timeline draws only the rows it has not drawn yet, but a frame of them all is still the
# heaviest paint); the status bar every tick. A single step while paused shows at once.
PAINT_SECONDS = 0.5
KEY_SECONDS = 0.15  # after a control key, no heavy paint for this long: its change reaches the screen alone
LIVE_ONLY = {"toggle_pause", "single_step", "end_of_day", "toggle_takeover", "set_activity", "save"}
REPLAY_ONLY = {"prev_step", "next_step", "prev_day", "next_day", "jump", "replay_play"}


class ProPerSimApp(ReplayControls, TakeoverControls, RunControls, App):
    TITLE = "ProPerSim"
    CSS = """
    StatusBar { dock: top; height: 1; background: $panel; }
    #left { width: 46; }
    .-narrow #left { width: 34; }
    #left > * { padding: 0 1; }
    HomePanel { height: auto; border: round $primary; }
    ScoresPanel { border: round $primary; }
    TrainingStatus { border: round $warning; }
    #right { width: 1fr; }
    Timeline { height: 1fr; border: round $primary; }
    #detail-scroll { height: 11; border: round $primary; }
    .-detail-open #detail-scroll { height: 2fr; }
    """
    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/Resume"),
        Binding("space", "replay_play", "Play/Pause"),
        Binding("n", "single_step", "Step"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+"),
        Binding("minus", "slower", "Slower", key_display="-"),
        Binding("d", "end_of_day", "End of day"),
        Binding("h", "toggle_takeover", "Takeover"),
        Binding("a", "set_activity", "Activity"),
        Binding("f", "filter", "Recs only"),
        Binding("s", "save", "Save"),
        Binding("o", "open_run", "Open"),
        Binding("p", "new_run", "New run"),
        Binding("left", "prev_step", "Step back", priority=True),
        Binding("right", "next_step", "Step fwd", priority=True),
        Binding("left_square_bracket", "prev_day", "Prev day", key_display="["),
        Binding("right_square_bracket", "next_day", "Next day", key_display="]"),
        Binding("g", "jump", "Jump"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, config: RunConfig | None = None, replay_dir: Path | None = None,
                 saves: Path = Path("saves"), autostart: bool = True, rate_both: bool = False):
        super().__init__()
        self.config = config
        self.saves = saves
        self.autostart = autostart
        self.rate_both = rate_both  # the human also rates the candidate that was not delivered
        self.driver: EngineDriver | None = None
        self.replay: Replay | None = None
        self._replay_dir = replay_dir
        self.mode = "simulated"
        self.steps: list[dict] = []  # every step seen in this run
        self.rows: list[dict] = []  # the live timeline's rows: the steps, and the stretches away from home
        self._unpainted: list[dict] = []  # of those, the ones not in the timeline yet (see PAINT_SECONDS)
        self._painted_at = 0.0
        self._quiet_until = 0.0  # see KEY_SECONDS
        self.today: list[dict] = []
        self.daily: list[DayMetrics] = []  # finished days
        self.first_steps: dict[int, int] = {}  # day -> its first step seen (where the day plan shows)
        self.calls = None  # the run's LLM calls for the detail pane (calls_view)
        self.replay_playing = False
        self._replay_clock = 0.0
        self._replay_speed = SPEEDS.index(150)  # replay plays at 150x (one step a second) by default

    # --- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal():
            with VerticalScroll(id="left"):
                yield HomePanel()
                yield ScoresPanel()
                yield TrainingStatus()
            with Vertical(id="right"):
                yield Timeline()
                with VerticalScroll(id="detail-scroll"):
                    yield DetailPanel()
        yield Footer()

    def on_mount(self) -> None:
        # keep the main screen's widgets: while a dialog is open, queries would search the dialog
        self.timeline, self.detail = self.query_one(Timeline), self.query_one(DetailPanel)
        self.home, self.scores = self.query_one(HomePanel), self.query_one(ScoresPanel)
        self.status, self.training = self.query_one(StatusBar), self.query_one(TrainingStatus)
        try:
            if self._replay_dir is not None:
                self._start_replay(self._replay_dir)
            else:
                self._start_live(self.config)
        except (ConfigError, RunError) as error:
            self.exit(return_code=2, message=str(error))
            return
        self.set_interval(REFRESH_SECONDS, self._drain)
        if os.environ.get("PROPERSIM_STARTUP_PROBE"):  # bench/startup.py: exit once the first screen is up
            self.call_after_refresh(lambda: self.exit(return_code=0))

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """Every control in the command palette too, with its key."""
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if self.check_action(binding.action, ()) and binding.action != "quit":
                key = binding.key_display or binding.key.split(",")[0]
                yield SystemCommand(binding.description, f"key: {key}",
                                    lambda action=binding.action: self.run_action(action))

    def on_resize(self, event) -> None:
        self.set_class(event.size.width < 120, "-narrow")
        if hasattr(self, "timeline"):
            self._render_all()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in LIVE_ONLY and self.replay is not None:
            return False
        if action in REPLAY_ONLY and self.replay is None:
            return False
        return True

    # --- live runs ---------------------------------------------------------------------
    def _start_live(self, config: RunConfig) -> None:
        self.replay = None
        self.driver = EngineDriver(config, self.saves)
        self.config = config
        self.mode = "simulated"
        self.steps, self.rows, self.today, self.daily, self.first_steps = [], [], [], [], {}
        self._unpainted = []
        self.calls = LedgerCalls(self.driver.sim.backends.ledger) if self.driver.sim.backends else None
        self.timeline.reset([])
        self.driver.paused = not self.autostart
        self.run_worker(self.driver.run(), exclusive=True, group="engine", name="engine")
        self.refresh_bindings()
        self._render_all()

    def _stop_live(self) -> None:
        """Stop the engine. Its crash-safety recording goes too once nothing in it is unsaved."""
        if self.driver is not None:
            if self.driver.unsaved:
                self.driver.stop()
            else:
                self.driver.discard()
            self.workers.cancel_group(self, "engine")

    def _drain(self) -> None:
        """Take what the engine produced since the last tick and show it."""
        if not self.is_running:  # shutting down: the widgets are being removed while the timer still ticks
            return
        if self.replay is not None:
            self._replay_tick()
            return
        if self.driver is None:
            return
        fresh: list[dict] = []
        progress = None  # only a tick's last training progress is shown: the others would be overdrawn at once
        events = self.driver.events
        while events:
            event = events.popleft()
            if isinstance(event, StepRecorded):
                step = event.record.to_json()
                self.steps.append(step)
                fresh.append(step)
                self.first_steps.setdefault(step["day"], step["step"])
                if self.today and self.today[-1]["day"] != step["day"]:
                    self.today = []
                self.today.append(step)
            elif isinstance(event, Away):
                fresh.append(away_row(event.day, event.start_clock, event.end_clock, event.text))
            elif isinstance(event, DayEnded):
                self.daily.append(event.metrics)
            elif isinstance(event, TrainingStarted):
                progress = None
                self.training.started(event.day, event.pairs)
            elif isinstance(event, TrainingProgress):
                progress = event
            elif isinstance(event, TrainingFinished):
                progress = None
                self.training.finished(event.day, event.loss, event.seconds)
            elif isinstance(event, RunFinished):
                self.notify(f"Run finished: {event.days} days. Press s to save.")
            elif isinstance(event, Error):
                self.notify(f"The run stopped: {event.message}", severity="error", timeout=30)
                self._render_status()
        if progress is not None:
            self.training.progress(progress.day, progress.done, progress.total, progress.loss)
        if fresh:
            self.rows.extend(fresh)
            self._unpainted.extend(fresh)
        if not self._unpainted:
            return
        now = time.perf_counter()
        due = now - self._painted_at >= PAINT_SECONDS or self.driver.paused
        if due and now >= self._quiet_until:
            self.timeline.append_steps(self._unpainted)
            self._unpainted, self._painted_at = [], now
            self._render_all()
        elif fresh:
            self._render_status()

    @property
    def records_seen(self) -> int:
        """Steps the live view has shown so far."""
        return len(self.steps) if self.replay is None else 0

    def _state(self) -> str:
        if self.replay is not None:
            return "playing" if self.replay_playing else "paused"
        d = self.driver
        if d is None:
            return ""
        if d.sim.finished:
            return "finished"
        return "paused" if d.paused else "running"

    def _render_all(self) -> None:
        self._render_status()
        last = self.steps[-1] if self.steps else None
        if self.replay is not None:
            last = self.replay.current
        self.home.show(last["activity"] if last else None)
        if self._persona() is not None:
            wanted = self.replay.wanted() if self.replay is not None else \
                self.driver.sim.wanted_today() if self.driver is not None else None
            self.scores.show(self.today, self.daily, wanted, self._criteria(), self._config().step_seconds)
        self._show_detail()

    def _show_detail(self) -> None:
        step = self.timeline.selected_step()
        first_steps = self.replay.first_steps if self.replay is not None else self.first_steps
        first_of_day = step is not None and step["step"] is not None and first_steps.get(step["day"]) == step["step"]
        self.detail.show(step, self.calls, first_of_day)

    def _persona(self):
        if self.replay is not None:
            return self.replay.persona
        return self.driver.sim.persona if self.driver else None

    def _config(self) -> RunConfig:
        return self.replay.config if self.replay is not None else self.config

    def _criteria(self) -> tuple[str, ...]:
        return self._config().judge.criteria

    def _render_status(self) -> None:
        persona = self._persona()
        if persona is None:
            return
        if self.replay is not None:
            step, config = self.replay.current, self.replay.config
            speed = speed_label(SPEEDS[self._replay_speed])
        else:
            step = self.steps[-1] if self.steps else None
            config, speed = self.config, speed_label(self.driver.speed)
        self.status.show(
            name=persona.name, traits=persona.traits, day=(step["day"] + 1) if step else 1, days=config.days,
            clock=step["clock"] if step else "--:--", speed=speed, mode=self.mode,
            backend=self._backend_label(config), state=self._state(),
        )

    def _backend_label(self, config: RunConfig) -> str:
        """Each role's backend and model, and the live call and token counts ("offline" without a model)."""
        roles = {"user": config.user.kind, "judge": config.judge.kind, "assistant": config.assistant}
        on_models = {role: config.backends.get(role) or config.backends.get("default")
                     for role, name in roles.items() if name == "llm" or name.startswith("llm-")}
        if not on_models:
            return f"offline · {config.assistant}"
        label = " · ".join(f"{role} {b.kind}:{b.model or 'smollm2'}" if role in on_models and b else f"{role} offline"
                           for role, b in ((r, on_models.get(r)) for r in roles)) + f" · {config.assistant}"
        ledger = self.driver.sim.backends.ledger if self.driver is not None and self.driver.sim.backends else None
        if ledger is not None and ledger.records:
            total = ledger.total()
            label += f" · {total.calls} calls, {total.prompt_tokens + total.completion_tokens} tokens"
        return label

    # --- live controls -----------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        """How fast this shows in a terminal: bench/tui_latency.py."""
        self._quiet_until = time.perf_counter() + KEY_SECONDS
        self.driver.set_paused(not self.driver.paused)
        self._render_status()

    def action_single_step(self) -> None:
        self.driver.step_once()
        self._render_status()

    def action_faster(self) -> None:
        if self.replay is not None:
            self._replay_speed = min(len(SPEEDS) - 1, self._replay_speed + 1)
        else:
            self.driver.change_speed(+1)
        self._render_status()

    def action_slower(self) -> None:
        if self.replay is not None:
            self._replay_speed = max(0, self._replay_speed - 1)
        else:
            self.driver.change_speed(-1)
        self._render_status()

    def action_end_of_day(self) -> None:
        self.driver.run_to_end_of_day()
        self._render_status()

    def action_set_activity(self) -> None:
        def done(result: tuple | None) -> None:
            if result is None:
                return
            if result[0] == "release":
                self.driver.release_activity()
                self.notify("The routine is back in charge.")
            else:
                _, text, room, tag, minutes = result
                self.driver.set_activity(text, room, minutes, (tag,))
                self.notify(f"From the next step the user is: {text}")

        self.push_screen(ActivityDialog(), done)

    def action_save(self) -> None:
        try:
            target = self.driver.save()
        except OSError as error:
            self.notify(f"Could not save: {error}", severity="error")
            return
        self.notify(f"Saved to {target}")

    def action_filter(self) -> None:
        timeline = self.timeline
        timeline.only_recommendations = not timeline.only_recommendations
        source = self.replay.day_steps(self.replay.current["day"]) if self.replay is not None else self.rows
        self._unpainted = []
        timeline.reset(source, follow=self.replay is None)
        self.notify("Showing only recommendations" if timeline.only_recommendations else "Showing every step")

    def on_timeline_highlighted(self, event: Timeline.Highlighted) -> None:
        self._show_detail()

    def on_timeline_selected(self, event: Timeline.Selected) -> None:
        """Enter on a row: the detail pane grows (prompts are long) or shrinks back."""
        self.toggle_class("-detail-open")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def on_unmount(self) -> None:
        if self.driver is not None and not self.driver.stopped:
            self._stop_live()


def launch(config: RunConfig | None, replay: Path | None = None, rate_both: bool = False) -> int:
    """Open the app on a live run of `config`, or on a recorded run; errors come before the screen opens."""
    if replay is not None:
        Replay(replay)
        app = ProPerSimApp(replay_dir=replay)
    else:
        from engine.compose import plan_run

        plan_run(config)
        app = ProPerSimApp(config, rate_both=rate_both)
    app.run()
    return app.return_code or 0
