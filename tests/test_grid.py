"""Grids: `propersim --batch --personas ... --assistants ... --seeds ...`, shards, resume after SIGKILL,
and the Ray executor against the local one (the offline world: byte-identical run folders)."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.grid import Grid, parse_personas, parse_seeds, read_manifest, shard
from engine.report.collect import load_runs
from engine.report.summary import build_report
from propersim_tui.cli import main
from tests.conftest import REPO

PERSONAS = "E+A+C+O+*"  # a glob: the two personas that differ only in neuroticism
GRID = ["--batch", "--personas", PERSONAS, "--assistants", "properassistant,always-abstain", "--seeds", "1",
        "--days", "2"]
RUNS = {f"{p}__{a}__s0" for p in ("E+A+C+O+N+", "E+A+C+O+N-") for a in ("properassistant", "always-abstain")}


def run_folders(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if (p / "run.toml").exists()}


def recorded(out: Path) -> dict[str, bytes]:
    """Every run's logs and metrics, byte for byte."""
    return {f"{run}/{name}": (out / run / name).read_bytes()
            for run in sorted(run_folders(out)) for name in ("events.jsonl", "pairs.jsonl", "metrics.csv")}


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """The grid run once, uninterrupted, in the process pool: what the other executors must match."""
    out = tmp_path_factory.mktemp("whole") / "grid"
    assert main([*GRID, "--out", str(out), "--jobs", "2"]) == 0
    return out


def test_grid_arguments_expand_globs_all_and_seed_counts():
    assert parse_personas(PERSONAS) == ("E+A+C+O+N+", "E+A+C+O+N-")
    assert len(parse_personas("all")) == 32
    assert parse_seeds("3") == (0, 1, 2) and parse_seeds("5,7") == (5, 7)


def test_grid_writes_one_folder_per_run_and_a_manifest_and_skips_finished_runs(whole, capsys):
    out = whole
    assert run_folders(out) == RUNS
    manifest = read_manifest(out)
    assert set(manifest["runs"]) == RUNS and manifest["grid"]["days"] == 2
    before = recorded(out)
    capsys.readouterr()
    assert main([*GRID, "--out", str(out)]) == 0
    assert "4 already finished" in capsys.readouterr().out
    assert recorded(out) == before


def test_shards_together_are_the_grid_with_no_duplicates(tmp_path):
    cells = Grid(("a", "b", "c"), ("x", "y"), (0, 1), 2).cells()
    slices = [shard(cells, i, 3) for i in (1, 2, 3)]
    assert sorted(c for s in slices for c in s) == sorted(cells) and sum(map(len, slices)) == len(cells)
    out = tmp_path / "sharded"
    for i in (1, 2, 3):
        assert main([*GRID[:-1], "1", "--out", str(out), "--shard", f"{i}/3"]) == 0
    assert run_folders(out) == RUNS == set(read_manifest(out)["runs"])


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main([*GRID, "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "= 4 run(s)" in text and "8 simulated day(s)" in text and "no LLM calls" in text
    assert not out.exists()


def grid_with(**overrides: str) -> list[str]:
    """GRID with some of its options' values replaced (personas="Z*" sets --personas)."""
    argv = list(GRID)
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


def test_bad_grid_arguments_are_clear_errors(tmp_path, capsys):
    for overrides, message in (({"seeds": "x"}, "--seeds"), ({"shard": "4/3"}, "--shard"),
                               ({"personas": "Z*"}, "matches no persona"), ({"assistants": "genius"}, "genius")):
        assert main([*grid_with(**overrides), "--out", str(tmp_path / "bad")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_sigkill_partway_then_rerun_reports_the_same_as_an_uninterrupted_grid(whole, tmp_path):
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "propersim_tui.cli", *GRID, "--out", str(killed), "--jobs", "2"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if any(len((killed / r / "metrics.csv").read_text().splitlines()) >= 2  # a header and day 1
               for r in RUNS if (killed / r / "metrics.csv").exists()):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the grid finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    unfinished = [r for r in load_runs(killed) if len(r.days) < 2]
    assert unfinished, "the kill left every run finished"
    assert main([*GRID, "--out", str(killed)]) == 0  # resumed in this process: the executors agree too
    assert build_report(load_runs(killed)) == build_report(load_runs(whole))
    assert recorded(killed) == recorded(whole)


RAY_DRIVER = """
import sys, ray
from propersim_tui.cli import main
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=sys.argv[1])
try:
    code = main(sys.argv[2:])
finally:
    ray.shutdown()
sys.exit(code)
"""


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the [ray] extra")
def test_ray_executor_matches_the_local_executor(whole, tmp_path):
    on_ray = tmp_path / "ray"
    # A driver process of its own: Ray's core keeps process-wide state. Its session files go to a short
    # temp folder (socket paths must fit 107 bytes), never into the repository.
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_gcs_server_port_wait_time_s": "120"}
    try:
        result = subprocess.run([sys.executable, "-c", RAY_DRIVER, ray_tmp, *GRID, "--out", str(on_ray),
                                 "--executor", "ray"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=300)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert recorded(on_ray) == recorded(whole)
    assert not list(REPO.glob("ray*")) and not list(tmp_path.glob("ray*session*"))


def test_dry_run_of_an_llm_grid_estimates_calls_and_tokens_per_role(tmp_path, capsys):
    config = tmp_path / "llm.toml"
    config.write_text('[backends.default]\nkind = "fake"\n\n[judge]\nkind = "llm"\n')
    out = tmp_path / "llm-plan"
    assert main([*grid_with(personas="E+A+C+O+N+", assistants="always-abstain", days="1"), "--config", str(config),
                 "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "Estimated LLM calls and prompt tokens" in text and "judge" in text
    assert not out.exists()


def test_llm_bound_runs_go_as_asyncio_tasks_in_this_process_even_with_jobs(tmp_path):
    from engine.compose import package_versions, plan_run
    from engine.config import RunConfig
    from engine.grid_exec import run_local
    from engine.store import RunStore

    runs = {}
    for persona in ("E+A+C+O+N+", "E+A+C+O+N-"):  # a fake model judges; an hour a step keeps the day short
        plan = plan_run(RunConfig.model_validate({
            "persona": persona, "assistant": "always-abstain", "days": 1, "step_seconds": 3600,
            "judge": {"kind": "llm"}, "backends": {"default": {"kind": "fake"}}}), out=tmp_path)
        RunStore.create(plan.run_dir, plan.config, plan.persona_text, package_versions()).close()
        runs[plan.run_dir] = plan.config
    started, days = [], {}
    run_local(runs, jobs=2, on_tick=lambda: None, on_start=started.append,
              on_day=lambda run_dir, day: days.__setitem__(run_dir, day))
    assert sorted(started) == sorted(runs) and days == dict.fromkeys(runs, 1)  # callbacks come from this process
    assert all((run_dir / "calls.jsonl").exists() for run_dir in runs)
