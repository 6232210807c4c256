"""In-process chat with a Hugging Face transformers model, serving the LoRA adapter the assistant just trained.

torch / transformers / peft are imported on the worker thread when the model is first needed. All
model work (load, generate, adapter swap, release) runs on one worker thread, so the event loop is never
blocked and concurrent calls queue instead of racing on the model.
"""

import asyncio
import importlib.util
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from engine.llm import BackendError, ChatResult, Message, MissingExtraError, Usage, adapter_id

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
SCHEMA_INSTRUCTION = "Answer with one JSON value only, no other text, valid against this JSON schema:\n{schema}"


def schema_messages(messages: list[Message], schema: dict) -> list[Message]:
    """transformers has no grammar-constrained decoding: ask for the schema in words (the caller's
    structured layer validates the reply and re-asks)."""
    instruction = SCHEMA_INSTRUCTION.format(schema=json.dumps(schema, separators=(",", ":")))
    if messages and messages[-1].get("role") == "user":
        last = messages[-1]
        return [*messages[:-1], {**last, "content": f"{last['content']}\n\n{instruction}"}]
    return [*messages, {"role": "user", "content": instruction}]


def json_prefix(schema: dict) -> str:
    """The answer's first characters, written for the model: `{"<first property>":` (of an object, or
    of a union of objects that all begin with that property, as the assistant's answer). Without
    grammar constraints a small model often starts in prose; begun as JSON, it mostly goes on as JSON."""
    defs = schema.get("$defs", {})

    def first(s: dict) -> str | None:
        if "$ref" in s:
            s = defs.get(s["$ref"].rsplit("/", 1)[-1], {})
        alternatives = s.get("anyOf") or s.get("oneOf")
        if alternatives:
            keys = {first(a) for a in alternatives}
            return keys.pop() if len(keys) == 1 else None
        return next(iter(s.get("properties", {})), None) if s.get("type") == "object" else None

    key = first(schema)
    return f'{{"{key}":' if key else ""


