"""report.md: the tables, the plots beside it, and what the grid was."""

from engine.report.tables import Table, report_tables


def _md(table: Table) -> str:
    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def report_markdown(report: dict, plots: list[str]) -> str:
    head = [
        "# ProPerSim report", "",
        f"{report['runs']} run(s): {len(report['personas'])} persona(s) x {len(report['assistants'])} assistant(s) "
        f"({', '.join(report['assistants'])}) x {len(report['seeds'])} seed(s), {report['days']} day(s).",
        "Intervals are 95% (Student's t over runs).",
    ]
    if report["incomplete_runs"]:
        head.append(f"Incomplete runs (their complete days only): {', '.join(report['incomplete_runs'])}.")
    body = [_md(t) for t in report_tables(report)]
    images = [f"![{name}]({name})" for name in plots]
    return "\n".join(head) + "\n\n" + "\n".join(body) + ("\n## Plots\n\n" + "\n\n".join(images) + "\n" if images else "")
