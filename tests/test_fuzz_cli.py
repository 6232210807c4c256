"""Fuzzed command lines (500 cases), run through main() in-process with the output captured: each ends with
exit 0 (it ran), or 1 from `personas validate` finding a bad file, or exit 2 with `propersim: error: ...`
naming the argument. Nothing escapes main() (no traceback), nothing hangs (runs are made tiny by a config
file of one-hour steps, and no case can open the app)."""

import contextlib
import io
import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from propersim_tui.cli import main
from tests.conftest import REFERENCE_PERSONA
from tests.fuzz_support import FUZZ, HOSTILE_TEXT, no_raw_control

VALUES = {
    "--personas": [REFERENCE_PERSONA, ",", "", "E-A-C-O-N-", f"{REFERENCE_PERSONA},{REFERENCE_PERSONA}", "nope",
                   "../../etc", "x.toml", "/dev/null.toml", "\x1b[2J"],
    "--assistant": ["oracle", "every-step", "always-abstain", "nope", "../x", "", "llm-ars-memory", "\x00"],
    "--days": ["1", "0", "-1", "abc", "1.5", "366", ""],
    "--seed": ["0", "-1", "3", "x", str(2**64), "1e3"],
    "--option": ["rate=0.5", "k=abc", "k=0", "k=-1", "k=1.5", "=", "k", ".x=1", "a.=1", "embedder=minilm",
                 "embedder=nope", "rate=nan", "rate=1e999", "every_minutes=0"],
    "--jobs": ["1", "0", "-1", "x"],
    "--human-weight": ["1", "-1", "nan", "inf", "x", "100.5"],
    "--llm-roles": ["user", "nope", ",", "judge,critic"],
    "--backend": ["nope", "dry"],
    "--api-key-env": ["MY KEY", "sk-abc", "OK_NAME"],
}
SUBCOMMANDS = [
    ["personas"], ["personas", "list"], ["personas", "show", REFERENCE_PERSONA], ["personas", "show", "nope"],
    ["personas", "show", "\x1b]0;x\x07"], ["personas", "validate", "/nonexistent.toml"], ["personas", "bogus"],
    ["personas", "new", "../evil"], ["personas", "new", "a b"], ["personas", "new"],
    ["open", "/nonexistent-run"], ["open"], ["export-feedback", "/nonexistent-run", "--out", "x.jsonl"],
    ["export-feedback"], ["judge-agreement", "/nonexistent-run", "--judge", "rubric"],
    ["judge-agreement", "/nonexistent-run", "--judge", "nope"], ["serve", "--port", "x"], ["--list-assistants", "--bogus"],
    ["report", "/nonexistent-run"], ["report"],
]
ERROR_LINE = re.compile(r"^propersim( [a-z-]+)*: error: .+", re.M)


def run_main(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code
    return code, err.getvalue()


def assert_works_or_fails_clearly(argv: list[str], code: int, err: str, allow_invalid_persona: bool = False) -> None:
    assert "Traceback" not in err, (argv, err)
    assert no_raw_control(err), (argv, repr(err[:300]))
    if code == 0:
        return
    if code == 1 and allow_invalid_persona:
        return
    assert code == 2, (argv, code, err)
    assert ERROR_LINE.search(err), (argv, err)


@st.composite
def batch_argv(draw, config: str, out: str) -> list[str]:
    flags = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=5))
    argv = ["--batch", "--config", config, "--out", out]
    for flag in flags:
        argv += [flag, draw(st.one_of(st.sampled_from(VALUES[flag]), HOSTILE_TEXT.filter(lambda t: len(t) < 200)))]
    if draw(st.booleans()):
        argv += ["--personas", REFERENCE_PERSONA, "--assistant", draw(st.sampled_from(VALUES["--assistant"]))]
    return argv


@FUZZ
@given(st.data())
def test_fuzzed_batch_command_lines(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("cli")
    config = folder / "fast.toml"
    config.write_text("step_seconds = 3600\ndays = 1\n")  # a run of at most a few dozen steps
    argv = data.draw(batch_argv(str(config), str(folder / "runs")))
    code, err = run_main(argv)
    assert_works_or_fails_clearly(argv, code, err)


@FUZZ
@given(st.sampled_from(SUBCOMMANDS), st.lists(st.one_of(st.sampled_from(["--out", "-h", "--", "--judge", "x"]),
                                                         HOSTILE_TEXT.filter(lambda t: len(t) < 100)), max_size=2))
def test_fuzzed_subcommands(tmp_path_factory, command, extra):
    argv = [*command, *extra]
    if argv[:2] == ["personas", "new"] or argv[:1] == ["export-feedback"]:
        argv = [*argv, "--out", str(tmp_path_factory.mktemp("out") / "target")]  # never into the repository
    if "-h" in argv or argv[:1] == ["serve"] and "--port" not in argv:
        return  # help prints and exits 0; serve with good arguments would start a server
    code, err = run_main(argv)
    assert_works_or_fails_clearly(argv, code, err, allow_invalid_persona=argv[:2] == ["personas", "validate"])


def test_a_few_command_lines_in_a_real_process(tmp_path):
    """The same promise with the real interpreter, stderr and exit codes (no in-process shortcuts)."""
    cases = [["--batch", "--personas", ",", "--assistant", "oracle"],
             ["--batch", "--personas", REFERENCE_PERSONA, "--assistant", "oracle", "--seed", "-1"],
             ["--batch", "--personas", REFERENCE_PERSONA, "--assistant", "oracle", "--option", "k"],
             ["personas", "show", "\x1b]0;x\x07"]]
    for argv in cases:
        done = subprocess.run([sys.executable, "-m", "propersim_tui.cli", *argv], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        assert_works_or_fails_clearly(argv, done.returncode, done.stderr)
        assert done.returncode == 2
