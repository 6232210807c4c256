"""The memory assistants on a prompted LLM policy (`llm-no-memory` ... `llm-properassistant`).

The memory levels and retrieval are those of the offline assistants (training.offline_assistant
VARIANTS), on the same engine.memory.Memory and engine.retrieval.EventIndex. At each step the
assistant builds chat messages and makes ONE structured call for n completions. The prompt is laid
out for a prefix cache (a llama.cpp backend re-evaluates only what follows the first changed token):
what changes least comes first, what changes every step last. The static system prompt (with the
question asked at every step); the closed summaries (they change once an hour) and the summary of
this hour's events before the last ones (it changes when the window is cut); the last events, a window
that only grows between resets (at least the last 4 events, at most 12: appending keeps the prefix, a
reset every few steps re-evaluates it); and after them what is new at every step anyway (an event
joins the window at each step): the retrieved past moments not among the last events (mostly none:
the current activity's own last steps are the most similar), the time and the activity. So the
current hour is told once (its earlier events summed up, its last ones as events), and what a step
re-evaluates is its new event, the retrieved moments and the "Now" line. An answer that stays
quiet (`{"recommend": false}`, nothing more to write), that leaves its text blank, or that stays
invalid after the re-ask, is No Recommendation; a recommendation is one short sentence naming a
topic and a tone (so the offline rubric judge can rate it too).

`llm-properassistant` also learns its weights: at each day's end a trl DPO round trains a LoRA
adapter on its preference pairs (training.llm.daily), where the assistant's backend can serve one
(transformers in process, or a vLLM server with runtime LoRA loading). A weak model often writes two
identical completions, which form no pair; so while it trains, the candidate that is NOT delivered is
then swapped for the opposite decision (a fitting catalog item, or No Recommendation). That costs the
delivered score nothing and gives every step a chance to teach.
"""

import json
import random
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from engine.assistants import Emit
from engine.assistants.base import candidate_of
from engine.embedders import EmbedderName, make_embedder
from engine.errors import RunError
from engine.llm import AdapterUnsupported, Backend
from engine.llm.structured import chat_structured
from engine.llm.wrappers import unsupported_adapter_message
from engine.memory import Memory, MemoryEvent, MemoryLevel, Summary
from engine.prompts import template
from engine.registry import missing_extra
from engine.retrieval import EventIndex
from engine.seeding import ROLE_ASSISTANT, stable_hash
from engine.types import ABSTAIN, Candidate, Feedback, Observation, PreferencePair, Proposal
from engine.vocab import TONES, TOPICS
from training.llm.settings import LLMTrainingConfig
from training.offline_assistant import VARIANTS

PREFIX = "llm-"


QUESTION = "At each step: recommend something now, or stay quiet?"  # in the system prompt: evaluated once
TEXT_MAX_LENGTH = 64  # one short sentence: every character of it is decoded (and quoted in later prompts)
WINDOW_MIN, WINDOW_MAX = 4, 12  # the last events shown: at least the last 4; appended to until 12, then cut back
# (a cut re-evaluates the prompt from the window on: cutting every 8 steps, not every 4, halves that)


class Speak(BaseModel):
    """A recommendation: one short sentence, its topic and its tone."""

    recommend: Literal[True]
    text: Annotated[str, Field(max_length=TEXT_MAX_LENGTH)]
    topic: Literal[TOPICS]
    tone: Literal[TONES]


class Quiet(BaseModel):
    """Staying quiet: nothing else to say."""

    recommend: Literal[False]


class Answer(RootModel[Annotated[Speak | Quiet, Field(discriminator="recommend")]]):
    """One completion of the assistant's policy: `{"recommend": false}`, or a recommendation. Its
    JSON schema is a oneOf of the two objects, told apart by "recommend" (Speak first: a schema's
    smallest sample, as --dry-run's, then recommends and the judge is asked at every step)."""


