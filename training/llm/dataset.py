"""Preference pairs → the conversational rows trl's DPOTrainer reads."""

from collections.abc import Iterable

from training.llm.types import ChatPair


def copies(weight: float) -> int:
    """How many rows a pair becomes. DPOTrainer has no per-example weight, so a pair's weight is
    realized as repetition: round(weight) copies, at least one (a weight below 1.5 counts once)."""
    return max(1, round(weight))


def preference_rows(pairs: Iterable[ChatPair]) -> dict[str, list]:
    """Columns prompt / chosen / rejected in trl's conversational format: the prompt is the message list,
    each completion a one-message assistant turn, so the tokenizer's chat template renders both."""
    rows: dict[str, list] = {"prompt": [], "chosen": [], "rejected": []}
    for pair in pairs:
        for _ in range(copies(pair.weight)):
            rows["prompt"].append([dict(m) for m in pair.prompt])
            rows["chosen"].append([{"role": "assistant", "content": pair.chosen}])
            rows["rejected"].append([{"role": "assistant", "content": pair.rejected}])
    if not rows["prompt"]:
        raise ValueError("a DPO round needs at least one preference pair")
    return rows
