"""The real SmolLM2-135M model: in process through LlamaCppBackend, and behind llama-cpp-python's
OpenAI-compatible server through OpenAIBackend. Outputs are kept tiny: grammar-constrained
decoding of this model runs at about 10 tokens/s on the CI box."""

import asyncio
import json
import socket
import subprocess
import sys
import time
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel

pytest.importorskip("llama_cpp", reason="real-model tests need llama-cpp-python: pip install -e '.[llm]'")

from engine.llm import BackendError  # noqa: E402
from engine.llm.config import BackendConfig, build_backend, smollm2_path  # noqa: E402
from engine.llm.llama_cpp import LlamaCppBackend  # noqa: E402
from engine.llm.openai import OpenAIBackend  # noqa: E402
from engine.llm.structured import chat_structured  # noqa: E402


class Mood(BaseModel):
    mood: Literal["happy", "sad"]


ASK_MOOD = [{"role": "system", "content": "You answer in JSON."},
            {"role": "user", "content": "It is sunny and I got a present. Is my mood happy or sad?"}]


@pytest.fixture(scope="session")
def smol():
    backend = LlamaCppBackend(smollm2_path(), n_ctx=2048, n_threads=1)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """`python -m llama_cpp.server` on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()),
                                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                                 "--n_threads", "1"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}):\n{log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not up after 120 s:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_in_process_json_schema_constrained(smol):
    result = await smol.chat(ASK_MOOD, json_schema=Mood.model_json_schema(), temperature=0.0, max_tokens=16, seed=1)
    Mood.model_validate(json.loads(result.texts[0]))
    assert result.usage.prompt_tokens > 20 and 0 < result.usage.completion_tokens <= 16
    assert result.model == "SmolLM2-135M-Instruct.Q4_1"


async def test_in_process_plain_chat_and_n(smol):
    messages = [{"role": "user", "content": "Say hello in three words."}]
    result = await smol.chat(messages, n=2, temperature=0.8, max_tokens=12, seed=3)
    assert len(result.texts) == 2 and all(t.strip() for t in result.texts)
    assert 0 < result.usage.completion_tokens <= 24


async def test_in_process_chat_structured(smol):
    [answer] = await chat_structured(smol, ASK_MOOD, Mood, temperature=0.0, max_tokens=16, seed=2)
    assert not answer.failed and answer.value in (Mood(mood="happy"), Mood(mood="sad"))


async def test_in_process_schema_decoder_answers_every_role_schema(smol):
    """The worker writes the JSON's fixed parts and samples the values: valid answers of the
    assistant's, judge's and user's schemas, within max_tokens where the schema's shortest answer fits."""
    from engine.judges.llm import combined_model
    from engine.users.llm import plan_model
    from engine.vocab import DEFAULT_CRITERIA
    from training.llm_assistant import Answer

    for model in (Answer, combined_model(DEFAULT_CRITERIA, 2), plan_model()):
        result = await smol.chat(ASK_MOOD, json_schema=model.model_json_schema(), n=2, temperature=0.8,
                                 max_tokens=600, seed=4)
        assert result.extra["finish_reasons"] == ["stop", "stop"]
        for text in result.texts:
            model.model_validate_json(text)
    # a tight budget ends the text early, so the answer is still whole; too tight a one cannot be
    tight = await smol.chat(ASK_MOOD, json_schema=Answer.model_json_schema(), n=2, max_tokens=32, seed=5)
    assert tight.extra["finish_reasons"] == ["stop", "stop"] and tight.usage.completion_tokens <= 64
    assert all(Answer.model_validate_json(text) for text in tight.texts)
    # 6 tokens hold {"recommend": false} only: the choice leaves out the recommendation, which would not fit
    quiet = await smol.chat(ASK_MOOD, json_schema=Answer.model_json_schema(), n=4, max_tokens=6, seed=1)
    assert quiet.extra["finish_reasons"] == ["stop"] * 4 and set(quiet.texts) == {'{"recommend":false}'}
    short = await smol.chat(ASK_MOOD, json_schema=Answer.model_json_schema(), max_tokens=4, seed=1)
    assert short.extra["finish_reasons"] == ["length"] and short.usage.completion_tokens <= 4


async def test_warm_prefix_false_evaluates_every_prompt_whole():
    system = {"role": "system", "content": "You answer in JSON. " * 30}
    evaluated = {}
    for warm in (True, False):
        backend = LlamaCppBackend(smollm2_path(), n_ctx=1024, warm_prefix=warm)
        try:
            for clock in ("7:00", "7:15"):
                result = await backend.chat([system, {"role": "user", "content": f"It is {clock}. Mood?"}],
                                            json_schema=Mood.model_json_schema(), temperature=0.0, max_tokens=8)
            evaluated[warm] = result.extra["llama_perf"]["batch_tokens"]
        finally:
            await backend.aclose()
    assert evaluated[True] < 40 and evaluated[False] >= result.usage.prompt_tokens


async def test_lockstep_decodes_the_sequences_of_a_call_together(smol):
    """The n completions of a request, and the judge's options, are decoded in lockstep: one
    llama_decode per round for all sequences, so fewer decodes than one sequence after another; the
    answers stay schema-valid, and the next call still reuses the cached prompt prefix."""
    from engine.judges.llm import combined_model
    from engine.vocab import DEFAULT_CRITERIA
    from training.llm_assistant import Speak

    verdicts = combined_model(DEFAULT_CRITERIA, 2)
    ask = [{"role": "system", "content": "You rate options in JSON. " * 15},
           {"role": "user", "content": "Rate option_1: a walk; option_2: No Recommendation."}]
    decodes, texts = {}, {}
    for lockstep in (True, False):
        backend = smol if lockstep else LlamaCppBackend(smollm2_path(), n_ctx=1024, lockstep=False)
        try:
            # temperature 0: the two completions are the same, so lockstep needs the decodes of one
            same = await backend.chat(ASK_MOOD, n=2, json_schema=Speak.model_json_schema(), temperature=0.0,
                                      max_tokens=24)
            assert same.texts[0] == same.texts[1] and all(Speak.model_validate_json(t) for t in same.texts)
            judged = await backend.chat(ask, json_schema=verdicts.model_json_schema(), temperature=0.0, max_tokens=72)
            assert judged.extra["finish_reasons"] == ["stop"]
            texts[lockstep] = verdicts.model_validate_json(judged.texts[0])
            if lockstep:  # the prompt's prefix stayed cached: the 90-token system prompt is not evaluated again
                again = await backend.chat(ask, json_schema=verdicts.model_json_schema(), temperature=0.0, max_tokens=72)
                assert again.extra["llama_perf"]["batch_tokens"] < judged.extra["llama_perf"]["batch_tokens"] - 80
            decodes[lockstep] = (same.extra["llama_perf"]["decodes"], judged.extra["llama_perf"]["decodes"])
        finally:
            if backend is not smol:
                await backend.aclose()
    (pair, judge), (pair_serial, judge_serial) = decodes[True], decodes[False]
    assert pair <= pair_serial / 2 + 2  # two sequences for the price of about one
    assert judge < judge_serial  # the options decoded side by side, each after its own key
    assert texts[True].option_1 and texts[True].option_2


async def test_drafts_save_decodes_where_the_answer_quotes_the_prompt():
    """A string's next tokens are guessed from where its last ones occurred before (the judge's reasons
    quote the options) and checked in the decode that samples the token before them: a quote costs
    fewer decodes, and the answers are those of token-by-token decoding (the same samples, in order;
    both models fresh and alike, so that only the drafts differ: a token's logits move by rounding
    with the batch it is evaluated in, which a differently warmed cache changes too)."""
    from engine.judges.llm import combined_model
    from engine.vocab import DEFAULT_CRITERIA

    verdicts = combined_model(DEFAULT_CRITERIA, 2)
    ask = [{"role": "system", "content": "You rate options in JSON. As the reason, quote the option."},
           {"role": "user", "content": 'option_1: "Take a short walk in the park before dinner to clear your head." '
                                       "option_2: No Recommendation (the assistant stays quiet)"}]
    backends = {"draft": LlamaCppBackend(smollm2_path(), n_ctx=1024),
                "plain": LlamaCppBackend(smollm2_path(), n_ctx=1024, draft=0)}
    try:
        answers = {}
        for label, backend in backends.items():
            result = await backend.chat(ask, json_schema=verdicts.model_json_schema(), n=2, temperature=0.7,
                                        max_tokens=120, seed=3)
            answers[label] = (result.texts, result.extra["llama_perf"]["decodes"])
    finally:
        for backend in backends.values():
            await backend.aclose()
    (texts, decodes), (plain_texts, plain_decodes) = answers["draft"], answers["plain"]
    assert texts == plain_texts and all(verdicts.model_validate_json(t) for t in texts)
    assert "walk in the park" in texts[0] or "walk in the park" in texts[1]  # it did quote
    assert decodes < plain_decodes - 5, (decodes, plain_decodes)


def test_factory_builds_llama_cpp_per_role():
    backend = build_backend(BackendConfig(kind="llama-cpp", n_ctx=1024), "user")
    assert backend.inner.share_key == "user" and backend.inner.gguf_path == smollm2_path()
    asyncio.run(backend.aclose())


async def test_openai_backend_against_llama_cpp_server(llama_server):
    backend = OpenAIBackend("smollm2", base_url=llama_server, timeout_s=60, schema_format="json_object")
    try:
        result = await backend.chat(ASK_MOOD, json_schema=Mood.model_json_schema(), temperature=0.0,
                                    max_tokens=16, seed=1)
        plain = await backend.chat([{"role": "user", "content": "Say hi."}], max_tokens=8)
    finally:
        await backend.aclose()
    Mood.model_validate(json.loads(result.texts[0]))
    assert result.usage.prompt_tokens > 20 and result.usage.completion_tokens > 0
    assert plain.texts[0].strip()


async def test_llama_cpp_server_rejects_the_standard_json_schema_form(llama_server):
    backend = OpenAIBackend("smollm2", base_url=llama_server, timeout_s=60, max_retries=0)
    try:
        with pytest.raises(BackendError, match="response_format.*schema_format='json_object'"):
            await backend.chat(ASK_MOOD, json_schema=Mood.model_json_schema(), max_tokens=4)
    finally:
        await backend.aclose()


def test_one_hour_with_all_three_roles_through_the_llama_cpp_server(llama_server, tmp_path):
    """The openai backend for user, judge and assistant against the real server running SmolLM2, for one
    simulated hour (20-minute steps: 3 decisions, as in the in-process hour)."""
    from engine.compose import new_run
    from tests.test_llm_roles import drive_minutes, real_model_hour

    server = {"kind": "openai", "base_url": llama_server, "model": "smollm2", "schema_format": "json_object",
              "timeout_s": 120, "max_in_flight": 1}
    sim = new_run(real_model_hour(server), tmp_path / "run")

    async def hour() -> list:
        try:
            return await drive_minutes(sim, 60)
        finally:
            await sim.aclose()  # on the loop its HTTP client was made on

    records = asyncio.run(hour())
    assert records and all(len(r.ratings) == 2 for r in records)
    lines = [json.loads(line) for line in (tmp_path / "run" / "calls.jsonl").read_text().splitlines()]
    assert {line["role"] for line in lines} == {"user", "judge", "assistant"}
    assert all(line["backend"] == "openai" for line in lines)
    assert any(not line["failed"] for line in lines), f"the server answered no call: {lines[0]['error']}"
