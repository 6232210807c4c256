"""The app over LLM roles (scripted fake backends): the header names each role's backend and counts
calls, and human takeover works unchanged over the LLM user and judge."""


from engine.config import RunConfig
from propersim_tui.app import ProPerSimApp
from tests.conftest import REFERENCE_PERSONA
from tests.test_llm_roles import FAKE, scripted  # noqa: F401 (the fixture)
from tests.test_tui import human_rated_steps, rate_dialogs, status_text, stop_takeover_and_save, wait_until


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
        saved = await stop_takeover_and_save(pilot, app)
    human = human_rated_steps(saved)
    assert len(human) >= 2 and all(s["candidates"][s["delivered"]]["rating"]["total"] == 1 for s in human)
    assert (saved / "calls.jsonl").exists()