class LLMAssistantOptions(BaseModel):
    """Options of the LLM memory assistants (`--option KEY=VALUE`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: Annotated[int, Field(ge=1, le=20)] = 3  # memories retrieved per step
    embedder: EmbedderName = "hashing"
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.8
    # per completion: ~20 fixed JSON, topic and tone tokens and ~28 of text, where 80 characters of words
    # take ~20; a run of digits or symbols (a token a character) is cut short: every token of the text is
    # evaluated again in the judge's prompt and in later steps' prompts
    max_tokens: Annotated[int, Field(ge=16, le=1024)] = 48
    # Daily DPO (llm-properassistant only). auto: where the backend can serve the adapter; dpo: required
    # (refused before the run starts where it cannot); off: in-context learning only.
    train: Literal["auto", "dpo", "off"] = "auto"
    # The weights to train: default the transformers backend's model; for vLLM, the local copy it serves.
    base_model: str | None = None
    on_training_failure: Literal["stop", "keep-adapter"] = "stop"
    # While training: the chance that two identical completions get an exploring undelivered alternative.
    explore: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    dpo: LLMTrainingConfig = Field(default_factory=LLMTrainingConfig)


def earlier_in_hour(hour: Summary, shown: list[MemoryEvent]) -> Summary | None:
    """The hour's summary without the events `shown` as last events: what of this hour the prompt tells
    in no other way. None when every step of the hour is shown."""
    inside = Summary(hour.day, hour.start_minute, hour.end_minute)
    for event in shown:
        if event.day == hour.day and hour.start_minute <= event.minute < hour.end_minute:
            inside.add(event)
    if inside.steps >= hour.steps:
        return None
    earlier = Summary(hour.day, hour.start_minute, hour.end_minute, hour.steps - inside.steps,
                      hour.recommendations - inside.recommendations, hour.score_sum - inside.score_sum,
                      hour.scored - inside.scored)
    for mine, theirs, shown_table in ((earlier.by_topic, hour.by_topic, inside.by_topic),
                                      (earlier.by_tone, hour.by_tone, inside.by_tone)):
        for key, (count, total) in theirs.items():
            less = shown_table.get(key, [0, 0])
            if count > less[0]:
                mine[key] = [count - less[0], total - less[1]]
    return earlier


def training_blocker(config, options: LLMAssistantOptions) -> str | None:
    """Why this run's assistant backend cannot train and serve a LoRA adapter, or None if it can."""
    backend = config.backends.get("assistant") or config.backends.get("default")
    if backend is None:
        return "it has no backend"
    if backend.kind == "openai" and not backend.serves_lora:
        return ("an openai backend serves a trained adapter only from a vLLM server started with --enable-lora "
                "(set serves_lora = true in its backend config, and base_model to the weights it serves)")
    if backend.kind == "openai" and not options.base_model:
        return "base_model: the local path of the weights the vLLM server serves (training needs them)"
    if backend.kind not in ("openai", "transformers"):
        return unsupported_adapter_message(backend.kind)
    hint = missing_extra("train")
    if hint:
        return f"training {hint}"
    return None


def _variant_trains(config) -> bool:
    return VARIANTS[config.assistant.removeprefix(PREFIX)]["trains"]


def why_not_training(config, options: LLMAssistantOptions) -> str | None:
    """For a variant that trains: None when this run trains, else what its metrics say instead."""
    if options.train == "off":
        return "off"
    blocker = training_blocker(config, options)
    return f"off: {blocker}" if blocker else None


def trains(config, options: LLMAssistantOptions) -> bool:
    return _variant_trains(config) and why_not_training(config, options) is None


def check(config, options: LLMAssistantOptions) -> None:
    """Before anything is written: train = "dpo" must be able to train, and the weights must exist."""
    if options.train == "dpo":
        if not _variant_trains(config):
            raise RunError(f"{config.assistant} does not train its weights (only llm-properassistant does); "
                           "drop --option train=dpo")
        blocker = training_blocker(config, options)
        if blocker:
            raise RunError(f"{config.assistant} with train = 'dpo': {blocker}")
    if trains(config, options):
        _training_source(config, options)


