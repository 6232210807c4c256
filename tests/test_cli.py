import csv
import os
import subprocess
import sys

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


def test_batch_jobs_run_in_parallel_and_match_a_sequential_batch(tmp_path):
    personas = f"{REFERENCE_PERSONA},E-A-C-O-N-"
    for jobs, out in (("1", "seq"), ("2", "par")):
        result = _run("--batch", "--personas", personas, "--assistant", "ars-memory", "--days", "1",
                      "--jobs", jobs, "--out", str(tmp_path / out))
        assert result.returncode == 0, result.stderr
        assert "E-A-C-O-N-" in result.stdout and "Per-day metrics" in result.stdout
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
