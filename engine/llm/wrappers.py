"""Cross-cutting concerns as backends around a backend, so they stack:
``Metered(Cached(Limited(backend)), ledger, role)``."""

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
import time
import weakref
from collections.abc import Hashable
from pathlib import Path

from engine.llm import AdapterUnsupported, Backend, BackendError, ChatResult, Message, Usage
from engine.llm.ledger import CallLedger, CallRecord


class _Wrapper:
    def __init__(self, backend: Backend):
        self.inner = backend
        self.name = backend.name

    @property
    def model(self) -> str:  # follows the inner backend: serving an adapter changes it
        return self.inner.model

    async def use_adapter(self, folder: Path) -> None:
        use = getattr(self.inner, "use_adapter", None)
        if use is None:
            raise AdapterUnsupported(unsupported_adapter_message(self.name))
        await use(folder)

    async def aclose(self) -> None:
        await self.inner.aclose()


def unsupported_adapter_message(backend: str) -> str:
    if backend == "llama-cpp":
        return ("the llama-cpp backend cannot serve a trained LoRA adapter: llama.cpp loads only GGUF adapters, "
                "and converting a peft adapter needs llama.cpp's convert_lora_to_gguf.py from its source tree, "
                "which llama-cpp-python does not ship. Serve the trained assistant with the transformers backend, "
                "or with an openai backend on vLLM (--enable-lora, serves_lora = true)")
    return f"the {backend} backend cannot serve a trained LoRA adapter; use the transformers backend or vLLM"


# One semaphore per (key, limit) and event loop: an asyncio primitive must not be shared across
# loops (each asyncio.run makes a new one), and a finished loop's semaphores go with it.
_SHARED: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, asyncio.Semaphore]]" = \
    weakref.WeakKeyDictionary()


def shared_semaphore(key: Hashable, limit: int) -> asyncio.Semaphore:
    """The running loop's semaphore for (key, limit): one in-flight limit for this whole process."""
    per_loop = _SHARED.setdefault(asyncio.get_running_loop(), {})
    semaphore = per_loop.get((key, limit))
    if semaphore is None:
        semaphore = per_loop[(key, limit)] = asyncio.Semaphore(limit)
    return semaphore


class Limited(_Wrapper):
    """At most `limit` calls in flight. With a `key`, the limit is process-wide: every Limited with an
    equal key and limit shares it, in any run (build_backend keys it by the backend config, so N runs
    in one process send a server at most max_in_flight calls together). Or pass one `semaphore` to
    several backends to share a limit among just those."""

    def __init__(self, backend: Backend, limit: int | None = None, *, semaphore: asyncio.Semaphore | None = None,
                 key: Hashable | None = None):
        super().__init__(backend)
        if (limit is None) == (semaphore is None):
            raise ValueError("Limited needs exactly one of limit or semaphore")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self.key = key
        self._semaphore = semaphore or (asyncio.Semaphore(limit) if key is None else None)

    @property
    def semaphore(self) -> asyncio.Semaphore:
        # A keyed limit is looked up at call time: the backend may be built before its loop runs.
        return self._semaphore if self.key is None else shared_semaphore(self.key, self.limit)

    async def chat(self, messages: list[Message], **params) -> ChatResult:
        async with self.semaphore:
            return await self.inner.chat(messages, **params)


def cache_key(model: str, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
              temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> str:
    """sha256 of the canonical JSON of everything that shapes the answer."""
    request = {"model": model, "messages": messages, "n": n, "json_schema": json_schema,
               "temperature": temperature, "max_tokens": max_tokens, "seed": seed}
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Cached(_Wrapper):
    """A content-addressed response cache on disk: `folder/ab/abcdef....json`, one file per request.

    Files are written to a temp file and `os.replace`d into place, so concurrent processes
    sharing a folder never see half a file; the last writer wins with an equal answer. A
    file that does not parse is treated as a miss and rewritten. Note that a hit replays an
    answer even for temperature > 0 with no seed: that is the point of a cache. Concurrent
    identical requests in one process make one backend call."""

    def __init__(self, backend: Backend, folder: Path | str):
        super().__init__(backend)
        self.folder = Path(folder)
        self._pending: dict[str, asyncio.Future[ChatResult]] = {}

    def path_for(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        params = {"n": n, "json_schema": json_schema, "temperature": temperature, "max_tokens": max_tokens,
                  "seed": seed}
        key = cache_key(self.model, messages, **params)
        while True:
            hit = self._read(key)
            if hit is not None:
                return hit
            leader = self._pending.get(key)
            if leader is None:
                return await self._lead(key, messages, params)
            try:
                result = await asyncio.shield(leader)
            except asyncio.CancelledError:
                if not leader.cancelled():
                    raise  # this caller was cancelled
                continue  # the caller that was fetching it was: fetch it ourselves
            return ChatResult(result.texts, result.usage, 0.0, result.model, cached=True, extra=result.extra)

    async def _lead(self, key: str, messages: list[Message], params: dict) -> ChatResult:
        future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await self.inner.chat(messages, **params)
            self._write(key, result)
            future.set_result(result)
            return result
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # marked retrieved, so a future nobody waits on logs nothing
            raise
        finally:
            del self._pending[key]

    def _read(self, key: str) -> ChatResult | None:
        try:
            data = json.loads(self.path_for(key).read_text("utf-8"))
            return ChatResult(texts=tuple(data["texts"]), usage=Usage(**data["usage"]), latency_s=0.0,
                              model=data["model"], cached=True, extra=data.get("extra", {}))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):  # corrupt or foreign: a miss, overwritten below
            return None

    def _write(self, key: str, result: ChatResult) -> None:
        # Synchronous on purpose: a few KB to local disk, far below the cost of the call it saves.
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"texts": list(result.texts), "model": result.model,
                "usage": {"prompt_tokens": result.usage.prompt_tokens,
                          "completion_tokens": result.usage.completion_tokens},
                "latency_s": result.latency_s, "extra": _jsonable(result.extra)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _jsonable(extra: dict) -> dict:
    try:
        json.dumps(extra)
        return extra
    except (TypeError, ValueError):
        return {}


class Metered(_Wrapper):
    """Records every call, answered or failed, in `ledger` under `role`."""

    def __init__(self, backend: Backend, ledger: CallLedger, role: str):
        super().__init__(backend)
        self.ledger = ledger
        self.role = role

    async def chat(self, messages: list[Message], **params) -> ChatResult:
        started = time.perf_counter()
        n = params.get("n", 1)
        day, step = self.ledger.day, self.ledger.step  # where the call began, not where it ended
        try:
            result = await self.inner.chat(messages, **params)
        except BackendError as error:
            self.ledger.record(CallRecord(self.role, self.name, self.model, 0, 0, time.perf_counter() - started,
                                          cached=False, failed=True, day=day, step=step, n=n, error=str(error)),
                               messages, [])
            raise
        self.ledger.record(CallRecord(self.role, self.name, result.model, result.usage.prompt_tokens,
                                      result.usage.completion_tokens, result.latency_s, cached=result.cached,
                                      failed=False, day=day, step=step, n=n), messages, list(result.texts))
        return result
