"""`propersim personas`: list, show, validate and start persona files."""

import argparse
import re
import sys
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from engine.errors import PersonaError, RunError
from engine.persona import Persona, check_id, load_persona
from engine.persona_library import persona_dir, persona_paths, resolve_persona
from engine.safe_text import terminal_safe
from engine.vocab import BIG_FIVE
from propersim_tui.safe_argparse import ArgumentParser


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="propersim personas", description="Work with persona files.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="list personas: id, traits, age, background (the default)")
    show = sub.add_parser("show", help="print one persona")
    show.add_argument("id", help="persona id or path to a .toml file")
    validate = sub.add_parser("validate", help="validate files and report every problem")
    validate.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the shipped personas)")
    new = sub.add_parser("new", help="start a persona: write ID.toml from a commented template (no ID: print it)")
    new.add_argument("id", nargs="?", help="the new persona's id, e.g. night-nurse")
    new.add_argument("--out", type=Path, help="the file to write (named ID.toml), or a folder for it (default: .)")
    return parser


def shown(value: object) -> str:
    """A value from a persona file (or its name) as Rich markup that prints exactly it: control
    characters and escape sequences shown escaped, `[...]` not read as markup."""
    return escape(terminal_safe(str(value)))


def _list(console: Console) -> int:
    table = Table(title=f"Personas in {shown(persona_dir())}", header_style="bold")
    paths = persona_paths()
    table.add_column("id", no_wrap=True, min_width=max((len(p.stem) for p in paths), default=2))  # ids are free
    table.add_column("traits", no_wrap=True)
    table.add_column("age", justify="right")
    table.add_column("name", no_wrap=True)
    table.add_column("background", no_wrap=True, overflow="ellipsis", max_width=70)
    problems = 0
    for path in paths:
        try:
            p = load_persona(path)
        except PersonaError:
            table.add_row(shown(path.stem), "[red]invalid[/]", "", "", "run `propersim personas validate`")
            problems += 1
            continue
        table.add_row(shown(p.id), trait_words(p), str(p.age), shown(p.name),
                      shown(p.background.split("; ")[0].split(". ")[0].rstrip(".")))
    console.print(table)
    return 1 if problems else 0


def trait_words(p: Persona) -> str:
    """E.g. 'E+ A- C+ O- N+' as 'extravert, critical, organised, conventional, anxious'."""
    words = {
        "extraversion": ("extravert", "introvert"), "agreeableness": ("agreeable", "critical"),
        "conscientiousness": ("organised", "easy-going"), "openness": ("curious", "conventional"),
        "neuroticism": ("anxious", "calm"),
    }
    return ", ".join(words[t][0 if getattr(p.traits, t) == "high" else 1] for t in BIG_FIVE)


def render_persona(p: Persona) -> Panel:
    traits = "  ".join(f"{name.capitalize()}: {getattr(p.traits, name)}" for name in BIG_FIVE) + f"  ({p.traits.code()})"
    prefs = p.preferences
    lines = [
        f"[bold]{shown(p.name)}[/], {p.age} — {shown(p.background)}", traits, "",
        "[bold]Interests:[/] " + "; ".join(map(shown, p.interests)),
        "[bold]Lifestyle:[/] " + "; ".join(map(shown, p.lifestyle)),
        "[bold]Goals:[/] " + "; ".join(map(shown, p.goals)),
        "[bold]Daily plan:[/] " + "; ".join(f"{shown(d.text)} ({d.minutes} min, {d.window})" for d in p.daily_plan), "",
        "[bold]Rubric[/]",
        *(f"  {k.capitalize()}: {shown(getattr(p.rubric, k))}"
          for k in ("preference", "timing", "frequency", "communication")),
        "", "[bold]Preferences (hidden from the assistant)[/]",
        f"  likes {', '.join(prefs.liked_topics)}; dislikes {', '.join(prefs.disliked_topics) or '—'}",
        f"  tones {', '.join(prefs.tones)}; boundaries {', '.join(prefs.boundaries) or '—'}",
        f"  welcome {', '.join(prefs.welcome)}; avoid {', '.join(prefs.avoid) or '—'}; never interrupt {', '.join(prefs.never_interrupt)}",
        f"  {prefs.per_day[0]}–{prefs.per_day[1]} a day, ≥ {prefs.min_gap_minutes} min apart, "
        f"silence ≤ {prefs.max_silence_minutes} min; novelty {prefs.novelty}",
        *(f"  when {c.days}{' ' + c.window if c.window else ''}: {shown(c.note or '')}" for c in prefs.when),
    ]
    return Panel("\n".join(lines), title=shown(p.id), expand=False)


def _validate(paths: list[Path], console: Console) -> int:
    files: list[Path] = []
    for path in paths or [persona_dir()]:
        files.extend(persona_paths(path) if path.is_dir() else [path])
    bad = 0
    for path in files:
        try:
            load_persona(path)
            console.print(f"[green]ok[/]      {shown(path)}")
        except PersonaError as error:
            bad += 1
            console.print(f"[red]invalid[/] {shown(path)}: {len(error.problems)} problem(s)")
            for problem in error.problems:
                console.print(terminal_safe(f"    {problem.field or '(file)'}: {problem.message}"),
                              markup=False, highlight=False)
    console.print(f"{len(files) - bad} valid, {bad} invalid")
    return 1 if bad else 0


def personas_command(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    if args.command in (None, "list"):
        return _list(console)
    if args.command == "show":
        persona, _ = resolve_persona(args.id)
        console.print(render_persona(persona))
        return 0
    if args.command == "validate":
        return _validate(args.paths, console)
    if args.command == "new":
        return _new(args.id, args.out)
    return 2


def _new(persona_id: str | None, out: Path | None) -> int:
    template = resources.files("engine.data").joinpath("persona_template.toml").read_text("utf-8")
    if persona_id is None:
        if out is not None:
            raise RunError("personas new: --out needs an ID (propersim personas new ID --out FILE)")
        sys.stdout.write(template)
        return 0
    try:
        check_id(persona_id)
    except ValueError as error:
        raise RunError(f"personas new: {error}") from None
    target = out / f"{persona_id}.toml" if out is not None and out.is_dir() else out or Path(f"{persona_id}.toml")
    if target.name != f"{persona_id}.toml":
        raise RunError(f"personas new: {target} must be named {persona_id}.toml: a persona's file name is its id")
    text = re.sub(r'^id = "[^"]*"', f'id = "{persona_id}"', template, count=1, flags=re.M)
    try:
        with target.open("x", encoding="utf-8") as file:  # "x": never overwrite a persona
            file.write(text)
    except FileExistsError:
        raise RunError(f"personas new: {target} already exists; not overwriting it") from None
    except OSError as error:
        raise RunError(f"personas new: cannot write {target}: {error.strerror or error}") from None
    print(f"wrote {target}: fill it in, then check it with `propersim personas validate {target}`")
    return 0
