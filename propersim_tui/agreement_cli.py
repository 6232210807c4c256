"""`propersim judge-agreement RUN --judge NAME`: re-judge a recorded run's steps with another judge
and print how far the two agree, per criterion and overall (agreement and Cohen's kappa).

The recording is only read; the new judge's LLM calls are metered in memory and summed up here.
"""

import argparse
import asyncio
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.agreement import Agreement
from engine.assistants import BACKEND_FLAG
from engine.compose import plan_judge
from engine.errors import RunError
from engine.judges import JUDGES
from engine.rejudge import MEMORIES, AgreementResult, judge_agreement, load_recording, rejudge_config, select_steps
from engine.store import write_atomic
from propersim_tui.cli import _options, add_backend_arguments, llm_fields
from propersim_tui.safe_argparse import ArgumentParser

EXAMPLES = """\
examples:
  propersim judge-agreement saves/try/E+A+C+O+N-__random__s0 --judge rubric --noise 0.2
  propersim judge-agreement RUN --judge llm --smollm2 --limit 24
  propersim judge-agreement RUN --judge llm --mode reference --backend openai \\
      --base-url http://127.0.0.1:8000/v1 --model NAME --days 1 --out agreement.json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="propersim judge-agreement", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Re-judge a recorded run's steps (the same observations and candidates, day by day)\n"
                    "with another judge; print per-criterion agreement and Cohen's kappa with the recorded\n"
                    "ratings. The run folder is only read.")
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a recorded run folder")
    parser.add_argument("--judge", metavar="NAME", help=f"the new judge: {', '.join(JUDGES.names())}")
    parser.add_argument("--mode", metavar="MODE", help="llm: combined (one call a step) or reference (one call "
                                                       "per criterion and candidate, as the paper's code)")
    parser.add_argument("--option", metavar="KEY=VALUE", action="append", default=[],
                        help="a judge option, repeatable (e.g. --option temperature=0)")
    parser.add_argument("--noise", type=float, metavar="X", help="rubric: the chance that each verdict flips (0-0.5)")
    parser.add_argument("--seed", type=int, help="the new judge's seed (default the run's)")
    parser.add_argument("--memory", choices=MEMORIES, default="recorded",
                        help="what the new judge remembers of each delivered recommendation: the recorded rating "
                             "(default: the same day memory as the original judge) or its own")
    parser.add_argument("--config", type=Path, metavar="FILE.toml",
                        help="a run config whose [judge] and [backends] tables are used; the command line overrides it")
    parser.add_argument("--days", type=int, metavar="N", help="re-judge only the first N recorded days")
    parser.add_argument("--limit", type=int, metavar="N", help="re-judge only the first N steps (after --days)")
    parser.add_argument("--out", type=Path, metavar="FILE.json", help="write the figures to this JSON file")
    parser.add_argument("--json", action="store_true", help="end with the figures as one line of JSON")
    llm = parser.add_argument_group("language models", "the backend of an llm judge (default: the run's own "
                                                       "[backends.judge] or [backends.default])")
    add_backend_arguments(llm)
    parser.set_defaults(llm_roles="judge")  # what llm_fields reads: the flags are for the judge only
    return parser


def agreement_command(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    for flag, value in (("--days", args.days), ("--limit", args.limit)):
        if value is not None and value < 1:
            raise RunError(f"{flag} must be at least 1")
    recording = load_recording(args.run_dir)
    backend = llm_fields(args).get("backends", {}).get("default")
    kind = args.judge or ("llm" if backend else None)
    options = _options(args.option) | ({"mode": args.mode} if args.mode else {})
    config = rejudge_config(recording.config, {"kind": kind, "noise": args.noise, "options": options},
                            {"judge": backend} if backend else None, args.config)
    entry = JUDGES.get(config.judge.kind)
    if backend and BACKEND_FLAG not in entry.flags:
        raise RunError(f"--smollm2/--backend give an llm judge its model; the {entry.name} judge uses none")
    if args.noise is not None and entry.name != "rubric":
        raise RunError(f"--noise is for the rubric judge, not {entry.name!r}")
    if args.seed is not None:
        config = config.model_copy(update={"seed": args.seed})
    if args.out is not None and args.out.resolve().is_relative_to(recording.folder.resolve()):
        raise RunError(f"--out {args.out} is inside the recorded run folder, which judge-agreement only reads")
    plan_judge(config)  # every check before the work (and its progress bar) starts
    steps = select_steps(recording.steps, args.days, args.limit)

    progress = Progress(TextColumn("[bold]re-judging"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                        TimeRemainingColumn(), console=Console(stderr=True))
    with progress:
        task = progress.add_task("re-judging", total=len(steps))
        result = asyncio.run(judge_agreement(recording, config, steps, args.memory,
                                             lambda done: progress.update(task, completed=done)))
    console = Console()
    console.print(agreement_table(result))
    for line in summary_lines(result):
        console.print(line, highlight=False)
    figures = result.to_json()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.out, json.dumps(figures, indent=2) + "\n")
        console.print(f"wrote {args.out}", highlight=False)
    if args.json:
        print(json.dumps(figures))
    return 0


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _kappa(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def agreement_table(result: AgreementResult) -> Table:
    figures = result.agreement
    table = Table(title=f"Judge agreement: recorded {result.recorded_judge} vs new {result.new_judge}",
                  caption="verdicts are pass/fail; the total is ordinal (quadratic-weighted κ)", header_style="bold")
    table.add_column("criterion", no_wrap=True)
    for column in ("n", "exact %", "within 1 %", "κ", "weighted κ"):
        table.add_column(column, justify="right")

    def row(name: str, a: Agreement, ordinal: bool) -> None:
        table.add_row(name, str(a.n), _percent(a.exact), _percent(a.within_one) if ordinal else "—",
                      _kappa(a.kappa), _kappa(a.weighted_kappa))

    for name, a in figures.criteria.items():
        row(name, a, False)
    table.add_section()
    row("all verdicts", figures.pooled, False)
    row(f"total (0-{len(figures.criteria)})", figures.total, True)
    return table


def summary_lines(result: AgreementResult) -> list[str]:
    figures = result.agreement
    lines = [f"recorded judge: {result.recorded_judge}; new judge: {result.new_judge}",
             f"compared {figures.compared} rating(s) of {result.steps} step(s); excluded {figures.excluded} "
             f"(failed: {figures.failed_first} recorded, {figures.failed_second} new)"]
    if result.unrated:
        lines.append(f"{result.unrated} recorded candidate(s) had no rating (not compared)")
    if result.human:
        lines.append(f"{result.human} of the compared recorded ratings were a human's")
    for role, t in result.calls.items():
        lines.append(f"LLM calls ({role}): {t.calls} ({t.failed} failed, {t.cached} cached), "
                     f"{t.prompt_tokens} prompt and {t.completion_tokens} completion tokens")
    return lines
