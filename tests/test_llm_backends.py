"""The LLM backend layer against a real loopback HTTP server and a scripted backend."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Literal

import pytest
from llm_servers import FakeOpenAIServer
from pydantic import BaseModel, RootModel, ValidationError

from engine.compose import BackendPool
from engine.llm import Backend, BackendError, MissingExtraError
from engine.llm.config import BackendConfig, build_backend
from engine.llm.fake import FakeBackend, approx_tokens
from engine.llm.ledger import CallLedger
from engine.llm.openai import OpenAIBackend
from engine.llm.structured import chat_structured, describe_validation_error, parse_json_object
from engine.llm.wrappers import Cached, Limited, Metered, cache_key

REPO = Path(__file__).resolve().parent.parent
HELLO = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}]


class Pick(BaseModel):
    topic: Literal["tea", "walk"]
    score: int


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_openai(sleeps):
    """An OpenAIBackend whose backoff sleeps are recorded, not slept, and whose jitter is its upper bound."""
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    def make(base_url: str, **options) -> OpenAIBackend:
        options = {"timeout_s": 5.0, "sleep": record, "jitter": lambda upper: upper, **options}
        return OpenAIBackend("test-model", base_url=base_url, **options)

    return make


# --- OpenAI-compatible backend -------------------------------------------------------------------

async def test_openai_success_body_and_usage(make_openai):
    with FakeOpenAIServer(answers=["hello"]) as server:
        backend = make_openai(server.base_url)
        result = await backend.chat(HELLO, temperature=0.2, max_tokens=16, seed=7)
        await backend.aclose()
        await backend.aclose()  # idempotent
    assert result.texts == ("hello",)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 3)
    assert result.model == "test-model" and not result.cached and result.extra["attempts"] == 1
    body = server.requests[0]["body"]
    assert body == {"model": "test-model", "messages": HELLO, "temperature": 0.2, "max_tokens": 16, "seed": 7}
    assert isinstance(backend, Backend)


async def test_openai_n2_and_json_schema_in_body(make_openai):
    schema = Pick.model_json_schema()
    with FakeOpenAIServer(answers=['{"topic": "tea", "score": 1}', '{"topic": "walk", "score": 2}']) as server:
        backend = make_openai(server.base_url)
        result = await backend.chat(HELLO, n=2, json_schema=schema)
        await backend.aclose()
    assert len(result.texts) == 2 and result.usage.completion_tokens == 6
    body = server.requests[0]["body"]
    assert body["n"] == 2
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "Pick", "schema": schema, "strict": True}}


async def test_openai_json_object_schema_format(make_openai):
    schema = Pick.model_json_schema()
    with FakeOpenAIServer(answers=['{"topic": "tea", "score": 1}']) as server:
        backend = make_openai(server.base_url, schema_format="json_object")
        await backend.chat(HELLO, json_schema=schema)
        await backend.aclose()
    assert server.requests[0]["body"]["response_format"] == {"type": "json_object", "schema": schema}


async def test_openai_estimates_usage_without_usage_object(make_openai):
    with FakeOpenAIServer(answers=["abcdefgh"], usage=False) as server:
        backend = make_openai(server.base_url)
        result = await backend.chat(HELLO)
        await backend.aclose()
    assert result.usage.completion_tokens == 2  # 8 chars / 4
    assert result.usage.prompt_tokens == sum((len(m["content"]) + 3) // 4 for m in HELLO)


async def test_openai_makes_up_choices_a_server_ignored(make_openai):
    with FakeOpenAIServer(answers=["a", "b", "c"], ignore_n=True) as server:
        backend = make_openai(server.base_url)
        result = await backend.chat(HELLO, n=3, seed=5)
        await backend.aclose()
    assert result.texts == ("a", "b", "c")
    bodies = [r["body"] for r in server.requests]
    assert [b.get("n") for b in bodies] == [3, 2, None]
    assert [b["seed"] for b in bodies] == [5, 6, 7]  # one seed would repeat the same completion
    assert result.usage.prompt_tokens == 33 and result.extra["requests"] == 3


@pytest.mark.parametrize("fault", ["429", "500", "hang", "malformed", "truncated"])
async def test_openai_retries_each_fault_then_succeeds(make_openai, sleeps, fault):
    with FakeOpenAIServer(answers=["fine"], faults=[fault, fault], retry_after="1.5", hang_s=1.0) as server:
        backend = make_openai(server.base_url, timeout_s=0.3, backoff_base_s=0.5)
        result = await backend.chat(HELLO)
        await backend.aclose()
    assert result.texts == ("fine",)
    assert result.extra["attempts"] == 3 and len(server.requests) == 3
    if fault == "429":
        assert sleeps == [1.5, 1.5]  # Retry-After honoured
    else:
        assert sleeps == [0.5, 1.0]  # exponential: base * 2**retry (jitter pinned to its upper bound)


async def test_openai_full_jitter_stays_under_the_exponential_bound(sleeps):
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    with FakeOpenAIServer(faults=["500"] * 4) as server:
        backend = OpenAIBackend("m", base_url=server.base_url, sleep=record, backoff_base_s=1.0)
        await backend.chat(HELLO)
        await backend.aclose()
    assert len(sleeps) == 4 and all(0 <= s <= 2 ** i for i, s in enumerate(sleeps))


async def test_openai_caps_retry_after(make_openai, sleeps):
    with FakeOpenAIServer(faults=["429"], retry_after="3600") as server:
        backend = make_openai(server.base_url, retry_after_cap_s=30.0)
        await backend.chat(HELLO)
        await backend.aclose()
    assert sleeps == [30.0]


async def test_openai_gives_up_after_max_retries(make_openai, sleeps):
    with FakeOpenAIServer(faults=["500"] * 10) as server:
        backend = make_openai(server.base_url, max_retries=2)
        with pytest.raises(BackendError) as error:
            await backend.chat(HELLO)
        await backend.aclose()
    assert len(server.requests) == 3 and sleeps == [0.5, 1.0]
    message = str(error.value)
    assert "/v1/chat/completions" in message and "3 attempts" in message and "HTTP 500" in message


async def test_openai_retries_a_refused_connection(make_openai, sleeps):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make_openai(f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(BackendError, match="2 attempts.*no response"):
        await backend.chat(HELLO)
    await backend.aclose()
    assert sleeps == [0.5]


async def test_openai_does_not_retry_a_client_error(make_openai, sleeps):
    with FakeOpenAIServer() as server:
        backend = make_openai(server.base_url.replace("/v1", "/v2"))
        with pytest.raises(BackendError, match="HTTP 404"):
            await backend.chat(HELLO)
        await backend.aclose()
    assert len(server.requests) == 0 and sleeps == []


async def test_api_key_sent_from_env_and_written_nowhere(make_openai, tmp_path, monkeypatch):
    secret = "sk-test-5f3c9a1e-never-on-disk"
    monkeypatch.setenv("PROPERSIM_TEST_KEY", secret)
    run = tmp_path / "run"
    ledger = CallLedger(run)
    with FakeOpenAIServer(answers=['{"topic": "tea", "score": 1}'], faults=["500"]) as server:
        inner = make_openai(server.base_url, api_key_env="PROPERSIM_TEST_KEY")
        backend = Metered(Cached(inner, tmp_path / "cache"), ledger, "judge")
        await chat_structured(backend, HELLO, Pick)
        await backend.aclose()
    assert [r["headers"]["Authorization"] for r in server.requests] == [f"Bearer {secret}"] * 2
    assert secret not in repr(inner) and secret not in repr(vars(inner))
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert run / "calls.jsonl" in written and any(p.suffix == ".json" for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes()]


async def test_api_key_env_unset_is_a_clear_error(make_openai, monkeypatch):
    monkeypatch.delenv("PROPERSIM_UNSET_KEY", raising=False)
    backend = make_openai("http://127.0.0.1:9/v1", api_key_env="PROPERSIM_UNSET_KEY")
    with pytest.raises(BackendError, match="PROPERSIM_UNSET_KEY.*not set"):
        await backend.chat(HELLO)
    await backend.aclose()


# --- Limited ------------------------------------------------------------------------------------

async def test_server_serves_32_concurrent_requests(make_openai):
    with FakeOpenAIServer(delay_s=0.1) as server:
        backend = make_openai(server.base_url)
        started = time.perf_counter()
        await asyncio.gather(*(backend.chat(HELLO) for _ in range(32)))
        elapsed = time.perf_counter() - started
        await backend.aclose()
    assert server.max_in_flight >= 16 and elapsed < 1.5


async def test_limited_never_exceeds_its_limit(make_openai):
    with FakeOpenAIServer(delay_s=0.05) as server:
        backend = Limited(make_openai(server.base_url), 4)
        await asyncio.gather(*(backend.chat(HELLO) for _ in range(32)))
        await backend.aclose()
    assert server.max_in_flight == 4 and len(server.requests) == 32


async def test_limited_shares_one_semaphore(make_openai):
    shared = asyncio.Semaphore(3)
    with FakeOpenAIServer(delay_s=0.05) as server:
        user = Limited(make_openai(server.base_url), semaphore=shared)
        judge = Limited(make_openai(server.base_url), semaphore=shared)
        await asyncio.gather(*(b.chat(HELLO) for b in [user, judge] * 8))
        await user.aclose()
        await judge.aclose()
    assert server.max_in_flight == 3


async def test_runs_share_a_configs_limit():
    # N runs in one process, a BackendPool each: one server still sees at most max_in_flight calls.
    with FakeOpenAIServer(delay_s=0.05) as server:
        config = BackendConfig(kind="openai", model="m", base_url=server.base_url, max_in_flight=2)
        pools = [BackendPool({"default": config}) for _ in range(2)]
        backends = [pool.get(role) for pool in pools for role in ("user", "judge")]
        await asyncio.gather(*(b.chat(HELLO) for b in backends * 4))
        for pool in pools:
            await pool.aclose()
    assert server.max_in_flight == 2 and len(server.requests) == 16


def test_shared_limit_is_per_event_loop():
    # An asyncio semaphore that waited once is bound to its loop: each asyncio.run needs its own.
    backend = Limited(FakeBackend(latency_s=0.01), 2, key="one-server")

    async def chat_and_semaphore():
        await asyncio.gather(*(backend.chat(HELLO) for _ in range(4)))
        return backend.semaphore

    assert asyncio.run(chat_and_semaphore()) is not asyncio.run(chat_and_semaphore())


def test_limited_needs_one_limit():
    with pytest.raises(ValueError):
        Limited(FakeBackend())
    with pytest.raises(ValueError):
        Limited(FakeBackend(), 0)


# --- Cached -------------------------------------------------------------------------------------

async def test_cached_hit_and_miss(tmp_path):
    fake = FakeBackend(["one", "two", "three"], latency_s=0.01)
    backend = Cached(fake, tmp_path)
    first = await backend.chat(HELLO, seed=1)
    again = await backend.chat(HELLO, seed=1)
    other = await backend.chat(HELLO, seed=1, temperature=0.0)
    assert not first.cached and again.cached and again.latency_s == 0.0
    assert again.texts == first.texts == ("one",) and other.texts == ("two",)
    assert again.usage == first.usage and len(fake.calls) == 2
    key = cache_key("fake", HELLO, seed=1)
    assert backend.path_for(key) == tmp_path / key[:2] / f"{key}.json" and backend.path_for(key).is_file()


async def test_cached_ignores_and_rewrites_a_corrupt_file(tmp_path):
    fake = FakeBackend(["fresh"])
    backend = Cached(fake, tmp_path)
    path = backend.path_for(cache_key("fake", HELLO))
    path.parent.mkdir(parents=True)
    path.write_text('{"texts": ["stale"', "utf-8")
    result = await backend.chat(HELLO)
    assert result.texts == ("fresh",) and not result.cached
    assert json.loads(path.read_text("utf-8"))["texts"] == ["fresh"]
    assert (await backend.chat(HELLO)).cached


async def test_cached_makes_one_call_for_concurrent_identical_requests(tmp_path):
    fake = FakeBackend(["x"], latency_s=0.05)
    backend = Cached(fake, tmp_path)
    results = await asyncio.gather(*(backend.chat(HELLO) for _ in range(5)))
    assert len(fake.calls) == 1 and sum(r.cached for r in results) == 4


async def test_cached_does_not_store_failures(tmp_path):
    calls = []

    def script(messages, n, schema):
        calls.append(1)
        if len(calls) == 1:
            raise BackendError("down")
        return ["up"]

    backend = Cached(FakeBackend(script), tmp_path)
    with pytest.raises(BackendError):
        await backend.chat(HELLO)
    assert (await backend.chat(HELLO)).texts == ("up",)


def test_cached_concurrent_writer_processes(tmp_path):
    """Four processes race to fill (and, for pre-corrupted entries, rewrite) one cache folder."""
    worker = textwrap.dedent("""
        import asyncio, sys
        from engine.llm.fake import FakeBackend
        from engine.llm.wrappers import Cached
        ANSWER = "answer " * 2000
        async def main():
            backend = Cached(FakeBackend([ANSWER]), sys.argv[1])
            for key in range(100):
                result = await backend.chat([{"role": "user", "content": f"q{key}"}])
                assert result.texts == (ANSWER,), result.texts[0][:40]
        asyncio.run(main())
    """)
    for key in range(0, 100, 2):
        path = Cached(FakeBackend(), tmp_path).path_for(cache_key("fake", [{"role": "user", "content": f"q{key}"}]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"texts": [', "utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(tmp_path)], env=env) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 100
    assert all(json.loads(f.read_text("utf-8"))["texts"] == ["answer " * 2000] for f in files)
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".json"]  # no temp files left


# --- Metered and the ledger ---------------------------------------------------------------------

async def test_metered_ledger_totals_and_calls_jsonl(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    ledger = CallLedger(run)
    failing = FakeBackend(lambda m, n, s: (_ for _ in ()).throw(BackendError("overloaded")), model="f")
    user = Metered(Cached(FakeBackend(["ok"]), tmp_path / "cache"), ledger, "user")
    judge = Metered(failing, ledger, "judge")
    Metered(FakeBackend(), ledger, "assistant")  # built, never called
    assert not (run / "calls.jsonl").exists()
    ledger.set_position(day=2, step=5)
    await user.chat(HELLO)
    await user.chat(HELLO)  # a cache hit
    with pytest.raises(BackendError):
        await judge.chat(HELLO, n=3)
    totals = ledger.totals()
    assert list(totals) == ["user", "judge"]
    prompt = sum(approx_tokens(m["content"]) for m in HELLO)
    assert (totals["user"].calls, totals["user"].cached, totals["user"].prompt_tokens) == (2, 1, prompt)
    assert (totals["judge"].calls, totals["judge"].failed) == (1, 1)
    lines = [json.loads(line) for line in (run / "calls.jsonl").read_text("utf-8").splitlines()]
    assert [(r["role"], r["cached"], r["failed"], r["day"], r["step"]) for r in lines] == [
        ("user", False, False, 2, 5), ("user", True, False, 2, 5), ("judge", False, True, 2, 5)]
    assert lines[2]["error"] == "overloaded" and lines[2]["n"] == 3
    assert ledger.total().calls == 3


def test_ledger_without_calls_writes_nothing(tmp_path):
    ledger = CallLedger(tmp_path / "run")
    assert ledger.totals() == {} and not (tmp_path / "run").exists()


# --- chat_structured ----------------------------------------------------------------------------

async def test_structured_tolerant_parse_and_enum_schema():
    fake = FakeBackend(['```json\n{"topic": "tea", "score": 3}\n```',
                        'Sure! Here it is: {"topic": "walk", "score": 1} Hope that helps.'])
    answers = await chat_structured(fake, HELLO, Pick, n=2, seed=3)
    assert [a.value for a in answers] == [Pick(topic="tea", score=3), Pick(topic="walk", score=1)]
    assert all(not a.failed and a.attempts == 1 and a.error is None for a in answers)
    call = fake.calls[0]
    assert call.n == 2 and call.seed == 3
    assert call.json_schema["properties"]["topic"]["enum"] == ["tea", "walk"]


async def test_structured_reasks_once_then_succeeds():
    fake = FakeBackend(['{"topic": "coffee", "score": 1}', '{"topic": "tea", "score": 2}'])
    [answer] = await chat_structured(fake, HELLO, Pick)
    assert answer.value == Pick(topic="tea", score=2) and answer.attempts == 2 and not answer.failed
    reask = fake.calls[1]
    assert reask.n == 1 and reask.messages[:2] == HELLO
    assert reask.messages[2] == {"role": "assistant", "content": '{"topic": "coffee", "score": 1}'}
    assert reask.messages[3]["role"] == "user" and "topic" in reask.messages[3]["content"]
    assert "'coffee'" in reask.messages[3]["content"]


async def test_structured_reask_still_invalid_is_failed():
    fake = FakeBackend(["no json here", '{"topic": "tea"}'])
    [answer] = await chat_structured(fake, HELLO, Pick)
    assert answer.failed and answer.value is None and answer.attempts == 2
    assert answer.raw == '{"topic": "tea"}' and "score" in answer.error and len(fake.calls) == 2


async def test_structured_backend_error_fails_all():
    fake = FakeBackend(lambda m, n, s: (_ for _ in ()).throw(BackendError("POST /v1 failed after 5 attempts")))
    answers = await chat_structured(fake, HELLO, Pick, n=3)
    assert len(answers) == 3 and all(a.failed and a.value is None and "5 attempts" in a.error for a in answers)


def test_parse_json_object_and_error_description():
    assert parse_json_object('```\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_object('x {"a": {"b": 2}} y') == {"a": {"b": 2}}
    with pytest.raises(ValueError):
        parse_json_object("nothing")
    with pytest.raises(ValidationError) as error:
        Pick.model_validate({"topic": "jazz"})
    text = describe_validation_error(error.value)
    assert text.startswith("topic: Input should be 'tea' or 'walk' (got 'jazz')") and "score: Field required" in text


# --- config and the factory ---------------------------------------------------------------------

def test_backend_config_is_strict():
    with pytest.raises(ValidationError, match="extra"):
        BackendConfig(kind="fake", modle="x")
    with pytest.raises(ValidationError, match="api_key_env"):
        BackendConfig(kind="openai", model="m", api_key_env="sk-live-0123")  # a key, not a name
    with pytest.raises(ValidationError, match="needs a model"):
        BackendConfig(kind="openai")
    assert BackendConfig(kind="llama-cpp").n_ctx == 4096


async def test_build_backend_stacks_wrappers(tmp_path):
    ledger = CallLedger(tmp_path / "run")
    backend = build_backend(BackendConfig(kind="fake", cache=True, max_in_flight=2), "user", ledger=ledger,
                            cache_dir=tmp_path / "cache")
    assert isinstance(backend, Metered) and isinstance(backend.inner, Cached)
    assert isinstance(backend.inner.inner, Limited) and isinstance(backend.inner.inner.inner, FakeBackend)
    await backend.chat(HELLO)
    assert ledger.totals()["user"].calls == 1
    with pytest.raises(ValueError, match="cache folder"):
        build_backend(BackendConfig(kind="fake", cache=True), "user")
    openai = build_backend(BackendConfig(kind="openai", model="m", max_in_flight=None), "judge")
    assert isinstance(openai, OpenAIBackend)


def test_llama_cpp_without_the_extra(monkeypatch, tmp_path):
    from engine.llm.llama_cpp import LlamaCppBackend

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install -e '\.\[llm\]'"):
        LlamaCppBackend(tmp_path / "model.gguf")


def test_llama_schema_decoder_covers_the_roles_schemas_and_nothing_else():
    """The worker's SchemaDecoder takes the schemas of the user's plan, the judge's verdicts and the
    assistant's answer (a union told apart by its first key); a schema with numbers, optional fields or
    other unions goes to llama.cpp's grammar."""
    from engine.judges.llm import Check, combined_model
    from engine.llm.schema_decoder import _match_tail
    from engine.llm.schema_tree import compile_schema
    from engine.users.llm import plan_model
    from engine.vocab import DEFAULT_CRITERIA
    from training.llm_assistant import Answer

    # the assistant's answer: {"recommend": true, text, topic, tone} or {"recommend": false}, one choice
    answer = compile_schema(Answer.model_json_schema())
    assert answer[:2] == ("choice", "recommend") and [text for text, _ in answer[2]] == ["true", "false"]
    speak, quiet = (props for _, props in answer[2])
    assert [k for k, _ in speak] == ["recommend", "text", "topic", "tone"] and speak[1][1] == ("string", 0, 64)
    assert quiet == [("recommend", ("literal", "false"))]
    verdicts = compile_schema(combined_model(DEFAULT_CRITERIA, 2).model_json_schema())
    assert [k for k, _ in verdicts[1]] == ["option_1", "option_2"] and verdicts[1][0][1][0] == "object"
    plan = compile_schema(plan_model().model_json_schema())
    assert plan[1][0][1][0] == "array" and plan[1][0][1][3] == 16
    assert compile_schema(Check.model_json_schema()) is not None

    class Optional_(BaseModel):
        topic: str | None = None

    class Tea(BaseModel):
        tea: bool

    class Walk(BaseModel):
        walk: bool

    class Either(RootModel[Tea | Walk]):  # a union, but not told apart by its first key's constant
        pass

    for unsupported in (Pick, Optional_, Either):
        assert compile_schema(unsupported.model_json_schema()) is None
    # a token that closes a string may carry the separator after it, spaces there optional
    assert _match_tail("", ', "topic":') == 0 and _match_tail(",", ', "topic":') == 1
    assert _match_tail(',"', ', "topic":') == 3 and _match_tail("}", ', "topic":') is None
    assert _match_tail("}", "}") == 1 and _match_tail("},", "}") is None


