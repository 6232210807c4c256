"""Fuzzed persona files (500 cases per target): each either loads, and then holds only clean text, or fails
with a PersonaError whose every line names the file and the field. No traceback, no hang."""

import re
import tomllib
import unicodedata

import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import PersonaError
from engine.persona import Persona, load_persona, parse_persona
from tests.conftest import PERSONAS, REFERENCE_PERSONA
from tests.fuzz_support import (
    FUZZ,
    HOSTILE_TEXT,
    MUTATIONS,
    WEIRD_VALUE,
    apply_mutations,
    assert_names_the_file,
    damaged_bytes,
    mutate,
    mutations_of,
)

BASE_TEXT = (PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text("utf-8")
BASE = tomllib.loads(BASE_TEXT)
PATHS = list(mutations_of(BASE))
TIME = re.compile(r"([01]\d|2[0-4]):[0-5]\d")


def _value_at(raw, path):
    for key in path:
        raw = raw[key]
    return raw


STRING_PATHS = [p for p in PATHS if isinstance(_value_at(BASE, p), str)]
TIME_KEYS = {"wake", "bed", "start"}


def _strings(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _strings(value, (*path, i))
    elif isinstance(node, str):
        yield path, node


def assert_clean(persona: Persona) -> None:
    """What the validator promises of a persona it accepts, checked without the validator's code."""
    for path, text in _strings(persona.model_dump()):
        assert len(text) <= 2000, path
        assert not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text), (path, text)
        assert "\x1b" not in text and "\u202e" not in text, path
        assert text.strip() and text.strip("\u200b\u200c\u200d\ufeff\u3164\u2800 \t\n"), (path, text)
        if path[-1] in TIME_KEYS:
            assert TIME.fullmatch(text), (path, text)


def check(raw, path=f"{REFERENCE_PERSONA}.toml") -> None:
    try:
        persona = parse_persona(raw, path)
    except PersonaError as error:
        assert error.problems and all(p.message for p in error.problems)
        assert_names_the_file(str(error), path)
    else:
        assert_clean(persona)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(MUTATIONS), WEIRD_VALUE), min_size=1, max_size=3))
def test_structurally_mutated_personas_load_clean_or_fail_clearly(mutations):
    check(apply_mutations(BASE, mutations))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(STRING_PATHS), HOSTILE_TEXT, st.sampled_from(["replace", "append"])),
                min_size=1, max_size=3))
def test_hostile_text_in_any_field_never_loads_unclean(edits):
    raw = BASE
    for path, text, how in edits:
        raw = mutate(raw, path, "replace", text if how == "replace" else _value_at(raw, path) + text)
    check(raw)


@FUZZ
@given(st.data())
def test_damaged_persona_files_load_or_fail_clearly(tmp_path_factory, data):
    """Byte-level damage to the file itself: cut short, bytes overwritten, deep nesting spliced in."""
    blob = damaged_bytes(data, BASE_TEXT.encode("utf-8"), lambda depth: f"\ndeep = {'[' * depth}1{']' * depth}\n",
                         [b"\x00", b"\xff\xfe", b"\x1b[2J", b"\n[[x]]\n", b'"', b"\n\n= 1\n"])
    path = tmp_path_factory.mktemp("persona") / f"{REFERENCE_PERSONA}.toml"
    path.write_bytes(blob)
    try:
        persona = load_persona(path)
    except PersonaError as error:
        assert_names_the_file(str(error), path)
    else:
        assert_clean(persona)


def test_a_persona_written_back_as_toml_loads_the_same():
    """The round trip the fuzzers rely on: the base persona survives tomli_w unchanged."""
    assert parse_persona(tomllib.loads(tomli_w.dumps(BASE))) == parse_persona(BASE)
