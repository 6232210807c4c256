"""Replay mode of the app: a recorded run, stepped, played and jumped through (read-only)."""

import time
from pathlib import Path

from propersim_tui.dialogs import JumpDialog
from propersim_tui.driver import SPEEDS
from propersim_tui.replay import Replay


class ReplayControls:
    """The replay half of ProPerSimApp (mixed into it): its state lives on the app."""

    def _start_replay(self, path: Path, replay: Replay | None = None) -> None:
        self.replay = replay or Replay(path)
        self.config = None
        self.calls = self.replay.calls
        self.mode = "replay"
        self.replay_playing = False
        self._show_replay_day()
        self.refresh_bindings()

    def _show_replay_day(self) -> None:
        r = self.replay
        self.steps = r.day_steps(r.current["day"])
        timeline = self.timeline
        timeline.reset(self.steps, follow=False)
        self._sync_replay_cursor()

    def _sync_replay_cursor(self) -> None:
        r = self.replay
        self.today = r.today()
        self.daily = r.daily()
        timeline = self.timeline
        key = f"{r.current['day']}-{r.current['step']}"
        for row, step in enumerate(timeline.steps):
            if f"{step['day']}-{step['step']}" == key:
                timeline.move_cursor(row)
                break
        self._render_all()

    def _replay_move(self, delta: int) -> None:
        day = self.replay.current["day"]
        if self.replay.move(delta):
            if self.replay.current["day"] != day:
                self._show_replay_day()
            else:
                self._sync_replay_cursor()

    def action_prev_step(self) -> None:
        self._replay_move(-1)

    def action_next_step(self) -> None:
        self._replay_move(+1)

    def action_prev_day(self) -> None:
        if self.replay.move_day(-1):
            self._show_replay_day()

    def action_next_day(self) -> None:
        if self.replay.move_day(+1):
            self._show_replay_day()

    def action_jump(self) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            try:
                found = self.replay.jump(text)
            except ValueError:
                found = False
            if found:
                self._show_replay_day()
            else:
                self.notify(f"No step at {text!r}", severity="warning")

        self.push_screen(JumpDialog(), done)

    def action_replay_play(self) -> None:
        self.replay_playing = not self.replay_playing
        self._replay_clock = time.perf_counter()
        self._render_status()

    def _replay_tick(self) -> None:
        if not self.replay_playing:
            return
        speed = SPEEDS[self._replay_speed]
        now = time.perf_counter()
        steps = 50 if speed is None else int((now - self._replay_clock) * speed / 150)
        if steps <= 0:
            return
        self._replay_clock = now
        self._replay_move(steps)
        if self.replay.cursor == len(self.replay.steps) - 1:
            self.replay_playing = False
            self._render_status()

