"""An OpenAI-compatible chat-completions client (OpenAI, vLLM, llama.cpp's server, ...).

Structured output is sent as the standard `response_format = {"type": "json_schema", ...}`
(OpenAI, vLLM, llama.cpp's llama-server); `schema_format="json_object"` sends the dialect of
llama-cpp-python's server instead, `{"type": "json_object", "schema": ...}`, which rejects
the standard form (with an HTTP 500, so it is retried like any 5xx).

Transient failures (429, 5xx, timeouts, dropped connections, a body that is not the JSON
we expect) are retried with exponential backoff and full jitter; a Retry-After header is
honoured, capped. The API key is read from the environment at call time, so it lives on
no object, in no repr and in no file.
"""

import asyncio
import functools
import logging
import os
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx

from engine.llm import AdapterUnsupported, BackendError, ChatResult, Message, Usage, adapter_id

log = logging.getLogger(__name__)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # httpx builds (and loads the CA bundle into) a new context per client: ~50 ms blocking the event
    # loop each time, once per role per run. One context serves every client of the process.
    return httpx.create_ssl_context()


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may fix."""

    def __init__(self, reason: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s


def estimate_tokens(text: str) -> int:
    """~4 characters a token: the usual rule of thumb, used when a server reports no usage."""
    return (len(text) + 3) // 4


def schema_name(schema: dict) -> str:
    # OpenAI wants ^[A-Za-z0-9_-]{1,64}$; a pydantic model's title is its class name.
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]


def full_jitter(upper_s: float) -> float:
    return random.uniform(0.0, upper_s)


def _retry_after(headers: httpx.Headers) -> float | None:
    # Only the delta-seconds form; an HTTP date falls back to our own backoff.
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, *, base_url: str = "http://127.0.0.1:8080/v1", api_key_env: str | None = None,
                 timeout_s: float = 60.0, max_retries: int = 4, backoff_base_s: float = 0.5,
                 backoff_max_s: float = 30.0, retry_after_cap_s: float = 30.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 jitter: Callable[[float], float] = full_jitter,
                 transport: httpx.AsyncBaseTransport | None = None,
                 schema_format: Literal["json_schema", "json_object"] = "json_schema", serves_lora: bool = False):
        self.model = model
        self.serves_lora = serves_lora  # a vLLM server started with --enable-lora and runtime LoRA updating
        self.schema_format = schema_format
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.retry_after_cap_s = retry_after_cap_s
        self._sleep = sleep
        self._jitter = jitter
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _client_for_call(self) -> httpx.AsyncClient:
        if self._closed:
            raise BackendError(f"{self!r} is closed")
        if self._client is None:  # made lazily, so a backend can be built outside an event loop
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), transport=self._transport,
                                             verify=_ssl_context())
        return self._client

    def _headers(self) -> dict[str, str]:
        if self.api_key_env is None:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise BackendError(f"environment variable {self.api_key_env} (the API key for {self.base_url}) is not set")
        return {"Authorization": f"Bearer {key}"}

    def _backoff_s(self, retry: int, error: _Retryable) -> float:
        if error.retry_after_s is not None:
            return min(error.retry_after_s, self.retry_after_cap_s)
        return self._jitter(min(self.backoff_max_s, self.backoff_base_s * 2 ** retry))

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        started = time.perf_counter()
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                "max_tokens": max_tokens}
        if json_schema is not None:
            body["response_format"] = self._response_format(json_schema)
        texts: list[str] = []
        finish: list[str | None] = []
        prompt_tokens = completion_tokens = attempts = requests = 0
        while len(texts) < n:
            missing = n - len(texts)
            call = dict(body, n=missing) if missing > 1 else dict(body)
            if seed is not None:  # a server that ignores n would repeat itself under one seed
                call["seed"] = seed + len(texts)
            data, tries = await self._post(call)
            attempts += tries
            requests += 1
            choices = data["choices"][:missing]
            texts += [c["message"]["content"] for c in choices]
            finish += [c.get("finish_reason") for c in choices]
            usage = data.get("usage") or {}
            prompt = usage.get("prompt_tokens")
            completion = usage.get("completion_tokens")
            prompt_tokens += prompt if isinstance(prompt, int) else sum(estimate_tokens(m["content"]) for m in messages)
            completion_tokens += (completion if isinstance(completion, int)
                                  else sum(estimate_tokens(c["message"]["content"]) for c in choices))
        return ChatResult(texts=tuple(texts), usage=Usage(prompt_tokens, completion_tokens),
                          latency_s=time.perf_counter() - started, model=self.model,
                          extra={"attempts": attempts, "requests": requests, "finish_reasons": finish})

    def _response_format(self, schema: dict) -> dict[str, Any]:
        if self.schema_format == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": schema_name(schema), "schema": schema, "strict": True}}

    async def _post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """One request, retried; returns the parsed body and the number of attempts it took."""
        client = self._client_for_call()
        path = httpx.URL(self.url).path
        for attempt in range(1, self.max_retries + 2):
            try:
                return await self._attempt(client, body), attempt
            except _Retryable as error:
                last = error
                if attempt > self.max_retries:
                    break
                delay = self._backoff_s(attempt - 1, error)
                log.warning("%s %s: %s; retry %d/%d in %.2fs", self.name, path, error.reason, attempt,
                            self.max_retries, delay)
                await self._sleep(delay)
        status = f"HTTP {last.status}" if last.status is not None else "no response"
        raise BackendError(f"POST {path} failed after {attempt} attempts ({status}: {last.reason})"
                           f"{self._format_hint(last.reason)}")

    def _format_hint(self, error_text: str) -> str:
        # llama-cpp-python's server answers an unknown response_format with a 500, others with 400/422.
        if "response_format" not in error_text:
            return ""
        other = "json_object" if self.schema_format == "json_schema" else "json_schema"
        return f" [schema_format={self.schema_format!r}: does this server want schema_format={other!r}?]"

    async def _attempt(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        headers = self._headers()
        try:
            response = await client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as error:
            raise _Retryable(f"timed out after {self.timeout_s}s ({type(error).__name__})") from error
        except httpx.TransportError as error:  # refused, reset, truncated body
            raise _Retryable(f"{type(error).__name__}: {error}") from error
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Retryable(response.text[:200] or response.reason_phrase, response.status_code,
                             _retry_after(response.headers))
        if response.status_code >= 400:  # 400, 401, 404, ...: asking again would not help
            raise BackendError(f"POST {response.url.path} failed: HTTP {response.status_code}: "
                               f"{response.text[:300]}{self._format_hint(response.text)}")
        try:
            data = response.json()
            choices = data["choices"]
            if not choices or not all(isinstance(c["message"]["content"], str) for c in choices):
                raise ValueError("no choices with text content")
        except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise _Retryable(f"unexpected response body: {error}", response.status_code) from error
        return data

    async def use_adapter(self, folder: Path) -> None:
        """vLLM's runtime LoRA loading: POST {base_url}/load_lora_adapter, then address every request to
        the adapter by its name. The server must run with --enable-lora (and --max-lora-rank at least the
        adapter's r) and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, and must see `folder` at the same path."""
        if not self.serves_lora:
            raise AdapterUnsupported(f"{self.base_url} is not marked as serving LoRA adapters: for a vLLM server "
                                     "started with --enable-lora, set serves_lora = true in its backend config")
        name = f"propersim-lora-{adapter_id(folder)}"
        body = {"lora_name": name, "lora_path": str(Path(folder).resolve())}
        client = self._client_for_call()
        try:
            response = await client.post(f"{self.base_url}/load_lora_adapter", json=body, headers=self._headers())
        except httpx.HTTPError as error:
            raise BackendError(f"loading LoRA adapter {folder} into {self.base_url}: {type(error).__name__}: {error}") \
                from error
        already = response.status_code == 400 and "already" in response.text  # e.g. after a resume
        if response.status_code >= 400 and not already:
            raise BackendError(f"loading LoRA adapter {folder} into {self.base_url} failed: "
                               f"HTTP {response.status_code}: {response.text[:300]}")
        self.model = name

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
