"""The adversary suite (engine/assistants/adversaries.py): every variant builds through the real
composition, is deterministic, proposes n candidates, does what it says, and never reaches the
persona, the judge or feedback."""

import ast
import asyncio
import inspect

import pytest

from engine.assistants import ADVERSARY_FLAG, ASSISTANTS, ORACLE_FLAG, adversaries
from engine.assistants.adversaries import MIRROR, SUITE, population
from engine.assistants.base import BaseAssistant
from engine.catalog import load_catalog
from engine.compose import new_run, plan_run
from engine.config import RunConfig
from engine.errors import ConfigError
from engine.events import StepRecorded
from engine.house import load_house
from engine.timeutil import parse_time
from engine.types import Feedback, StepRecord
from tests import conformance
from tests.conftest import REFERENCE_PERSONA

ADVERSARIES = [e.name for e in ASSISTANTS if ADVERSARY_FLAG in e.flags]


def records(name: str, options: dict | None = None, days: int = 1, seed: int = 0, **config) -> list[StepRecord]:
    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant=name, days=days, seed=seed,
                            assistant_options=options or {}, **config), None)
    out: list[StepRecord] = []
    sim.subscribe(lambda e: out.append(e.record) if isinstance(e, StepRecorded) else None)
    asyncio.run(sim.run())
    return out


def said(recs: list[StepRecord]) -> list[StepRecord]:
    return [r for r in recs if r.delivered_candidate.is_recommendation]


def test_suite_covers_every_adversary_with_valid_options():
    assert set(ADVERSARIES) == {name for name, _, _ in SUITE} and len(ADVERSARIES) >= 8
    labels = [label for _, _, label in SUITE]
    assert len(set(labels)) == len(labels)
    for name, options, label in SUITE:
        entry = ASSISTANTS.get(name)
        assert entry.summary.endswith("(adversary)") and ORACLE_FLAG not in entry.flags
        entry.parse_options(options, label)  # raises on a bad option


@pytest.mark.parametrize("name,options", [pytest.param(n, o, id=label) for n, o, label in SUITE])
def test_suite_entry_is_deterministic_and_proposes_n(name, options):
    first = records(name, options)
    again = records(name, options)
    assert [(r.step, r.candidates) for r in first] == [(r.step, r.candidates) for r in again], "same seed, same day"
    assert all(len(r.candidates) == 2 for r in first)
    assert said(first), "it recommends something"
    three = records(name, options, n_candidates=3, deliver=2)
    assert all(len(r.candidates) == 3 for r in three)
    assert [r.candidates[0] for r in three] == [r.candidates[0] for r in first], "n does not change the choice"


def test_random_choices_follow_the_seed():
    items = [[r.delivered_candidate.item_id for r in said(records("timer", {"every_minutes": 30}, seed=s))]
             for s in (0, 1)]
    assert items[0] != items[1]


@pytest.mark.parametrize("name", ADVERSARIES)
def test_adversary_never_reaches_persona_judge_or_feedback(name):
    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant=name, days=1), None)
    asyncio.run(sim.step())
    assistant = sim.assistant
    assert type(assistant).observe is BaseAssistant.observe, "observe() must stay the no-op"
    assert not assistant.reads_hidden_preferences
    reachable = conformance._reachable(assistant)
    assert not [o for o in reachable if type(o).__module__.startswith("engine.judges") or isinstance(o, Feedback)]
    assert all(o is not sim.judge and o is not sim.user and o is not sim.persona for o in reachable)
    conformance._check_persona_unreachable(name)


def test_the_module_imports_no_judge_user_or_loop():
    tree = ast.parse(inspect.getsource(adversaries))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    forbidden = ("engine.judges", "engine.users", "engine.simulation", "engine.compose", "engine.metrics")
    assert not [m for m in imported if m and m.startswith(forbidden)]
    assert "Feedback" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def test_population_prior_reads_the_shipped_personas_only(tmp_path, monkeypatch):
    shipped = population()
    assert shipped.topic == "music" and shipped.tone in {"warm", "gentle"}  # the shipped population's favourites
    monkeypatch.setenv("PROPERSIM_PERSONAS", str(tmp_path))  # an empty override folder
    population.cache_clear()
    try:
        assert population() == shipped
    finally:
        population.cache_clear()


def _minutes(recs):
    return [r.observation.minute for r in recs]


