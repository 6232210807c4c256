import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REFERENCE_PERSONA, REPO

ENV = {**os.environ, "COLUMNS": "160"}


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "propersim_tui.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=ENV, timeout=300)


def test_batch_end_to_end_for_two_days(tmp_path):
    out = tmp_path / "runs"
    result = _run("--batch", "--personas", REFERENCE_PERSONA, "--assistant", "every-step", "--days", "2",
                  "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    run_dir = out / f"{REFERENCE_PERSONA}__every-step__s3"
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [r["day"] for r in rows] == ["0", "1"]
    assert "Per-day metrics" in result.stdout and "2/2" in result.stdout
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["day-00", "day-01"]
    resumed = _run("--batch", "--resume", str(run_dir))
    assert resumed.returncode == 0 and "already complete" in resumed.stdout


def test_batch_does_not_import_textual(tmp_path):
    code = (
        "import sys\nfrom propersim_tui.cli import main\n"
        f"rc = main(['--batch', '--personas', '{REFERENCE_PERSONA}', '--assistant', 'always-abstain',"
        f" '--days', '1', '--out', r'{tmp_path}'])\n"
        "assert rc == 0\nassert 'textual' not in sys.modules, 'batch imported textual'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr


def test_engine_and_training_import_without_textual():
    code = (
        "import sys, pkgutil, importlib, engine, training\n"
        "for pkg in (engine, training):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'propersim_tui')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr


def test_clear_errors_instead_of_tracebacks(tmp_path):
    unknown = _run("--batch", "--personas", "nobody", "--assistant", "oracle", "--days", "1", "--out", str(tmp_path))
    assert unknown.returncode == 2 and "unknown persona 'nobody'" in unknown.stderr and "Traceback" not in unknown.stderr
    bad_assistant = _run("--batch", "--personas", REFERENCE_PERSONA, "--assistant", "genius", "--out", str(tmp_path))
    assert bad_assistant.returncode == 2 and "unknown assistant 'genius'" in bad_assistant.stderr
    not_a_run = _run("--batch", "--resume", str(tmp_path))
    assert not_a_run.returncode == 2 and "not a run folder" in not_a_run.stderr
    broken = tmp_path / "x.toml"
    broken.write_text("age = 'old'\n")
    bad_persona = _run("--batch", "--personas", str(broken), "--assistant", "oracle", "--out", str(tmp_path / "o"))
    assert bad_persona.returncode == 2 and "x.toml: age:" in bad_persona.stderr


def test_help_explains_every_option():
    result = _run("--help")
    for option in ("--batch", "--personas", "--assistant", "--days", "--seed", "--out", "--resume"):
        assert option in result.stdout


def _spawned_workers(pid: int) -> set[int]:
    """The pids of `pid`'s children that are multiprocessing spawn workers (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.add(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return found


def _run_watching_workers(*args: str) -> tuple[subprocess.CompletedProcess, set[int]]:
    """Run the CLI and collect the worker processes it spawned while it ran."""
    proc = subprocess.Popen([sys.executable, "-m", "propersim_tui.cli", *args], cwd=REPO, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: set[int] = set()
    output = {}
    reader = threading.Thread(target=lambda: output.update(zip(("out", "err"), proc.communicate(timeout=300))))
    reader.start()
    while reader.is_alive():
        workers |= _spawned_workers(proc.pid)
        time.sleep(0.02)
    reader.join()
    return subprocess.CompletedProcess(proc.args, proc.returncode, output["out"], output["err"]), workers


def test_batch_jobs_run_in_parallel_and_match_a_sequential_batch(tmp_path):
    personas = f"{REFERENCE_PERSONA},E-A-C-O-N-"
    for jobs, out in (("1", "seq"), ("2", "par")):
        result, workers = _run_watching_workers("--batch", "--personas", personas, "--assistant", "ars-memory",
                                                "--days", "1", "--jobs", jobs, "--out", str(tmp_path / out))
        assert result.returncode == 0, result.stderr
        assert "E-A-C-O-N-" in result.stdout and "Per-day metrics" in result.stdout
        assert len(workers) == (0 if jobs == "1" else 2), workers  # --jobs 2: two worker processes ran the runs
    for run in (tmp_path / "seq").iterdir():
        for log in ("events.jsonl", "pairs.jsonl", "metrics.csv"):
            assert (run / log).read_bytes() == (tmp_path / "par" / run.name / log).read_bytes()


def test_config_file_with_the_command_line_over_it(tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text('assistant = "random"\ndays = 5\nseed = 4\n[assistant_options]\nrate = 0.2\n'
                      '[judge]\ncriteria = ["timing", "frequency"]\n')
    out = tmp_path / "out"
    result = _run("--batch", "--personas", REFERENCE_PERSONA, "--config", str(config), "--days", "1",
                  "--out", str(out))
    assert result.returncode == 0, result.stderr
    run_dir = out / f"{REFERENCE_PERSONA}__random__s4"
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert len(rows) == 1 and "pass_timing" in rows[0] and "pass_preference" not in rows[0]
    assert "rate = 0.2" in (run_dir / "run.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text('assistant = "random"\n[judge]\nkind = "psychic"\n')
    refused = _run("--batch", "--personas", REFERENCE_PERSONA, "--config", str(bad), "--out", str(tmp_path / "x"))
    assert refused.returncode == 2 and "unknown judge 'psychic'" in refused.stderr and not (tmp_path / "x").exists()


def test_list_assistants_reads_the_registry():
    result = _run("--list-assistants")
    assert result.returncode == 0
    for name in ("properassistant", "ars-memory", "ar-memory", "no-memory", "oracle", "always-abstain", "random"):
        assert name in result.stdout
    assert "options: rate=0.03" in result.stdout and "replay=half-today" in result.stdout


# --- resume, judged by what a resumed run leaves behind (whatever the store does inside) ----------

def _batch(out: Path, days: str = "3", assistant: str = "ars-memory") -> Path:
    result = _run("--batch", "--personas", REFERENCE_PERSONA, "--assistant", assistant, "--days", days,
                  "--seed", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / f"{REFERENCE_PERSONA}__{assistant}__s5"


@pytest.fixture(scope="module")
def three_days(tmp_path_factory) -> Path:
    """A finished three-day batch run, for tests to damage copies of."""
    return _batch(tmp_path_factory.mktemp("three-days"))


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to / run.name)
    return to / run.name


def _same_run(a: Path, b: Path) -> None:
    for log in ("events.jsonl", "pairs.jsonl", "metrics.csv"):
        assert (a / log).read_bytes() == (b / log).read_bytes(), log
    assert sorted(p.name for p in (a / "checkpoints").iterdir()) == sorted(p.name for p in (b / "checkpoints").iterdir())


@pytest.mark.parametrize("damage", ["missing", "unsealed"])
def test_resume_redoes_a_day_whose_checkpoint_is_missing(tmp_path, three_days, damage):
    """The last day's metrics row is there, but not its checkpoint (or not its COMPLETE seal, which is
    written last): that day is not complete, and is simulated again."""
    full, cut = three_days, _copy(three_days, tmp_path)
    if damage == "missing":
        shutil.rmtree(cut / "checkpoints" / "day-02")
    else:
        (cut / "checkpoints" / "day-02" / "COMPLETE").unlink()
    resumed = _run("--batch", "--resume", str(cut))
    assert resumed.returncode == 0, resumed.stderr
    assert "already complete" not in resumed.stdout
    _same_run(full, cut)


def test_ctrl_c_stops_a_batch_cleanly_and_a_resume_leaves_no_stale_checkpoint(tmp_path):
    """A crash after day 3's checkpoint but before days 2 and 3 have metrics rows; the resume redoes day 2
    and is interrupted with Ctrl-C while it runs: by then the stale checkpoints of the days being redone
    must be gone, and what is left must be exactly the days with a metrics row. A third day ahead means
    the interrupt lands before the run could finish, however fast the machine simulates a day."""
    full = _batch(tmp_path / "full", days="3", assistant="properassistant")  # it trains: a day lasts long enough
    cut = _copy(full, tmp_path)
    lines = (cut / "metrics.csv").read_text().splitlines(keepends=True)
    (cut / "metrics.csv").write_text("".join(lines[:2]))  # header + day 1
    events = cut / "events.jsonl"
    day_one_size = sum(len(line) for line in events.read_bytes().splitlines(keepends=True)
                       if b'"day": 0,' in line or b'"day":0,' in line)
    # a child inherits an ignored SIGINT (some test module imported during collection ignores it): restore it
    proc = subprocess.Popen([sys.executable, "-m", "propersim_tui.cli", "--batch", "--resume", str(cut)], cwd=REPO,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    # the resume cut the log back to one day and is writing day 2 again
    while not (events.exists() and day_one_size < events.stat().st_size < (full / "events.jsonl").stat().st_size):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in stderr and "--resume" in stderr and "Traceback" not in stderr
    rows = len((cut / "metrics.csv").read_text().splitlines()) - 1
    assert rows in (1, 2)  # interrupted in day 2, or just after it
    assert sorted(p.name for p in (cut / "checkpoints").iterdir()) == [f"day-{d:02d}" for d in range(rows)]
    resumed = _run("--batch", "--resume", str(cut))
    assert resumed.returncode == 0, resumed.stderr
    _same_run(full, cut)


def test_resume_of_a_damaged_run_toml_is_a_clear_error(tmp_path, three_days):
    run = _copy(three_days, tmp_path)
    (run / "run.toml").write_text('persona = "E+A+C+O+N-"\nassistant = [unclosed\n')
    for args in (("--batch", "--resume", str(run)), ("open", str(run))):
        result = _run(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("propersim: error:") and "run.toml" in result.stderr


# --- the command line's other paths ---------------------------------------------------------------

def test_option_sets_a_typed_assistant_option_and_bad_ones_are_clear_errors(tmp_path):
    out = tmp_path / "out"
    result = _run("--batch", "--personas", REFERENCE_PERSONA, "--assistant", "random", "--option", "rate=0.25",
                  "--days", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "rate = 0.25" in (out / f"{REFERENCE_PERSONA}__random__s0" / "run.toml").read_text()
    for bad, says in (("rate", "--option expects KEY=VALUE"), ("=1", "--option expects KEY=VALUE"),
                      ("rate=abc", "rate"), ("nonsense=1", "nonsense")):
        refused = _run("--batch", "--personas", REFERENCE_PERSONA, "--assistant", "random", "--option", bad,
                       "--days", "1", "--out", str(tmp_path / "x"))
        assert refused.returncode == 2 and says in refused.stderr and "Traceback" not in refused.stderr, (bad, refused.stderr)
        assert not (tmp_path / "x").exists()


def test_export_feedback_writes_the_human_pairs(tmp_path):
    import asyncio
    import json

    from engine.compose import new_run
    from engine.config import RunConfig
    from engine.types import Rating

    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="every-step", days=1), tmp_path / "run",
                  takeover=True)

    async def human(record):  # the human dislikes every recommendation before 10:00
        if record.delivered_candidate.is_recommendation and record.observation.minute < 600:
            return {record.delivered: Rating(dict.fromkeys(sim.criteria, False), "not before ten", source="human")}
        return None

    sim.set_rater(human)
    asyncio.run(sim.run())
    expected = [json.loads(line) for line in (tmp_path / "run" / "pairs.jsonl").read_text().splitlines()]
    expected = [p for p in expected if p["source"] == "human"]
    out = tmp_path / "feedback.jsonl"
    result = _run("export-feedback", str(tmp_path / "run"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {len(expected)} human-labelled pair(s)" in result.stdout and len(expected) > 5
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(p["prompt"], p["chosen"], p["rejected"]) for p in exported] == \
        [(p["prompt"], p["chosen"], p["rejected"]) for p in expected]
    missing = _run("export-feedback", str(tmp_path / "nowhere"), "--out", str(out))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "nowhere" in missing.stderr


def test_open_replays_a_recorded_run_in_the_app(tmp_path):
    import pty

    from tests.test_serve import ANSI

    run = _batch(tmp_path / "out", days="1", assistant="oracle")  # "Day 1/1" below
    primary, secondary = pty.openpty()
    env = {**ENV, "PROPERSIM_STARTUP_PROBE": "1", "TERM": "xterm-256color", "LINES": "40"}
    proc = subprocess.Popen([sys.executable, "-m", "propersim_tui.cli", "open", str(run)], cwd=tmp_path,
                            stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    drawn = b""
    while True:  # drain the terminal so the app never blocks; it exits once its first screen is up
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    proc.wait(timeout=60)
    os.close(primary)
    text = ANSI.sub(b"", drawn).decode("utf-8", "replace")
    assert proc.returncode == 0, text[-2000:]
    assert "replay" in text and "Day 1/1" in text and "Rosa Delgado" in text, text[-2000:]
    assert not (tmp_path / "saves").exists()  # a replay records nothing
