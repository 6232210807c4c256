"""Personas anyone can write: free ids, nights past midnight, `when` on any weekdays, time away
from home, `also` alternatives with their own tags, and `propersim personas new ID`."""

import asyncio
import copy
import datetime as dt
from pathlib import Path

import pytest
import tomli_w

from engine.clock import SimClock
from engine.compose import new_run
from engine.config import RunConfig
from engine.errors import PersonaError, RunError
from engine.events import Away, StepRecorded
from engine.persona import check_id, load_persona, parse_persona
from engine.timeutil import parse_time
from engine.types import Activity
from engine.users.routine import RoutineUser
from engine.vocab import ACTIVITY_TAGS
from propersim_tui.persona_cli import personas_command

HELDOUT = Path(__file__).resolve().parent / "personas_heldout"
MONDAY = dt.date(2026, 3, 2)


def _write(raw: dict, folder: Path, name: str | None = None) -> Path:
    path = folder / f"{name or raw['id']}.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def _problems(raw: dict) -> list[str]:
    with pytest.raises(PersonaError) as info:
        parse_persona(raw)
    return [f"{p.field}: {p.message}" for p in info.value.problems]


def _plan(persona, day: int, seed: int = 0) -> list[tuple[int, Activity]]:
    """(minute of day, activity) at every step of `day`."""
    clock = SimClock(MONDAY, 14, 150)
    plan = RoutineUser(persona, clock, seed).plan_day(day)
    return [(clock.minute_of_day(step), activity) for step, activity in enumerate(plan)]


# --- free ids -------------------------------------------------------------------------------


def test_a_free_id_loads_and_need_not_spell_the_traits(persona_raw, tmp_path):
    persona_raw["id"] = "rosa"
    persona = load_persona(_write(persona_raw, tmp_path))
    assert persona.id == "rosa" and persona.traits.code() == "E+A+C+O+N-"
    persona_raw["traits"]["openness"] = "low"  # no longer tied to the id
    assert load_persona(_write(persona_raw, tmp_path)).traits.code() == "E+A+C+O-N-"
    with pytest.raises(PersonaError, match="does not match the file name"):
        load_persona(_write(persona_raw, tmp_path, name="someone-else"))


@pytest.mark.parametrize("bad", ["night nurse", "a\x00b", "a/b", "x" * 49, "", "-lead", "_lead", "a__b", "tab\t",
                                 "dot.ted", "..", "é"])
def test_invalid_ids_are_refused(persona_raw, bad):
    persona_raw["id"] = bad
    (problem,) = _problems(persona_raw)
    assert problem.startswith("id:") and "not a valid id" in problem
    with pytest.raises(ValueError):
        check_id(bad)


@pytest.mark.parametrize("good", ["night-nurse", "rosa", "E+A-C+O-N+", "x" * 48, "7", "a_b", "Team-3"])
def test_valid_ids(good):
    assert check_id(good) == good


def test_a_persona_given_by_path_runs_under_its_id(persona_raw, tmp_path):
    persona_raw["id"] = "rosa-2"
    path = _write(persona_raw, tmp_path)
    run_dir = tmp_path / "run"
    sim = new_run(RunConfig(persona=str(path), assistant="always-abstain", days=1), run_dir)
    asyncio.run(sim.run())
    assert sim.config.persona == "rosa-2" and (run_dir / "persona.toml").read_text() == path.read_text()


# --- nights past midnight -------------------------------------------------------------------


def test_a_night_shift_continues_the_previous_day_after_midnight():
    nurse = load_persona(HELDOUT / "night-nurse.toml")
    weekday = nurse.routine.weekday
    assert weekday.wraps and weekday.awake_span() == (17 * 60, (24 + 8) * 60 + 30)
    assert nurse.awake_hours(0) == 15.5 and nurse.awake_hours(5) == 13.5  # weekend: 13:00 to 02:30
    tuesday = _plan(nurse, 1)
    by_minute = dict(tuesday)
    # Monday night's shift runs on after midnight, with her meal break, until handover at 06:30
    night = [a for m, a in tuesday if m < 6 * 60 + 15]
    assert all(not a.asleep for a in night) and {"work"} <= {t for a in night for t in a.tags}
    assert any(a.text == "Midnight bowl of reheated stew" for m, a in tuesday if 30 <= m < 2 * 60 + 30)
    # then sleep between bed (08:30, jittered) and wake (17:00, jittered)
    assert all(by_minute[m].asleep for m in range(9 * 60, 16 * 60 + 45, 5) if m in by_minute)
    assert not by_minute[6 * 60 + 50].asleep and not by_minute[17 * 60 + 30].asleep
    # and Tuesday's shift begins in the evening, to carry on into Wednesday
    assert by_minute[23 * 60].tags == ("work",)
    assert _plan(nurse, 1) == tuesday  # deterministic


