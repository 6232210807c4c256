"""The app's keys that no other test presses (f, p, o, ?), the app after an engine error, and the
engine's pacing flat out: under Textual's pilot on the real app, asserting what the human sees."""

import asyncio
import statistics
import time

from textual.widgets import Input, OptionList

from engine.compose import new_run
from engine.config import RunConfig
from engine.types import is_recommendation_text
from propersim_tui.dialogs import HelpScreen, NewRunDialog, OpenRunDialog
from propersim_tui.driver import SPEEDS, EngineDriver
from tests.conftest import REFERENCE_PERSONA
from tests.test_tui import make_app, status_text, wait_until


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_f_shows_only_the_recommendations_and_back(tmp_path):
    app = make_app(tmp_path, assistant="random", assistant_options={"rate": 0.3})
    async with app.run_test() as pilot:
        assert await wait_until(pilot, lambda: app.records_seen > 40)
        await pilot.press("space")
        await pilot.press("f")
        shown = app.timeline.steps
        assert shown and all(is_recommendation_text(s["candidates"][s["delivered"]]["text"]) for s in shown)
        assert len(shown) < app.records_seen and "Showing only recommendations" in notices(app)
        await pilot.press("f")
        assert len(app.timeline.steps) == len(app.rows) and "Showing every step" in notices(app)


async def test_p_starts_a_new_run_with_the_persona_chosen(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("p")
        assert await wait_until(pilot, lambda: isinstance(app.screen, NewRunDialog))
        dialog = app.screen
        listing = dialog.query_one(OptionList)
        chosen = next(p.id for p in dialog.personas if p.id != REFERENCE_PERSONA)
        listing.highlighted = [p.id for p in dialog.personas].index(chosen)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: app.config.persona == chosen and app.records_seen > 0)
        assert app.driver.sim.persona.id == chosen and app.driver.config.persona == chosen


async def test_o_opens_a_recorded_run_and_a_broken_one_is_an_error_on_screen(tmp_path):
    saves = tmp_path / "saves"
    recorded = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="oracle", days=1), saves / "recorded")
    await recorded.run()
    broken = saves / "broken"
    broken.mkdir()
    (broken / "run.toml").write_text("persona = [unclosed\n")
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("o")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OpenRunDialog))
        app.screen.query_one("#open-path", Input).value = str(broken)
        app.screen.query_one("#open-path", Input).focus()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: any("run.toml" in n and "invalid TOML" in n for n in notices(app)))
        assert app.replay is None and app.driver is not None and app.is_running  # still the live run
        if not isinstance(app.screen, OpenRunDialog):  # the dialog may stay open for another choice
            await pilot.press("o")
            assert await wait_until(pilot, lambda: isinstance(app.screen, OpenRunDialog))
        runs = app.screen.runs
        app.screen.query_one(OptionList).highlighted = runs.index(saves / "recorded")
        app.screen.query_one(OptionList).focus()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: app.replay is not None)
        assert "replay" in status_text(app) and app.timeline.row_count > 300


async def test_question_mark_shows_the_keys(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("Static").render())
        assert "human takeover on/off" in text and "rates fewer" in text and "ctrl+t" in text
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_after_an_engine_error_the_app_shows_it_and_keeps_working(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        assert await wait_until(pilot, lambda: app.records_seen > 5)
        sim = app.driver.sim

        async def broken_step():
            raise RuntimeError("the judge fell over")

        sim.step = broken_step
        assert await wait_until(pilot, lambda: any("The run stopped: RuntimeError: the judge fell over" in n
                                                   for n in notices(app)))
        assert app.driver.paused and app.is_running
        await pilot.press("s")  # what ran before the error can still be saved
        assert await wait_until(pilot, lambda: app.driver.saved_to is not None)
        assert (app.driver.saved_to / "events.jsonl").read_text().count("\n") >= 5
        await pilot.press("question_mark")
        assert await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_flat_out_the_engine_yields_to_the_ui_many_times_a_second(tmp_path):
    """Keys are handled between the engine's bursts: flat out, something the UI has to do (here a timer,
    as a key press would be) waits for at most a short burst, not a long one."""
    driver = EngineDriver(RunConfig(persona=REFERENCE_PERSONA, assistant="properassistant", days=60),
                          tmp_path / "saves")
    driver.speed_index = SPEEDS.index(None)
    engine = asyncio.create_task(driver.run())
    late, start = [], time.perf_counter()  # how long after its time each timer ran
    try:
        while time.perf_counter() - start < 1.5:
            planned = time.perf_counter() + 0.013  # not a multiple of a burst: timers land all over them
            await asyncio.sleep(0.013)
            late.append(time.perf_counter() - planned)
    finally:
        driver.stop()
        await engine
        driver.discard()
    assert driver.steps_done > 100  # it really ran flat out meanwhile
    assert statistics.median(late) < 0.03, statistics.median(late)
