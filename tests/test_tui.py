"""The app under Textual's pilot: one test per control, takeover, save and replay, the timeline's
trimming and the day end off the event loop (key latency in a terminal: bench/tui_latency.py)."""

import json

from textual.widgets import Checkbox, Input

from engine.config import RunConfig
from propersim_tui.app import ProPerSimApp
from propersim_tui.dialogs import ActivityDialog, QuitDialog, RatingDialog
from propersim_tui.driver import SPEEDS
from tests.conftest import REFERENCE_PERSONA


def make_app(tmp_path, assistant="oracle", autostart=True, days=3, **config) -> ProPerSimApp:
    return ProPerSimApp(RunConfig(persona=REFERENCE_PERSONA, assistant=assistant, days=days, **config),
                        saves=tmp_path / "saves", autostart=autostart)


async def wait_until(pilot, condition, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


def status_text(app) -> str:
    return str(app.status.render())


async def rate_dialogs(pilot, app, count: int, key: str, timeout: float = 5.0) -> list:
    """Rate the next `count` rating dialogs by pressing `key` then Enter; returns the dialogs."""
    dialogs, previous = [], None
    for _ in range(count):
        assert await wait_until(pilot, lambda previous=previous: isinstance(app.screen, RatingDialog)
                                and app.screen is not previous, timeout=timeout)
        dialog = previous = app.screen
        assert app.driver.paused  # the simulation waits for the human
        await pilot.press(key)
        dialogs.append(dialog)
        dialog.checked = [dialog.query_one(f"#crit-{c}", Checkbox).value for c in dialog.criteria]  # as pressed
        await pilot.press("enter")
        assert await wait_until(pilot, lambda dialog=dialog: app.screen is not dialog)
    return dialogs


async def stop_takeover_and_save(pilot, app):
    """Takeover off (a dialog may already be open for the next step), pause, save; the saved folder."""
    app.driver.human = None
    if isinstance(app.screen, RatingDialog):
        await pilot.press("escape")
    await pilot.press("space")
    await pilot.press("s")
    await pilot.pause(0.2)
    return app.driver.saved_to


def human_rated_steps(run_dir) -> list[dict]:
    steps = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [s for s in steps if s["candidates"][s["delivered"]]["rating"]["source"] == "human"]


async def test_pause_stops_the_clock(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        assert await wait_until(pilot, lambda: app.records_seen > 3)
        await pilot.press("space")
        assert "paused" in status_text(app)
        await pilot.pause(0.3)
        frozen = app.driver.steps_done
        await pilot.pause(0.4)
        assert app.driver.steps_done == frozen
        await pilot.press("space")
        assert await wait_until(pilot, lambda: app.driver.steps_done > frozen)


async def test_step_advances_exactly_one_step(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
        assert app.driver.steps_done == 0
        for expected in (1, 2, 3):
            await pilot.press("n")
            assert await wait_until(pilot, lambda expected=expected: app.records_seen == expected)
            await pilot.pause(0.15)
            assert app.driver.steps_done == expected
        assert app.timeline.row_count == 3


async def test_speed_changes_the_rate(tmp_path):
    app = make_app(tmp_path, assistant="properassistant", days=60)
    async with app.run_test() as pilot:
        app.driver.speed_index = 1
        await pilot.press("minus")
        assert app.driver.speed == SPEEDS[0] and "1x" in status_text(app)
        start = app.driver.steps_done
        await pilot.pause(0.5)
        slow = app.driver.steps_done - start
        app.driver.speed_index = len(SPEEDS) - 2
        start = app.driver.steps_done
        await pilot.press("plus")  # the pilot's press itself waits while the engine runs flat out
        assert app.driver.speed is None and "max" in status_text(app)
        await pilot.pause(0.3)
        fast = app.driver.steps_done - start
        assert slow <= 1 and fast > 50 * max(slow, 1)


async def test_run_to_end_of_day(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("d")
        assert await wait_until(pilot, lambda: app.driver.sim.day == 1 and app.driver.paused, timeout=20)
        assert await wait_until(pilot, lambda: len(app.daily) == 1)
        assert app.driver.paused and app.steps[-1]["day"] == 0


async def test_takeover_rating_is_recorded_as_human(tmp_path):
    app = make_app(tmp_path, assistant="random", assistant_options={"rate": 0.5})
    async with app.run_test() as pilot:
        await pilot.press("h")
        assert "human takeover" in status_text(app)
        for dialog in await rate_dialogs(pilot, app, 6, "3"):  # rate a few delivered recommendations 3 points
            assert dialog.checked == [True, True, True, False]
        saved = await stop_takeover_and_save(pilot, app)
    human = human_rated_steps(saved)
    assert len(human) >= 6 and all(s["candidates"][s["delivered"]]["rating"]["total"] == 3 for s in human)
    pairs = [json.loads(line) for line in (saved / "pairs.jsonl").read_text().splitlines()]
    assert any(p["source"] == "human" for p in pairs)


async def test_setting_the_activity_changes_the_next_observation(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("n")
        assert await wait_until(pilot, lambda: app.records_seen == 1)
        await pilot.press("a")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ActivityDialog))
        app.screen.query_one("#activity-text", Input).value = "Baking sourdough"
        app.screen.query_one("#activity-text", Input).focus()
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: not isinstance(app.screen, ActivityDialog))
        await pilot.press("n")
        assert await wait_until(pilot, lambda: app.records_seen == 2)
        activity = app.steps[-1]["activity"]
        assert activity["text"] == "Baking sourdough" and activity["source"] == "human"
        assert activity["room"] == "common_room"


async def test_save_then_replay_shows_the_same_rows(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test() as pilot:
        for expected in range(1, 9):
            await pilot.press("n")
            assert await wait_until(pilot, lambda expected=expected: app.records_seen == expected)
        await pilot.press("s")
        await pilot.pause(0.1)
        saved = app.driver.saved_to
        live_rows = [tuple(str(c) for c in app.timeline.row_cells(i)) for i in range(8)]
    assert (saved / "run.toml").exists() and (saved / "events.jsonl").exists()
    replay = ProPerSimApp(replay_dir=saved, saves=tmp_path / "saves")
    async with replay.run_test() as pilot:
        await pilot.pause(0.1)
        timeline = replay.timeline
        assert [tuple(str(c) for c in timeline.row_cells(i)) for i in range(timeline.row_count)] == live_rows
        assert "replay" in status_text(replay)
        await pilot.press("right", "right")
        assert replay.replay.cursor == 2 and timeline.cursor_row == 2
        await pilot.press("left")
        assert replay.replay.cursor == 1


async def test_replay_of_a_batch_run_navigates_days(tmp_path):
    from engine.compose import new_run

    await new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="oracle", days=2), tmp_path / "batch").run()
    app = ProPerSimApp(replay_dir=tmp_path / "batch", saves=tmp_path / "saves")
    async with app.run_test() as pilot:
        await pilot.press("right_square_bracket")
        assert app.replay.current["day"] == 1
        await pilot.press("g")
        await pilot.press(*"18:00", "enter")
        await pilot.pause(0.1)
        assert app.replay.current["day"] == 1 and app.replay.current["clock"] >= "18:00"
        assert app.replay.current["clock"] == app.timeline.selected_step()["clock"]
        await pilot.press("left_square_bracket")
        assert app.replay.current["day"] == 0


async def test_quit_asks_to_save_unsaved_work(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        assert await wait_until(pilot, lambda: app.records_seen > 0)
        await pilot.press("q")
        assert await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("escape")
        assert not isinstance(app.screen, QuitDialog) and app.is_running
        await pilot.press("q")
        assert await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("s")  # save and quit
        await pilot.pause(0.2)
    saved = list((tmp_path / "saves").glob("*/run.toml"))
    assert len(saved) == 1 and app.return_code == 0


async def test_pause_shows_and_stops_the_engine_at_full_speed(tmp_path):
    """Behaviour only: how fast the key shows in a real terminal is bench/tui_latency.py's claim
    (tmux, day 14 and later); the headless pilot's timing says nothing about a terminal."""
    app = make_app(tmp_path, assistant="properassistant", days=60)
    async with app.run_test() as pilot:
        app.driver.change_speed(len(SPEEDS))  # flat out
        assert await wait_until(pilot, lambda: app.records_seen > 50, timeout=30)
        for _ in range(3):
            await pilot.press("space")
            assert await wait_until(pilot, lambda: "paused" in status_text(app))
            frozen = app.driver.steps_done
            await pilot.pause(0.2)
            assert app.driver.steps_done == frozen
            await pilot.press("space")
            assert await wait_until(pilot, lambda: "running" in status_text(app))
            assert await wait_until(pilot, lambda frozen=frozen: app.driver.steps_done > frozen)


async def test_a_tick_while_shutting_down_shows_nothing_and_raises_nothing(tmp_path):
    """The drain timer can tick after the widgets are gone (CI once caught a TrainingStarted there)."""
    from engine.events import TrainingStarted

    app = make_app(tmp_path, autostart=False)
    async with app.run_test():
        pass
    app.driver.events.append(TrainingStarted(day=0, pairs=10))
    app._drain()
    assert len(app.driver.events) == 1  # left alone: nothing is shown on a closed screen


async def recorded_steps(days: int) -> list[dict]:
    """Real step records (and no run folder): an offline oracle run."""
    from engine.compose import new_run
    from engine.events import StepRecorded

    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="oracle", days=days))
    steps: list[dict] = []
    sim.subscribe(lambda e: steps.append(e.record.to_json()) if isinstance(e, StepRecorded) else None)
    await sim.run()
    return steps


