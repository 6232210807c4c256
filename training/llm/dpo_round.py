"""One day's DPO round on a LoRA adapter, in the current process (isolated.py runs it in a child)."""

import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from training.llm.dataset import preference_rows
from training.llm.model_source import ModelSource, load_base, resolve_device
from training.llm.settings import LLMTrainingConfig
from training.llm.types import ChatPair, ProgressEvent, RoundResult

Progress = Callable[[ProgressEvent], None]
FAULT_ENV = "PROPERSIM_TRAIN_FAULT"  # test hook: "raise" or "kill" after the first optimizer step
ADAPTER_FILE = "adapter_model.safetensors"


def run_dpo_round(source: ModelSource, pairs: Sequence[ChatPair], adapter_in: Path | None, adapter_out: Path,
                  config: LLMTrainingConfig, progress: Progress | None = None, device: str = "auto") -> RoundResult:
    """Train the policy adapter on `pairs` and save it to `adapter_out`.

    Day 1 (`adapter_in` None) creates the LoRA adapter; later days continue training `adapter_in`.
    The reference model is never a second copy of the weights: its log-probs come from the same base
    with the adapter disabled (config.reference "base") or from a frozen copy of `adapter_in` ("previous").
    `adapter_out` appears only once the round has succeeded (written aside, then renamed into place).
    """
    import torch
    from datasets import Dataset
    from trl import DPOTrainer

    device = resolve_device(device)
    torch.manual_seed(config.seed)
    model, tokenizer = load_base(source, config, device)
    quantized = bool(getattr(model, "is_loaded_in_4bit", False))
    peft_config = None
    if adapter_in is None:
        peft_config = _lora_config(config)
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_in), is_trainable=True)
    dataset = Dataset.from_dict(preference_rows(pairs))
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory(prefix="propersim-dpo-") as scratch:
        args = _dpo_args(config, scratch, device)
        recorder = _Recorder(progress)
        trainer = DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=peft_config, callbacks=[recorder.callback()])
        policy = trainer.model
        if config.reference == "base" and "ref" in policy.peft_config:
            # trl copies a loaded adapter to "ref" and scores the reference with it; without it the
            # reference is the base (adapters disabled), the same anchor every day.
            policy.delete_adapter("ref")
        started = time.perf_counter()
        out = trainer.train()
        seconds = time.perf_counter() - started
    if not recorder.losses:
        raise RuntimeError("the DPO round logged no optimizer step")
    result = RoundResult(
        loss_first=recorder.losses[0], loss_last=recorder.losses[-1], reward_accuracy=recorder.accuracy,
        margins=tuple(recorder.margins), steps=int(out.global_step), seconds=round(seconds, 3),
        peak_memory_bytes=_peak_memory(device), losses=tuple(recorder.losses), pairs=len(dataset),
        quantized_4bit=quantized)
    save_adapter_atomically(policy, adapter_out)
    return result


def _lora_config(config: LLMTrainingConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")


def _dpo_args(config: LLMTrainingConfig, output_dir: str, device: str) -> Any:
    from trl import DPOConfig

    return DPOConfig(
        output_dir=output_dir, beta=config.beta, learning_rate=config.learning_rate,
        num_train_epochs=config.epochs, max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.per_device_batch, gradient_accumulation_steps=config.grad_accum,
        max_length=config.max_length, truncation_mode=config.truncation_mode,
        bf16=config.use_bf16(), use_cpu=device == "cpu", seed=config.seed,
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        logging_steps=1, save_strategy="no", report_to=[], disable_tqdm=True, dataloader_num_workers=0)


def save_adapter_atomically(model: Any, adapter_out: Path) -> None:
    """Write the policy adapter next to `adapter_out`, then rename it into place; a previous
    `adapter_out` is replaced only after the new one is complete."""
    adapter_out = Path(adapter_out)
    adapter_out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{adapter_out.name}.tmp-", dir=adapter_out.parent))
    try:
        model.save_pretrained(str(tmp), selected_adapters=["default"], save_embedding_layers=False)
        if not (tmp / ADAPTER_FILE).is_file():
            raise RuntimeError(f"peft wrote no {ADAPTER_FILE} into {tmp}")
        if adapter_out.exists():
            old = adapter_out.with_name(f".{adapter_out.name}.old-{os.getpid()}")
            os.replace(adapter_out, old)
            os.replace(tmp, adapter_out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, adapter_out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _peak_memory(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class _Recorder:
    """Keeps the per-step metrics, forwards them to `progress`, stops on a non-finite loss and fires
    test faults. `callback()` wraps it in a TrainerCallback."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.losses: list[float] = []
        self.margins: list[float] = []
        self.accuracy: float | None = None
        self.fault = os.environ.get(FAULT_ENV, "")

    def callback(self) -> Any:
        from transformers import TrainerCallback

        recorder = self

        class _OnLog(TrainerCallback):
            def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
                recorder.record(state, logs or {})

        return _OnLog()

    def record(self, state: Any, logs: dict) -> None:
        if "loss" not in logs:
            return  # the final train summary carries train_loss, not loss
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            raise FloatingPointError(f"DPO loss became {loss} at step {state.global_step}")
        self.losses.append(loss)
        margin = logs.get("rewards/margins")
        if margin is not None:
            self.margins.append(float(margin))
        if logs.get("rewards/accuracies") is not None:
            self.accuracy = float(logs["rewards/accuracies"])
        if self.progress is not None:
            self.progress(ProgressEvent(step=state.global_step, max_steps=state.max_steps, epoch=float(state.epoch or 0),
                                        loss=loss, reward_accuracy=self.accuracy,
                                        reward_margin=None if margin is None else float(margin)))
        self._maybe_fault()

    def _maybe_fault(self) -> None:
        if self.fault == "raise":
            raise RuntimeError(f"injected training fault ({FAULT_ENV}=raise)")
        if self.fault == "kill":
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
