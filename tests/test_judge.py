"""The rubric judge on hand-built situations: each criterion passes and fails for its reason, and the
worked examples of personas/README.md hold."""

import asyncio
import dataclasses
import datetime as dt

import pytest

from engine.catalog import Catalog, CatalogItem
from engine.clock import SimClock
from engine.judges.rubric import DayHistory, RubricJudge
from engine.persona import parse_persona
from engine.types import ABSTAIN, Activity, Candidate, Observation

CLOCK = SimClock(dt.date(2026, 3, 2))  # Monday
RELAXING = Activity("Relaxing with music", "common_room", "record player", ("leisure", "music"))
WORKING = Activity("Preparing lesson plans", "study", "laptop", ("work",))

ITEMS = {
    "song": CatalogItem(0, "song", "Put on a bossa nova record.", "music", "warm", frozenset({"leisure"}), frozenset()),
    "stocks": CatalogItem(1, "stocks", "Review your portfolio.", "finance", "warm", frozenset({"leisure"}), frozenset()),
    "terse": CatalogItem(2, "terse", "Play music.", "music", "concise", frozenset({"leisure"}), frozenset()),
    "shop": CatalogItem(3, "shop", "Buy a new vinyl!", "music", "warm", frozenset({"leisure"}), frozenset({"spending"})),
    "recipe": CatalogItem(4, "recipe", "Try a mole recipe.", "cooking", "warm", frozenset({"cooking"}), frozenset()),
}


CATALOG = Catalog(tuple(ITEMS.values()))


def candidate(item_id: str) -> Candidate:
    item = ITEMS[item_id]
    return Candidate(item.id, item.text, item.topic, item.tone)


@pytest.fixture
def judge(persona_raw):
    # welcome 06:30-08:30, 12:00-13:30, 17:00-21:45 on weekdays; min gap 30; max silence 120; 6-12 a day
    persona = parse_persona(persona_raw)
    j = RubricJudge(persona, CLOCK, seed=0, catalog=CATALOG)
    asyncio.run(j.start_day(0))
    return j


def obs_at(hhmm: str, activity: Activity = RELAXING, day: int = 0) -> Observation:
    h, m = map(int, hhmm.split(":"))
    step = (h * 60 + m) * 60 // CLOCK.step_seconds
    return Observation(day, step, CLOCK.minute_of_day(step), CLOCK.weekday(day), hhmm, activity)


def to_min(t: str) -> int:
    return int(t[:2]) * 60 + int(t[3:])


def history(awake_since: str = "06:15", last: str | None = None, served: int | None = None,
            pleased: bool = True, said: str = "other") -> DayHistory:
    """A day so far: the last delivered recommendation at `last` (served if `pleased`)."""
    h = DayHistory()
    h.awake_since = to_min(awake_since)
    if last:
        h.last_delivered, h.delivered, h.recent_topics = to_min(last), max(served or 1, 1), ["music"]
        h.heard = {said: to_min(last)}
        if pleased:
            h.last_served, h.served = to_min(last), served or 1
    return h


def test_perfect_recommendation(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00"))
    assert rating.criteria == dict.fromkeys(("preference", "timing", "frequency", "communication"), True)
    assert rating.total == 4 and "likes music" in rating.reason


def test_an_unwanted_topic_fails_preference_timing_and_frequency(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("stocks"), history(last="19:00"))
    assert rating.criteria == {"preference": False, "timing": False, "frequency": False, "communication": True}
    assert rating.total == 1 and "dislikes finance" in rating.reason and "one too many" in rating.reason


def test_timing_fails_outside_welcome_windows(judge):
    rating = judge.rate_now(obs_at("10:00"), candidate("song"), history(last="08:00"))
    assert not rating.criteria["timing"] and rating.criteria["preference"] and "not a time" in rating.reason


def test_timing_fails_when_interrupting_work(judge):
    rating = judge.rate_now(obs_at("20:30", WORKING), candidate("song"), history(last="19:00"))
    assert not rating.criteria["timing"] and "don't interrupt work" in rating.reason


def test_timing_fails_when_item_does_not_fit_activity(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("recipe"), history(last="19:00"))
    assert not rating.criteria["timing"] and "doesn't fit" in rating.reason


def test_too_soon_fails_all_but_communication(judge):
    """One right on top of the last is unwanted whatever it is: worse than silence at a wanted moment."""
    rating = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="20:10"))
    assert rating.criteria == {"preference": False, "timing": False, "frequency": False, "communication": True}
    assert "another one already" in rating.reason and "too soon" in rating.reason and "only 20 min" in rating.reason
    assert judge.rate_now(obs_at("20:50"), candidate("song"), history(last="20:10")).total == 4  # 40 min: fine


def test_frequency_fails_once_the_days_wish_is_served(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00", served=12))
    assert not rating.criteria["frequency"] and "had enough good ones today" in rating.reason
    assert judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="19:00", served=12)).total == 4


