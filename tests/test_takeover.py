"""Takeover as a human uses it, under Textual's pilot on the real app: the score pressed is the score
stored, the reason is one key away and kept, the app's keys work while a rating dialog is open, the
human can rate only some recommendations, and bad input (empty, control characters, a huge paste,
a resize) never crashes the app."""

import json

from textual import events

from engine.config import RunConfig
from engine.types import is_recommendation_text
from propersim_tui.app import ProPerSimApp
from propersim_tui.dialogs import REASON_MAX_CHARS, QuitDialog, RatingDialog, ReasonInput
from tests.conftest import REFERENCE_PERSONA
from tests.test_tui import wait_until


def make_app(tmp_path, assistant="every-step") -> ProPerSimApp:
    return ProPerSimApp(RunConfig(persona=REFERENCE_PERSONA, assistant=assistant, days=2), saves=tmp_path / "saves")


def delivered_rating(step: dict) -> dict:
    return step["candidates"][step["delivered"]]["rating"]


def human_steps(app) -> list[dict]:
    return [s for s in app.steps if delivered_rating(s)["source"] == "human"]


async def next_dialog(pilot, app, previous=None) -> RatingDialog:
    assert await wait_until(pilot, lambda: isinstance(app.screen, RatingDialog) and app.screen is not previous)
    return app.screen


async def rated(pilot, app, count: int = 1) -> list[dict]:
    """The first `count` human-rated steps, once the engine has recorded them."""
    assert await wait_until(pilot, lambda: len(human_steps(app)) >= count)
    return human_steps(app)[:count]


async def test_the_score_pressed_and_the_reason_typed_are_stored(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("1", "tab", *"too late at night", "enter")  # the sequence that once stored 2
        assert await wait_until(pilot, lambda: app.screen is not dialog)
        dialog = await next_dialog(pilot, app, dialog)
        await pilot.press("3", "r", *"fine", "escape", "4", "enter")  # Esc leaves the field, keys score again
        first, second = await rated(pilot, app, 2)
    assert delivered_rating(first)["total"] == 1 and delivered_rating(first)["reason"] == "too late at night"
    assert delivered_rating(second)["total"] == 4 and delivered_rating(second)["reason"] == "fine"


async def test_h_in_a_rating_dialog_switches_takeover_off_at_once(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("h")
        assert await wait_until(pilot, lambda: app.screen is not dialog)
        assert app.mode == "simulated" and app.driver.human is None
        before = app.driver.steps_done
        assert await wait_until(pilot, lambda: app.driver.steps_done > before + 20)  # the run goes on by itself
        assert not isinstance(app.screen, RatingDialog)
    assert human_steps(app) == []


async def test_ctrl_keys_work_while_typing_a_reason(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("r", *"hm")
        await pilot.press("ctrl+s")  # saves; the reason field keeps what was typed
        assert await wait_until(pilot, lambda: app.driver.saved_to is not None)
        assert app.screen is dialog and dialog.query_one(ReasonInput).value == "hm"
        await pilot.press("ctrl+t")
        assert await wait_until(pilot, lambda: app.screen is not dialog and app.driver.human is None)
    assert (app.driver.saved_to / "events.jsonl").exists()


async def test_s_saves_and_q_quits_from_a_rating_dialog(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("s")
        assert await wait_until(pilot, lambda: app.driver.saved_to is not None)
        assert app.screen is dialog
        await pilot.press("q")
        assert await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog) or app.return_code is not None)
        if isinstance(app.screen, QuitDialog):  # steps were recorded since the save
            await pilot.press("s")
        assert await wait_until(pilot, lambda: app.return_code == 0)


async def test_the_human_can_rate_at_most_one_recommendation_an_hour(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("m", "m", "m")  # every → 15 → 30 → 60 minutes
        assert "at most one every 60 min" in str(dialog.query_one("#rating-sampling").render())
        for _ in range(3):
            await pilot.press("2", "enter")
            dialog = await next_dialog(pilot, app, dialog)
        steps = list(app.steps)
    rated_minutes = [s["day"] * 1440 + int(s["clock"][:2]) * 60 + int(s["clock"][3:]) for s in steps
                     if delivered_rating(s)["source"] == "human"]
    assert len(rated_minutes) == 3 and all(b - a >= 60 for a, b in zip(rated_minutes, rated_minutes[1:]))
    judged = [s for s in steps if delivered_rating(s)["source"] == "simulated"
              and is_recommendation_text(s["candidates"][s["delivered"]]["text"])]
    assert len(judged) >= 2 * 20  # every-step recommends each step: the judge rated the ones in between


async def test_an_empty_or_invisible_reason_stores_the_default(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("3", "enter")
        dialog = await next_dialog(pilot, app, dialog)
        await pilot.press("2", "r", "space", "space", "ctrl+a", "tab", "enter")
        first, second = await rated(pilot, app, 2)
    assert [delivered_rating(s)["total"] for s in (first, second)] == [3, 2]
    assert delivered_rating(first)["reason"] == delivered_rating(second)["reason"] == "Rated by a human."


async def test_a_huge_paste_with_control_characters_is_cut_to_one_clean_line(tmp_path):
    app = make_app(tmp_path)
    paste = ("\x1b[31mred\x1b[0m\tand\x00 a bell\x07 " * 2000) + "\nsecond line"
    async with app.run_test() as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("2", "r")
        reason = dialog.query_one(ReasonInput)
        reason.post_message(events.Paste(paste))
        assert await wait_until(pilot, lambda: reason.value != "")
        reason.post_message(events.Paste("more " * 500))  # over the cap already: cut, not a crash
        await pilot.pause(0.1)
        assert len(reason.value) == REASON_MAX_CHARS
        await pilot.press("enter")
        (step,) = await rated(pilot, app)
    stored = delivered_rating(step)["reason"]
    assert stored.startswith("[31mred [0m and a bell") and "second line" not in stored
    assert len(stored) <= REASON_MAX_CHARS and stored.isprintable() and delivered_rating(step)["total"] == 2
    json.dumps(step)  # still a plain JSON line


async def test_a_resize_mid_dialog_keeps_the_dialog_and_what_was_entered(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        dialog = await next_dialog(pilot, app)
        await pilot.press("4", "r", *"ok")
        for size in ((40, 12), (20, 6), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.05)
            assert app.screen is dialog
        await pilot.press("enter")
        (step,) = await rated(pilot, app)
    assert delivered_rating(step)["total"] == 4 and delivered_rating(step)["reason"] == "ok"
