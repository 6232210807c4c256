"""`propersim --batch`: headless runs with a rich progress bar and a metrics table at the end."""

import asyncio
import math
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.config import parse_run_config
from engine.events import DayEnded
from engine.metrics import DayMetrics
from engine.simulation import Simulation
from training.runs import new_run, resume_run, run_name


def _fmt(value: float) -> str:
    return "—" if isinstance(value, float) and math.isnan(value) else f"{value:.2f}"


def metrics_table(results: dict[str, list[DayMetrics]], criteria: tuple[str, ...]) -> Table:
    table = Table(title="Per-day metrics", header_style="bold")
    for column in ("run", "day", "mean", "rec mean", "recs/h", "missed", *(c[:5] for c in criteria)):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, days in results.items():
        for m in days:
            table.add_row(name, str(m.day + 1), _fmt(m.mean_score), _fmt(m.mean_recommendation_score),
                          _fmt(m.recs_per_hour), str(m.missed_opportunities),
                          *(_fmt(m.pass_rates[c]) for c in criteria))
    return table


async def _drive(sims: dict[str, Simulation], console: Console) -> dict[str, list[DayMetrics]]:
    results: dict[str, list[DayMetrics]] = {name: [] for name in sims}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("days"), TimeRemainingColumn(), console=console, transient=False) as progress:
        for name, sim in sims.items():
            task = progress.add_task(name, total=sim.config.days, completed=sim.day)

            def on_event(event, task=task, name=name):
                if isinstance(event, DayEnded):
                    results[name].append(event.metrics)
                    progress.update(task, completed=event.day + 1)

            sim.subscribe(on_event)
        for sim in sims.values():
            await sim.run()
    return results


def run_batch(personas: list[str], assistant: str, days: int, seed: int, out: Path,
              options: dict, console: Console) -> int:
    sims = {}
    for persona in personas:
        config = parse_run_config({"persona": persona, "assistant": assistant, "days": days, "seed": seed,
                                   "assistant_options": options}, "command line")
        sims[run_name(config)] = new_run(config, out / run_name(config))
    console.print(f"Writing {len(sims)} run(s) to [bold]{out}[/]")
    results = asyncio.run(_drive(sims, console))
    first = next(iter(sims.values()))
    console.print(metrics_table(results, first.criteria))
    return 0


def resume_batch(run_dir: Path, console: Console) -> int:
    sim = resume_run(run_dir)
    if sim.finished:
        console.print(f"{run_dir} is already complete ({sim.config.days} days).")
        return 0
    console.print(f"Resuming {run_dir} at day {sim.day + 1} of {sim.config.days}")
    results = asyncio.run(_drive({run_dir.name: sim}, console))
    console.print(metrics_table(results, sim.criteria))
    return 0
