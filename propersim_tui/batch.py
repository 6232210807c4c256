"""`propersim --batch`: headless runs with rich progress bars and a metrics table at the end.

Every run is validated first (nothing is written if any is bad), then every folder is
created and locked by this process, which holds the locks until the batch ends. Runs
then go either concurrently in this process (asyncio: LLM-bound runs share backends)
or, with --jobs N, in the program's process pool (CPU-bound offline runs).

A grid (run_grid, from propersim_tui/grid_cli.py) creates its new runs' folders and releases them;
each executor (engine/grid_exec.py) then continues every unfinished folder from its last complete day.
"""

import asyncio
import math
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.compose import RunPlan, build_simulation, package_versions, plan_run, resume_run
from engine.config import RunConfig
from engine.errors import RunError
from engine.events import DayEnded
from engine.llm.ledger import CallLedger
from engine.metrics import DayMetrics
from engine.simulation import Simulation
from engine.store import RunStore, read_jsonl
from engine.workers import run_parallel


def _fmt(value: float) -> str:
    return "—" if isinstance(value, float) and math.isnan(value) else f"{value:.2f}"


def metrics_table(results: dict[str, list[DayMetrics]], criteria: tuple[str, ...]) -> Table:
    table = Table(title="Per-day metrics: normalized score, precision, recall, recommendations against the "
                        "wanted range, pass rate per criterion (" + ", ".join(criteria) + "); metrics.csv has them all",
                  header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    table.add_column("persona", no_wrap=True)
    for column in ("day", "mean", "norm", "prec", "rcl", "recs", "want", *(c[0].upper() for c in criteria)):
        table.add_column(column, justify="right", min_width=4, no_wrap=True)
    for name, days in results.items():
        for m in days:
            wanted = "—" if m.wanted_max is None else f"{m.wanted_min}–{m.wanted_max}"
            recs = str(m.recommendations) if m.in_wanted_range is not False else f"[red]{m.recommendations}[/]"
            table.add_row(name.split("__")[0], str(m.day + 1), _fmt(m.mean_score), _fmt(m.normalized),
                          _fmt(m.precision), _fmt(m.recall), recs, wanted,
                          *(_fmt(m.pass_rates[c]) for c in criteria))
    return table


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                    TimeRemainingColumn(), console=console)


async def _drive(sims: dict[str, Simulation], console: Console) -> dict[str, list[DayMetrics]]:
    """All runs at once on this event loop."""
    results: dict[str, list[DayMetrics]] = {name: [] for name in sims}
    with _progress(console) as progress:
        for name, sim in sims.items():
            task = progress.add_task(name, total=sim.config.days, completed=sim.day)

            def on_event(event, task=task, name=name):
                if isinstance(event, DayEnded):
                    results[name].append(event.metrics)
                    progress.update(task, completed=event.day + 1)

            sim.subscribe(on_event)
        await asyncio.gather(*(sim.run_and_close() for sim in sims.values()))
    return results


def cost_table(run_dirs: dict[str, Path]) -> Table | None:
    """LLM calls and tokens per run, role and simulated day, from each run's calls.jsonl (None: no model ran)."""
    rows: dict[tuple, list[int]] = {}
    for name, folder in run_dirs.items():
        records, _ = read_jsonl(folder / CallLedger.FILENAME)
        for r in records:
            entry = rows.setdefault((name.split("__")[0], r["role"], (r["day"] or 0) + 1), [0, 0, 0, 0, 0])
            entry[0] += 1
            entry[1] += r["prompt_tokens"]
            entry[2] += r["completion_tokens"]
            entry[3] += r["cached"]
            entry[4] += r["failed"]
    if not rows:
        return None
    table = Table(title="LLM cost per role and simulated day", header_style="bold")
    for column in ("persona", "role", "day", "calls", "prompt tokens", "completion tokens", "cached", "failed"):
        table.add_column(column, justify="left" if column in ("persona", "role") else "right")
    for (persona, role, day), values in sorted(rows.items()):
        table.add_row(persona, role, str(day), *(str(v) for v in values))
    return table


def print_results(console: Console, results: dict[str, list[DayMetrics]], criteria: tuple[str, ...],
                  run_dirs: dict[str, Path]) -> None:
    console.print(metrics_table(results, criteria))
    costs = cost_table(run_dirs)
    if costs is not None:
        console.print(costs)


