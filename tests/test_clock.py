import datetime as dt

import pytest

from engine.clock import SimClock
from tests.conftest import run_days


def test_reference_protocol_numbers():
    clock = SimClock(dt.date(2026, 3, 2))
    assert clock.step_seconds == 150 and clock.steps_per_day == 576 and clock.days == 14
    assert clock.minute_of_day(0) == 0 and clock.minute_of_day(1) == 2 and clock.minute_of_day(2) == 5
    assert clock.minute_of_day(575) == 23 * 60 + 57
    assert clock.weekday(0) == 0 and clock.weekday(5) == 5  # 2026-03-02 is a Monday
    assert clock.timestamp(1, 4).isoformat() == "2026-03-03T00:10:00"


@pytest.mark.parametrize("bad", [0, 7, -150])
def test_step_must_divide_a_day(bad):
    with pytest.raises(ValueError):
        SimClock(dt.date(2026, 3, 2), step_seconds=bad)


def test_no_decisions_while_asleep():
    (metrics,) = run_days("every-step", days=1)
    # wake ~06:15, bed ~22:30: about 16 h awake of 24, so far fewer than 576 steps
    assert 330 < metrics.awake_steps < 430