def test_day_zero_begins_with_the_eves_routine():
    nurse = load_persona(HELDOUT / "night-nurse.toml")
    monday = dict(_plan(nurse, 0))  # day 0 is a Monday: the eve is a Sunday, a night off until 02:30
    assert not monday[0].asleep and not monday[60].asleep and "work" not in monday[60].tags
    assert monday[4 * 60].asleep and monday[12 * 60].asleep and not monday[18 * 60].asleep
    assert dict(_plan(nurse, 0, seed=1)) != monday  # the eve is seeded like any day


def test_wrapped_routine_validation(persona_raw):
    weekday = persona_raw["routine"]["weekday"]
    weekday["wake"], weekday["bed"] = "19:00", "07:30"
    starts = ["19:00", "20:00", "23:00", "01:00", "03:00", "05:00"]
    blocks = weekday["blocks"]
    weekday["blocks"] = [dict(blocks[i], start=s) for i, s in enumerate(starts)]
    for item, window in zip(persona_raw["daily_plan"], ("23:00-24:00", "19:30-21:00", "20:00-21:30")):
        item["window"] = window  # inside the weekday night and the weekend day
    persona_raw["routine"]["weekend"]["bed"] = "24:00"  # wakes at 07:30, when Friday's night has ended
    persona = parse_persona(persona_raw)
    assert persona.routine.weekday.wraps and persona.awake_hours(0) == 12.5

    bad = copy.deepcopy(persona_raw)
    bad["routine"]["weekday"]["blocks"][4]["start"] = "00:30"  # after 01:00 is earlier on the wrapped night
    bad["routine"]["weekday"]["blocks"][5]["start"] = "08:00"  # before wake: the next morning, after bed
    bad["daily_plan"][0]["window"] = "07:00-08:00"  # past bed the next morning
    problems = _problems(bad)
    assert any(p.startswith("routine.weekday.blocks[4].start: must be after the previous") for p in problems)
    assert any(p.startswith("routine.weekday.blocks[5].start: must be before bed") for p in problems)
    assert any(p.startswith("daily_plan[0].window: not inside the weekday") for p in problems)

    same = copy.deepcopy(persona_raw)
    same["routine"]["weekday"]["bed"] = "19:00"
    assert any(p.startswith("routine.weekday.bed: must differ from wake") for p in _problems(same))

    clash = copy.deepcopy(persona_raw)  # Friday night would end after Saturday's wake
    clash["routine"]["weekday"]["bed"] = "09:00"
    (problem,) = _problems(clash)
    assert problem.startswith("routine.weekday.bed: the night ends at 09:00 on Saturday") and "07:30" in problem


def test_non_wrapping_routines_keep_their_day():
    persona = load_persona(HELDOUT / "commuter.toml")
    assert not persona.routine.weekday.wraps and persona.awake_hours(0) == 16.0
    plan = _plan(persona, 0)
    assert all(a.asleep for m, a in plan if m < 6 * 60 + 20 or m >= 22 * 60 + 40)


# --- `when` on any weekdays -------------------------------------------------------------------


def test_when_days_takes_groups_and_lists_of_weekdays(persona_raw):
    cases = {"weekday": {0, 1, 2, 3, 4}, "weekend": {5, 6}, "all": set(range(7)), "tue,wed": {1, 2},
             "sun": {6}, "mon, fri": {0, 4}}
    for days, expected in cases.items():
        persona_raw["preferences"]["when"] = [{"days": days, "min_gap_minutes": 60}]
        (cond,) = parse_persona(persona_raw).preferences.when
        assert {w for w in range(7) if cond.applies_on(w)} == expected, days
    lucia = load_persona(HELDOUT / "midweek-off.toml")
    assert [w for w in range(7) if lucia.preferences.when[0].applies_on(w)] == [1, 2]
    assert lucia.routine_for(1) is lucia.routine.tuesday and lucia.routine_for(3) is lucia.routine.weekday