def _training_source(config, options: LLMAssistantOptions):
    from engine.llm.config import model_path
    from training.llm.model_source import ModelSource

    backend = config.backends.get("assistant") or config.backends.get("default")
    try:
        path = model_path(options.base_model or backend.model)
        return ModelSource(path=Path(path).expanduser())
    except (ValueError, ImportError) as error:  # ImportError: the bundled model is not installed
        raise RunError(f"{config.assistant}: the model to train: {error}") from None


def build(ctx, options: LLMAssistantOptions) -> "LLMAssistant":
    trainer = off = None
    if _variant_trains(ctx.config):
        off = why_not_training(ctx.config, options)
        if off is None:
            from training.llm.daily import DailyTrainer

            trainer = DailyTrainer(_training_source(ctx.config, options), options.dpo,
                                   ctx.run_dir / "training" if ctx.run_dir else None, ctx.assistant_seed,
                                   options.on_training_failure)
    return LLMAssistant(ctx.backend("assistant"), ctx.assistant_seed, ctx.name, k=options.k,
                        embedder=options.embedder, temperature=options.temperature, max_tokens=options.max_tokens,
                        trainer=trainer, explore=options.explore if trainer else 0.0, catalog=ctx.catalog,
                        undelivered=0 if ctx.config.deliver != 0 else 1, training_off=off)


