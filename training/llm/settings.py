"""Hyperparameters of the LLM assistant's daily DPO round (the reference numbers are the defaults)."""

import importlib.util
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def cuda_available() -> bool:
    """True when torch is installed and sees a GPU. Lazy: torch is imported only here."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


class LLMTrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    beta: float = Field(0.1, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    epochs: float = Field(2, gt=0)
    per_device_batch: int = Field(1, ge=1)
    grad_accum: int = Field(4, ge=1)
    bf16: bool | Literal["auto"] = "auto"  # auto: only with a bf16-capable GPU
    gradient_checkpointing: bool = True
    max_length: int = Field(2304, ge=16)
    truncation_mode: Literal["keep_end", "keep_start"] = "keep_end"  # keep the reply, drop old context
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: tuple[str, ...] = TARGET_MODULES
    # auto: nf4 with a GPU (the reference trains a 4-bit base), full precision on a CPU, where it is
    # faster; resolved when training starts, so reading a config never imports torch.
    quantization: Literal["auto", "none", "nf4"] = "auto"
    double_quant: bool = True
    compute_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    # "base": reference log-probs from the base model (adapter disabled) every day;
    # "previous": from a frozen copy of the adapter the round starts from (trl's default).
    reference: Literal["base", "previous"] = "base"
    pairs_per_day: int = Field(200, ge=1)
    seed: int = 0
    max_steps: int | None = Field(None, ge=1)  # caps optimizer steps (tests); None: run all epochs

    @model_validator(mode="after")
    def _check(self) -> "LLMTrainingConfig":
        if not self.target_modules:
            raise ValueError("target_modules must name at least one module")
        return self

    def use_nf4(self) -> bool:
        return self.quantization == "nf4" or (self.quantization == "auto" and cuda_available())

    def use_bf16(self) -> bool:
        if self.bf16 != "auto":
            return bool(self.bf16)
        if not cuda_available():
            return False
        import torch

        return torch.cuda.is_bf16_supported()
