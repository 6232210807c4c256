"""The 32 shipped personas: coverage, validity, calibration order (the loader is fuzzed in test_fuzz_persona.py)."""

import itertools
import tomllib

import tomli_w

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