async def test_timeline_trims_in_bulk_and_keeps_the_newest_rows():
    from textual.app import App

    from propersim_tui.timeline import MAX_ROWS, TRIM_SLACK, Timeline
    from propersim_tui.view import timeline_cells

    steps = await recorded_steps(days=4)
    assert len(steps) > MAX_ROWS + 2 * TRIM_SLACK

    class TimelineApp(App):
        def compose(self):
            yield Timeline()

    app = TimelineApp()
    async with app.run_test() as pilot:
        timeline = app.query_one(Timeline)
        counts = []
        for start in range(0, len(steps), 50):
            timeline.append_steps(steps[start:start + 50])
            counts.append(timeline.row_count)
            shown = steps[:start + 50][-timeline.row_count:]
            assert timeline.steps == shown  # the newest rows, in order
            assert timeline.cursor_row == timeline.row_count - 1  # following the newest
        await pilot.pause()
        first, last = timeline.row_cells(0), timeline.row_cells(timeline.row_count - 1)
        assert [str(c) for c in first] == [str(c) for c in timeline_cells(timeline.steps[0])]
        assert [str(c) for c in last] == [str(c) for c in timeline_cells(steps[-1])]
    assert max(counts) <= MAX_ROWS + TRIM_SLACK
    # in bulk: the oldest go all at once, down to MAX_ROWS, not one row per new row
    trims = [(a, b) for a, b in zip(counts, counts[1:]) if b < a]
    assert trims and all(b == MAX_ROWS for _, b in trims)
    assert len(trims) <= len(steps) // TRIM_SLACK