@pytest.mark.parametrize("days", ["mon,mon", "monday", "tue,xyz", "", "Tue", "tue;wed", "weekdays"])
def test_bad_when_days(persona_raw, days):
    persona_raw["preferences"]["when"] = [{"days": days, "min_gap_minutes": 60}]
    (problem,) = _problems(persona_raw)
    assert problem.startswith("preferences.when[0].days:")


# --- away from home ---------------------------------------------------------------------------


def test_away_is_not_an_activity_tag(persona_raw):
    assert "away" not in ACTIVITY_TAGS  # only an away block makes it: no file can tag with it
    assert Activity("At the office", "away", "away", ("away",)).away
    assert not Activity("Sleeping", "bedroom", "bed", ("sleep",)).away
    persona_raw["preferences"]["never_interrupt"] = ["sleep", "away"]
    (problem,) = _problems(persona_raw)
    assert problem.startswith("preferences.never_interrupt[1]: unknown activity tag 'away'")


def test_away_block_validation(persona_raw):
    blocks = persona_raw["routine"]["weekday"]["blocks"]
    blocks[3] = {"start": blocks[3]["start"], "activity": "Lunch with a colleague in town", "away": True}
    parse_persona(persona_raw)  # no room, object or tags needed
    blocks[3] |= {"room": "kitchen", "tags": ["meal"]}
    blocks[4] = {"start": blocks[4]["start"], "activity": "Online lessons"}
    assert sorted(_problems(persona_raw)) == [
        "routine.weekday.blocks[3].room: an away block has none: the persona is not at home",
        "routine.weekday.blocks[3].tags: an away block has none: the persona is not at home",
        "routine.weekday.blocks[4].object: missing field", "routine.weekday.blocks[4].room: missing field",
        "routine.weekday.blocks[4].tags: missing field",
    ]


def test_a_daily_plan_cannot_fall_in_time_away(persona_raw):
    blocks = persona_raw["routine"]["weekday"]["blocks"]
    blocks[5] = {"start": blocks[5]["start"], "activity": "Out for a run", "away": True}  # 16:30-18:00
    persona_raw["daily_plan"][0]["window"] = "16:00-19:00"
    (problem,) = _problems(persona_raw)
    assert problem == "daily_plan[0].window: overlaps the weekday away block at 16:30 (the persona is out)"


def test_time_away_is_skipped_but_announced(tmp_path):
    sim = new_run(RunConfig(persona=str(HELDOUT / "commuter.toml"), assistant="oracle", days=2), tmp_path / "run")
    events = []
    sim.subscribe(events.append)
    asyncio.run(sim.run())
    aways = [e for e in events if isinstance(e, Away)]
    assert [(e.day, e.text) for e in aways] == [(0, "Commuting and at the office"), (1, "Commuting and at the office")]
    steps = [e.record for e in events if isinstance(e, StepRecorded)]
    for away in aways:
        start, end = parse_time(away.start_clock), parse_time(away.end_clock)
        assert abs(start - 8 * 60 - 30) <= 5 and abs(end - 17 * 60 - 30) <= 5
        assert not [r for r in steps if r.day == away.day and start <= r.observation.minute < end]
        # announced in order: after the morning's last step, before the evening's first
        index = events.index(away)
        before = [e for e in events[:index] if isinstance(e, StepRecorded) and e.record.day == away.day]
        assert all(e.record.observation.minute < start for e in before)
    assert all(not r.observation.activity.away for r in steps)
    lines = (tmp_path / "run" / "events.jsonl").read_text()
    assert '"away"' not in lines  # nothing of the time away is recorded as a step


