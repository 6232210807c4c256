"""The TUI's report screen: opening a grid folder (`propersim open DIR`) shows its report, the same tables
as `propersim report` and the learning curves as a plot."""

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.grid import MANIFEST
from engine.report.tables import Table, report_tables


def is_grid_folder(folder: Path) -> bool:
    """A grid's folder: its manifest, or run folders inside it rather than a run of its own."""
    folder = Path(folder)
    if (folder / MANIFEST).exists():
        return True
    return folder.is_dir() and not (folder / "run.toml").exists() and \
        any((child / "run.toml").exists() for child in folder.iterdir())


class CurvePlot(PlotextPlot):
    def __init__(self, report: dict, field: str, title: str, **kwargs):
        super().__init__(**kwargs)
        self.report, self.field, self.title_text = report, field, title

    def on_mount(self) -> None:
        self.plt.title(self.title_text)
        self.plt.xlabel("day")
        for assistant, curves in self.report["curves"].items():
            values = [c["mean"] if c["mean"] is not None else 0.0 for c in curves[self.field]]
            self.plt.plot(list(range(1, len(values) + 1)), values, label=assistant, marker="braille")


class ReportScreen(Screen):
    BINDINGS = [Binding("q", "app.quit", "Quit"), Binding("escape", "close", "Back")]
    DEFAULT_CSS = """
    ReportScreen DataTable { height: auto; margin-bottom: 1; }
    ReportScreen .title { text-style: bold; }
    ReportScreen CurvePlot { height: 16; }
    """

    def __init__(self, report: dict, folder: Path, standalone: bool = False):
        super().__init__()
        self.report, self.folder, self.standalone = report, folder, standalone

    def compose(self) -> ComposeResult:
        yield Header()
        r = self.report
        with VerticalScroll():
            yield Static(f"{self.folder.name}: {r['runs']} run(s), {len(r['personas'])} persona(s) x "
                         f"{len(r['assistants'])} assistant(s) x {len(r['seeds'])} seed(s), {r['days']} day(s)",
                         classes="title")
            yield CurvePlot(r, "mean_score", "Daily mean score per assistant")
            for table in report_tables(r):
                yield Static(table.title, classes="title")
                yield _data_table(table)
            yield CurvePlot(r, "recs_per_hour", "Recommendations per hour per assistant")
        yield Footer()


    def action_close(self) -> None:
        """Back to the app it was opened from; on its own (`propersim open GRID`) Escape quits."""
        if self.standalone:
            self.app.exit()
        else:
            self.app.pop_screen()


def _data_table(table: Table) -> DataTable:
    widget = DataTable(show_cursor=False, zebra_stripes=True)
    widget.add_columns(*table.columns)
    widget.add_rows(table.rows)
    return widget


class ReportApp(App):
    TITLE = "ProPerSim report"

    def __init__(self, folder: Path):
        super().__init__()
        from engine.report.collect import load_runs
        from engine.report.summary import build_report

        self.folder = Path(folder)
        self.report = build_report(load_runs(self.folder))  # errors before the screen opens

    def on_mount(self) -> None:
        self.push_screen(ReportScreen(self.report, self.folder, standalone=True))


def launch_report(folder: Path) -> int:
    app = ReportApp(folder)
    app.run()
    return app.return_code or 0
