"""`propersim report DIR`: the report of a small fixed grid against a golden file, its plots, its JSON
and CSV, and the TUI's report screen (snapshot). Re-record the golden file after an intended change:
PROPERSIM_RECORD_REPORT=1 pytest tests/test_report.py -k golden"""

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from engine.report.collect import load_runs
from engine.report.summary import build_report
from propersim_tui.cli import main
from propersim_tui.report_screen import ReportApp, is_grid_folder

GOLDEN = Path(__file__).parent / "golden" / "report_small.md"
# a conditional persona (its preferences change with the weekday) and a simple one
GRID = ["--batch", "--personas", "E+A+C+O+N+,E-A-C-O-N-", "--assistants", "properassistant,always-abstain", "--seeds", "1",
        "--days", "2"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "grid"
    assert main([*GRID, "--out", str(out)]) == 0
    return out


def test_report_of_a_small_grid_matches_the_golden_file(grid, capsys):
    assert main(["report", str(grid)]) == 0
    shown = capsys.readouterr().out
    text = (grid / "report.md").read_text("utf-8")
    if os.environ.get("PROPERSIM_RECORD_REPORT"):
        GOLDEN.write_text(text, "utf-8")
    assert text == GOLDEN.read_text("utf-8")
    for title in ("Per assistant", "Learning, week-aligned", "Big Five trait", "Best and worst", "conditional"):
        assert title in shown and title in text
    assert "Daily mean score per assistant" in shown  # the terminal plot


def test_report_writes_non_empty_png_plots(grid, capsys):
    assert main(["report", str(grid)]) == 0
    for name in ("learning.png", "recs_per_hour.png", "traits.png"):
        data = (grid / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000, name
        assert f"]({name})" in (grid / "report.md").read_text()


def test_json_holds_the_figures_and_csv_one_row_per_run_and_day(grid, capsys):
    assert main(["report", str(grid), "--format", "json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures == json.loads(json.dumps(build_report(load_runs(grid))))
    assert figures["assistants"] == ["properassistant", "always-abstain"] and figures["runs"] == 4
    assert figures["assistants_table"]["always-abstain"]["recs_per_hour"]["mean"] == 0.0
    assert main(["report", str(grid), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4 * 2 and {r["day"] for r in rows} == {"0", "1"}
    run = grid / "E+A+C+O+N+__properassistant__s0"
    recorded = [r for r in csv.DictReader((run / "metrics.csv").open()) if r["day"] == "1"][0]
    mine = [r for r in rows if r["persona"] == "E+A+C+O+N+" and r["assistant"] == "properassistant"
            and r["day"] == "1"][0]
    assert mine["mean_score"] == recorded["mean_score"] and mine["normalized"] == recorded["normalized"]


def test_report_of_a_single_run_and_of_a_folder_that_is_neither(grid, tmp_path, capsys):
    run = tmp_path / "one"
    shutil.copytree(grid / "E-A-C-O-N-__always-abstain__s0", run)
    assert main(["report", str(run), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 1
    assert is_grid_folder(grid) and not is_grid_folder(run)
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_report_screen(grid, snap_compare):
    assert snap_compare(ReportApp(grid), terminal_size=(120, 48))


def test_llm_cost_per_role_comes_from_calls_jsonl(grid, tmp_path, capsys):
    from engine.llm.ledger import CallLedger, CallRecord

    folder = tmp_path / "costed"
    shutil.copytree(grid / "E+A+C+O+N+__properassistant__s0", folder / "E+A+C+O+N+__properassistant__s0")
    ledger = CallLedger(folder / "E+A+C+O+N+__properassistant__s0")  # the run's own ledger file, as a run writes it
    ledger.record(CallRecord("judge", "fake", "m", 100, 5, 0.1, cached=False, failed=False, day=0, step=3))
    ledger.record(CallRecord("judge", "fake", "m", 100, 5, 0.0, cached=True, failed=False, day=0, step=4))
    ledger.record(CallRecord("user", "fake", "m", 40, 0, 0.2, cached=False, failed=True, day=1, step=None))
    assert main(["report", str(folder), "--format", "json"]) == 0
    costs = json.loads(capsys.readouterr().out)["costs"]["properassistant"]
    assert costs["judge"] == {"calls": 2, "prompt_tokens": 100, "completion_tokens": 5, "cached": 1, "failed": 0}
    assert costs["user"] == {"calls": 1, "prompt_tokens": 40, "completion_tokens": 0, "cached": 0, "failed": 1}
    assert main(["report", str(folder)]) == 0
    assert "LLM cost per role" in (folder / "report.md").read_text()


async def test_the_apps_open_dialog_shows_a_grid_as_its_report_and_escape_comes_back(grid, tmp_path):
    from propersim_tui.report_screen import ReportScreen
    from tests.test_tui import make_app

    app = make_app(tmp_path, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main_screen = app.screen
        app.action_open_run()
        await pilot.pause()
        path_input = app.screen.query_one("#open-path")
        path_input.focus()
        path_input.value = str(grid)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReportScreen) and app.screen.folder == grid
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is main_screen and app.is_running
