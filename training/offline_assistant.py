"""ProPerAssistant and its memory baselines, on the offline policy.

| variant          | memory                        | retrieval | weights trained |
|------------------|-------------------------------|-----------|-----------------|
| no-memory        | none                          | no        | no              |
| ar-memory        | actions + recommendations     | no        | no              |
| ars-memory       | + scores (adapts in context)  | yes       | no              |
| properassistant  | + scores + reasons            | yes       | DPO, daily      |
"""

import asyncio
import dataclasses
import json
import time
import zipfile
import zlib
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.assistants import Emit
from engine.assistants.base import BaseAssistant, candidate_of
from engine.catalog import Catalog
from engine.checkpoint import CheckpointError
from engine.embedders import EmbedderName, make_embedder
from engine.events import TrainingFinished, TrainingProgress, TrainingStarted
from engine.memory import Memory, MemoryLevel
from engine.retrieval import EventIndex
from engine.seeding import ROLE_TRAINING, rng_for
from engine.shards import ShardSet
from engine.types import ABSTAIN, Feedback, Observation, PreferencePair, Proposal
from engine.vocab import TONES, TOPICS
from training.dpo import DPOSettings
from training.features import TONE_INDEX, TOPIC_INDEX, Situation, context_vector
from training.offline_policy import NO_REC, OfflinePolicy, initial_params
from training.replay import STRATEGIES, ReplayBuffer, TrainingPair

TIE_WEIGHT = 0.5  # a tie says less than a difference in score
SAID_WITHIN_MINUTES = 240  # "I just suggested that": its own recommendations it won't want to repeat

VARIANTS = {
    "no-memory": dict(level=MemoryLevel.NONE, retrieval=False, trains=False),
    "ar-memory": dict(level=MemoryLevel.RECOMMENDATIONS, retrieval=False, trains=False),
    "ars-memory": dict(level=MemoryLevel.SCORES, retrieval=True, trains=False),
    "properassistant": dict(level=MemoryLevel.REASONS, retrieval=True, trains=True),
}


