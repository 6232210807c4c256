"""The LLM backend role: one small async interface that every model source implements.

Implementations live beside this file (``openai``, ``llama_cpp``, ``transformers``,
``fake``); cross-cutting concerns (in-flight limit, response cache, metering) are
wrappers that implement the same interface, so they stack:
``Metered(Cached(Limited(backend)))``. Nothing here imports a model library: each
implementation imports its own lazily.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatResult:
    """What one chat call returned: n completions, token usage and wall latency."""

    texts: tuple[str, ...]
    usage: Usage
    latency_s: float
    model: str
    cached: bool = False  # answered from the response cache, no model was called
    extra: dict = field(default_factory=dict)  # backend specifics (finish reasons, attempts, ...)


class BackendError(Exception):
    """A call that could not be answered (after the backend's own retries). Never a crash of a run:
    the role that called records a failed result."""


class AdapterUnsupported(BackendError):
    """The backend cannot generate with a trained LoRA adapter; the message says which one can."""


ADAPTER_WEIGHTS = "adapter_model.safetensors"


def adapter_id(folder: Path | str) -> str:
    """A short hash of a peft adapter's weights. Backends serve an adapter under a model name made
    from it, so neither the ledger nor the response cache mistakes one day's adapter for another's."""
    digest = hashlib.sha256()
    with open(Path(folder) / ADAPTER_WEIGHTS, "rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


class MissingExtraError(ImportError):
    """A backend whose optional dependency is not installed; the message says what to install."""


@runtime_checkable
class Backend(Protocol):
    """Any source of chat completions. ``chat`` must be safe to call concurrently."""

    name: str  # implementation name, e.g. "openai"
    model: str  # the model as the backend addresses it

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        """n completions of `messages`; with `json_schema` each completion is meant to be JSON
        valid against it (constrained where the backend can, otherwise requested)."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds. Idempotent."""
        ...

    # Optional: `async use_adapter(folder: Path) -> None` makes every later call generate with the
    # peft LoRA adapter in `folder` (transformers: hot-swapped in process; openai: a vLLM server's
    # runtime LoRA loading). Backends without it raise AdapterUnsupported through the wrappers.