def _fake_adapter(folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(content)
    return folder


def test_vllm_lora_loading_renames_the_model_for_calls_cache_and_ledger(tmp_path):
    """A trained adapter goes to a vLLM server through /v1/load_lora_adapter; later calls address it by
    a name made from its weights, which the ledger records and the response cache keys on."""
    ledger = CallLedger(tmp_path / "run")
    config = BackendConfig(kind="openai", model="base", serves_lora=True, cache=True)
    with FakeOpenAIServer(answers=lambda body, i: body["model"]) as server:
        backend = build_backend(config.model_copy(update={"base_url": server.base_url}), "assistant",
                                ledger=ledger, cache_dir=tmp_path / "cache")

        async def scenario() -> list[str]:
            said = [(await backend.chat([{"role": "user", "content": "hi"}])).texts[0]]
            await backend.use_adapter(_fake_adapter(tmp_path / "day-00", b"one"))
            said.append((await backend.chat([{"role": "user", "content": "hi"}])).texts[0])
            await backend.use_adapter(_fake_adapter(tmp_path / "day-01", b"two"))
            said.append((await backend.chat([{"role": "user", "content": "hi"}])).texts[0])
            await backend.use_adapter(tmp_path / "day-01")  # again, as after a resume: "already loaded" is fine
            await backend.aclose()
            return said

        said = asyncio.run(scenario())
    assert said[0] == "base" and said[1].startswith("propersim-lora-") and said[2] != said[1]
    assert server.loras == {said[1]: str((tmp_path / "day-00").resolve()), said[2]: str((tmp_path / "day-01").resolve())}
    calls = [json.loads(line) for line in (tmp_path / "run" / "calls.jsonl").read_text().splitlines()]
    assert [c["model"] for c in calls] == said and not any(c["cached"] for c in calls)


def test_serving_an_adapter_where_the_backend_cannot_says_what_can(tmp_path):
    from engine.llm import AdapterUnsupported

    adapter = _fake_adapter(tmp_path / "a", b"x")
    plain = build_backend(BackendConfig(kind="openai", model="m"), "assistant", ledger=CallLedger(None))
    fake = build_backend(BackendConfig(kind="fake"), "assistant", ledger=CallLedger(None))
    with pytest.raises(AdapterUnsupported, match="serves_lora = true"):
        asyncio.run(plain.use_adapter(adapter))
    with pytest.raises(AdapterUnsupported, match="transformers backend or vLLM"):
        asyncio.run(fake.use_adapter(adapter))