def test_time_away_across_midnight_is_announced_on_each_day(tmp_path):
    import tomllib

    raw = tomllib.loads((HELDOUT / "night-nurse.toml").read_text())
    raw["id"] = "ward-nurse"
    blocks = raw["routine"]["weekday"]["blocks"]
    blocks[4] = {"start": "20:00", "activity": "Night shift on the ward", "away": True}  # until 06:30
    raw["daily_plan"][2]["window"] = "17:30-19:00"  # her meal break is at the hospital now
    sim = new_run(RunConfig(persona=str(_write(raw, tmp_path)), assistant="always-abstain", days=2))
    events = []
    sim.subscribe(events.append)
    asyncio.run(sim.run())
    shift = [(e.day, e.start_clock, e.end_clock) for e in events if isinstance(e, Away)]
    assert [(day, end) for day, _, end in shift] == [(0, "24:00"), (1, shift[1][2]), (1, "24:00")]
    assert shift[1][1] == "00:00" and "06:00" <= shift[1][2] <= "07:00" and "19:45" <= shift[0][1] <= "20:15"


# --- `also` with its own tags -----------------------------------------------------------------


def test_also_alternatives_have_their_own_tags_or_the_blocks():
    kai = load_persona(HELDOUT / "student-also.toml")
    block = kai.routine.weekday.blocks[2]
    assert block.tags == ["study"] and block.also[1].tags == ["screen", "leisure"]
    seen = {a.text: a.tags for day in range(3) for _, a in _plan(kai, day)}
    assert seen["Working through a quantum mechanics problem set"] == ("study",)
    assert seen["Drifting into a speedrun video"] == ("screen", "leisure")
    assert seen["Noodling on the piano instead"] == ("music", "leisure")
    nurse = load_persona(HELDOUT / "night-nurse.toml")
    seen = {a.text: a.tags for day in range(2) for _, a in _plan(nurse, day)}
    assert seen["Writing up call notes"] == ("work",)  # no tags of its own: the block's


def test_also_tags_are_validated(persona_raw):
    persona_raw["routine"]["weekday"]["blocks"][2]["also"][0]["tags"] = ["sleep"]
    assert _problems(persona_raw) == ["routine.weekday.blocks[2].also[0].tags: awake blocks cannot be tagged 'sleep'"]
    persona_raw["routine"]["weekday"]["blocks"][2]["also"][0]["tags"] = ["naps"]
    (problem,) = _problems(persona_raw)
    assert problem.startswith("routine.weekday.blocks[2].also[0].tags[0]: unknown activity tag 'naps'")


# --- propersim personas new ID ----------------------------------------------------------------


def test_personas_new_writes_a_valid_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert personas_command(["new", "night-owl"]) == 0
    persona = load_persona(tmp_path / "night-owl.toml")
    assert persona.id == "night-owl" and "wrote night-owl.toml" in capsys.readouterr().out
    (tmp_path / "sub").mkdir()
    assert personas_command(["new", "lark", "--out", str(tmp_path / "sub")]) == 0
    assert load_persona(tmp_path / "sub" / "lark.toml").id == "lark"
    assert personas_command(["new", "wren", "--out", str(tmp_path / "wren.toml")]) == 0
    assert load_persona(tmp_path / "wren.toml").id == "wren"
    before = (tmp_path / "night-owl.toml").read_text()
    with pytest.raises(RunError, match="already exists"):
        personas_command(["new", "night-owl"])
    assert (tmp_path / "night-owl.toml").read_text() == before
    with pytest.raises(RunError, match="not a valid id"):
        personas_command(["new", "night owl"])
    with pytest.raises(RunError, match="must be named x.toml"):
        personas_command(["new", "x", "--out", str(tmp_path / "y.toml")])
    assert not (tmp_path / "night owl.toml").exists() and not (tmp_path / "y.toml").exists()


def test_personas_new_errors_are_propersim_errors(tmp_path, monkeypatch, capsys):
    from propersim_tui.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["personas", "new", "a/b"]) == 2
    assert capsys.readouterr().err.startswith("propersim: error: personas new: 'a/b' is not a valid id")
    assert main(["personas", "new"]) == 0  # no id: the template on stdout, as before
    assert 'id = "my-persona"' in capsys.readouterr().out and not list(tmp_path.iterdir())
