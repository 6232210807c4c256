"""Assistants by name: the one place that knows every implementation."""

from engine.assistant import AlwaysAbstain, Assistant, EveryStep, Oracle, RandomRate
from engine.catalog import Catalog
from engine.errors import RunError
from engine.judge_rubric import RubricJudge
from training.offline_assistant import VARIANTS, PolicyAssistant

ASSISTANTS: dict[str, str] = {
    "properassistant": "memory + retrieval + daily DPO on its own candidates (options: k, replay, embedder)",
    "ars-memory": "memory with scores; adapts in context, no training",
    "ar-memory": "memory of actions and recommendations, no scores, no training",
    "no-memory": "the same policy with no memory, no training",
    "always-abstain": "never recommends (reference)",
    "every-step": "recommends a fitting catalog item at every step (reference)",
    "random": "recommends at a fixed random rate, option rate=0.03 (reference)",
    "oracle": "reads the hidden preferences: the upper bound, not an assistant under test",
}


def build_assistant(name: str, catalog: Catalog, seed: int, options: dict | None = None,
                    oracle_judge: RubricJudge | None = None) -> Assistant:
    """Build an assistant. Only the oracle is handed the judge; nothing else sees the persona."""
    options = dict(options or {})
    try:
        if name in VARIANTS:
            return PolicyAssistant(catalog, seed, name, **options)
        if name == "always-abstain":
            return AlwaysAbstain(catalog, seed, **options)
        if name == "every-step":
            return EveryStep(catalog, seed, **options)
        if name == "random":
            return RandomRate(catalog, seed, **options)
        if name == "oracle":
            if oracle_judge is None:
                raise RunError("the oracle needs the judge")
            return Oracle(catalog, seed, oracle_judge, **options)
    except (TypeError, ValueError) as error:
        raise RunError(f"bad options for assistant {name!r}: {error}") from None
    raise RunError(f"unknown assistant {name!r}; known: {', '.join(ASSISTANTS)}")
