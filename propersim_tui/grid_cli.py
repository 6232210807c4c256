"""`propersim --batch --personas ... --assistants A,B --seeds N ...`: the grid's options and command.

cli.py adds these options to its parser and hands a batch that names any of them to `grid_command`.
Every run of the grid (or of the shard) is planned and checked before anything is written.
"""

import argparse
import datetime as dt
from pathlib import Path

from engine.errors import RunError

GRID_OPTIONS = ("assistants", "seeds", "shard", "executor", "ray_address")


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    grid = parser.add_argument_group(
        "grids", "batch: every persona x assistant x seed, one run folder each under --out plus grid.toml; "
                 "re-running the command skips finished runs and resumes partial ones")
    grid.add_argument("--assistants", metavar="A,B,...", help="grid: assistant variants, comma-separated")
    grid.add_argument("--seeds", metavar="N|S1,S2", help="grid: N seeds (0..N-1) or a list of seeds (default 1)")
    grid.add_argument("--shard", metavar="I/N", help="grid: run only the I-th of N deterministic slices "
                                                     "(a Slurm array task each; see the README)")
    grid.add_argument("--executor", choices=("local", "ray"), default=None,
                      help="grid: local (the process pool with --jobs; LLM-bound runs as asyncio tasks) or ray")
    grid.add_argument("--ray-address", metavar="ADDR|auto",
                      help="grid, --executor ray: the cluster to join (default: start a local Ray)")


def wants_grid(args: argparse.Namespace) -> bool:
    """A grid option, or --personas by `all` or a glob (the plain batch takes ids and paths only)."""
    from engine.grid import GLOB_CHARS

    personas = [p.strip() for p in (args.personas or "").split(",")]
    return any(getattr(args, name) is not None for name in GRID_OPTIONS) or \
        any(p == "all" or (any(c in p for c in GLOB_CHARS) and not p.endswith(".toml")) for p in personas)


def grid_command(args: argparse.Namespace, options: dict, console) -> int:
    from engine.compose import plan_run
    from engine.grid import Grid, parse_names, parse_personas, parse_seeds, parse_shard, shard, write_manifest
    from propersim_tui.batch import prepare_grid, run_grid
    from propersim_tui.cli import run_config

    if not args.personas:
        raise RunError("--batch with --assistants needs --personas (ids, globs or 'all')")
    if args.jobs < 1:
        raise RunError("--jobs must be at least 1")
    if args.assistants and args.assistant:
        raise RunError("give --assistant NAME or --assistants A,B,..., not both")
    if args.ray_address and args.executor != "ray":
        raise RunError("--ray-address goes with --executor ray")
    assistants = parse_names(args.assistants, "--assistants") if args.assistants else \
        ((args.assistant,) if args.assistant else None)
    if assistants is None and not args.config:
        raise RunError("--batch needs --assistants A,B,... (or --assistant NAME)")
    seeds = parse_seeds(args.seeds) if args.seeds else ((args.seed,) if args.seed is not None else (0,))
    personas = parse_personas(args.personas)
    out = args.out or Path("saves") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    configs = [run_config(argparse.Namespace(**vars(args) | {"assistant": assistant, "seed": seed}), options, persona)
               for persona in personas for assistant in (assistants or (None,)) for seed in seeds]
    plans = [plan_run(config, out=out) for config in configs]  # every check before anything is written
    names = [plan.name for plan in plans]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RunError(f"the grid names the same run twice: {', '.join(twice)}")
    grid = Grid(tuple(dict.fromkeys(p.config.persona for p in plans)), tuple(dict.fromkeys(p.config.assistant for p in plans)),
                seeds, plans[0].config.days)
    if args.shard:
        index, count = parse_shard(args.shard)
        plans = shard(plans, index, count)
    if args.dry_run:
        return _print_plan(plans, grid, out, console, args)
    write_manifest(out, grid)
    console.print(f"Grid {len(grid.personas)} persona(s) x {len(grid.assistants)} assistant(s) x "
                  f"{len(grid.seeds)} seed(s) x {grid.days} day(s) in [bold]{out}[/]"
                  + (f", shard {args.shard} ({len(plans)} runs)" if args.shard else ""))
    prepare_grid(plans)  # refuse a mismatched folder before any run starts
    code = run_grid(plans, console, jobs=args.jobs, executor=args.executor or "local", ray_address=args.ray_address)
    console.print(f"Done. The report: [bold]propersim report {out}[/]")
    return code


def _print_plan(plans, grid, out: Path, console, args) -> int:
    from engine.grid import run_state
    from propersim_tui.dry_run import dry_run

    states = [run_state(p.run_dir) for p in plans]
    todo_days = sum(p.config.days - done for p, (_, done) in zip(plans, states))
    steps = sum((p.config.days - done) * (86_400 // p.config.step_seconds) for p, (_, done) in zip(plans, states))
    console.print(f"Plan for {out}: {len(grid.personas)} persona(s) x {len(grid.assistants)} assistant(s) x "
                  f"{len(grid.seeds)} seed(s) = {len(grid.cells())} run(s)"
                  + (f"; shard {args.shard}: {len(plans)} run(s)" if args.shard else ""))
    kinds = [state for state, _ in states]
    console.print(f"  {kinds.count('new')} new, {kinds.count('partial')} to resume, {kinds.count('done')} finished; "
                  f"{todo_days:,} simulated day(s) to run, {steps:,} steps (awake ones make decisions)")
    console.print(f"  executor {args.executor or 'local'}" + (f", {args.jobs} job(s)" if args.executor != "ray" else ""))
    llm = [p.config for p, (state, _) in zip(plans, states) if p.config.backends and state != "done"]
    if llm:
        return dry_run(llm, console)
    console.print("  No run uses a language model: no LLM calls or tokens. Nothing was written.")
    return 0
