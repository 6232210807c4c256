"""The app over LLM roles (scripted fake backends): the header names each role's backend and counts
calls, human takeover works unchanged over the LLM user and judge, and the detail pane shows what
each role was asked and answered, live and in a replay."""

import json
from collections import deque

from engine.config import RunConfig
from propersim_tui.app import ProPerSimApp
from tests.conftest import REFERENCE_PERSONA
from tests.llm_servers import FakeOpenAIServer, role_answer
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


ASSISTANT_PROMPT = "You are a proactive home assistant for one person."  # engine/prompts/assistant_system.txt


def openai_config(server) -> RunConfig:
    """All three roles on the loopback OpenAI-compatible server (its answers: tests.llm_servers.role_answer)."""
    backend = {"kind": "openai", "base_url": server.base_url, "model": "test-model"}
    return RunConfig.model_validate({"persona": REFERENCE_PERSONA, "assistant": "llm-properassistant", "days": 1,
                                     "backends": {"default": backend}, "user": {"kind": "llm"},
                                     "judge": {"kind": "llm"}})


def detail_text(app) -> str:
    return str(app.detail.content)


def judge_answer(calls: list[dict]) -> str:
    [judge] = [c for c in calls if c["role"] == "judge"]
    return judge["answers"][0]


async def test_the_detail_pane_shows_each_calls_prompt_and_answer(tmp_path):
    with FakeOpenAIServer(role_answer) as server:
        app = ProPerSimApp(openai_config(server), saves=tmp_path / "saves", autostart=False)
        async with app.run_test(size=(160, 50)) as pilot:
            ledger = app.driver.sim.backends.ledger
            ledger.recent = deque(maxlen=3)  # the first step's calls fall out of memory: read from calls.jsonl
            for expected in (1, 2, 3):
                await pilot.press("n")
                assert await wait_until(pilot, lambda expected=expected: app.records_seen == expected, timeout=20)
            last = app.steps[-1]
            text = detail_text(app)  # the newest step is selected, its calls still in memory
            assert ledger.calls_at(last["day"], last["step"]) is not None
            assert "LLM calls at this step" in text and ASSISTANT_PROMPT in text and "test-model" in text
            assert judge_answer(app.calls.calls_at(last["day"], last["step"])) in text
            assert "Day plan" not in text  # only on the day's first step
            app.timeline.focus()  # as a click on it would
            await pilot.press("up", "up")
            first = app.timeline.selected_step()
            assert first is app.steps[0] and ledger.calls_at(first["day"], first["step"]) is None
            text = detail_text(app)
            assert ASSISTANT_PROMPT in text and judge_answer(app.calls.calls_at(first["day"], first["step"])) in text
            assert "Day plan" in text and "Breakfast and the news" in text  # the user's plan, as answered
            await pilot.press("enter")
            assert app.has_class("-detail-open")


async def test_a_replay_shows_the_recorded_calls_of_a_step(tmp_path):
    from engine.compose import new_run

    with FakeOpenAIServer(role_answer) as server:
        sim = new_run(openai_config(server), tmp_path / "run")
        for _ in range(4):
            await sim.step()
        sim.close_recording()
        await sim.aclose()
    recorded = [json.loads(line) for line in (tmp_path / "run" / "calls.jsonl").read_text().splitlines()]
    app = ProPerSimApp(replay_dir=tmp_path / "run", saves=tmp_path / "saves")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("right", "right")
        step = app.replay.current
        text = detail_text(app)
        assert ASSISTANT_PROMPT in text
        assert judge_answer([c for c in recorded if (c["day"], c["step"]) == (step["day"], step["step"])]) in text
        assert "Day plan" not in text
        await pilot.press("left", "left")
        assert "Day plan" in detail_text(app)
