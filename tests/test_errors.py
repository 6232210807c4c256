"""Every way a user can get an input or the disk wrong ends in `propersim: error: <file or argument>: <what>`
and exit 2, never a traceback: in the CLI (run in-process, output captured) and in the app's Open dialog."""

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.compose import new_run
from engine.config import RunConfig
from propersim_tui.cli import main
from tests.conftest import PERSONAS, REFERENCE_PERSONA

BATCH = ["--batch", "--personas", REFERENCE_PERSONA, "--assistant", "oracle", "--days", "1"]
DEEP_TOML = "a = " + "[" * 3000 + "]" * 3000 + "\n"


def cli(capsys, *args) -> tuple[int, str]:
    """main() in-process: its exit code and stderr, asserted free of tracebacks."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def assert_clean_error(code: int, err: str, *names: str) -> None:
    assert code == 2, err
    assert err.startswith("propersim: error: "), err
    for name in names:
        assert name in err, (name, err)


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    """A finished one-day run folder, to be copied and damaged by each test."""
    import asyncio

    run_dir = tmp_path_factory.mktemp("recorded") / "run"
    asyncio.run(new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="every-step", days=1), run_dir).run())
    return run_dir


def damaged_copy(recorded_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "damaged"
    shutil.copytree(recorded_run, target)
    return target


# --- arguments ------------------------------------------------------------------------------

def test_negative_seed_names_the_seed(capsys, tmp_path):
    assert_clean_error(*cli(capsys, *BATCH, "--seed", "-1", "--out", tmp_path / "o"), "seed", "greater than or equal to 0")
    assert not (tmp_path / "o").exists()


def test_personas_that_name_nothing(capsys, tmp_path):
    assert_clean_error(*cli(capsys, "--batch", "--personas", ",", "--assistant", "oracle", "--out", tmp_path / "o"),
                       "--personas", "names no persona")


def test_out_naming_a_file(capsys, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    assert_clean_error(*cli(capsys, *BATCH, "--out", tmp_path / "a-file"), f"--out {tmp_path / 'a-file'}",
                       "is a file, not a folder")


@pytest.mark.parametrize("value, what", [("abc", "valid integer"), ("0", "greater than or equal to 1"),
                                         ("-1", "greater than or equal to 1"), ("1.5", "valid integer")])
def test_bad_assistant_option_values(capsys, tmp_path, value, what):
    code, err = cli(capsys, "--batch", "--personas", REFERENCE_PERSONA, "--assistant", "properassistant",
                    "--option", f"k={value}", "--out", tmp_path / "o")
    assert_clean_error(code, err, "--option for properassistant: k:", what)
    assert not (tmp_path / "o").exists()


def test_minilm_embedder_without_its_extra(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if the [embed] extra were not installed
    code, err = cli(capsys, "--batch", "--personas", REFERENCE_PERSONA, "--assistant", "properassistant",
                    "--option", "embedder=minilm", "--out", tmp_path / "o")
    assert_clean_error(code, err, "embedder:", "[embed] extra")


# --- files that people write ----------------------------------------------------------------

def test_deeply_nested_persona_file(capsys, tmp_path):
    path = tmp_path / f"{REFERENCE_PERSONA}.toml"
    path.write_text(DEEP_TOML)
    assert_clean_error(*cli(capsys, *BATCH, "--personas", path, "--out", tmp_path / "o"), str(path), "nested too deeply")
    code, out = main(["personas", "validate", str(path)]), capsys.readouterr().out
    assert code == 1 and "nested too deeply" in out


def test_deeply_nested_run_config(capsys, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(DEEP_TOML)
    assert_clean_error(*cli(capsys, *BATCH, "--config", path, "--out", tmp_path / "o"), str(path), "nested too deeply")


def test_run_config_that_is_not_utf8(capsys, tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'persona = "\xff\xfe"\n')
    assert_clean_error(*cli(capsys, *BATCH, "--config", path, "--out", tmp_path / "o"), str(path), "not UTF-8")


def test_invalid_run_toml_on_resume_open_and_rejudge(capsys, tmp_path, recorded_run):
    run_dir = damaged_copy(recorded_run, tmp_path)
    with open(run_dir / "run.toml", "a") as f:
        f.write("broken = [\n")
    for args in (["--batch", "--resume", run_dir], ["open", run_dir], ["judge-agreement", run_dir, "--judge", "rubric"]):
        assert_clean_error(*cli(capsys, *args), str(run_dir / "run.toml"), "invalid TOML")


def test_logs_that_are_not_utf8(capsys, tmp_path, recorded_run):
    run_dir = damaged_copy(recorded_run, tmp_path)
    with open(run_dir / "events.jsonl", "ab") as f:
        f.write(b'{"type": "step", "activity": "\xff\xfe"}\n')  # a complete line: damage, not a torn write
    with open(run_dir / "pairs.jsonl", "ab") as f:
        f.write(b"\xc3\x28\n")
    assert_clean_error(*cli(capsys, "judge-agreement", run_dir, "--judge", "rubric"), str(run_dir / "events.jsonl"),
                       "corrupt")
    assert_clean_error(*cli(capsys, "export-feedback", run_dir, "--out", tmp_path / "pairs.jsonl"),
                       str(run_dir / "pairs.jsonl"), "corrupt")


def test_a_torn_last_line_cut_inside_a_character_is_dropped(tmp_path, recorded_run):
    from engine.store import read_jsonl

    run_dir = damaged_copy(recorded_run, tmp_path)
    records, _ = read_jsonl(run_dir / "events.jsonl")
    with open(run_dir / "events.jsonl", "ab") as f:
        f.write('{"type": "step", "activity": "caf\u00e9'.encode()[:-1])  # a crash mid-write, mid-character
    assert read_jsonl(run_dir / "events.jsonl") == (records, 1)


# --- the disk -------------------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    """A small tmpfs mounted at `path` (root only; skips where mounting is not allowed)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)  # lazy: a failed run may still hold a file


