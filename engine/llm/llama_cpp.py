"""A local GGUF model through llama-cpp-python (the [llm] extra, imported lazily).

The model lives in a worker process of its own (engine/llm/llama_worker.py says why); every
call of one backend goes to it from ONE thread, in order: llama.cpp's context is not
thread-safe, and serial calls keep its KV cache useful. A worker that dies (a native crash)
fails that call and is started afresh for the next. Within one `Llama`, a prompt that starts like the
previous one re-evaluates only the tokens after the common prefix. So give each role its
own backend (`build_backend(config, role)` does; `share_key` names it): the user agent's
consecutive steps share a long system prompt and stay warm, instead of evicting the
judge's prefix and vice versa.

Schema-constrained calls are decoded by the worker's SchemaDecoder (json_decoding="schema"):
the JSON's fixed parts are written, not sampled, and only values cost decoding steps, and a call's
sequences (its n completions, the judge's options) are decoded in lockstep, one llama_decode per
round for all, and a string's likely next tokens (what followed its last ones earlier in the
prompt) are checked in the same decode; a schema it does not cover, or json_decoding="grammar",
uses llama.cpp's JSON grammar (and n completions one after another). lockstep=False and draft=0
exist for measurement only.
warm_prefix=False exists for measurement only (bench/llm_real.py): the worker forgets its KV
cache before each call, so every call evaluates its whole prompt, as without prefix reuse.
quantize="q8_0" (or "q4_0", "f16") runs the GGUF converted once to that weight type, cached
(engine.llm.quantize says why and where); the model's name says so ("<stem>.q8_0").
"""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.llm import BackendError, ChatResult, Message, MissingExtraError, Usage
from engine.llm.llama_worker import read_frame, write_frame
from engine.llm.quantize import converted_path
from engine.llm.schema_decoder import DRAFT_NGRAM

INSTALL_HINT = "the llama-cpp backend needs the [llm] extra: pip install -e '.[llm]'"


