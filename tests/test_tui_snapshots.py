"""Snapshots of the main screen, the rating dialog and replay, at 100x30 and 160x48.

Deterministic: fixed seed, the engine starts paused and is stepped a fixed number of
times. Update after an intended change with: scripts/test --snapshot-update
"""

import asyncio
from pathlib import Path

import pytest

from engine.config import RunConfig
from propersim_tui.app import ProPerSimApp
from propersim_tui.dialogs import RatingDialog
from propersim_tui.view import is_recommendation
from tests.conftest import REFERENCE_PERSONA

SIZES = [(100, 30), (160, 48)]


def live_app(saves: Path, assistant: str = "ars-memory") -> ProPerSimApp:
    config = RunConfig(persona=REFERENCE_PERSONA, assistant=assistant, days=14, seed=3)
    return ProPerSimApp(config, saves=saves, autostart=False)


async def step(pilot, app: ProPerSimApp, count: int) -> None:
    for _ in range(count):
        await app.driver.sim.step()
    app._drain()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare, tmp_path, size):
    app = live_app(tmp_path)

    async def run_before(pilot):
        await step(pilot, app, 60)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_rating_dialog(snap_compare, tmp_path, size):
    app = live_app(tmp_path)

    async def run_before(pilot):
        await step(pilot, app, 20)
        record = next(s for s in reversed(app.steps) if is_recommendation(s))
        app.push_screen(RatingDialog(record, record["delivered"], app._criteria()))
        await pilot.pause()
        await pilot.press("3")

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    from engine.compose import new_run

    folder = tmp_path_factory.mktemp("replay") / "run"
    sim = new_run(RunConfig(persona=REFERENCE_PERSONA, assistant="properassistant", days=2, seed=3), folder)
    asyncio.run(sim.run())
    return folder


@pytest.mark.parametrize("size", SIZES)
def test_replay(snap_compare, recorded_run, tmp_path, size):
    app = ProPerSimApp(replay_dir=recorded_run, saves=tmp_path)

    async def run_before(pilot):
        await pilot.press("right_square_bracket", *["right"] * 30)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
