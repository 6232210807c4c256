"""Retrieval of similar past moments: a usearch index of memory events, queried by situation.

Situations are embedded by an embedder from engine/embedders (hashing by default).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

from engine.memory import MemoryEvent


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
        out = []
        for key, distance in zip(matches.keys, matches.distances):
            event = self.events[int(key)]
            relevance = 1.0 - float(distance)
            age = now_day - event.day
            recency = 0.5 ** (age / self.half_life_days)
            out.append(Retrieved(event, relevance, relevance + self.recency_weight * recency))
        out.sort(key=lambda r: (-r.score, -r.event.day, -r.event.step))
        return out[: self.k]

    def save(self, folder: Path) -> None:
        """The index file, plus the vectors and events it was built from."""
        self.index.save(str(folder / "index.usearch"))
        np.save(folder / "index_vectors.npy", np.array(self.vectors, dtype=np.float32).reshape(-1, self.embedder.dim))
        (folder / "index_events.json").write_text(json.dumps([e.to_json() for e in self.events]))

    def load(self, folder: Path) -> None:
        """Restore by re-adding the saved vectors in order.

        usearch's graph after load-then-add differs slightly from one built in one go, so
        rebuilding is what makes a resumed run identical to an uninterrupted one.
        """
        events = [MemoryEvent.from_json(e) for e in json.loads((folder / "index_events.json").read_text())]
        vectors = np.load(folder / "index_vectors.npy")
        saved = Index.restore(str(folder / "index.usearch"))
        if saved is None or len(saved) != len(events) or len(vectors) != len(events):
            raise RuntimeError(f"{folder}: the saved index does not match its events")
        self.index = self._new_index()
        self.events, self.vectors = [], []
        for event, vector in zip(events, vectors):
            self.index.add(len(self.events), vector, threads=1)
            self.events.append(event)
            self.vectors.append(vector)