def check_installed() -> None:
    """Found, not imported: the library loads only in the worker process."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingExtraError(INSTALL_HINT)


class _Engine:
    """One model in its worker process, and the thread that talks to it; shared by backends with one share key."""

    def __init__(self, settings: dict):
        """`settings`: the worker's serve() arguments (engine.llm.llama_worker), plain values."""
        self.settings = settings
        self.key = tuple(sorted((k, v) for k, v in settings.items() if k != "verbose"))
        self.path, self.n_ctx, self.verbose = Path(settings["path"]), settings["n_ctx"], settings["verbose"]
        self.users = 0
        self.process: subprocess.Popen | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-cpp-{self.path.stem}")

    def complete(self, request: tuple) -> tuple[list[dict], dict]:  # on the engine's thread
        """The request's completions, and what llama.cpp evaluated for them (token counts and ms)."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        try:
            write_frame(self.process.stdin, request)
            status, payload, *perf = read_frame(self.process.stdout)
        except (EOFError, OSError):
            code = self.process.wait()
            self.process = None
            raise RuntimeError(f"the llama.cpp worker died (exit code {code}); it restarts on the next call") from None
        if status != "ok":
            raise RuntimeError(payload)
        return payload, (perf[0] if perf else {})

    def _start(self) -> None:
        args = [sys.executable, "-m", "engine.llm.llama_worker", str(os.getpid()), json.dumps(self.settings)]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=None if self.verbose else subprocess.DEVNULL,
                                        cwd=str(Path(__file__).resolve().parents[2]))

    def close(self) -> None:
        def release() -> None:
            if self.process is not None and self.process.poll() is None:
                try:
                    write_frame(self.process.stdin, None)
                    self.process.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    self.process.kill()
                    self.process.wait()
            self.process = None
        self.executor.submit(release).result()
        self.executor.shutdown(wait=True)


_shared: dict[tuple, _Engine] = {}
_shared_lock = threading.Lock()


class LlamaCppBackend:
    name = "llama-cpp"

    def __init__(self, gguf_path: Path | str, *, model: str | None = None, n_ctx: int = 4096, n_threads: int = 1,
                 share_key: str | None = None, verbose: bool = False, warm_prefix: bool = True,
                 json_decoding: str = "schema", lockstep: bool = True, quantize: str | None = None,
                 flash_attn: bool = True, draft: int = DRAFT_NGRAM):
        """warm_prefix=False (measurement only): every call evaluates its whole prompt, the KV
        cache is dropped before it. json_decoding: "schema" (the worker's SchemaDecoder where the
        schema allows) or "grammar" (always llama.cpp's JSON-schema grammar). lockstep=False
        (measurement only): the schema decoder decodes a call's sequences one after another.
        quantize: None (the file as it is) or a type of engine.llm.quantize.TYPES, converted once.
        flash_attn: llama.cpp's fused attention (bench/llm_real.py compares). draft: the matched tokens
        the schema decoder's drafts need (engine.llm.schema_decoder); 0 (measurement only): no drafts."""
        check_installed()  # fail at build time, before a run starts, not at the first call
        self.gguf_path = Path(gguf_path)
        if not self.gguf_path.is_file():
            raise FileNotFoundError(f"GGUF model not found: {self.gguf_path}")
        load = self.gguf_path if quantize is None else converted_path(self.gguf_path, quantize)
        self.model = model or (self.gguf_path.stem + (f".{quantize}" if quantize else ""))
        self.share_key = share_key
        self._closed = False
        if json_decoding not in ("schema", "grammar"):
            raise ValueError(f"json_decoding must be 'schema' or 'grammar', got {json_decoding!r}")
        engine = _Engine({"path": str(load), "n_ctx": n_ctx, "n_threads": n_threads, "verbose": verbose,
                          "warm_prefix": warm_prefix, "json_decoding": json_decoding, "lockstep": lockstep,
                          "source": str(self.gguf_path), "quantize": quantize or "", "flash_attn": flash_attn,
                          "draft": draft})
        if share_key is None:
            self._engine = engine
        else:  # backends of one role (same key, same model settings) share one Llama and its warm prefix
            with _shared_lock:
                self._engine = _shared.setdefault((share_key, *engine.key), engine)
            if self._engine is not engine:
                engine.executor.shutdown(wait=False)
        self._engine.users += 1

    def __repr__(self) -> str:
        return f"LlamaCppBackend({str(self.gguf_path)!r}, n_ctx={self._engine.n_ctx}, share_key={self.share_key!r})"

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        if self._closed:
            raise BackendError(f"{self!r} is closed")
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        # All n completions in one job: nothing of another call lands between them and the prefix stays warm.
        responses, perf = await loop.run_in_executor(self._engine.executor, self._complete_n, messages, n,
                                                     json_schema, temperature, max_tokens, seed)
        texts = tuple(r["choices"][0]["message"]["content"] or "" for r in responses)
        usage = Usage(sum(r["usage"]["prompt_tokens"] for r in responses),
                      sum(r["usage"]["completion_tokens"] for r in responses))
        return ChatResult(texts=texts, usage=usage, latency_s=time.perf_counter() - started, model=self.model,
                          extra={"finish_reasons": [r["choices"][0].get("finish_reason") for r in responses],
                                 "llama_perf": perf})

    def _complete_n(self, messages: list[Message], n: int, json_schema: dict | None, temperature: float,
                    max_tokens: int, seed: int | None) -> tuple[list[dict], dict]:
        try:
            return self._engine.complete((messages, n, json_schema, temperature, max_tokens, seed))
        except Exception as error:  # a prompt past n_ctx, a bad grammar, ...: a failed call, not a crash
            raise BackendError(f"llama-cpp ({self.gguf_path.name}): {type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        engine = self._engine
        with _shared_lock:
            engine.users -= 1
            last = engine.users == 0
            if last and self.share_key is not None:
                _shared.pop((self.share_key, *engine.key), None)
        if last:
            await asyncio.get_running_loop().run_in_executor(None, engine.close)
