"""The rubric judge on hand-built situations: each criterion passes and fails for its reason."""

import asyncio
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


def history(awake_since: str = "06:15", last: str | None = None, count: int = 0, pleased: bool = True) -> DayHistory:
    h = DayHistory()
    to_min = lambda t: int(t[:2]) * 60 + int(t[3:])  # noqa: E731
    h.awake_since = to_min(awake_since)
    if last:
        h.last_minute, h.count, h.recent_topics = to_min(last), max(count, 1), ["music"]
        h.last_satisfied = h.last_minute if pleased else None
    return h


def test_perfect_recommendation(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00"))
    assert rating.criteria == dict.fromkeys(("preference", "timing", "frequency", "communication"), True)
    assert rating.total == 4 and "likes music" in rating.reason


def test_preference_fails_on_disliked_topic(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("stocks"), history(last="19:00"))
    assert not rating.criteria["preference"] and rating.total == 3 and "dislikes finance" in rating.reason


def test_timing_fails_outside_welcome_windows(judge):
    rating = judge.rate_now(obs_at("10:00"), candidate("song"), history(last="08:00"))
    assert not rating.criteria["timing"] and rating.criteria["preference"] and "not a time" in rating.reason


def test_timing_fails_when_interrupting_work(judge):
    rating = judge.rate_now(obs_at("20:30", WORKING), candidate("song"), history(last="19:00"))
    assert not rating.criteria["timing"] and "don't interrupt work" in rating.reason


def test_timing_fails_when_item_does_not_fit_activity(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("recipe"), history(last="19:00"))
    assert not rating.criteria["timing"] and "doesn't fit" in rating.reason


def test_frequency_fails_when_too_soon(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="20:10"))
    assert not rating.criteria["frequency"] and "only 20 min" in rating.reason


def test_frequency_fails_over_the_daily_max(judge):
    rating = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="19:00", count=12))
    assert not rating.criteria["frequency"] and "too many today" in rating.reason


def test_communication_fails_on_tone_and_boundary(judge):
    terse = judge.rate_now(obs_at("20:30"), candidate("terse"), history(last="19:00"))
    assert not terse.criteria["communication"] and "concise tone" in terse.reason
    shop = judge.rate_now(obs_at("20:30"), candidate("shop"), history(last="19:00"))
    assert not shop.criteria["communication"] and "spending" in shop.reason


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


def test_a_poor_recommendation_does_not_satisfy(judge):
    just_after_a_bad_one = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="20:20", pleased=False))
    assert just_after_a_bad_one.missed_opportunity and just_after_a_bad_one.total == 2
    another = judge.rate_now(obs_at("20:30"), candidate("song"), history(last="20:20", pleased=False))
    assert not another.criteria["frequency"]  # but piling on is still too soon


def test_silence_too_long_also_loses_frequency(judge):
    rating = judge.rate_now(obs_at("20:30"), ABSTAIN, history(last="17:00"))
    assert rating.total == 1 and not rating.criteria["frequency"] and "quiet for 210 min" in rating.reason


def test_weekend_condition_changes_welcome_windows(judge):
    saturday_morning = obs_at("10:00", day=5)  # weekend welcome is 08:00-21:45
    assert judge.rate_now(saturday_morning, candidate("song"), history(last="08:00")).criteria["timing"]


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
    assert not crossed.criteria["communication"] and "spending" in crossed.reason
    bare = judge.rate_now(obs_at("20:30"), Candidate(None, "Do something fun!"), history(last="19:00"))
    assert not bare.criteria["preference"] and not bare.criteria["communication"] and "can't tell" in bare.reason
    for silence in (Candidate(None, "No Recommendation"), Candidate(None, "  no recommendation. "), Candidate(None, "")):
        assert not silence.is_recommendation


def test_rating_keys_are_exactly_the_configured_criteria(persona_raw):
    j = RubricJudge(parse_persona(persona_raw), CLOCK, 0, CATALOG, criteria=("timing", "frequency"))
    asyncio.run(j.start_day(0))
    for when in ("03:00", "20:30"):
        for c in (ABSTAIN, candidate("song")):
            assert set(j.rate_now(obs_at(when), c, history(last="08:00")).criteria) == {"timing", "frequency"}