def run_batch(configs: list[RunConfig], out: Path, console: Console, jobs: int = 1) -> int:
    plans = [plan_run(config, out=out) for config in configs]  # every check before anything is written
    names = [plan.name for plan in plans]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RunError(f"--personas names the same run twice: {', '.join(twice)}")
    stores: list[RunStore] = []
    try:
        for plan in plans:
            stores.append(RunStore.create(plan.run_dir, plan.config, plan.persona_text, package_versions()))
        console.print(f"Writing {len(plans)} run(s) to [bold]{out}[/]")
        if jobs > 1 and len(plans) > 1:
            for store in stores:
                store.close(keep_lock=True)  # the workers write; this process keeps the folders locked
            results = _drive_in_processes(plans, jobs, console)
        else:
            sims = {plan.name: _start(plan, store) for plan, store in zip(plans, stores)}
            results = asyncio.run(_drive(sims, console))
    finally:
        for store in stores:
            store.close()
    print_results(console, results, plans[0].config.judge.criteria, {p.name: p.run_dir for p in plans})
    return 0


def _start(plan: RunPlan, store: RunStore) -> Simulation:
    sim = build_simulation(plan, store)
    sim.start_at(0)
    return sim


def _finish_in_worker(run_dir: Path) -> None:
    """A worker picks a freshly created run up from its folder (locked by the parent) and runs it."""
    asyncio.run(resume_run(run_dir, lock=False).run_and_close())


def _drive_in_processes(plans: list[RunPlan], jobs: int, console: Console) -> dict[str, list[DayMetrics]]:
    """Runs in the program's process pool; progress is read from each run's metrics.csv."""
    with _progress(console) as progress:
        tasks = {plan.name: progress.add_task(plan.name, total=plan.config.days) for plan in plans}

        def tick() -> None:
            for plan in plans:
                progress.update(tasks[plan.name], completed=len(RunStore(plan.run_dir).metrics_rows()))

        run_parallel(_finish_in_worker, [plan.run_dir for plan in plans], jobs, on_tick=tick)
        tick()
    criteria = plans[0].config.judge.criteria
    return {plan.name: [DayMetrics.from_row(r, criteria) for r in RunStore(plan.run_dir).day_rows()]
            for plan in plans}


def resume_batch(run_dir: Path, console: Console) -> int:
    sim = resume_run(run_dir)
    try:
        if sim.finished:
            console.print(f"{run_dir} is already complete ({sim.config.days} days).")
            return 0
        console.print(f"Resuming {run_dir} at day {sim.day + 1} of {sim.config.days}")
        results = asyncio.run(_drive({run_dir.name: sim}, console))
    finally:
        sim.close_recording()
    print_results(console, results, sim.criteria, {run_dir.name: run_dir})
    return 0


def prepare_grid(plans: list[RunPlan]) -> dict[Path, tuple[RunPlan, str, int]]:
    """Each planned run's folder, state and days complete; refuses a folder that holds another run."""
    from engine.grid import run_state

    prepared = {}
    for plan in plans:
        state, done = run_state(plan.run_dir)
        if state != "new":
            recorded = RunStore.read_config(plan.run_dir)
            if recorded.model_dump(mode="json") != plan.config.model_dump(mode="json"):
                raise RunError(f"{plan.run_dir} holds a run with another config (run.toml); the grid's command "
                               "must be the same to resume it, or pick another --out")
        prepared[plan.run_dir] = (plan, state, done)
    return prepared


def run_grid(plans: list[RunPlan], console: Console, jobs: int = 1, executor: str = "local",
             ray_address: str | None = None) -> int:
    """A grid (or one shard of it): create the new runs' folders, skip finished runs, resume partial ones,
    and run the rest on `executor` under one progress bar. Every plan is already checked."""
    from engine.grid_exec import run_local, run_ray
    from propersim_tui.grid_progress import GridProgress

    prepared = prepare_grid(plans)
    for plan, state, _ in prepared.values():
        if state == "new":
            RunStore.create(plan.run_dir, plan.config, plan.persona_text, package_versions()).close()
    todo = {d: plan.config for d, (plan, state, _) in prepared.items() if state != "done"}
    states = [state for _, state, _ in prepared.values()]
    console.print(f"{len(prepared)} run(s): {states.count('new')} new, {states.count('partial')} to resume, "
                  f"{states.count('done')} already finished; executor {executor}"
                  + (f", {jobs} job(s)" if executor == "local" else ""))
    if todo:
        progress = GridProgress(console, {d: p.config.days for d, (p, _, _) in prepared.items()},
                                {d: done for d, (_, _, done) in prepared.items()})
        with progress:
            if executor == "ray":
                run_ray(todo, ray_address, progress.poll)
            else:
                run_local(todo, jobs, progress.poll, progress.started, progress.day_done)
    return 0
