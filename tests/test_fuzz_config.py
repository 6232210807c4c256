"""Fuzzed run configs (run.toml / --config; 500 cases per target), checked the way the CLI checks them
(build_config, then plan_run: nothing written): each either plans, or fails with a ConfigError whose every
line names the file and the field, or a RunError that names the setting. No traceback, no hang."""

import tomllib

import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from engine.compose import build_config, plan_run
from engine.errors import ConfigError, RunError
from tests.conftest import REFERENCE_PERSONA
from tests.fuzz_support import (
    FUZZ,
    MUTATIONS,
    WEIRD_VALUE,
    apply_mutations,
    assert_names_the_file,
    damaged_bytes,
    mutations_of,
    no_raw_control,
)

BASE = {
    "persona": REFERENCE_PERSONA, "assistant": "properassistant", "days": 3, "seed": 7,
    "start_date": tomllib.loads("d = 2026-03-02")["d"], "step_seconds": 150, "n_candidates": 2, "deliver": 1,
    "human_weight": 1.0, "assistant_options": {"k": 3, "embedder": "hashing", "beta": 0.1},
    "judge": {"kind": "rubric", "noise": 0.1, "criteria": ["preference", "timing", "frequency", "communication"],
              "options": {}},
    "user": {"kind": "routine", "options": {}},
    "backends": {"judge": {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                           "api_key_env": "MY_KEY", "timeout_s": 5.0}},
}
PATHS = list(mutations_of(BASE))
# what the setting is called in a RunError: one of the config's keys, or the name of a role's registry
SETTING_WORDS = ("persona", "assistant", "judge", "user", "backend", "option", "embedder", "criteria", "rubric",
                 "extra", "name", "kind")

ROLE_OPTIONS = ("--option for ", "judge options", "user options")


def check(raw: dict, file, cli: dict | None = None) -> None:
    where = f"{file} + command line"
    try:
        plan_run(build_config(cli or {}, file))
    except ConfigError as error:
        assert error.problems
        # a role's options are checked by the role, which names them as the command line does
        # ("--option for properassistant: k: ...") rather than by the file they came from
        source = next((s for s in (where, *ROLE_OPTIONS) if str(error).startswith(s)), file)
        assert_names_the_file(str(error), source)
    except RunError as error:
        message = str(error)
        assert message and no_raw_control(message), repr(message[:200])
        assert any(word in message for word in SETTING_WORDS), message


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(MUTATIONS), WEIRD_VALUE), min_size=1, max_size=3))
def test_mutated_run_configs_plan_or_fail_clearly(tmp_path_factory, mutations):
    raw = apply_mutations(BASE, mutations)
    try:
        text = tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return  # not representable as TOML (a NaN key, a None): no file can hold it
    file = tmp_path_factory.mktemp("config") / "run.toml"
    try:
        file.write_text(text, "utf-8")
    except UnicodeEncodeError:
        return  # a lone surrogate: no UTF-8 file can hold it
    check(raw, file)


@FUZZ
@given(st.data())
def test_damaged_config_files_fail_clearly(tmp_path_factory, data):
    """Byte-level damage: cut short, bytes overwritten, deep nesting, a table repeated."""
    blob = damaged_bytes(data, tomli_w.dumps(BASE).encode(),
                         lambda depth: f"\n[extra]\ndeep = {'{a = ' * depth}1{'}' * depth}\n",
                         [b"\x00", b"\xff", b"\n[judge]\n", b"\n[[persona]]\n", b"=", b"'"])
    file = tmp_path_factory.mktemp("config") / "run.toml"
    file.write_bytes(blob)
    check({}, file)


@FUZZ
@given(st.fixed_dictionaries({}, optional={
    "days": st.one_of(st.integers(-5, 400), st.just(None)), "seed": st.integers(-(2**64), 2**64),
    "human_weight": st.floats(allow_nan=True), "assistant": st.sampled_from(["oracle", "nope", "../x", "every-step"]),
    "assistant_options": st.dictionaries(st.sampled_from(["k", "beta", "embedder", "zzz"]),
                                         st.sampled_from(["abc", "0", "-1", "1.5", "minilm", "3", "1e999"]),
                                         max_size=2)}))
def test_command_line_over_a_config_file(tmp_path_factory, cli):
    """The command line's values over a valid file, as run_config merges them."""
    file = tmp_path_factory.mktemp("config") / "run.toml"
    file.write_text(tomli_w.dumps(BASE))
    check(BASE, file, cli)