def test_communication_fails_on_tone_and_boundary(judge):
    terse = judge.rate_now(obs_at("20:30"), candidate("terse"), history(last="19:00"))
    assert not terse.criteria["communication"] and "concise tone" in terse.reason and terse.total == 3
    shop = judge.rate_now(obs_at("20:30"), candidate("shop"), history(last="19:00"))
    assert not shop.criteria["communication"] and "spending" in shop.reason and shop.total == 3


def test_a_repeat_fails_preference_for_four_hours(judge):
    again = judge.rate_now(obs_at("21:30"), candidate("song"), history(last="20:30", said="song"))
    assert not again.criteria["preference"] and "heard that one 60 min ago" in again.reason and again.total <= 1
    other = judge.rate_now(obs_at("21:30"), candidate("terse"), history(last="20:30", said="song"))
    assert other.criteria["preference"]  # another item of the same topic is fine
    h = history(last="20:30", said="song")
    h.heard = {"song": to_min("17:00")}
    assert judge.rate_now(obs_at("21:30"), candidate("song"), h).criteria["preference"]  # 270 min later: fresh


def test_silence_is_right_when_not_wanted(judge):
    for situation in (obs_at("10:00"), obs_at("20:30", WORKING)):
        rating = judge.rate_now(situation, ABSTAIN, history(last="08:00"))
        assert rating.total == 4 and not rating.missed_opportunity
    just_after = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="20:15"))
    assert just_after.total == 4


def test_missed_opportunity_loses_preference_and_timing(judge):
    rating = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="19:30"))
    assert rating.missed_opportunity
    assert rating.criteria == {"preference": False, "timing": False, "frequency": True, "communication": True}


def test_no_moment_is_missed_when_nothing_fits(judge):
    """Nothing she likes fits cleaning (no catalog item does): silence is not a missed chance."""
    cleaning = Activity("Cleaning the kitchen", "kitchen", "sink", ("chores",))
    assert judge.rate_now(obs_at("20:30", cleaning), ABSTAIN, history(last="17:00")).total == 4


def test_junk_does_not_use_up_the_wish(judge):
    just_after_a_bad_one = judge.rate_now(obs_at("20:30"), ABSTAIN, history(awake_since="19:00", last="20:20", pleased=False))
    assert just_after_a_bad_one.missed_opportunity and just_after_a_bad_one.total == 2
    piling_on = judge.rate_now(obs_at("20:30"), candidate("song"), history(awake_since="19:00", last="20:20", pleased=False))
    assert piling_on.total == 1  # too soon after the bad one: worse than waiting


def test_spam_in_the_morning_then_silence_at_a_wanted_moment(judge):
    """Twelve junk suggestions from 06:30 do not make silence at 20:30 right (the old rules' loophole)."""
    h = DayHistory()
    for k in range(12):
        minute = to_min("06:30") + 3 * k
        obs = Observation(0, minute * 60 // CLOCK.step_seconds, minute, 0, "", RELAXING)
        h.see(obs, candidate("stocks"), served=False)
    assert h.delivered == 12 and h.served == 0
    evening = judge.rate_now(obs_at("20:30"), ABSTAIN, h)
    assert evening.missed_opportunity and evening.total == 1  # and nothing good since waking: a long silence
    assert judge.rate_now(obs_at("20:30"), candidate("song"), h).total == 4


def test_silence_too_long_counts_from_the_last_served(judge):
    rating = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="17:00"))
    assert rating.total == 1 and not rating.criteria["frequency"] and "nothing good for 210 min" in rating.reason
    junk_since = history(last="17:00")
    junk_since.last_delivered = to_min("20:00")  # a bad one at 20:00 does not end the drought
    assert judge.rate_now(obs_at("20:30"), ABSTAIN, junk_since).total == 1


def test_served_follows_the_rules_not_the_noise(persona_raw):
    j = RubricJudge(parse_persona(persona_raw), CLOCK, 0, CATALOG, noise=0.5)
    asyncio.run(j.start_day(0))
    obs = obs_at("20:30")
    for _ in range(20):
        rating = j.rate_now(obs, candidate("song"), j.history)
        assert j.served(obs, candidate("song"), rating, j.history)
    human = dataclasses.replace(j.rate_now(obs, candidate("song"), j.history, noisy=False),
                                criteria=dict.fromkeys(j.criteria, False), source="human")
    assert not j.served(obs, candidate("song"), human, j.history)  # a human's verdict is what they felt


def test_weekend_condition_changes_welcome_windows(judge):
    saturday_morning = obs_at("10:00", day=5)  # weekend welcome is 08:00-21:45
    assert judge.rate_now(saturday_morning, candidate("song"), history(last="08:00")).criteria["timing"]


def test_mid_week_condition(persona_raw):
    persona_raw["preferences"]["when"] = [{"days": "tue,wed", "welcome": ["09:00-11:00"], "note": "days off"}]
    j = RubricJudge(parse_persona(persona_raw), CLOCK, 0, CATALOG)
    asyncio.run(j.start_day(1))
    tuesday, monday = obs_at("10:00", day=1), obs_at("10:00", day=0)
    assert j.rate_now(tuesday, candidate("song"), history(last="08:00")).criteria["timing"]
    assert not j.rate_now(monday, candidate("song"), history(last="08:00")).criteria["timing"]
    assert not j.rate_now(obs_at("20:30", day=2), candidate("song"), history(last="08:00")).criteria["timing"]


