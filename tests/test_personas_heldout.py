"""The held-out personas (tests/personas_heldout/): people unlike the 32 shipped ones, written
with free ids, nights past midnight, `when` on chosen weekdays, time away from home and `also`
alternatives with their own tags. Each validates and lives two days in the offline world."""

import asyncio
from pathlib import Path

import pytest

from engine.compose import new_run
from engine.config import RunConfig
from engine.events import Away, DayEnded
from engine.persona import load_persona
from engine.persona_library import persona_paths
from tests.conftest import PERSONAS

HELDOUT = Path(__file__).resolve().parent / "personas_heldout"
PATHS = persona_paths(HELDOUT)


def test_the_held_out_set_is_valid_and_unlike_the_shipped_one():
    personas = [load_persona(p) for p in PATHS]  # file name == id, every rule checked
    assert len(personas) >= 6
    shipped = {load_persona(p).name.split()[-1] for p in persona_paths(PERSONAS)}
    assert not shipped & {p.name.split()[-1] for p in personas}  # other people, not renamed ones
    assert all(p.id != p.traits.code() for p in personas)  # free ids
    assert len({p.traits.code() for p in personas}) >= 5
    routines = [r for p in personas for r in (p.routine.weekday, p.routine.weekend)]
    assert any(r.wraps for r in routines)  # someone awake past midnight
    assert any(b.away for r in routines for b in r.blocks)  # someone out of the house
    assert any(a.tags for r in routines for b in r.blocks for a in b.also)  # `also` with tags of its own
    days = {c.days for p in personas for c in p.preferences.when}
    assert days - {"weekday", "weekend", "all"}  # a `when` on chosen weekdays
    assert any(not p.preferences.welcome for p in personas)  # welcome only through a `when`
    per_day = [p.preferences.per_day for p in personas]
    assert min(high for _, high in per_day) <= 1 and max(high for _, high in per_day) >= 20
    for p in personas:  # the shipped population's coherence rules hold here too
        if p.traits.agreeableness == "low":
            assert not {"playful", "enthusiastic"} & set(p.preferences.tones), p.id


@pytest.mark.parametrize("assistant", ["oracle", "properassistant"])
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_each_held_out_persona_runs_two_days(path, assistant, tmp_path):
    sim = new_run(RunConfig(persona=str(path), assistant=assistant, days=2, seed=0), tmp_path / "run")
    events = []
    sim.subscribe(events.append)
    asyncio.run(sim.run())
    days = [e.metrics for e in events if isinstance(e, DayEnded)]
    assert [m.day for m in days] == [0, 1] and all(m.awake_steps > 50 for m in days)
    assert sim.config.persona == path.stem
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 3
    if assistant == "oracle":
        assert all(m.mean_score > 3.5 for m in days), [m.mean_score for m in days]
    away = any(b.away for r in (sim.persona.routine_for(0), sim.persona.routine_for(1)) for b in r.blocks)
    assert any(isinstance(e, Away) for e in events) == away
