import asyncio
import gc
import json
import types

import pytest

from engine.config import RunConfig
from engine.assistants import ASSISTANTS
from engine.judges.rubric import DayHistory, PreferenceView, RubricJudge
from engine.persona import Persona, Preferences, Rubric
from engine.store import read_jsonl
from engine.types import Observation
from tests.conftest import REFERENCE_PERSONA, run_days
from engine.compose import new_run, resume_run

HIDDEN = (Persona, Preferences, Rubric, RubricJudge, PreferenceView, DayHistory)


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


def _reachable(root: object) -> list[object]:
    """Everything an object can reach, without walking into modules, classes or functions' globals."""
    seen, stack, found = {id(root)}, [root], []
    while stack:
        obj = stack.pop()
        found.append(obj)
        for ref in gc.get_referents(obj):
            if isinstance(ref, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)):
                continue
            if isinstance(ref, dict) and "__builtins__" in ref:
                continue
            if id(ref) not in seen:
                seen.add(id(ref))
                stack.append(ref)
    return found


@pytest.mark.parametrize("name", [n for n in ASSISTANTS.names() if n != "oracle"])
def test_assistants_cannot_reach_the_persona(name):
    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant=name, days=1), None)
    asyncio.run(sim.step())  # let it build any lazy state
    leaks = [type(o).__name__ for o in _reachable(sim.assistant) if isinstance(o, HIDDEN)]
    assert not leaks, f"{name} can reach hidden persona data: {leaks}"
    assert not sim.assistant.reads_hidden_preferences


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
