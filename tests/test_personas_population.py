"""The 32 shipped personas: coverage, validity, calibration order, and a fuzzed loader."""

import itertools
import tomllib

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import PersonaError
from engine.persona import load_persona
from engine.persona_library import persona_paths
from tests.conftest import PERSONAS, REFERENCE_PERSONA, run_days


def test_all_32_big_five_combinations_appear_exactly_once():
    codes = [load_persona(p).traits.code() for p in persona_paths(PERSONAS)]
    expected = {"".join(f"{t}{s}" for t, s in zip("EACON", signs)) for signs in itertools.product("+-", repeat=5)}
    assert len(codes) == 32 and set(codes) == expected


def test_some_personas_are_complex_and_content_is_varied():
    personas = [load_persona(p) for p in persona_paths(PERSONAS)]
    assert sum(bool(p.preferences.when) for p in personas) >= 8
    assert len({p.name for p in personas}) == 32
    ages = [p.age for p in personas]
    assert min(ages) <= 30 and max(ages) >= 65
    # trait coherence: openness widens tastes, agreeableness softens tone
    open_, closed = ([len(p.preferences.liked_topics) for p in personas if p.traits.openness == lvl]
                     for lvl in ("high", "low"))
    assert min(open_) > max(closed)
    for p in personas:
        if p.traits.agreeableness == "low":
            assert not {"playful", "enthusiastic"} & set(p.preferences.tones), p.id


def test_each_persona_orders_oracle_over_silence_over_spam():
    for path in persona_paths(PERSONAS):
        scores = {a: sum(m.mean_score for m in run_days(a, persona=path.stem, days=2)) / 2
                  for a in ("oracle", "always-abstain", "every-step")}
        assert scores["oracle"] > scores["always-abstain"] > scores["every-step"], (path.stem, scores)


# --- fuzzing the loader -----------------------------------------------------------------

BASE = tomllib.loads((PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text())
WEIRD = st.one_of(
    st.none().map(lambda _: "x"), st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True),
    st.booleans(), st.text(max_size=30), st.lists(st.integers(), max_size=4),
    st.sampled_from(["25:00", "7:00", "12:00-11:00", "24:01", "", "-", "00:00-24:00", "x" * 5000]),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]


def _mutate(raw, path, action, value):
    import copy
    raw = copy.deepcopy(raw)
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "add_key" and isinstance(parent, dict):
        parent[f"unexpected_{len(parent)}"] = value
    elif action == "huge" and isinstance(parent, list):
        parent.extend([parent[last]] * 500)
    else:
        parent[last] = value
    return raw


@settings(max_examples=320, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["delete", "replace", "add_key", "huge"]), WEIRD),
                min_size=1, max_size=3))
def test_mutated_persona_files_load_or_fail_clearly(tmp_path_factory, mutations):
    raw = BASE
    for path, action, value in mutations:
        try:
            raw = _mutate(raw, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    try:
        text = tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return  # not representable as TOML (e.g. NaN keys): nothing to load
    path = tmp_path_factory.mktemp("fuzz") / f"{REFERENCE_PERSONA}.toml"
    path.write_text(text)
    try:
        load_persona(path)
    except PersonaError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.message
        assert str(error).startswith(str(path))


def test_persona_commands(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "propersim_tui.cli", "personas", *args], capture_output=True,
                              text=True, cwd=REPO, timeout=60, env={"COLUMNS": "200", "PATH": ""})

    listing = cli()
    assert listing.returncode == 0 and listing.stdout.count("E+") + listing.stdout.count("E-") >= 32
    shown = cli("show", REFERENCE_PERSONA)
    assert shown.returncode == 0 and "Rosa Delgado" in shown.stdout and "Rubric" in shown.stdout
    template = cli("new")
    target = tmp_path / "my-persona.toml"
    target.write_text(template.stdout)
    assert "#" in template.stdout and load_persona(target).name  # a commented template that validates
    broken = tmp_path / "E+A+C+O+N-.toml"
    raw = tomllib.loads((PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text())
    raw["age"], raw["colour"] = 300, "red"
    broken.write_text(tomli_w.dumps(raw))
    report = cli("validate", str(target), str(broken))
    assert report.returncode == 1
    assert "age:" in report.stdout and "colour: unknown key" in report.stdout and "1 valid, 1 invalid" in report.stdout
