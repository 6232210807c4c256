"""One writer per run folder, and run folders only from validated names (all through the real CLI)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PERSONAS, REFERENCE_PERSONA, REPO

ENV = {**os.environ, "COLUMNS": "160"}
CLI = [sys.executable, "-m", "propersim_tui.cli"]
PINNED = ("events.jsonl", "pairs.jsonl", "metrics.csv")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, env=ENV, timeout=300)


def _batch(out: Path, *extra: str, persona: str = REFERENCE_PERSONA, assistant: str = "random") -> list[str]:
    return ["--batch", "--personas", persona, "--assistant", assistant, "--days", "3", "--out", str(out), *extra]


def test_a_bad_option_leaves_nothing_and_the_corrected_rerun_works(tmp_path):
    out = tmp_path / "out"
    bad = _run(*_batch(out, "--option", "replay=uniform-999", assistant="properassistant"))
    assert bad.returncode == 2 and "replay" in bad.stderr and "Traceback" not in bad.stderr
    assert not out.exists()
    typed = _run(*_batch(out, "--option", "k=abc", assistant="properassistant"))
    assert typed.returncode == 2 and "k:" in typed.stderr and not out.exists()
    good = _run(*_batch(out, "--option", "replay=uniform-400", "--option", "k=5", assistant="properassistant"))
    assert good.returncode == 0, good.stderr
    run_toml = (out / f"{REFERENCE_PERSONA}__properassistant__s0" / "run.toml").read_text()
    assert "k = 5" in run_toml and 'replay = "uniform-400"' in run_toml  # typed by the options model


@pytest.mark.parametrize("args", [
    ("--personas", "../../E+A+C+O+N-"),
    ("--personas", "a/b"),
    ("--personas", "bad\x1bname"),
    ("--assistant", "../../../zz"),
    ("--assistant", "every-step\n"),
])
def test_unsafe_names_are_refused_with_nothing_created(tmp_path, args):
    out = tmp_path / "out"
    argv = dict(zip(["--personas", "--assistant"], [REFERENCE_PERSONA, "every-step"])) | {args[0]: args[1]}
    result = _run("--batch", "--personas", argv["--personas"], "--assistant", argv["--assistant"], "--days", "1",
                  "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "propersim: error:" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path.parent / "zz").exists()


def test_a_persona_given_by_path_runs_under_out_with_its_id(tmp_path):
    elsewhere = tmp_path / "some" / "dir"
    elsewhere.mkdir(parents=True)
    shutil.copy(PERSONAS / f"{REFERENCE_PERSONA}.toml", elsewhere)
    out = tmp_path / "out"
    result = _run("--batch", "--personas", str(elsewhere / f"{REFERENCE_PERSONA}.toml"), "--assistant", "every-step",
                  "--days", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / f"{REFERENCE_PERSONA}__every-step__s0" / "metrics.csv").exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == [f"{REFERENCE_PERSONA}.toml"]


def test_concurrent_writers_and_resumes_leave_exactly_one_writer(tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "raced"
    assert _run(*_batch(reference)).returncode == 0
    run_dir = out / f"{REFERENCE_PERSONA}__random__s0"
    procs = []
    for i in range(24):  # 16 batches into the same --out and 8 resumes of the same run, all at once
        argv = _batch(out) if i % 3 != 2 else ["--batch", "--resume", str(run_dir)]
        procs.append(subprocess.Popen([*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      cwd=REPO, env=ENV))
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    writers = [r for r in results if r[0] == 0 and ("Writing 1 run" in r[1] or "Resuming" in r[1])]
    assert len(writers) == 1, [r[1][-200:] + r[2][-200:] for r in results]
    for code, stdout, stderr in results:
        if (code, stdout, stderr) in writers:
            continue
        assert "Traceback" not in stderr
        assert (code == 2 and ("in use by another run" in stderr or "already holds a run" in stderr
                               or "not a run folder" in stderr)) or (code == 0 and "already complete" in stdout), \
            stdout + stderr
    for name in PINNED:
        assert (run_dir / name).read_bytes() == (reference / f"{REFERENCE_PERSONA}__random__s0" / name).read_bytes()


def test_a_resume_of_a_running_run_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    run = subprocess.Popen([*CLI, *_batch(out, assistant="properassistant")[:-2], "--days", "14", "--out", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    run_dir = out / f"{REFERENCE_PERSONA}__properassistant__s0"
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "metrics.csv").exists():  # running, past day 1
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.1)
        before = {n: (run_dir / n).stat().st_size for n in PINNED}
        refused = _run("--batch", "--resume", str(run_dir))
        assert refused.returncode == 2 and f"pid {run.pid}" in refused.stderr and "since" in refused.stderr
        assert all((run_dir / n).stat().st_size >= before[n] for n in PINNED)  # nothing truncated
    finally:
        run.kill()
        run.wait()
    resumed = _run("--batch", "--resume", str(run_dir))  # the holder died: its lock is stale, and is taken
    assert resumed.returncode == 0 and "Resuming" in resumed.stdout, resumed.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process table from /proc")
def test_jobs_workers_die_with_their_parent(tmp_path):
    out = tmp_path / "out"
    parent = subprocess.Popen([*CLI, "--batch", "--personas", f"{REFERENCE_PERSONA},E-A-C-O-N-", "--assistant",
                               "properassistant", "--days", "30", "--jobs", "2", "--out", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=ENV)
    deadline = time.monotonic() + 90
    workers: list[int] = []
    while len(workers) < 2 or not list(out.glob("*/metrics.csv")):
        assert time.monotonic() < deadline and parent.poll() is None
        workers = [p for p in _children(parent.pid) if "python" in Path(f"/proc/{p}/cmdline").read_text()]
        time.sleep(0.2)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    time.sleep(5)
    assert not [w for w in workers if _alive(w)]
    sizes = {p: p.stat().st_size for p in out.rglob("*.jsonl")}
    time.sleep(1)
    assert sizes == {p: p.stat().st_size for p in out.rglob("*.jsonl")}  # nobody writes on