async def test_timeline_draws_only_the_rows_on_screen_and_its_cursor_follows_the_keys():
    """A thousand new rows cost nothing until painted, then only the visible ones are drawn; the
    cursor moves with the keys and the app hears of it; Enter selects; the filter shows only
    recommendations; a trim while not following keeps the cursor on its step."""
    from textual.app import App

    from propersim_tui.timeline import MAX_ROWS, TRIM_SLACK, Timeline
    from propersim_tui.view import is_recommendation

    steps = await recorded_steps(days=4)

    class CountingTimeline(Timeline):
        drawn: list[int] = []

        def row_cells(self, row: int) -> tuple:
            self.drawn.append(row)
            return super().row_cells(row)

    class TimelineApp(App):
        CSS = "CountingTimeline { height: 1fr; }"
        heard: list[tuple[str, dict | None]] = []

        def compose(self):
            yield CountingTimeline()

        def on_timeline_highlighted(self, event: Timeline.Highlighted) -> None:
            self.heard.append(("highlighted", event.step))

        def on_timeline_selected(self, event: Timeline.Selected) -> None:
            self.heard.append(("selected", event.step))

    app = TimelineApp()
    async with app.run_test(size=(160, 30)) as pilot:
        timeline = app.query_one(CountingTimeline)
        timeline.append_steps(steps[:MAX_ROWS])
        assert timeline.drawn == []  # nothing drawn yet
        await pilot.pause()
        on_screen = timeline.scrollable_content_region.height - 1  # less the header
        assert sorted(set(timeline.drawn)) == list(range(MAX_ROWS - on_screen, MAX_ROWS))  # the newest, at the bottom
        newest = timeline.render_line(on_screen).text  # the last line on screen
        assert steps[MAX_ROWS - 1]["clock"] in newest and "time" in timeline.render_line(0).text  # under the header
        assert app.heard[-1] == ("highlighted", steps[MAX_ROWS - 1])

        timeline.drawn.clear()
        timeline.focus()
        await pilot.press("up", "up")
        assert timeline.cursor_row == MAX_ROWS - 3 and timeline.selected_step() is steps[MAX_ROWS - 3]
        assert app.heard[-1] == ("highlighted", steps[MAX_ROWS - 3])
        assert len(timeline.drawn) <= 4  # only the rows the cursor left and reached are drawn again
        await pilot.press("enter")
        assert app.heard[-1] == ("selected", steps[MAX_ROWS - 3])
        await pilot.press("ctrl+home")
        assert timeline.selected_step() is steps[0] and timeline.scroll_y == 0

        timeline.move_cursor(600)
        kept = timeline.selected_step()
        timeline.append_steps(steps[MAX_ROWS:MAX_ROWS + TRIM_SLACK + 1], follow=False)  # one over the slack: a trim
        assert timeline.row_count == MAX_ROWS and timeline.steps[0] is steps[TRIM_SLACK + 1]
        assert timeline.selected_step() is kept and timeline.cursor_row == 600 - (TRIM_SLACK + 1)

        timeline.only_recommendations = True
        timeline.reset(steps)
        recommendations = [s for s in steps if is_recommendation(s)]
        assert 0 < timeline.row_count < len(steps)
        assert timeline.steps == recommendations[-timeline.row_count:]
        assert timeline.selected_step() is recommendations[-1]


