"""The app over LLM roles (scripted fake backends): the header names each role's backend and counts
calls, and human takeover works unchanged over the LLM user and judge."""

import json

from engine.config import RunConfig
from propersim_tui.app import ProPerSimApp
from propersim_tui.dialogs import RatingDialog
from tests.conftest import REFERENCE_PERSONA
from tests.test_llm_roles import FAKE, scripted  # noqa: F401 (the fixture)
from tests.test_tui import rate_dialogs, status_text, wait_until


async def test_takeover_over_llm_roles(tmp_path, scripted):  # noqa: F811
    config = RunConfig.model_validate({"persona": REFERENCE_PERSONA, "assistant": "llm-properassistant", "days": 1,
                                       "backends": FAKE, "user": {"kind": "llm"}, "judge": {"kind": "llm"}})
    app = ProPerSimApp(config, saves=tmp_path / "saves")
    async with app.run_test() as pilot:
        assert await wait_until(pilot, lambda: "calls" in status_text(app))
        header = status_text(app)
        assert "judge fake:" in header and "user fake:" in header and "assistant fake:" in header
        await pilot.press("h")
        await rate_dialogs(pilot, app, 2, "1", timeout=20)
        app.driver.human = None
        if isinstance(app.screen, RatingDialog):
            await pilot.press("escape")
        await pilot.press("space")
        await pilot.press("s")
        await pilot.pause(0.2)
        saved = app.driver.saved_to
    steps = [json.loads(line) for line in (saved / "events.jsonl").read_text().splitlines()]
    human = [s for s in steps if s["candidates"][s["delivered"]]["rating"]["source"] == "human"]
    assert len(human) >= 2 and all(s["candidates"][s["delivered"]]["rating"]["total"] == 1 for s in human)
    assert (saved / "calls.jsonl").exists()