class LLMAssistant:
    reads_hidden_preferences = False

    def __init__(self, backend: Backend, seed: int, name: str, k: int = 3, embedder: str = "hashing",
                 temperature: float = 0.8, max_tokens: int = 48, *, trainer=None, explore: float = 0.0,
                 catalog=None, undelivered: int = 0, training_off: str | None = None):
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
        self.trainer = trainer  # training.llm.daily.DailyTrainer, or None: adapts in context only
        self.explore = explore
        self.catalog = catalog
        self.undelivered = undelivered  # the candidate an exploring alternative may replace
        self._training_off = training_off  # why a training variant does not train (metrics), or None
        self._completions: dict[int, dict[Candidate, str]] = {}  # the day's step -> candidate -> answer JSON
        self._window: list = []  # the last events shown (MemoryEvent), WINDOW_MIN to WINDOW_MAX of them
        self.failed_answers = 0  # completions that stayed invalid (counted as No Recommendation)
        self.day = 0
        self._system = {"role": "system", "content": template("assistant_system") + "\nTopics: "
                        + ", ".join(TOPICS) + ".\nTones: " + ", ".join(TONES) + ".\n" + QUESTION}

    @property
    def training_status(self) -> str | None:
        """What the day's training did, for metrics.csv; None for variants that never train weights."""
        return self.trainer.status if self.trainer is not None else self._training_off

    def start_day(self, day: int) -> None:
        self.day = day
        self._completions = {}

    def messages(self, obs: Observation) -> tuple[list[dict], tuple[str, ...]]:
        """The chat messages for `obs`, and the past moments retrieved for it. What changes least
        comes first (the module's docstring says why)."""
        found = []
        if self.index is not None:
            found = [r.event for r in self.index.search(obs.weekday, obs.minute, obs.activity.text,
                                                        obs.activity.tags, obs.day)]
        parts = []
        if self.level > MemoryLevel.NONE:
            memory = self.memory
            closed = [b.render() for b in memory.blocks] + [h.render() for h in memory.hours]
            earlier = None if memory.hour is None else earlier_in_hour(memory.hour, self._window)
            if earlier is not None:  # its span left out: the events after it and "Now" say it
                closed.append(f"Earlier this hour: {earlier.render().partition(': ')[2]}")
            parts.append("What happened so far:\n" + ("\n".join(closed) or "(nothing yet)"))
            parts.append("Last events:\n" + ("\n".join(e.render() for e in self._window) or "(none yet)"))
            shown = {(e.day, e.step) for e in self._window}
            new = [e.render() for e in found if (e.day, e.step) not in shown]
            if self.index is not None and (new or not found):
                parts.append("Similar past moments:\n" + ("\n".join(new) or "(none yet)"))
        parts.append(f"Now: day {obs.day + 1}, {obs.render()}; tags: {', '.join(obs.activity.tags)}.")
        return [self._system, {"role": "user", "content": "\n\n".join(parts)}], tuple(e.render() for e in found)

    async def propose(self, obs: Observation, n: int) -> Proposal:
        if self.trainer is not None:
            await self.trainer.serve_restored(self._serve)
        messages, retrieved = self.messages(obs)
        seed = stable_hash(f"{self.seed}:{ROLE_ASSISTANT}:{obs.day}:{obs.step}")
        answers = await chat_structured(self.backend, messages, Answer, n=n, temperature=self.temperature,
                                        max_tokens=self.max_tokens, seed=seed)
        candidates, completions = [], {}
        for answer in answers:
            if answer.failed:
                self.failed_answers += 1
            value = None if answer.value is None else answer.value.root
            if value is None or not value.recommend or not value.text.strip():
                candidate = ABSTAIN
            else:
                candidate = Candidate(None, value.text.strip(), value.topic, value.tone)
            candidates.append(candidate)
            if value is not None:
                completions.setdefault(candidate, value.model_dump_json())
        if self.explore and len(set(candidates)) == 1 and len(candidates) > self.undelivered \
                and random.Random(seed).random() < self.explore:
            candidates[self.undelivered] = self._alternative(obs, candidates[0], seed)
        self._completions[obs.step] = completions
        return Proposal(tuple(candidates), tuple(messages), retrieved)

    def _alternative(self, obs: Observation, decided: Candidate, seed: int) -> Candidate:
        """The opposite decision: No Recommendation for a recommendation, else a fitting catalog item."""
        if decided.is_recommendation:
            return ABSTAIN
        items = self.catalog.fitting(obs.activity.tags) or self.catalog.items
        return candidate_of(random.Random(seed + 1).choice(items))

    def completion(self, step: int, candidate: Candidate) -> str:
        """The answer JSON that stands for `candidate` in a preference pair: what the model wrote, else
        (an exploring or a human-written alternative) the same JSON made from the candidate."""
        written = self._completions.get(step, {}).get(candidate)
        if written is not None:
            return written
        if not candidate.is_recommendation:
            return json.dumps({"recommend": False}, separators=(",", ":"))
        answer = {"recommend": True, "text": candidate.text}
        answer |= {key: value for key, value in (("topic", candidate.topic), ("tone", candidate.tone)) if value}
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))

    async def _serve(self, adapter: Path) -> None:
        use = getattr(self.backend, "use_adapter", None)
        if use is None:
            raise AdapterUnsupported(unsupported_adapter_message(self.backend.name))
        await use(adapter)

    def observe(self, feedback: Feedback) -> None:
        event = self.memory.add(feedback)
        if event is not None:
            self._window.append(event)
            if len(self._window) > WINDOW_MAX:
                del self._window[:-WINDOW_MIN]
            if self.index is not None:
                self.index.add(event)

    async def end_day(self, day: int, pairs: list[PreferencePair], emit: Emit) -> None:
        """Variants that train: one DPO round on the day's replay sample (training.llm.daily). The
        others adapt in context only, through their memory."""
        if self.trainer is None:
            return
        from training.llm.types import ChatPair

        chat_pairs = [ChatPair(pair.prompt, self.completion(pair.step, pair.chosen),
                               self.completion(pair.step, pair.rejected), pair.weight, day, pair.source)
                      for pair in pairs if isinstance(pair.prompt, tuple)]
        await self.trainer.train_day(day, chat_pairs, emit, self._serve)

    def save(self, folder: Path) -> None:
        (folder / "memory.json").write_text(json.dumps(self.memory.to_json()))
        (folder / "llm_window.json").write_text(json.dumps([e.to_json() for e in self._window]))
        if self.index is not None:
            self.index.save(folder)
        if self.trainer is not None:
            self.trainer.save(folder)

    def load(self, folder: Path) -> None:
        self.memory.load_json(json.loads((folder / "memory.json").read_text()))
        window = folder / "llm_window.json"  # absent in a checkpoint written before the window: the last events
        self._window = ([MemoryEvent.from_json(e) for e in json.loads(window.read_text())] if window.is_file()
                        else list(self.memory.recent))
        if self.index is not None:
            self.index.load(folder)
        if self.trainer is not None:
            self.trainer.load(folder)
