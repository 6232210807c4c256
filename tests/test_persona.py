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


# --- text a terminal or a model would misread ------------------------------------------------

@pytest.mark.parametrize("field, value, expected", [
    (("name",), "Al\x00ice", "name: contains a control character (U+0000)"),
    (("name",), "\x1b[31mAda\x1b[0m", "name: contains a control character (U+001B)"),
    (("background",), "Retired. \x1b]0;owned\x07", "background: contains a control character (U+001B)"),
    (("interests", 0), "tea\x9b31m", "interests[0]: contains a control character (U+009B)"),  # C1 CSI
    (("name",), "Ada\u202eecalevol", "name: contains a bidirectional control character (U+202E)"),
    (("name",), "   ", "name: is blank"),
    (("name",), "\u200b", "name: is blank"),
    (("goals", 0), "\u3164\u200d \u00a0", "goals[0]: is blank"),
    (("routine", "weekday", "blocks", 1, "activity"), "\u2800", "routine.weekday.blocks[1].activity: is blank"),
    (("rubric", "timing"), "\n\n", "rubric.timing: is blank"),
    (("name",), "Ada\nLovelace", "name: contains a control character (U+000A)"),  # one-line fields
])
def test_control_escape_and_blank_text_is_refused(persona_raw, tmp_path, field, value, expected):
    parent = persona_raw
    for key in field[:-1]:
        parent = parent[key]
    parent[field[-1]] = value
    (problem,) = _problems(persona_raw, tmp_path)
    assert problem.startswith(expected), problem


def test_prose_may_span_lines(persona_raw, tmp_path):
    persona_raw["background"] = "Retired teacher.\n\tLoves the garden."
    path = tmp_path / f"{REFERENCE_PERSONA}.toml"
    path.write_text(tomli_w.dumps(persona_raw))
    assert load_persona(path).background.endswith("garden.")


@pytest.mark.parametrize("where, field", [
    (("routine", "weekday", "wake"), "routine.weekday.wake"),
    (("routine", "weekday", "blocks", 0, "start"), "routine.weekday.blocks[0].start"),
    (("preferences", "welcome", 0), "preferences.welcome[0]"),
])
def test_times_and_windows_with_a_trailing_newline_are_refused(persona_raw, tmp_path, where, field):
    parent = persona_raw
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] += "\n"
    (problem,) = _problems(persona_raw, tmp_path)
    assert problem.startswith(f"{field}: bad time"), problem


def test_every_text_field_has_a_length_cap(persona_raw, tmp_path):
    persona_raw["preferences"]["when"] = [{"days": "weekend", "note": "x" * 1_000_000, "min_gap_minutes": 30}]
    persona_raw["routine"]["weekday"]["blocks"][0]["room"] = "r" * 100_000
    problems = _problems(persona_raw, tmp_path)
    assert sorted(p.split(":")[0] for p in problems) == ["preferences.when[0].note", "routine.weekday.blocks[0].room"]
    assert all("at most" in p and len(p) < 200 for p in problems)  # the message does not echo the megabyte


def test_terminal_safe_shows_escapes_instead_of_sending_them():
    from engine.safe_text import terminal_safe

    assert terminal_safe("a\x1b[2Jb\x00c\u202ed\x07") == "a\\x1b[2Jb\\x00c\\u202ed\\x07"
    assert terminal_safe("two\nlines") == "two\nlines" and terminal_safe("two\nlines", newlines=False) == "two\\nlines"
    assert terminal_safe("café ☕ [bold]") == "café ☕ [bold]"
