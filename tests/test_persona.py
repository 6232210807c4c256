import copy
from pathlib import Path

import pytest
import tomli_w

from engine.errors import PersonaError
from engine.persona import load_persona, parse_persona
from engine.persona_library import persona_paths
from tests.conftest import PERSONAS, REFERENCE_PERSONA


def test_every_shipped_persona_loads():
    paths = persona_paths(PERSONAS)
    assert len(paths) >= 4
    for path in paths:
        persona = load_persona(path)
        assert persona.id == path.stem == persona.traits.code()  # the shipped ids spell their traits


def _problems(raw: dict, tmp_path: Path) -> list[str]:
    path = tmp_path / f"{REFERENCE_PERSONA}.toml"
    path.write_text(tomli_w.dumps(raw))
    with pytest.raises(PersonaError) as info:
        load_persona(path)
    message = str(info.value)
    assert str(path) in message  # every line names the file
    return [f"{p.field}: {p.message}" for p in info.value.problems]


def test_unknown_key(persona_raw, tmp_path):
    persona_raw["preferences"]["favourite_colour"] = "blue"
    assert _problems(persona_raw, tmp_path) == ["preferences.favourite_colour: unknown key"]


def test_missing_field(persona_raw, tmp_path):
    del persona_raw["rubric"]["timing"]
    assert _problems(persona_raw, tmp_path) == ["rubric.timing: missing field"]


def test_bad_time(persona_raw, tmp_path):
    persona_raw["routine"]["weekday"]["blocks"][2]["start"] = "25:61"
    (problem,) = _problems(persona_raw, tmp_path)
    assert problem.startswith("routine.weekday.blocks[2].start: bad time '25:61'")


def test_out_of_range_value(persona_raw, tmp_path):
    persona_raw["age"] = 230
    (problem,) = _problems(persona_raw, tmp_path)
    assert problem.startswith("age:") and "100" in problem


def test_unknown_vocabulary_names_the_choices(persona_raw, tmp_path):
    persona_raw["preferences"]["tones"] = ["warm", "sarcastic"]
    (problem,) = _problems(persona_raw, tmp_path)
    assert problem.startswith("preferences.tones[1]: unknown tone 'sarcastic'") and "gentle" in problem


def test_cross_field_rules(persona_raw, tmp_path):
    persona_raw["traits"]["openness"] = "low"  # fine: an id need not spell the traits
    persona_raw["routine"]["weekday"]["blocks"][0]["object"] = "piano"
    persona_raw["preferences"]["per_day"] = [9, 3]
    problems = _problems(persona_raw, tmp_path)
    assert not any(p.startswith("id:") for p in problems) and len(problems) == 2
    assert any(p.startswith("routine.weekday.blocks[0].object:") and "bathroom" in p for p in problems)
    assert any(p.startswith("preferences.per_day:") for p in problems)


def test_several_problems_are_all_reported(persona_raw, tmp_path):
    persona_raw["bogus"] = 1
    persona_raw["age"] = "forty"
    del persona_raw["name"]
    assert len(_problems(persona_raw, tmp_path)) == 3


def test_invalid_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = 'unterminated\n")
    with pytest.raises(PersonaError, match="invalid TOML"):
        load_persona(path)


def test_parse_does_not_mutate_input(persona_raw):
    before = copy.deepcopy(persona_raw)
    parse_persona(persona_raw)
    assert persona_raw == before
