"""The oracle's plan, the day's bounds and the scores built on them (normalized, precision, recall, wanted range)."""

import itertools
import math
from pathlib import Path

import pytest

from engine.assistants.adversaries import SUITE
from engine.judges.day_plan import DayBounds, best_item, run_plan, servable
from engine.judges.rubric import DayHistory
from engine.persona_library import persona_paths
from engine.types import ABSTAIN
from tests.conftest import REFERENCE_PERSONA, run_days

HELD_OUT = Path(__file__).parent / "personas_heldout"


def _sim_judge_and_day(persona: str = REFERENCE_PERSONA, day_steps: slice = slice(None)):
    """The rubric judge of a run and one day's awake observations (from an abstaining run)."""
    import asyncio

    from engine.compose import new_run
    from engine.config import RunConfig
    from engine.events import StepRecorded

    sim = new_run(RunConfig(persona=persona, assistant="always-abstain", days=1, seed=0), None)
    observations = []
    sim.subscribe(lambda e: observations.append(e.record.observation) if isinstance(e, StepRecorded) else None)
    asyncio.run(sim.run())
    return sim.judge, observations[day_steps]


def _execute(judge, observations, choose) -> int:
    history, total = DayHistory(), 0
    for obs in observations:
        candidate = choose(obs, history)
        rating = judge.rate_now(obs, candidate, history, noisy=False)
        total += rating.total
        history.see(obs, candidate, candidate.is_recommendation and all(rating.criteria.values()))
    return total


def test_the_plan_beats_every_policy_over_its_choices():
    """Brute force on a short stretch: at each step silence, the first servable item or the best item."""
    judge, observations = _sim_judge_and_day()
    stretch = [o for o in observations if judge.view(o).open_to(o.activity.tags)][:9]
    assert len(stretch) == 9
    best = 0
    for plan in itertools.product(range(3), repeat=len(stretch)):
        choice = dict(zip((o.step for o in stretch), plan))

        def choose(obs, history, choice=choice):
            kind = choice[obs.step]
            if kind == 1:
                options = servable(judge, obs, history)
                return options[0] if options else ABSTAIN
            return best_item(judge, obs, history)[0] if kind == 2 else ABSTAIN

        best = max(best, _execute(judge, stretch, choose))
    assert sum(run_plan(judge, stretch)) >= best


def test_oracle_and_silence_are_the_two_ends():
    oracle, abstain = run_days("oracle", days=3), run_days("always-abstain", days=3)
    for o, a in zip(oracle, abstain):
        assert o.normalized == pytest.approx(1.0) and a.normalized == 0.0
        assert o.oracle_score == a.oracle_score == pytest.approx(o.mean_score)
        assert a.abstain_score == pytest.approx(a.mean_score)
        assert o.recall == 1.0 and a.recall == 0.0 and o.precision == 1.0 and math.isnan(a.precision)
        assert o.in_wanted_range and o.wanted_min <= o.recommendations <= o.wanted_max
        assert o.mean_score >= 3.9 and a.mean_score < o.mean_score


def test_normalized_is_blank_with_nothing_at_stake():
    assert math.isnan(DayBounds(4.0, 4.0).normalized(3.0))
    assert DayBounds(2.0, 4.0).normalized(3.0) == 0.5 and DayBounds(2.0, 4.0).normalized(1.0) == -0.5


def test_weekends_only_persona_wants_nothing_on_a_weekday_and_is_served_at_the_weekend():
    days = run_days("oracle", persona=str(HELD_OUT / "weekend-only.toml"), days=7)
    weekdays, weekend = days[:5], days[5:]  # the run starts on a Monday
    assert all((m.wanted_min, m.wanted_max) == (0, 0) and math.isnan(m.normalized) for m in weekdays)
    assert all(m.wanted_max > 0 and m.recommendations > 0 and m.normalized == pytest.approx(1.0) for m in weekend)


@pytest.mark.parametrize("persona", ["night-nurse", "commuter", "midweek-off"])
def test_the_oracle_is_the_upper_bound_on_held_out_personas(persona):
    for m in run_days("oracle", persona=str(HELD_OUT / f"{persona}.toml"), days=3):
        assert math.isnan(m.normalized) or m.normalized == pytest.approx(1.0)
        assert m.mean_score >= 3.9


def test_adversaries_stay_near_silence_on_a_sample():
    """The ordering on a small sample (4 personas, 3 days): each feedback-free trick's mean normalized
    score stays far below the oracle's 1. On a single persona whose tastes match the crowd's it may not."""
    personas = [p.stem for p in persona_paths()][::8]
    for name, options, label in SUITE[::3]:
        norms = [m.normalized for persona in personas
                 for m in run_days(name, persona=persona, days=3, assistant_options=options)]
        norms = [n for n in norms if not math.isnan(n)]
        assert sum(norms) / len(norms) <= 0.35, label
