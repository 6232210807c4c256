"""Retrieval of similar past moments: a usearch index of memory events, queried by situation.

Situations are embedded by an embedder from engine/embedders (hashing by default).
"""

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

from engine.checkpoint import CheckpointError
from engine.memory import MemoryEvent
from engine.shards import ShardSet


def situation_text(weekday: int, minute: int, activity: str, tags: tuple[str, ...]) -> str:
    """What a moment looks like to retrieval: day type, hour, activity and its tags."""
    day_type = "weekend" if weekday >= 5 else "weekday"
    return f"{day_type} h{minute // 60:02d} {activity} {' '.join(tags)}"


@dataclass(frozen=True, slots=True)
class Retrieved:
    event: MemoryEvent
    relevance: float  # cosine similarity
    score: float  # relevance plus a recency bonus


class EventIndex:
    """Memory events in a usearch index (cosine, f32), queried by situation."""

    def __init__(self, embedder, k: int = 3, recency_weight: float = 0.1, half_life_days: float = 3.0):
        self.embedder = embedder
        self.k = k
        self.recency_weight = recency_weight
        self.half_life_days = half_life_days
        self.events: list[MemoryEvent] = []
        self.vectors: list[np.ndarray] = []
        self.index = self._new_index()
        self._shards = ShardSet("index")

    def _new_index(self) -> Index:
        return Index(ndim=self.embedder.dim, metric="cos", dtype="f32", connectivity=16,
                     expansion_add=64, expansion_search=64)

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event: MemoryEvent) -> None:
        vector = self.embedder.embed(situation_text(event.weekday, event.minute, event.activity, event.tags))
        self.index.add(len(self.events), vector, threads=1)
        self.events.append(event)
        self.vectors.append(vector)

    def search(self, weekday: int, minute: int, activity: str, tags: tuple[str, ...], now_day: int,
               exact: bool = False) -> list[Retrieved]:
        """Top-k past events for a situation, by relevance plus recency."""
        if not self.events:
            return []
        query = self.embedder.embed(situation_text(weekday, minute, activity, tags))
        wide = min(len(self.events), self.k * 4)
        matches = self.index.search(query, wide, threads=1, exact=exact)
        ranked = []  # (-score, -day, -step, relevance, event): best first; day and step tell any two apart
        for key, distance in zip(matches.keys.tolist(), matches.distances.tolist()):
            event = self.events[key]
            relevance = 1.0 - distance
            recency = 0.5 ** ((now_day - event.day) / self.half_life_days)
            ranked.append((-(relevance + self.recency_weight * recency), -event.day, -event.step, relevance, event))
        ranked.sort(key=lambda r: r[:3])
        return [Retrieved(event, relevance, -score) for score, _, _, relevance, event in ranked[: self.k]]

    def save(self, folder: Path) -> None:
        """The events and their vectors, in shards: only those added since the last save are written.

        No usearch file: load rebuilds the graph from the vectors, so there is nothing to trust."""
        def write(path: Path, start: int, end: int) -> None:
            events = json.dumps([e.to_json() for e in self.events[start:end]]).encode("utf-8")
            vectors = np.array(self.vectors[start:end], dtype=np.float32).reshape(-1, self.embedder.dim)
            np.savez_compressed(path, events=np.frombuffer(events, dtype=np.uint8), vectors=vectors)

        self._shards.save(folder, len(self.events), write)

    def load(self, folder: Path) -> None:
        """Restore by re-adding the saved vectors in order; nothing changes if the checkpoint is unusable.

        usearch's graph after load-then-add differs slightly from one built in one go, so
        rebuilding is what makes a resumed run identical to an uninterrupted one.
        """
        shards = self._shards.found(folder)
        events, vectors = [], []
        for _, end, path in shards:
            try:
                with np.load(path, allow_pickle=False) as f:
                    raw, block = json.loads(f["events"].tobytes().decode("utf-8")), f["vectors"]
                batch = [MemoryEvent.from_json(e) for e in raw]
            except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error) as error:
                raise CheckpointError(f"{path}: unreadable index shard ({type(error).__name__})") from None
            if len(batch) != len(block) or len(events) + len(batch) != end or block.shape[1:] != (self.embedder.dim,) \
                    or not np.all(np.isfinite(block)):
                raise CheckpointError(f"{path}: index shard does not match its events or this embedder")
            events.extend(batch)
            vectors.extend(np.array(v, dtype=np.float32) for v in block)
        index = self._new_index()
        for key, vector in enumerate(vectors):
            index.add(key, vector, threads=1)
        self.index, self.events, self.vectors = index, events, vectors
        self._shards.adopt(shards)