def test_timer_fires_every_k_minutes_after_waking():
    recs = records("timer", {"every_minutes": 90}, days=2)
    for day in (0, 1):
        today = [r for r in recs if r.day == day]
        woke = today[0].observation.minute
        assert _minutes(said(today)) == list(range(woke + 90, today[-1].observation.minute + 1, 90))


def test_burst_speaks_at_the_first_n_awake_steps_only():
    recs = records("burst", {"count": 4})
    assert [r.delivered_candidate.is_recommendation for r in recs] == [True] * 4 + [False] * (len(recs) - 4)


def test_breaks_only_speaks_in_breaks_and_leisure_m_minutes_apart():
    breaks = {b.text for b in load_house().breaks}
    recs = said(records("breaks-only", {"gap_minutes": 15}, days=2))
    for r in recs:
        a = r.observation.activity
        assert adversaries.BREAK_TAGS.intersection(a.tags) or a.text in breaks
    for before, after in zip(recs, recs[1:]):
        assert after.day != before.day or after.observation.minute - before.observation.minute >= 15


def test_crowd_pleaser_says_the_crowd_topic_in_the_crowd_tone_and_no_item_twice_in_four_hours():
    recs = said(records("crowd-pleaser", {"every_minutes": 30}))
    crowd = population()
    assert {r.delivered_candidate.topic for r in recs} == {crowd.topic}
    assert any(r.delivered_candidate.tone == crowd.tone for r in recs)
    last: dict[str, int] = {}
    for r in recs:
        item, minute = r.delivered_candidate.item_id, r.observation.minute
        assert minute - last.get(item, -adversaries.REPEAT_MINUTES) >= adversaries.REPEAT_MINUTES
        last[item] = minute


def test_same_item_all_day_and_an_unknown_item_is_refused():
    recs = records("same-item")
    assert all(r.delivered_candidate.is_recommendation for r in recs)
    first_of_topic = next(i.id for i in load_catalog().items if i.topic == population().topic)
    assert {r.delivered_candidate.item_id for r in recs} == {first_of_topic}
    assert {r.delivered_candidate.item_id for r in said(records("same-item", {"item": "books-02"}))} == {"books-02"}
    with pytest.raises(ConfigError, match="no catalog item"):
        plan_run(RunConfig(persona=REFERENCE_PERSONA, assistant="same-item", assistant_options={"item": "nope"}))


def test_round_robin_never_repeats_an_item_in_a_day_and_varies_topics():
    recs = said(records("topic-round-robin", {"every_minutes": 30}, days=2))
    for day in (0, 1):
        items = [r.delivered_candidate.item_id for r in recs if r.day == day]
        assert len(items) == len(set(items))
    assert len({r.delivered_candidate.topic for r in recs}) >= 10


def test_mirror_speaks_of_what_the_user_is_doing():
    for r in said(records("mirror", {"every_minutes": 30})):
        topics = {t for tag in r.observation.activity.tags for t in MIRROR.get(tag, ())}
        assert r.delivered_candidate.topic in topics


def test_evening_timer_stays_in_its_window():
    recs = said(records("evening-timer", {"every_minutes": 30, "window": "18:00-22:00"}))
    assert recs and all(parse_time("18:00") <= m < parse_time("22:00") for m in _minutes(recs))
    with pytest.raises(ConfigError):
        plan_run(RunConfig(persona=REFERENCE_PERSONA, assistant="evening-timer", assistant_options={"window": "22-18"}))


def test_on_change_speaks_only_when_the_activity_changes():
    recs = records("on-change", {"gap_minutes": 0})
    for before, r in zip(recs, recs[1:]):
        if r.delivered_candidate.is_recommendation:
            a, b = r.observation.activity, before.observation.activity
            assert (a.text, a.room, a.object) != (b.text, b.room, b.object)


def test_tag_change_timer_is_never_silent_past_its_backstop():
    recs = records("tag-change-timer", {"gap_minutes": 30, "backstop_minutes": 90})
    last = recs[0].observation.minute
    for r in recs:
        assert r.observation.minute - last <= 90
        if r.delivered_candidate.is_recommendation:
            last = r.observation.minute


def test_crowd_schedule_keeps_the_population_cap_and_spacing():
    crowd = population()
    recs = said(records("crowd-schedule", days=2))
    for day in (0, 1):
        minutes = _minutes([r for r in recs if r.day == day])
        assert 0 < len(minutes) <= crowd.max_per_day
        assert all(b - a >= crowd.min_gap for a, b in zip(minutes, minutes[1:]))
    assert all(crowd.never_interrupt.isdisjoint(r.observation.activity.tags) for r in recs)
