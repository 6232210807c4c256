"""TransformersBackend on a tiny random Llama built here: n completions, usage, seeds, the event loop
left free, adapter hot-swap and closing."""

import asyncio
import importlib.util
from pathlib import Path

import pytest

from engine.llm import Backend, BackendError

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("torch", "transformers", "peft")), reason="needs the [train] extra")

MESSAGES = [{"role": "system", "content": "you recommend"}, {"role": "user", "content": "wramnx arj iru"}]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory) -> Path:
    from tiny_llm import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def adapters(tiny_path, tmp_path_factory) -> list[Path]:
    """Two LoRA adapters with random (not zero) B matrices, so each visibly changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("adapters")
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny_path)),
                               LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"],
                                          init_lora_weights=False, task_type="CAUSAL_LM"))
        model.save_pretrained(str(folder / f"a{seed}"))
        paths.append(folder / f"a{seed}")
    return paths


@pytest.fixture
async def backend(tiny_path):
    from engine.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(tiny_path, device="cpu", max_new_tokens=16)
    yield backend
    await backend.aclose()


async def test_n_completions_with_usage(backend):
    assert isinstance(backend, Backend) and backend.name == "transformers"
    result = await backend.chat(MESSAGES, n=2, temperature=1.0, max_tokens=8, seed=3)
    assert len(result.texts) == 2 and all(isinstance(t, str) for t in result.texts)
    assert result.usage.prompt_tokens > 5
    assert 2 <= result.usage.completion_tokens <= 16
    assert result.model == backend.model and len(result.extra["finish_reasons"]) == 2
    again = await backend.chat(MESSAGES, n=2, temperature=1.0, max_tokens=8, seed=3)
    assert again.texts == result.texts  # a seed makes sampling reproducible
    greedy = await backend.chat(MESSAGES, n=2, temperature=0.0, max_tokens=8)
    assert len(greedy.texts) == 2 and greedy.texts[0] == greedy.texts[1]


async def test_generation_leaves_the_event_loop_free(backend):
    ticks = 0
    calls = asyncio.gather(*(backend.chat(MESSAGES, n=2, max_tokens=16, seed=i) for i in range(3)))
    while not calls.done():
        await asyncio.sleep(0)
        ticks += 1
    assert len(await calls) == 3
    assert ticks > 10


async def test_json_schema_is_requested_in_words(backend):
    from engine.llm.transformers_backend import schema_messages

    schema = {"type": "object", "properties": {"topic": {"type": "string"}}}
    asked = schema_messages(MESSAGES, schema)
    assert asked[:-1] == MESSAGES[:-1] and '"topic"' in asked[-1]["content"]
    assert asked[-1]["content"].startswith(MESSAGES[-1]["content"])
    result = await backend.chat(MESSAGES, json_schema=schema, max_tokens=4, seed=0)
    assert len(result.texts) == 1


async def test_adapter_hot_swap(backend, adapters):
    base = await backend.chat(MESSAGES, temperature=0.0, max_tokens=12)
    await backend.load_adapter(adapters[0])
    assert backend.adapter_path == adapters[0] and backend.active_adapter == "adapter0"
    first = await backend.chat(MESSAGES, temperature=0.0, max_tokens=12)
    await backend.load_adapter(adapters[1])
    second = await backend.chat(MESSAGES, temperature=0.0, max_tokens=12)
    assert backend.active_adapter == "adapter1"
    assert set(backend._lm.peft_config) == {"adapter1"}  # the previous adapter was dropped
    assert len({base.texts[0], first.texts[0], second.texts[0]}) == 3
    with pytest.raises(BackendError):
        await backend.load_adapter(adapters[0].parent / "missing")


async def test_adapter_from_the_start_and_close_twice(tiny_path, adapters):
    from engine.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(tiny_path, adapter=adapters[0], device="cpu")
    await backend.start()
    assert backend.adapter_path == adapters[0]
    await backend.aclose()
    await backend.aclose()
    with pytest.raises(BackendError):
        await backend.chat(MESSAGES)


def test_missing_model_fails_when_built(tmp_path):
    from engine.llm.transformers_backend import TransformersBackend

    with pytest.raises(FileNotFoundError):
        TransformersBackend(tmp_path / "nope")