def gguf_dense_kwargs(gguf_file: str) -> dict:
    """Unpack a GGUF to dense weights (as training did): LoRA adapters need plain Linear layers, and
    newer transformers would otherwise keep the blocks packed when `kernels` is installed."""
    kwargs: dict[str, Any] = {"gguf_file": gguf_file}
    try:
        from transformers import GgufConfig
    except ImportError:  # older transformers always dequantize a GGUF on load
        return kwargs
    kwargs["quantization_config"] = GgufConfig(dequantize=True)
    return kwargs


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: str | Path, *, gguf_file: str | None = None, adapter: Path | str | None = None,
                 device: str = "auto", dtype: Dtype = "auto", max_new_tokens: int = 256):
        """`model` is a model folder, or a ``.gguf`` file (transformers dequantizes it), or a folder with
        `gguf_file` naming the file in it. `adapter` is a peft LoRA folder to serve from the start.
        `max_new_tokens` caps every call's `max_tokens`. The model loads on first use (or `await start()`)."""
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:  # fail when built, not at the first call
                raise MissingExtraError(f"the transformers backend needs {module}: pip install -e '.[train]'")
        path = Path(model)
        if gguf_file is None and path.suffix == ".gguf":
            path, gguf_file = path.parent, path.name
        if not (path / gguf_file if gguf_file else path).exists():
            raise FileNotFoundError(f"model not found: {path / gguf_file if gguf_file else path}")
        self.path, self.gguf_file = path, gguf_file
        self.base_model = gguf_file or path.name
        self.model = self.base_model  # "+lora-<hash>" while an adapter is served (use_adapter)
        self.device, self.dtype, self.max_new_tokens = device, dtype, max_new_tokens
        self._initial_adapter = Path(adapter) if adapter is not None else None
        if self._initial_adapter is not None:
            self._name_after(self._initial_adapter)
        self.adapter_path: Path | None = None  # the adapter being served, None = the base model
        self.active_adapter: str | None = None  # its peft name
        self._adapters_loaded = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transformers-backend")
        self._lock = threading.Lock()  # guards _closed against a call racing aclose
        self._closed = False
        self._lm: Any = None
        self._tokenizer: Any = None

    def __repr__(self) -> str:
        return f"TransformersBackend({str(self.path)!r}, gguf_file={self.gguf_file!r}, adapter={self.adapter_path})"

    async def _run(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            if self._closed:
                raise BackendError(f"{self!r} is closed")
            future = self._executor.submit(fn, *args)
        return await asyncio.wrap_future(future)

    async def start(self) -> None:
        """Load the model now rather than on the first call."""
        await self._run(self._ensure_loaded)

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        if n < 1:
            raise BackendError(f"n must be >= 1, got {n}")
        prefix = ""
        if json_schema is not None:
            messages, prefix = schema_messages(messages, json_schema), json_prefix(json_schema)
        started = time.perf_counter()
        texts, usage, finish = await self._run(self._generate, messages, n, temperature,
                                               min(max_tokens, self.max_new_tokens), seed, prefix)
        return ChatResult(texts=texts, usage=usage, latency_s=time.perf_counter() - started, model=self.model,
                          extra={"finish_reasons": finish, "adapter": str(self.adapter_path or "")})

    async def load_adapter(self, path: Path | str) -> None:
        """Serve another LoRA adapter (the one just trained) without reloading the base: it is loaded
        under a new name and activated, then the previous one is deleted."""
        await self._run(self._swap_adapter, Path(path))

    async def use_adapter(self, folder: Path | str) -> None:
        """The Backend hook: hot-swap to `folder` and name the model after its weights."""
        await self.load_adapter(folder)
        self._name_after(folder)

    def _name_after(self, adapter: Path | str) -> None:
        self.model = f"{self.base_model}+lora-{adapter_id(adapter)}"

    async def aclose(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            future = self._executor.submit(self._release)  # after any queued calls
        try:
            await asyncio.wrap_future(future)
        finally:
            self._executor.shutdown(wait=False)

    # --- on the worker thread ---

    def _ensure_loaded(self) -> None:
        if self._lm is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # its load bars would draw over the app or the batch's bar
            device = self.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = self.dtype
            if dtype == "auto":
                dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
            kwargs = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            tokenizer = AutoTokenizer.from_pretrained(str(self.path), **kwargs)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            lm = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=getattr(torch, dtype),
                                                      **(gguf_dense_kwargs(self.gguf_file) if self.gguf_file else {}))
            self._lm, self._tokenizer = lm.to(device).eval(), tokenizer
        except Exception as error:
            raise BackendError(f"transformers: could not load {self.model}: {type(error).__name__}: {error}") \
                from error
        if self._initial_adapter is not None:
            self._swap_adapter(self._initial_adapter)

    def _swap_adapter(self, path: Path) -> None:
        self._ensure_loaded()
        try:
            from peft import PeftModel

            name = f"adapter{self._adapters_loaded}"
            if isinstance(self._lm, PeftModel):
                self._lm.load_adapter(str(path), adapter_name=name)
                self._lm.set_adapter(name)
                if self.active_adapter is not None:
                    self._lm.delete_adapter(self.active_adapter)
            else:
                self._lm = PeftModel.from_pretrained(self._lm, str(path), adapter_name=name).eval()
        except Exception as error:
            raise BackendError(f"transformers: could not load adapter {path}: {type(error).__name__}: {error}") \
                from error
        self._adapters_loaded += 1
        self.active_adapter, self.adapter_path = name, path

    def _generate(self, messages: list[Message], n: int, temperature: float, max_new_tokens: int,
                  seed: int | None, prefix: str = "") -> tuple[tuple[str, ...], Usage, list[str]]:
        """`prefix` is the start of the assistant's turn, continued by the model and part of each text."""
        self._ensure_loaded()
        try:
            import torch

            tokenizer = self._tokenizer
            turn = {"add_generation_prompt": True}
            if prefix:
                messages = [*messages, {"role": "assistant", "content": prefix}]
                turn = {"continue_final_message": True}
            inputs = tokenizer.apply_chat_template(messages, return_tensors="pt", return_dict=True,
                                                   **turn).to(self._lm.device)
            prompt_len = inputs["input_ids"].shape[1]
            sample = temperature > 0
            if seed is not None:
                torch.manual_seed(seed)  # one worker thread: no other call draws from the RNG meanwhile
            with torch.inference_mode():
                out = self._lm.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=sample,
                    temperature=temperature if sample else None,
                    num_return_sequences=n if sample else 1, pad_token_id=tokenizer.pad_token_id)
        except Exception as error:  # OOM, a prompt past the context, ...: a failed call, not a crash
            raise BackendError(f"transformers ({self.model}): {type(error).__name__}: {error}") from error
        rows = [self._until_eos(row[prompt_len:].tolist()) for row in out]
        if not sample:  # greedy decoding gives one answer; n copies of it
            rows = rows * n
        texts = tuple(prefix + tokenizer.decode(ids, skip_special_tokens=True).strip() for ids, _ in rows)
        usage = Usage(prompt_tokens=prompt_len, completion_tokens=sum(len(ids) for ids, _ in rows))
        return texts, usage, ["stop" if stopped else "length" for _, stopped in rows]

    def _until_eos(self, ids: list[int]) -> tuple[list[int], bool]:
        """The generated tokens up to and including the first end token (the rest is padding)."""
        eos = self._lm.generation_config.eos_token_id
        stops = set(eos if isinstance(eos, list) else [eos]) | {self._tokenizer.eos_token_id}
        for i, token in enumerate(ids):
            if token in stops:
                return ids[:i + 1], True
        return ids, False

    def _release(self) -> None:
        self._lm = self._tokenizer = None
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