async def test_live_day_ends_write_what_a_headless_run_writes(tmp_path):
    """The driver runs each day's end (checkpoint, metrics row) off the event loop: same bytes."""
    from engine.compose import new_run
    from propersim_tui.driver import EngineDriver

    config = RunConfig(persona=REFERENCE_PERSONA, assistant="properassistant", days=2)
    headless = new_run(config, tmp_path / "headless")
    await headless.run()
    driver = EngineDriver(config, tmp_path / "saves")
    driver.change_speed(len(SPEEDS))
    await driver.run()
    assert driver.sim.finished and not driver.writer.queued

    def files(folder):
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
                if p.is_file() and (p.name in ("events.jsonl", "pairs.jsonl", "metrics.csv")
                                    or "checkpoints" in p.parts)}

    written, expected = files(driver.live_dir), files(tmp_path / "headless")
    assert any("checkpoints" in name for name in expected)
    assert written.keys() == expected.keys()
    assert [name for name in expected if written[name] != expected[name]] == []


async def test_takeover_can_rate_both_candidates(tmp_path):
    app = ProPerSimApp(RunConfig(persona=REFERENCE_PERSONA, assistant="every-step", days=2),
                       saves=tmp_path / "saves", rate_both=True)
    async with app.run_test() as pilot:
        await pilot.press("h")
        roles = []
        previous = None
        for points in ("4", "1"):  # the delivered one first, then the other candidate
            assert await wait_until(pilot, lambda previous=previous: isinstance(app.screen, RatingDialog)
                                    and app.screen is not previous)
            previous = app.screen
            roles.append(previous.index == previous.step["delivered"])
            await pilot.press(points, "enter")
        app.driver.human = None
        while isinstance(app.screen, RatingDialog):
            await pilot.press("escape")
        app.driver.set_paused(True)
        saved = app.driver.save()
    assert roles == [True, False]
    pairs = [json.loads(line) for line in (saved / "pairs.jsonl").read_text().splitlines()]
    first_human = next(p for p in pairs if p["source"] == "human")
    assert (first_human["chosen_score"], first_human["rejected_score"]) == (4, 1)


