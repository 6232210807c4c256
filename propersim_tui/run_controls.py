"""Runs in the app: start a new one, open a recorded one, quit, each asking to save unsaved work first."""

from pathlib import Path

from engine.config import RunConfig
from engine.errors import ConfigError, RunError
from engine.grid import MANIFEST
from propersim_tui.dialogs import NewRunDialog, OpenRunDialog, QuitDialog
from propersim_tui.replay import Replay
from propersim_tui.report_screen import ReportScreen, is_grid_folder


class RunControls:
    """The run-management half of ProPerSimApp (mixed into it)."""

    def action_new_run(self) -> None:
        from engine.assistants import ASSISTANTS
        from engine.persona import load_persona
        from engine.persona_library import persona_paths

        personas = [load_persona(p) for p in persona_paths()]
        current = (self.config.persona, self.config.assistant) if self.config else ("", "properassistant")

        def done(choice: tuple | None) -> None:
            if choice is None:
                return
            persona, assistant = choice
            base = self.config or RunConfig(persona=persona, assistant=assistant)
            self._after_save_prompt(lambda: self._switch_live(base.model_copy(
                update={"persona": persona, "assistant": assistant})))

        self.push_screen(NewRunDialog(personas, {e.name: e.summary for e in ASSISTANTS}, current), done)

    def _switch_live(self, config: RunConfig) -> None:
        self._stop_live()
        self.autostart = True
        self._start_live(config)

    def action_open_run(self) -> None:
        runs = sorted((p.parent for p in self.saves.glob("*/run.toml")), key=lambda p: p.name, reverse=True)
        runs += sorted(p.parent for p in self.saves.glob(f"*/{MANIFEST}"))  # grids open as their report
        runs += sorted(p.parent for p in self.saves.glob("*/*/run.toml"))

        def done(path: Path | None) -> None:
            if path is not None:
                self._after_save_prompt(lambda: self._open(path))

        self.push_screen(OpenRunDialog(runs), done)

    def _open(self, path: Path) -> None:
        if is_grid_folder(path):
            self._open_report(path)
            return
        try:
            replay = Replay(path)
        except (ConfigError, RunError) as error:
            self.notify(str(error), severity="error")
            return
        self._stop_live()
        self.driver = None
        self._start_replay(path, replay)

    def _open_report(self, folder: Path) -> None:
        """A grid's report over the app (the live run, if any, goes on underneath); Escape comes back."""
        from engine.report.collect import load_runs
        from engine.report.summary import build_report

        try:
            report = build_report(load_runs(folder))
        except (ConfigError, RunError, OSError) as error:
            self.notify(str(error), title="Cannot open this grid", severity="error", markup=False)
            return
        self.push_screen(ReportScreen(report, folder))

    def _after_save_prompt(self, then) -> None:
        """Run `then` after asking to save unsaved live work (if any)."""
        if self.driver is None or not self.driver.unsaved:
            then()
            return

        def done(choice: str) -> None:
            if choice == "save":
                self.action_save()
                then()
            elif choice == "discard":
                self.driver.discard()
                then()

        self.push_screen(QuitDialog(), done)

    async def action_quit(self) -> None:
        if self.driver is not None and self.driver.unsaved:
            def done(choice: str) -> None:
                if choice == "save":
                    self.action_save()
                    self._stop_live()
                    self.exit(return_code=0)
                elif choice == "discard":
                    self.driver.discard()
                    self.exit(return_code=0)

            self.push_screen(QuitDialog(), done)
            return
        self._stop_live()
        self.exit(return_code=0)

