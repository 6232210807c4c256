import asyncio
import json

import pytest

from engine.compose import new_run, resume_run
from engine.config import RunConfig
from engine.store import read_jsonl
from engine.types import Observation
from tests.conftest import REFERENCE_PERSONA, run_days


def test_same_seed_gives_identical_event_logs(tmp_path):
    for name in ("a", "b"):
        run_days("random", days=2, seed=7, run_dir=tmp_path / name)
    for log in ("events.jsonl", "pairs.jsonl", "metrics.csv"):
        assert (tmp_path / "a" / log).read_bytes() == (tmp_path / "b" / log).read_bytes()
    run_days("random", days=2, seed=8, run_dir=tmp_path / "c")
    assert (tmp_path / "a" / "events.jsonl").read_bytes() != (tmp_path / "c" / "events.jsonl").read_bytes()


def test_protocol_records_candidates_ratings_and_pairs(tmp_path):
    run_days("random", days=1, run_dir=tmp_path / "r", assistant_options={"rate": 0.2})
    steps, dropped = read_jsonl(tmp_path / "r" / "events.jsonl")
    assert dropped == 0 and steps
    for step in steps:
        assert len(step["candidates"]) == 2 and step["delivered"] == 1
        for c in step["candidates"]:
            assert c["rating"]["total"] == sum(c["rating"]["criteria"].values())
    pairs, _ = read_jsonl(tmp_path / "r" / "pairs.jsonl")
    differing = [s for s in steps if s["candidates"][0]["rating"]["total"] != s["candidates"][1]["rating"]["total"]]
    assert len(pairs) == len(differing) > 0
    for pair in pairs:
        assert {"prompt", "chosen", "rejected"} <= set(pair) and pair["chosen_score"] > pair["rejected_score"]


def test_assistant_input_is_only_the_observation():
    fields = set(Observation.__dataclass_fields__)
    assert fields == {"day", "step", "minute", "weekday", "clock", "activity"}


def test_oracle_declares_it_reads_preferences():
    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="oracle", days=1), None)
    assert sim.assistant.reads_hidden_preferences


def test_resume_after_crash_matches_uninterrupted_run(tmp_path):
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    run_days("random", days=3, run_dir=full)
    run_days("random", days=3, run_dir=crashed)
    # a crash during day 3 (index 2): its checkpoint and metrics row never landed, the log is torn
    import shutil
    shutil.rmtree(crashed / "checkpoints" / "day-02")
    lines = (crashed / "metrics.csv").read_text().splitlines(keepends=True)
    (crashed / "metrics.csv").write_text("".join(lines[:-1]))
    with open(crashed / "events.jsonl", "a") as f:
        f.write('{"type": "step", "day": 2, "cand')
    sim = resume_run(crashed)
    assert sim.day == 2
    asyncio.run(sim.run())
    for log in ("events.jsonl", "pairs.jsonl", "metrics.csv"):
        assert (full / log).read_bytes() == (crashed / log).read_bytes(), log


def test_torn_last_line_is_dropped_but_corruption_elsewhere_is_an_error(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"a": 1}) + "\n" + '{"b": ')
    assert read_jsonl(path) == ([{"a": 1}], 1)
    path.write_text('{"b": \n' + json.dumps({"a": 1}) + "\n")
    from engine.errors import RunError
    with pytest.raises(RunError, match="line 1 is corrupt"):
        read_jsonl(path)


def test_run_toml_holds_the_resolved_config(tmp_path):
    import tomllib
    run_days("every-step", days=1, run_dir=tmp_path / "r")
    raw = tomllib.loads((tmp_path / "r" / "run.toml").read_text())
    assert raw["persona"] == REFERENCE_PERSONA and raw["assistant"] == "every-step"
    assert raw["step_seconds"] == 150 and raw["n_candidates"] == 2 and "numpy" in raw["versions"]
    assert (tmp_path / "r" / "persona.toml").exists()


def _crash_during_day_3(run_dir) -> None:
    import shutil
    shutil.rmtree(run_dir / "checkpoints" / "day-02")
    lines = (run_dir / "metrics.csv").read_text().splitlines(keepends=True)
    (run_dir / "metrics.csv").write_text("".join(lines[:-1] + [lines[-2]]))  # day 2's row written twice


def test_resume_repairs_a_duplicated_metrics_row(tmp_path):
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    run_days("random", days=3, run_dir=full)
    run_days("random", days=3, run_dir=crashed)
    _crash_during_day_3(crashed)
    sim = resume_run(crashed)
    assert sim.day == 2
    asyncio.run(sim.run())
    for log in ("events.jsonl", "pairs.jsonl", "metrics.csv"):
        assert (full / log).read_bytes() == (crashed / log).read_bytes(), log


def test_resume_refuses_two_different_rows_for_one_day(tmp_path):
    from engine.errors import RunError

    run_days("random", days=3, run_dir=tmp_path / "r")
    _crash_during_day_3(tmp_path / "r")
    path = tmp_path / "r" / "metrics.csv"
    lines = path.read_text().splitlines(keepends=True)
    changed = lines[-1].split(",")
    changed[2] = "3.999"  # mean_score
    path.write_text("".join(lines[:-1] + [",".join(changed)]))
    before = path.read_bytes()
    with pytest.raises(RunError, match="two different rows for day 2"):
        resume_run(tmp_path / "r")
    assert path.read_bytes() == before
