"""The LLM assistant learning day after day: llm-properassistant on a tiny random Llama (transformers
backend, in process) against the offline user and judge. Each day's end trains a LoRA adapter with trl
DPO in a child process; the next day generates with it. Days are short (hour-long steps)."""

import asyncio
import csv
import json
import math
from pathlib import Path

import pytest

from engine.compose import new_run, resume_run
from engine.config import RunConfig
from engine.errors import RunError
from engine.events import TrainingProgress
from tests.tiny_llm import build_tiny_model, completion_logps
from training.llm.dpo_round import FAULT_ENV
from training.llm.types import ChatPair

pytest.importorskip("trl")

# max_length: the tiny tokenizer splits English into many tokens; no pair is truncated at 4096
FAST_DPO = {"max_steps": 8, "learning_rate": 1e-3, "max_length": 4096, "grad_accum": 2,
            "gradient_checkpointing": False, "quantization": "none", "pairs_per_day": 16}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def config(model: Path, days: int = 2, **options) -> RunConfig:
    return RunConfig.model_validate({
        "persona": "E+A+C+O+N-", "assistant": "llm-properassistant", "days": days, "step_seconds": 3600,
        "assistant_options": {"train": "dpo", "max_tokens": 32, "dpo": FAST_DPO} | options,
        "backends": {"assistant": {"kind": "transformers", "model": str(model)}}})


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def replay_pairs(checkpoint: Path) -> list[ChatPair]:
    rows = [json.loads(line) for line in (checkpoint / "llm_replay.jsonl").read_text().splitlines()]
    return [ChatPair(**{**row, "prompt": tuple(row["prompt"])}) for row in rows]


def test_days_train_an_adapter_the_next_day_uses_and_a_failed_round_stops_then_resumes(tiny_model, tmp_path,
                                                                                       monkeypatch):
    """Day 1 trains; day 2's round is killed (the run stops, day 1's checkpoint intact); --resume replays
    day 2 with day 1's adapter and trains again."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path / "run"
    sim = new_run(config(tiny_model), run)
    losses: list[float] = []
    sim.subscribe(lambda e: losses.append(e.loss) if isinstance(e, TrainingProgress) and e.day == 0 else None)

    async def first_day_then_fault() -> None:
        while sim.day < 1:
            await sim.step()
        monkeypatch.setenv(FAULT_ENV, "kill")  # the next round's child dies after its first step
        await sim.run_and_close()

    with pytest.raises(RunError) as stopped:
        asyncio.run(first_day_then_fault())
    sim.close_recording()
    message = str(stopped.value)
    assert "end of day 2" in message and "training log:" in message and "SIGKILL" in message
    log = Path(message.split("training log: ")[1].split(")")[0])
    assert log.is_file() and log.is_relative_to(run)
    day1 = run / "checkpoints" / "day-00"
    assert (day1 / "COMPLETE").exists() and (day1 / "adapter" / "adapter_model.safetensors").exists()
    assert not (run / "checkpoints" / "day-01").exists() and len(metrics(run)) == 1

    monkeypatch.delenv(FAULT_ENV)
    asyncio.run(resume_run(run).run_and_close())
    rows = metrics(run)
    assert [r["training"].split(" ")[0] for r in rows] == ["trained", "trained"], rows
    assert (run / "checkpoints" / "day-01" / "adapter" / "adapter_model.safetensors").exists()

    weights = load_file(str(day1 / "adapter" / "adapter_model.safetensors"))
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and any(float(t.abs().max()) > 0 for t in lora_b)  # LoRA B starts at zero: it was trained
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)  # the adapter starts as the base

    # the resumed day 2 generated with day 1's adapter: its calls name it, day 1's the base model
    calls = [json.loads(line) for line in (run / "calls.jsonl").read_text().splitlines()]
    models = {c["day"]: c["model"] for c in calls if c["role"] == "assistant"}
    assert "+lora-" not in models[0] and "+lora-" in models[1]

    # the trained policy puts more probability on the chosen completions than on the rejected ones
    pairs = replay_pairs(day1)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32).eval()
    before = completion_logps(base, tokenizer, pairs)
    trained = PeftModel.from_pretrained(base, str(day1 / "adapter")).eval()
    after = completion_logps(trained, tokenizer, pairs)
    margins = [(ca - ra) - (cb - rb) for (ca, ra), (cb, rb) in zip(after, before)]
    # the DPO loss on the day's pairs, which is log 2 for the untrained adapter, fell
    dpo_loss = sum(-math.log(1 / (1 + math.exp(-0.1 * m))) for m in margins) / len(margins)
    assert dpo_loss < math.log(2) - 0.01, dpo_loss
    preferred = lambda scores: sum(c > r for c, r in scores)  # noqa: E731
    assert preferred(after) > len(pairs) / 2 and sum(margins) > 0, (before, after)


def test_keep_adapter_continues_on_the_base_and_says_so_in_the_metrics(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "raise")
    run = tmp_path / "run"
    asyncio.run(new_run(config(tiny_model, days=1, on_training_failure="keep-adapter"), run).run_and_close())
    (row,) = metrics(run)
    assert row["training"].startswith("failed, kept the base model") and "injected training fault" in row["training"]
    assert not (run / "checkpoints" / "day-00" / "adapter").exists()


@pytest.mark.parametrize("backend, why", [
    ({"kind": "llama-cpp"}, "convert_lora_to_gguf"),
    ({"kind": "openai", "model": "m"}, "serves_lora = true"),
    ({"kind": "openai", "model": "m", "serves_lora": True}, "base_model"),
])
def test_train_dpo_where_the_backend_cannot_serve_an_adapter_is_refused_before_anything_is_written(
        tmp_path, backend, why):
    cfg = RunConfig.model_validate({"persona": "E+A+C+O+N-", "assistant": "llm-properassistant",
                                    "assistant_options": {"train": "dpo"}, "backends": {"default": backend}})
    with pytest.raises(RunError, match=why):
        new_run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_auto_training_on_a_backend_without_adapters_runs_in_context_and_says_why(tmp_path):
    cfg = RunConfig.model_validate({"persona": "E+A+C+O+N-", "assistant": "llm-properassistant", "days": 1,
                                    "step_seconds": 3600, "backends": {"default": {"kind": "fake"}}})
    asyncio.run(new_run(cfg, tmp_path / "run").run_and_close())
    (row,) = metrics(tmp_path / "run")
    assert row["training"].startswith("off: ") and "fake" in row["training"]
