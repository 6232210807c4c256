"""A scripted backend for tests and benchmarks only: no model, every call recorded."""

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.llm import ChatResult, Message, Usage

Script = Callable[[list[Message], int, dict | None], list[str]]


def approx_tokens(text: str) -> int:
    """Roughly what a BPE tokenizer would count: the larger of the word count and chars/4.
    Good enough for budgets and benchmarks; never used where exact counts matter."""
    return max(len(text.split()), (len(text) + 3) // 4)


@dataclass(frozen=True, slots=True)
class FakeCall:
    messages: list[Message]
    n: int
    json_schema: dict | None
    temperature: float
    max_tokens: int
    seed: int | None


class FakeBackend:
    """`responses` is either a callable `(messages, n, json_schema) -> list[str]` (n texts) or an
    iterable of texts cycled one per completion. It may raise BackendError to script a failure."""

    name = "fake"

    def __init__(self, responses: Script | Iterable[str] = ("{}",), *, model: str = "fake",
                 latency_s: float = 0.0):
        self.model = model
        self.latency_s = latency_s
        self.calls: list[FakeCall] = []
        self.closed = False
        if callable(responses):
            self._script: Script = responses
        else:
            cycle = itertools.cycle(list(responses) or [""])
            self._script = lambda _messages, n, _schema: [next(cycle) for _ in range(n)]

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        started = time.perf_counter()
        self.calls.append(FakeCall([dict(m) for m in messages], n, json_schema, temperature, max_tokens, seed))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        texts = self._script(messages, n, json_schema)
        if len(texts) != n:
            raise ValueError(f"FakeBackend script returned {len(texts)} texts for n={n}")
        usage = Usage(sum(approx_tokens(m["content"]) for m in messages), sum(approx_tokens(t) for t in texts))
        return ChatResult(texts=tuple(texts), usage=usage, latency_s=time.perf_counter() - started, model=self.model)

    async def aclose(self) -> None:
        self.closed = True
