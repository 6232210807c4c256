"""Retrieval of similar past moments: memory events grouped by situation, the distinct situations
in a usearch index, queried by situation.

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


DISTANCE_DECIMALS = 5  # situations this near in distance tie (f32 cosine carries about 7 digits)


class Situations:
    """The distinct situations seen so far, each embedded once in a usearch index (cosine, f32), with
    the positions of their events, oldest first.

    Events repeat a few situations (155 in the 5,453 events of a 14-day run), so an exact search
    over the situations costs less than an approximate one over the events, does not grow with the
    days, and returns the same events whatever order the graph happens to hold them in."""

    def __init__(self, dim: int):
        self.keys: dict[str, int] = {}
        self.members: list[list[int]] = []  # situation key -> positions of its events
        self.index = Index(ndim=dim, metric="cos", dtype="f32")
        # query text -> the situations nearest to it, by distance: valid until a new situation arrives
        self._levels: dict[str, tuple[int, bool, list[tuple[float, list[int]]]]] = {}

    def add(self, text: str, vector: np.ndarray, position: int) -> None:
        key = self.keys.get(text)
        if key is None:
            key = self.keys[text] = len(self.members)
            self.index.add(key, vector, threads=1)
            self.members.append([])
            self._levels.clear()
        self.members[key].append(position)

    def nearest_events(self, text: str, query: np.ndarray, count: int) -> list[tuple[float, int]]:
        """The `count` events nearest to the situation `text` (embedded: `query`) as (distance, position):
        nearest first, and the most recent first among equally near ones."""
        asked, complete, levels = self._levels.get(text) or (count, *self._nearest_levels(query, count))
        while True:
            near: list[tuple[float, int]] = []
            for distance, keys in levels:
                positions = sorted((p for key in keys for p in self.members[key][-count:]), reverse=True)
                near.extend((distance, p) for p in positions[:count - len(near)])
                if len(near) == count:
                    break
            if len(near) == count or complete:
                self._levels[text] = asked, complete, levels
                return near
            asked *= 2  # rare: the nearest situations held too few events
            complete, levels = self._nearest_levels(query, asked)

    def _nearest_levels(self, query: np.ndarray, asked: int) -> tuple[bool, list[tuple[float, list[int]]]]:
        """The `asked` situations nearest to `query`, grouped by distance, nearest first; the farthest
        group left out (more situations may be as far as it than came back) unless all of them came back."""
        matches = self.index.search(query, asked, threads=1, exact=True)
        complete = asked >= len(self.members)
        levels: dict[float, list[int]] = {}
        for key, distance in zip(matches.keys.tolist(), matches.distances.tolist()):
            levels.setdefault(round(distance, DISTANCE_DECIMALS), []).append(key)
        ordered = sorted(levels.items())
        return complete, ordered if complete else ordered[:-1]


class EventIndex:
    """Memory events indexed by situation, queried by situation (exact cosine over the distinct situations)."""

    def __init__(self, embedder, k: int = 3, recency_weight: float = 0.1, half_life_days: float = 3.0):
        self.embedder = embedder
        self.k = k
        self.recency_weight = recency_weight
        self.half_life_days = half_life_days
        self.events: list[MemoryEvent] = []
        self.vectors: list[np.ndarray] = []
        self.situations = Situations(embedder.dim)
        self._shards = ShardSet("index")

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event: MemoryEvent) -> None:
        text = situation_text(event.weekday, event.minute, event.activity, event.tags)
        vector = self.embedder.embed(text)
        self.situations.add(text, vector, len(self.events))
        self.events.append(event)
        self.vectors.append(vector)

    def search(self, weekday: int, minute: int, activity: str, tags: tuple[str, ...], now_day: int) -> list[Retrieved]:
        """Top-k past events for a situation: of the k * 4 nearest (the most recent first among equally
        near ones), the k with the best relevance plus recency."""
        if not self.events:
            return []
        text = situation_text(weekday, minute, activity, tags)
        ranked = []  # (-score, -day, -step, relevance, event): best first; day and step tell any two apart
        for distance, position in self.situations.nearest_events(text, self.embedder.embed(text), self.k * 4):
            event = self.events[position]
            relevance = 1.0 - distance
            recency = 0.5 ** ((now_day - event.day) / self.half_life_days)
            ranked.append((-(relevance + self.recency_weight * recency), -event.day, -event.step, relevance, event))
        ranked.sort(key=lambda r: r[:3])
        return [Retrieved(event, relevance, -score) for score, _, _, relevance, event in ranked[: self.k]]

    def save(self, folder: Path) -> None:
        """The events and their vectors, in shards: only those added since the last save are written.

        No usearch file: load rebuilds the situations from the events and vectors, so there is nothing to trust."""
        def write(path: Path, start: int, end: int) -> None:
            events = json.dumps([e.to_json() for e in self.events[start:end]]).encode("utf-8")
            vectors = np.array(self.vectors[start:end], dtype=np.float32).reshape(-1, self.embedder.dim)
            np.savez_compressed(path, events=np.frombuffer(events, dtype=np.uint8), vectors=vectors)

        self._shards.save(folder, len(self.events), write)

    def load(self, folder: Path) -> None:
        """Restore by re-adding the saved events and vectors in order; nothing changes if the checkpoint
        is unusable."""
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
        situations = Situations(self.embedder.dim)
        for position, (event, vector) in enumerate(zip(events, vectors)):
            situations.add(situation_text(event.weekday, event.minute, event.activity, event.tags), vector, position)
        self.situations, self.events, self.vectors = situations, events, vectors
        self._shards.adopt(shards)
