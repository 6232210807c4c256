"""The `propersim` entry point. Textual is imported only when the app is opened."""

import argparse
import sys
from pathlib import Path

from engine.errors import ConfigError, RunError

DEFAULT_PERSONA = "E+A+C+O+N-"

EPILOG = """\
commands:
  propersim                       open the live app on the offline world
  propersim --batch ...           run headless (see the batch options above)
  propersim personas [list|show ID|validate [PATH...]|new]
                                  list, show, validate or start persona files
  propersim open RUN_DIR          replay a recorded run (live or --batch) in the app
  propersim export-feedback RUN_DIR --out FILE.jsonl
                                  export the human-labelled preference pairs
  propersim serve [--port 8000] [-- APP OPTIONS]
                                  open the same app in a browser (needs the [web] extra)

examples:
  propersim --persona E-A+C+O-N+ --assistant oracle
  propersim --batch --personas E+A+C+O+N-,E-A-C-O-N- --assistant every-step --days 2 --out saves/try
  propersim --batch --resume saves/try/E+A+C+O+N-__every-step__s0
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="propersim",
        description="ProPerSim: simulate a user's day at home and an assistant that learns "
                    "when and what to recommend. With no options, opens the live app.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--batch", action="store_true", help="run headless (no app), with a progress bar")
    parser.add_argument("--personas", metavar="ID[,ID...]", help="batch: persona ids or .toml paths, comma-separated")
    parser.add_argument("--persona", metavar="ID", default=None,
                        help=f"app: the persona to simulate (default {DEFAULT_PERSONA})")
    parser.add_argument("--assistant", metavar="NAME", default=None,
                        help="assistant variant (see `propersim --list-assistants`); default properassistant in the app, required with --batch")
    parser.add_argument("--option", metavar="KEY=VALUE", action="append", default=[],
                        help="assistant option, repeatable, typed and checked by the assistant "
                             "(e.g. --option rate=0.05; `--list-assistants` shows each one's options)")
    parser.add_argument("--config", type=Path, metavar="FILE.toml",
                        help="a run config (the keys of run.toml); the command line overrides it")
    parser.add_argument("--days", type=int, default=None, help="simulated days (default 14)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed; the same seed gives identical runs (default 0)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="batch: folder for the runs (default saves/<timestamp>)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="batch: run up to N personas at once, in separate processes (default 1)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="batch: continue a recorded run from its last complete day")
    parser.add_argument("--human-weight", type=float, default=None, metavar="W",
                        help="app: training weight of the pairs a human's ratings form (default 1.0)")
    parser.add_argument("--rate-both", action="store_true",
                        help="app: in human takeover, also rate the candidate that was not delivered")
    parser.add_argument("--list-assistants", action="store_true", help="list the assistant variants and exit")
    return parser


def _options(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE strings; their types come from the assistant's options model, not from guessing."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RunError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key] = value
    return options


def list_assistants() -> None:
    from engine.assistants import ASSISTANTS
    from engine.registry import missing_extra

    for entry in ASSISTANTS:
        options = entry.describe_options()
        hint = missing_extra(entry.extra)
        print(f"{entry.name:16} {entry.summary}" + (f"\n{'':16} options: {options}" if options else "")
              + (f"\n{'':16} {hint}" if hint else ""))


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "personas":
        from propersim_tui.persona_cli import personas_command
        return personas_command(argv[1:])
    if argv and argv[0] == "open":
        return _open_command(argv[1:])
    if argv and argv[0] == "export-feedback":
        return _export_command(argv[1:])
    if argv and argv[0] == "serve":
        return _serve_command(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_assistants:
        list_assistants()
        return 0
    options = _options(args.option)
    if args.batch:
        from rich.console import Console

        from propersim_tui.batch import resume_batch, run_batch
        console = Console(stderr=False)
        if args.resume:
            return resume_batch(args.resume, console)
        if not args.personas or not (args.assistant or args.config):
            parser.error("--batch needs --personas and --assistant (or --resume RUN_DIR)")
        import datetime as dt
        out = args.out or Path("saves") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        personas = [p.strip() for p in args.personas.split(",") if p.strip()]
        if args.jobs < 1:
            parser.error("--jobs must be at least 1")
        configs = [run_config(args, options, persona) for persona in personas]
        return run_batch(configs, out, console, jobs=args.jobs)
    from propersim_tui.app import launch
    persona = args.persona or (None if args.config else DEFAULT_PERSONA)
    return launch(run_config(args, options, persona, default_assistant="properassistant"), rate_both=args.rate_both)


def run_config(args, options: dict, persona: str, default_assistant: str | None = None):
    """The run config from --config FILE and the command line over it."""
    from engine.compose import build_config

    return build_config({
        "persona": persona, "assistant": args.assistant or (None if args.config else default_assistant),
        "days": args.days, "seed": args.seed, "assistant_options": options or None,
        "human_weight": args.human_weight,
    }, args.config)


def _open_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="propersim open", description="Replay a recorded run in the app.")
    parser.add_argument("run_dir", type=Path, help="a run folder (it holds run.toml)")
    args = parser.parse_args(argv)
    from propersim_tui.app import launch
    return launch(None, replay=args.run_dir)


def _export_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="propersim export-feedback",
        description="Export the human-labelled preference pairs of a run as prompt/chosen/rejected JSONL.")
    parser.add_argument("run_dir", type=Path, help="a run folder (it holds pairs.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    args = parser.parse_args(argv)
    from training.feedback import export_human_pairs
    count = export_human_pairs(args.run_dir, args.out)
    print(f"wrote {count} human-labelled pair(s) to {args.out}")
    return 0


def _serve_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="propersim serve",
                                     description="Serve the app to a browser (textual-serve, the [web] extra). "
                                                 "Options after -- go to the app, e.g. -- --persona E-A+C+O-N+")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("app_args", nargs="*", help="options for the app")
    args = parser.parse_args(argv)
    try:
        from textual_serve.server import Server
    except ImportError:
        raise RunError("serving needs the [web] extra: pip install -e '.[web]'") from None
    import shlex
    command = shlex.join([sys.executable, "-m", "propersim_tui.cli", *args.app_args])
    print(f"Serving ProPerSim on http://{args.host}:{args.port} (Ctrl+C stops)")
    Server(command, host=args.host, port=args.port, title="ProPerSim").serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except (ConfigError, RunError) as error:
        print(f"propersim: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("propersim: interrupted; a recorded run can be continued with --batch --resume RUN_DIR",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