class PolicyOptions(BaseModel):
    """Options of the memory assistants (`--option KEY=VALUE`), typed and checked before a run starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: Annotated[int, Field(ge=1, le=50)] = 3  # memories retrieved per step
    replay: Literal[STRATEGIES] = "half-today"  # how the day's training set is drawn
    embedder: EmbedderName = "hashing"  # see engine.embedders
    beta: Annotated[float, Field(gt=0.0, le=10.0)] = DPOSettings.beta  # DPO's defaults, written once
    epochs: Annotated[int, Field(ge=1, le=50)] = DPOSettings.epochs
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = DPOSettings.learning_rate
    recommend_rate: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8  # the day-0 policy's chance to recommend
    in_context_scale: Annotated[float, Field(ge=0.0, le=10.0)] = 0.5
    gap_prior: Annotated[float, Field(ge=0.0, le=10.0)] = 0.5
    explore: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5



def build(ctx, options: PolicyOptions) -> "PolicyAssistant":
    return PolicyAssistant(ctx.catalog, ctx.assistant_seed, ctx.name, **options.model_dump())


def _centred(total: float, count: int) -> float:
    """A mean 0-4 score mapped to -1..1; 0 when there is nothing to go on."""
    return (total / count - 2.0) / 2.0 if count else 0.0


class PolicyAssistant(BaseAssistant):
    def __init__(self, catalog: Catalog, seed: int, variant: str, k: int = 3, replay: str = "half-today",
                 embedder: str = "hashing", beta: float = DPOSettings.beta, epochs: int = DPOSettings.epochs,
                 learning_rate: float = DPOSettings.learning_rate,
                 recommend_rate: float = 0.8, in_context_scale: float = 0.5, gap_prior: float = 0.5,
                 explore: float = 0.5):
        super().__init__(catalog, seed)
        spec = VARIANTS[variant]
        self.name = variant
        self.level: MemoryLevel = spec["level"]
        self.trains: bool = spec["trains"]
        self.memory = Memory(self.level)
        self.index = EventIndex(make_embedder(embedder), k=k) if spec["retrieval"] else None
        in_context = self.level >= MemoryLevel.SCORES
        self.reference = initial_params(self.level >= MemoryLevel.RECOMMENDATIONS, in_context, recommend_rate,
                                        in_context_scale, gap_prior)
        self.explore = explore if self.trains else 0.0
        self.policy = OfflinePolicy(catalog, self.reference.copy(), self.reference)
        self.replay = ReplayBuffer(replay)
        self._replay_shards = ShardSet("replay")
        self.dpo = DPOSettings(beta=beta, epochs=epochs, learning_rate=learning_rate)
        self._situations: dict[int, Situation] = {}  # today's, by step, to turn pairs into training data
        self._actions: dict[int, dict[str | None, int]] = {}  # step -> item id -> action index
        self._ties: list[TrainingPair] = []  # today's recommendations that did no better than silence
        self._means_key: tuple | None = None  # see _remembered_means

    def start_day(self, day: int) -> None:
        super().start_day(day)
        self._situations, self._actions, self._ties = {}, {}, []

    # --- deciding ----------------------------------------------------------------------
    def situation(self, obs: Observation) -> Situation:
        tags, weekend = obs.activity.tags, obs.weekday >= 5
        gap = count = good_gap = good_count = None
        said = frozenset()
        mem_topic, mem_tone = np.zeros(len(TOPICS)), np.zeros(len(TONES))
        retrieved_topic = np.zeros(len(TOPICS))
        rec_value = abstain_value = 0.0
        self._retrieved = ()
        if self.level >= MemoryLevel.RECOMMENDATIONS:
            gap = self.memory.minutes_since_recommendation(obs.day, obs.minute)
            count = self.memory.recommendations_today(obs.day)
            said = self.memory.said_within(obs.day, obs.minute, SAID_WITHIN_MINUTES)
        if self.level >= MemoryLevel.SCORES:
            good_gap = self.memory.minutes_since_good(obs.day, obs.minute)
            good_count = self.memory.good_recommendations_today(obs.day)
            mem_topic, mem_tone = self._remembered_means()
        if self.index is not None:
            found = self.index.search(obs.weekday, obs.minute, obs.activity.text, tags, obs.day)
            self._retrieved = tuple(r.event.render() for r in found)
            rec_n = rec_total = quiet_n = quiet_total = 0
            by_topic: dict[str, list[int]] = {}
            for r in found:
                e = r.event
                if e.delivered is None or e.score is None:  # a failed rating tells nothing
                    continue
                if not e.delivered.is_recommendation:
                    quiet_n, quiet_total = quiet_n + 1, quiet_total + e.score
                    continue
                rec_n, rec_total = rec_n + 1, rec_total + e.score
                if e.delivered.topic in TOPIC_INDEX:
                    entry = by_topic.setdefault(e.delivered.topic, [0, 0])
                    entry[0] += 1
                    entry[1] += e.score
            rec_value, abstain_value = _centred(rec_total, rec_n), _centred(quiet_total, quiet_n)
            for topic, (n, total) in by_topic.items():
                retrieved_topic[TOPIC_INDEX[topic]] = _centred(total, n)
        context = context_vector(obs.minute, weekend, tags, gap, count, rec_value, abstain_value, good_gap, good_count)
        return Situation(context, tags, obs.minute // 240, int(weekend), mem_topic, mem_tone, retrieved_topic, said)

    def _remembered_means(self) -> tuple[np.ndarray, np.ndarray]:
        """The run-long mean score per topic and per tone, centred. They change only when a recommendation
        is remembered, so they are rebuilt only then (read-only: every situation until then shares them)."""
        totals = self.memory.totals
        key = (id(totals), totals.recommendations)
        if self._means_key != key:
            mem_topic, mem_tone = np.zeros(len(TOPICS)), np.zeros(len(TONES))
            for topic, (n, total) in totals.by_topic.items():
                if topic in TOPIC_INDEX:  # a free-text recommendation may name no known topic
                    mem_topic[TOPIC_INDEX[topic]] = _centred(total, n)
            for tone, (n, total) in totals.by_tone.items():
                if tone in TONE_INDEX:
                    mem_tone[TONE_INDEX[tone]] = _centred(total, n)
            mem_topic.setflags(write=False)
            mem_tone.setflags(write=False)
            self._means_key, self._means = key, (mem_topic, mem_tone, totals)  # holding totals keeps its id
        return self._means[0], self._means[1]

    async def propose(self, obs: Observation, n: int) -> Proposal:
        s = self.situation(obs)
        actions, items = self.policy.sample(s, n, self.rng, self.explore)
        candidates = tuple(ABSTAIN if a == NO_REC else candidate_of(items[a]) for a in actions)
        self._situations[obs.step] = s
        self._actions[obs.step] = {c.item_id: a for c, a in zip(candidates, actions)}
        return Proposal(candidates, obs.render(), self._retrieved)

    def observe(self, feedback: Feedback) -> None:
        if self.trains:
            self._note_tie(feedback)
        event = self.memory.add(feedback)
        if event is not None and self.index is not None:
            self.index.add(event)

    # --- learning ----------------------------------------------------------------------
    def _note_tie(self, feedback: Feedback) -> None:
        """A recommendation that scored no better than silence would have: when in doubt, don't interrupt.

        The judge's pairs leave ties out; the learner keeps these as silence over the interruption."""
        step, actions = feedback.observation.step, self._actions.get(feedback.observation.step, {})
        totals = dict(zip(feedback.candidates, feedback.totals))
        quiet = totals.get(ABSTAIN)
        if quiet is None or NO_REC not in actions.values():
            return
        for candidate, total in totals.items():
            if candidate.is_recommendation and total is not None and total == quiet and candidate.item_id in actions:
                self._ties.append(TrainingPair(self._situations[step], NO_REC, actions[candidate.item_id],
                                               feedback.observation.day, TIE_WEIGHT))

    def training_pairs(self, pairs: list[PreferencePair]) -> list[TrainingPair]:
        out = []
        for pair in pairs:
            s, actions = self._situations.get(pair.step), self._actions.get(pair.step)
            if s is None or pair.chosen.item_id not in actions or pair.rejected.item_id not in actions:
                continue  # e.g. a human-written alternative the policy never proposed
            out.append(TrainingPair(s, actions[pair.chosen.item_id], actions[pair.rejected.item_id],
                                    pair.day, pair.weight, pair.source))
        return out

    def _training_batch(self, day: int, pairs: list[PreferencePair], rng: np.random.Generator) -> list:
        """Today's pairs into the replay buffer, and the day's balanced training sample from it."""
        self.replay.extend(self.training_pairs(pairs) + self._ties)
        self._ties = []
        return balanced(self.replay.sample(day, rng))

    async def end_day(self, day: int, pairs: list[PreferencePair], emit: Emit) -> None:
        if not self.trains:
            return
        rng = rng_for(self.seed, ROLE_TRAINING, day)
        batch = await asyncio.to_thread(self._training_batch, day, pairs, rng)  # off the app's loop, like training
        emit(TrainingStarted(day, len(batch)))
        if not batch:
            emit(TrainingFinished(day, float("nan"), 0.0))
            return
        start = time.perf_counter()
        loop = asyncio.get_running_loop()
        # on a thread, so whoever drives the loop (the app) stays responsive; progress hops back to the loop
        loss = await asyncio.to_thread(
            self.policy.train, batch, self.dpo, rng,
            lambda done, total, loss: loop.call_soon_threadsafe(emit, TrainingProgress(day, done, total, loss)))
        await asyncio.sleep(0)  # deliver the last progress events before the finish
        if not np.all(np.isfinite(self.policy.params)):
            raise RuntimeError(f"DPO training diverged on day {day + 1} (non-finite weights)")
        emit(TrainingFinished(day, loss, time.perf_counter() - start))

    # --- checkpoints -------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        np.save(folder / "policy.npy", self.policy.params)
        (folder / "memory.json").write_text(json.dumps(self.memory.to_json()))
        if self.index is not None:
            self.index.save(folder)
        if self.trains:
            self._replay_shards.save(folder, len(self.replay.pairs),
                                     lambda path, start, end: save_replay(self.replay.pairs[start:end], path))

    def load(self, folder: Path) -> None:
        """All or nothing: a checkpoint that fails a check (CheckpointError) leaves the assistant as it was."""
        try:
            params = np.load(folder / "policy.npy", allow_pickle=False)
            memory = Memory(self.level)
            memory.load_json(json.loads((folder / "memory.json").read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{folder}: unreadable policy or memory ({type(error).__name__}: {error})") from None
        if params.shape != self.reference.shape or not np.all(np.isfinite(params)):
            raise CheckpointError(f"{folder / 'policy.npy'}: weights are not finite or not of this policy's shape")
        shards, pairs = [], []
        if self.trains:
            shards = self._replay_shards.found(folder)
            for _, end, path in shards:
                pairs.extend(load_replay(path))
                if len(pairs) != end:
                    raise CheckpointError(f"{path}: holds a different number of pairs than its name says")
        if self.index is not None:
            self.index.load(folder)  # all or nothing as well, and the last thing that can fail
        self.policy.params, self.memory = params, memory
        if self.trains:
            self.replay.pairs = pairs
            self._replay_shards.adopt(shards)


def balanced(batch: list[TrainingPair]) -> list[TrainingPair]:
    """Soften the imbalance of its lessons, speak up (a recommendation over silence) against keep quiet
    (silence over one): each is weighted by the fourth root of its rarity, so a day of chatter teaches
    quiet where it was wrong without silencing the assistant everywhere the next day."""
    quiet = sum(1 for p in batch if p.chosen == NO_REC)
    speak = sum(1 for p in batch if p.rejected == NO_REC)
    if not quiet or not speak:
        return batch
    quiet_scale, speak_scale = ((quiet + speak) / (2 * quiet)) ** 0.25, ((quiet + speak) / (2 * speak)) ** 0.25
    return [dataclasses.replace(p, weight=p.weight * quiet_scale) if p.chosen == NO_REC else
            dataclasses.replace(p, weight=p.weight * speak_scale) if p.rejected == NO_REC else p for p in batch]


def save_replay(pairs: list[TrainingPair], path: Path) -> None:
    """Training pairs as one compressed .npz (a shard of the replay buffer)."""
    np.savez_compressed(
        path,
        context=np.array([p.situation.context for p in pairs]).reshape(len(pairs), -1),
        tags=np.array(["|".join(p.situation.tags) for p in pairs], dtype=str),
        block=np.array([p.situation.block for p in pairs], dtype=np.int64),
        weekend=np.array([p.situation.weekend for p in pairs], dtype=np.int64),
        mem_topic=np.array([p.situation.mem_topic for p in pairs]).reshape(len(pairs), -1),
        mem_tone=np.array([p.situation.mem_tone for p in pairs]).reshape(len(pairs), -1),
        retrieved_topic=np.array([p.situation.retrieved_topic for p in pairs]).reshape(len(pairs), -1),
        said=np.array(["|".join(sorted(p.situation.said)) for p in pairs], dtype=str),
        chosen=np.array([p.chosen for p in pairs], dtype=np.int64),
        rejected=np.array([p.rejected for p in pairs], dtype=np.int64),
        day=np.array([p.day for p in pairs], dtype=np.int64),
        weight=np.array([p.weight for p in pairs], dtype=np.float64),
        source=np.array([p.source for p in pairs], dtype=str),
    )


def load_replay(path: Path) -> list[TrainingPair]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            f = {name: npz[name] for name in npz.files}  # each npz[name] decompresses its array again
        return [
            TrainingPair(
                Situation(f["context"][i], tuple(t for t in str(f["tags"][i]).split("|") if t),
                          int(f["block"][i]), int(f["weekend"][i]), f["mem_topic"][i], f["mem_tone"][i],
                          f["retrieved_topic"][i], frozenset(x for x in str(f["said"][i]).split("|") if x)),
                int(f["chosen"][i]), int(f["rejected"][i]), int(f["day"][i]), float(f["weight"][i]),
                str(f["source"][i]),
            )
            for i in range(len(f["day"]))
        ]
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path}: unreadable replay shard ({type(error).__name__})") from None