def test_novelty_criterion_is_configurable(persona_raw):
    persona = parse_persona(persona_raw)  # novelty 0.6: the last 2 topics must differ
    j = RubricJudge(persona, CLOCK, 0, CATALOG, criteria=("preference", "timing", "frequency", "communication", "novelty"))
    asyncio.run(j.start_day(0))
    repeat = j.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00"))
    assert not repeat.criteria["novelty"] and repeat.total == 4
    with pytest.raises(ValueError, match="unknown rubric criteria"):
        RubricJudge(persona, CLOCK, 0, CATALOG, criteria=("vibes",))


def test_noise_flips_criteria_at_its_rate(persona_raw):
    persona = parse_persona(persona_raw)
    j = RubricJudge(persona, CLOCK, 0, CATALOG, noise=0.2)
    asyncio.run(j.start_day(0))
    flips = sum(4 - j.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00")).total for _ in range(500))
    assert 0.15 < flips / 2000 < 0.25


def test_free_text_with_topic_and_tone_is_rated_by_the_documented_rule(judge):
    """No catalog id: it fits when some catalog item of its topic fits the activity; its text is
    checked against the boundaries' keywords; no topic fails preference; no tone fails communication."""
    free = Candidate(None, "How about a bossa nova playlist while you unwind?", "music", "warm")
    assert free.is_recommendation
    rating = judge.rate_now(obs_at("20:30"), free, history(last="19:00"))
    assert rating.total == 4 and not rating.missed_opportunity
    cooking_while_relaxing = Candidate(None, "Plan tomorrow's dinner.", "cooking", "warm")
    assert not judge.rate_now(obs_at("20:30"), cooking_while_relaxing, history(last="19:00")).criteria["timing"]
    shopping = Candidate(None, "You could buy that vinyl box set tonight.", "music", "warm")  # boundary: spending
    crossed = judge.rate_now(obs_at("20:30"), shopping, history(last="19:00"))
    assert not crossed.criteria["communication"] and "spending" in crossed.reason and crossed.total == 3
    bare = judge.rate_now(obs_at("20:30"), Candidate(None, "Do something fun!"), history(last="19:00"))
    assert bare.total == 0 and "can't tell" in bare.reason
    again = judge.rate_now(obs_at("21:30"), free, history(last="20:30", said=" ".join(free.text.casefold().split())))
    assert not again.criteria["preference"]  # the same words again are a repeat
    for silence in (Candidate(None, "No Recommendation"), Candidate(None, "  no recommendation. "), Candidate(None, "")):
        assert not silence.is_recommendation


def test_rating_keys_are_exactly_the_configured_criteria(persona_raw):
    j = RubricJudge(parse_persona(persona_raw), CLOCK, 0, CATALOG, criteria=("timing", "frequency"))
    asyncio.run(j.start_day(0))
    for when in ("03:00", "20:30"):
        for c in (ABSTAIN, candidate("song")):
            assert set(j.rate_now(obs_at(when), c, history(last="08:00")).criteria) == {"timing", "frequency"}


# --- boundaries: exactly at the minimum gap, at the day's maximum, on a window's edges ------------

def test_exactly_the_minimum_gap_is_enough_and_a_minute_less_is_not(judge):
    at_gap = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="20:00"))  # min gap 30
    assert at_gap.total == 4 and "spacing ok" in at_gap.reason
    short = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="20:01"))
    assert not short.criteria["timing"] and not short.criteria["frequency"] and "only 29 min" in short.reason
    # the user's wish follows the same line: silence misses a chance at exactly the gap, not before
    assert judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="20:00")).missed_opportunity
    assert not judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="20:01")).missed_opportunity


def test_the_days_maximum_allows_exactly_that_many(judge):
    last_allowed = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00", served=11))  # max 12
    assert last_allowed.criteria["frequency"] and last_allowed.total == 4
    assert judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="19:00", served=11)).missed_opportunity
    one_more = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00", served=12))
    assert not one_more.criteria["frequency"]
    assert not judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="19:00", served=12)).missed_opportunity


@pytest.mark.parametrize(("clock", "welcome"), [("16:55", False), ("17:00", True), ("21:40", True), ("21:45", False),
                                                ("06:30", True), ("08:30", False), ("13:30", False)])
def test_a_welcome_window_includes_its_start_and_excludes_its_end(judge, clock, welcome):
    rating = judge.rate_now(obs_at(clock), candidate("song"), history(last="05:00"))
    assert rating.criteria["timing"] is welcome, rating.reason
    assert judge.rate_now(obs_at(clock), ABSTAIN, history(last="05:00")).missed_opportunity is welcome


def test_silence_becomes_too_long_at_exactly_the_maximum(judge):
    at_limit = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="18:30"))  # max silence 120
    assert not at_limit.criteria["frequency"] and "nothing good for 120 min" in at_limit.reason
    just_under = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="18:31"))
    assert just_under.missed_opportunity and just_under.criteria["frequency"]
