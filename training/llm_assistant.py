"""The memory assistants on a prompted LLM policy (`llm-no-memory` ... `llm-properassistant`).

The memory levels and retrieval are those of the offline assistants (training.offline_assistant
VARIANTS), on the same engine.memory.Memory and engine.retrieval.EventIndex. At each step the
assistant builds chat messages (static system prompt first, so a prefix cache hits; then memory
summaries, retrieved past moments, the last events, and last the current time and activity) and
makes ONE structured call for n completions. An answer that does not recommend, or stays invalid
after the re-ask, is No Recommendation; a recommendation is free text naming a topic and a tone
(so the offline rubric judge can rate it too).
"""

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.assistants import Emit
from engine.embedders import EmbedderName, make_embedder
from engine.llm import Backend
from engine.llm.structured import chat_structured
from engine.memory import Memory, MemoryLevel
from engine.prompts import template
from engine.retrieval import EventIndex
from engine.seeding import ROLE_ASSISTANT, stable_hash
from engine.types import ABSTAIN, Candidate, Feedback, Observation, PreferencePair, Proposal
from engine.vocab import TONES, TOPICS
from training.offline_assistant import VARIANTS

PREFIX = "llm-"


class Answer(BaseModel):
    """One completion of the assistant's policy."""

    recommend: bool
    text: Annotated[str, Field(max_length=160)]
    topic: Literal[TOPICS]
    tone: Literal[TONES]


class LLMAssistantOptions(BaseModel):
    """Options of the LLM memory assistants (`--option KEY=VALUE`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: Annotated[int, Field(ge=1, le=20)] = 3  # memories retrieved per step
    embedder: EmbedderName = "hashing"
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.8
    max_tokens: Annotated[int, Field(ge=16, le=1024)] = 96



def build(ctx, options: LLMAssistantOptions) -> "LLMAssistant":
    return LLMAssistant(ctx.backend("assistant"), ctx.assistant_seed, ctx.name, **options.model_dump())


class LLMAssistant:
    reads_hidden_preferences = False

    def __init__(self, backend: Backend, seed: int, name: str, k: int = 3, embedder: str = "hashing",
                 temperature: float = 0.8, max_tokens: int = 96):
        variant = name.removeprefix(PREFIX)
        spec = VARIANTS[variant]
        self.name = name
        self.backend = backend
        self.seed = seed
        self.level: MemoryLevel = spec["level"]
        self.memory = Memory(self.level)
        self.index = EventIndex(make_embedder(embedder), k=k) if spec["retrieval"] else None
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.failed_answers = 0  # completions that stayed invalid (counted as No Recommendation)
        self.day = 0
        self._system = {"role": "system", "content": template("assistant_system") + "\nTopics: "
                        + ", ".join(TOPICS) + ".\nTones: " + ", ".join(TONES) + "."}

    def start_day(self, day: int) -> None:
        self.day = day

    def messages(self, obs: Observation) -> tuple[list[dict], tuple[str, ...]]:
        """The chat messages for `obs`, and the past moments retrieved for it."""
        retrieved: tuple[str, ...] = ()
        if self.index is not None:
            found = self.index.search(obs.weekday, obs.minute, obs.activity.text, obs.activity.tags, obs.day)
            retrieved = tuple(r.event.render() for r in found)
        parts = []
        if self.level > MemoryLevel.NONE:
            recent = [e.render() for e in self.memory.recent]
            summaries = self.memory.render()[: len(self.memory.render()) - len(recent)]
            parts.append("What happened so far:\n" + ("\n".join(summaries) or "(nothing yet)"))
            if self.index is not None:
                parts.append("Similar past moments:\n" + ("\n".join(retrieved) or "(none yet)"))
            parts.append("Last events:\n" + ("\n".join(recent) or "(none yet)"))
        a = obs.activity
        parts.append(f"Now: day {obs.day + 1}, {obs.render()}; tags: {', '.join(a.tags)}.\n"
                     "Recommend something now, or stay quiet?")
        return [self._system, {"role": "user", "content": "\n\n".join(parts)}], retrieved

    async def propose(self, obs: Observation, n: int) -> Proposal:
        messages, retrieved = self.messages(obs)
        seed = stable_hash(f"{self.seed}:{ROLE_ASSISTANT}:{obs.day}:{obs.step}")
        answers = await chat_structured(self.backend, messages, Answer, n=n, temperature=self.temperature,
                                        max_tokens=self.max_tokens, seed=seed)
        candidates = []
        for answer in answers:
            if answer.failed:
                self.failed_answers += 1
            value = answer.value
            if value is None or not value.recommend or not value.text.strip():
                candidates.append(ABSTAIN)
            else:
                candidates.append(Candidate(None, value.text.strip(), value.topic, value.tone))
        return Proposal(tuple(candidates), tuple(messages), retrieved)

    def observe(self, feedback: Feedback) -> None:
        event = self.memory.add(feedback)
        if event is not None and self.index is not None:
            self.index.add(event)

    async def end_day(self, day: int, pairs: list[PreferencePair], emit: Emit) -> None:
        """No training yet: the trl DPO step on the day's pairs is added separately (training/llm/).
        Until then every variant adapts in context only, through its memory."""

    def save(self, folder: Path) -> None:
        (folder / "memory.json").write_text(json.dumps(self.memory.to_json()))
        if self.index is not None:
            self.index.save(folder)

    def load(self, folder: Path) -> None:
        self.memory.load_json(json.loads((folder / "memory.json").read_text()))
        if self.index is not None:
            self.index.load(folder)
