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
    table = Table(title="Per-day metrics (pass rates per criterion on the right)", header_style="bold")
    table.add_column("persona", no_wrap=True)
    for column in ("day", "mean", "rec mean", "recs/h", "missed", *(c[:4] for c in criteria)):
        table.add_column(column, justify="right")
    for name, days in results.items():
        for m in days:
            table.add_row(name.split("__")[0], str(m.day + 1), _fmt(m.mean_score), _fmt(m.mean_recommendation_score),
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
              options: dict, console: Console, jobs: int = 1) -> int:
    sims = {}
    for persona in personas:
        config = parse_run_config({"persona": persona, "assistant": assistant, "days": days, "seed": seed,
                                   "assistant_options": options}, "command line")
        sims[run_name(config)] = new_run(config, out / run_name(config))
    console.print(f"Writing {len(sims)} run(s) to [bold]{out}[/]")
    first = next(iter(sims.values()))
    if jobs > 1 and len(sims) > 1:
        results = _drive_in_processes({name: sim.store.folder for name, sim in sims.items()}, days, jobs,
                                      first.criteria, console)
    else:
        results = asyncio.run(_drive(sims, console))
    console.print(metrics_table(results, first.criteria))
    return 0


def _finish_in_child(run_dir: Path) -> None:
    """A worker process picks a freshly created run up from its folder and runs it to the end."""
    asyncio.run(resume_run(run_dir).run())


def _drive_in_processes(runs: dict[str, Path], days: int, jobs: int, criteria: tuple[str, ...],
                        console: Console) -> dict[str, list[DayMetrics]]:
    """Runs in `jobs` processes; progress is read from each run's metrics.csv as days complete."""
    import time
    from concurrent.futures import ProcessPoolExecutor, wait

    from engine.store import RunStore

    with ProcessPoolExecutor(max_workers=jobs) as pool, Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
            TimeRemainingColumn(), console=console) as progress:
        tasks = {name: progress.add_task(name, total=days) for name in runs}
        futures = {pool.submit(_finish_in_child, folder): name for name, folder in runs.items()}
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5)
            for name, folder in runs.items():
                progress.update(tasks[name], completed=len(RunStore(folder).metrics_rows()))
            time.sleep(0)
        for future in futures:
            future.result()  # a failed run raises here, with its own message
    return {name: [DayMetrics.from_row(r, criteria) for r in RunStore(folder).metrics_rows()]
            for name, folder in runs.items()}


def resume_batch(run_dir: Path, console: Console) -> int:
    sim = resume_run(run_dir)
    if sim.finished:
        console.print(f"{run_dir} is already complete ({sim.config.days} days).")
        return 0
    console.print(f"Resuming {run_dir} at day {sim.day + 1} of {sim.config.days}")
    results = asyncio.run(_drive({run_dir.name: sim}, console))
    console.print(metrics_table(results, sim.criteria))
    return 0