@contextlib.contextmanager
def read_only_folder(path: Path):
    """A folder no write can enter: chmod for a normal user; for root (whom chmod does not stop),
    a read-only tmpfs."""
    if os.geteuid() != 0:
        path.mkdir()
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
    else:
        with tmpfs(path, "ro,size=64k") as mounted:
            yield mounted


def test_read_only_folder(capsys, tmp_path, recorded_run):
    with read_only_folder(tmp_path / "ro") as folder:
        assert_clean_error(*cli(capsys, *BATCH, "--out", folder / "runs"), str(folder / "runs"))
        assert_clean_error(*cli(capsys, "export-feedback", recorded_run, "--out", folder / "pairs.jsonl"), str(folder))
        assert_clean_error(*cli(capsys, "personas", "new", "night-owl", "--out", folder), str(folder))


def test_full_disk_names_the_run_folder(capsys, tmp_path):
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "full", "size=96k") as disk:
            code, err = cli(capsys, *BATCH, "--assistant", "every-step", "--out", disk / "runs")
            assert_clean_error(code, err, str(disk / "runs"), "No space left on device")
        return
    # without root: a file-size limit makes the same writes fail (EFBIG instead of ENOSPC)
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
              "from propersim_tui.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, *BATCH, "--assistant", "every-step", "--out",
                           str(tmp_path / "runs")], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    assert_clean_error(done.returncode, done.stderr, str(tmp_path / "runs"), "cannot write")


# --- what reaches the terminal --------------------------------------------------------------

def test_hostile_keys_in_a_persona_file_never_reach_the_terminal_raw(capsys, tmp_path):
    path = tmp_path / f"{REFERENCE_PERSONA}.toml"
    path.write_text((PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text() + '\n"\\u001b]0;pwned\\u0007" = 1\n')
    assert main(["personas", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "\x1b]0;pwned" not in out and "\\x1b]0;pwned\\x07" in out and "unknown key" in out
    assert_clean_error(*cli(capsys, *BATCH, "--personas", path, "--out", tmp_path / "o"), "\\x1b]0;pwned")


def test_personas_show_prints_markup_and_escapes_literally(capsys, tmp_path):
    text = (PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text()
    name = next(line for line in text.splitlines() if line.startswith("name = "))
    path = tmp_path / f"{REFERENCE_PERSONA}.toml"
    path.write_text(text.replace(name, 'name = "Ada [bold]Lovelace[/]"', 1))
    assert main(["personas", "show", str(path)]) == 0
    assert "Ada [bold]Lovelace[/]" in capsys.readouterr().out


# --- the app --------------------------------------------------------------------------------

async def test_open_dialog_refuses_an_invalid_run_toml_and_the_app_keeps_running(tmp_path, recorded_run):
    from propersim_tui.app import ProPerSimApp
    from propersim_tui.dialogs import OpenRunDialog

    saves = tmp_path / "saves"
    broken = saves / "broken-run"
    shutil.copytree(recorded_run, broken)
    (broken / "run.toml").write_text("persona = [\n")
    app = ProPerSimApp(RunConfig(persona=REFERENCE_PERSONA, assistant="oracle", days=1), saves=saves, autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("o")
        await pilot.pause(0.1)
        assert isinstance(app.screen, OpenRunDialog)
        await pilot.press("enter")  # the listed run (the first: the app's own unsaved live run sorts after it)
        await pilot.pause(0.1)
        await pilot.click("#open-path")
        app.screen.query_one("#open-path").value = str(broken)  # and typed (a path with '_' is no key name)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.is_running and isinstance(app.screen, OpenRunDialog)
        messages = [n.message for n in app._notifications]
        assert len(messages) == 2 and all(str(broken / "run.toml") in m and "invalid TOML" in m for m in messages)
        await pilot.press("escape")
        assert app.mode != "replay" and app.is_running


def test_personas_list_escapes_hostile_file_names_and_markup(capsys, tmp_path, monkeypatch):
    text = (PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text()
    (tmp_path / "\x1b]0;pwned\x07.toml").write_text("id = 1\n")  # invalid: listed by its file name
    name = next(line for line in text.splitlines() if line.startswith("name = "))
    (tmp_path / f"{REFERENCE_PERSONA}.toml").write_text(text.replace(name, 'name = "Ada [red]x[/red]"', 1))
    monkeypatch.setenv("PROPERSIM_PERSONAS", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["personas", "list"]) == 1  # one invalid file
    out = capsys.readouterr().out
    assert "\x1b]0;pwned" not in out and "\\x1b]0;pwned" in out
    assert "Ada [red]x[/red]" in out
