"""`propersim report DIR`: the report of a grid (or of one run) in the console, report.md and PNG plots
beside the runs, or the figures as JSON or CSV on stdout for further analysis."""

import csv
import json
import sys
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from engine.report.tables import Table
from propersim_tui.safe_argparse import ArgumentParser

REPORT_FILE = "report.md"
COLORS = ["blue", "orange", "green", "red", "magenta", "cyan"]


def rich_table(table: Table) -> RichTable:
    out = RichTable(title=table.title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for i, column in enumerate(table.columns):
        out.add_column(column, justify="left" if i == 0 or column in ("trait", "persona", "role", "personas",
                                                                       "preferences") else "right")
    for row in table.rows:
        out.add_row(*row)
    return out


def terminal_plot(report: dict, field: str, title: str, width: int) -> str:
    """A curve per assistant, day by day, drawn with plotext (text, for the console)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(max(40, min(width, 120)), 15)
    plt.theme("pro")  # no background colours: it sits among the console's tables
    length = 0
    for (assistant, curves), color in zip(report["curves"].items(), COLORS * len(report["curves"])):
        days = list(range(1, len(curves[field]) + 1))
        length = max(length, len(days))
        plt.plot(days, [c["mean"] if c["mean"] is not None else 0.0 for c in curves[field]], label=assistant,
                 marker="braille", color=color)
    plt.xticks(list(range(1, length + 1)))
    plt.title(title)
    plt.xlabel("day")
    return plt.build()


def csv_rows(runs) -> tuple[list[str], list[dict]]:
    """One row per (run, day): the grid's keys, then metrics.csv's columns as recorded."""
    rows, columns = [], ["assistant", "persona", "seed"]
    for run in runs:
        for m in run.days:
            row = m.row()
            columns += [c for c in row if c not in columns]
            rows.append({"assistant": run.assistant, "persona": run.persona, "seed": run.seed} | row)
    return columns, rows


def write_report(report: dict, folder: Path) -> tuple[Path, list[str], str | None]:
    """report.md and the PNGs in `folder`: (report.md, plot names, why there are no plots or None)."""
    from engine.report.markdown import report_markdown
    from engine.report.plots import plots_missing, write_plots
    from engine.store import write_atomic

    missing = plots_missing()
    plots = [] if missing else write_plots(report, folder)
    path = Path(folder) / REPORT_FILE
    write_atomic(path, report_markdown(report, plots))
    return path, plots, missing


def report_command(argv: list[str]) -> int:
    parser = ArgumentParser(  # error messages made terminal-safe
        prog="propersim report",
        description="Tables and plots of a grid (a folder of runs, e.g. --batch --out DIR) or of one run: per "
                    "assistant with 95% intervals, week-aligned learning, Big Five traits, best and worst personas, "
                    "conditional vs simple personas, LLM cost. Writes report.md and PNG plots into DIR.")
    parser.add_argument("folder", type=Path, help="a grid folder or a run folder")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="table (default): the console, report.md and plots; json: the figures; "
                             "csv: one row per run and day; both on stdout, writing nothing")
    args = parser.parse_args(argv)
    from engine.report.collect import load_runs
    from engine.report.summary import build_report
    from engine.report.tables import report_tables

    runs = load_runs(args.folder)
    report = build_report(runs)
    if args.format == "json":
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    if args.format == "csv":
        columns, rows = csv_rows(runs)
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    console = Console()
    for table in report_tables(report):
        console.print(rich_table(table))
    for field, title in (("mean_score", "Daily mean score per assistant"),
                         ("recs_per_hour", "Recommendations per hour per assistant")):
        console.print(Text.from_ansi(terminal_plot(report, field, title, console.width - 2)), no_wrap=True)
    path, plots, missing = write_report(report, args.folder)
    console.print(f"Wrote {path}" + (f" and {', '.join(plots)}" if plots else f" ({missing})"))
    return 0