async def test_day_end_training_shows_progress_and_loss(tmp_path):
    from propersim_tui.widgets import TrainingStatus

    app = make_app(tmp_path, assistant="properassistant", autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("d")
        assert await wait_until(pilot, lambda: "trained: loss" in str(app.training.query_one("#training-label").render()),
                                timeout=30)
        status = app.query_one(TrainingStatus)
        bar = status.query_one("#training-bar")
        assert status.has_class("-active") and bar.progress == bar.total > 0


async def test_every_control_is_in_the_command_palette(tmp_path):
    app = make_app(tmp_path, autostart=False)
    async with app.run_test():
        titles = {command.title for command in app.get_system_commands(app.screen)}
    for control in ("Pause/Resume", "Step", "Faster", "Slower", "End of day", "Takeover", "Activity", "Recs only",
                    "Save", "Open", "New run", "Help"):
        assert control in titles, control
    assert "Play/Pause" not in titles  # replay-only controls are hidden while live


async def test_time_away_from_home_shows_as_one_timeline_line(tmp_path):
    from pathlib import Path

    commuter = Path(__file__).resolve().parent / "personas_heldout" / "commuter.toml"
    app = ProPerSimApp(RunConfig(persona=str(commuter), assistant="oracle", days=2), saves=tmp_path / "saves",
                       autostart=False)
    async with app.run_test() as pilot:
        await pilot.press("d")
        assert await wait_until(pilot, lambda: app.driver.sim.day == 1 and app.driver.paused, timeout=20)
        assert await wait_until(pilot, lambda: any(r["type"] == "away" for r in app.timeline.steps))
        rows = [tuple(str(c) for c in app.timeline.row_cells(i)) for i in range(app.timeline.row_count)]
        (away,) = [r for r in rows if "away from home" in r[2]]
        assert away[0] == "1" and "08:25" <= away[1] <= "08:35"
        assert away[2] == "away from home: Commuting and at the office"
        assert away[3].startswith("until 17:")
        assert all(s["type"] == "step" for s in app.steps)  # scores count only steps
        app.timeline.move_cursor(row=rows.index(away))
        await pilot.pause(0.1)
        assert "the assistant is not heard" in str(app.detail.content)
        await pilot.press("f")  # recommendations only: the line goes, and comes back
        assert not any(r["type"] == "away" for r in app.timeline.steps)
        await pilot.press("f")
        assert sum(r["type"] == "away" for r in app.timeline.steps) == 1
        await pilot.press("s")
        await pilot.pause(0.1)
        saved = app.driver.saved_to
    replay = ProPerSimApp(replay_dir=saved, saves=tmp_path / "saves")  # a recording holds steps only
    async with replay.run_test() as pilot:
        await pilot.pause(0.1)
        assert replay.timeline.row_count == len(rows) - 1 and replay.replay.steps
