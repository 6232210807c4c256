"""Retrieval over distinct situations returns what a brute-force search over every event returns."""

import numpy as np
import pytest

from engine.embedders.hashing import HashingEmbedder
from engine.memory import MemoryEvent
from engine.retrieval import DISTANCE_DECIMALS, EventIndex, situation_text

ACTIVITIES = [("Cooking dinner", ("cooking",)), ("Reading on the sofa", ("reading", "leisure")),
              ("Answering emails", ("work",)), ("Watering the tomatoes", ("outdoor", "chores")),
              ("Practising piano", ("music", "creative")), ("Morning shower", ("hygiene",)),
              ("Reading the news", ("reading",))]


def brute_force(index: EventIndex, weekday, minute, text, tags, now_day):
    """The definition: the k * 4 events nearest the situation (ties: the most recent), re-ranked by
    relevance plus recency (ties: the latest day, then step)."""
    q = index.embedder.embed(situation_text(weekday, minute, text, tags)).astype(np.float64)
    vectors = np.array(index.vectors, dtype=np.float64)  # every event's, identical for identical situations
    distances = np.round(1.0 - (vectors @ q) / (np.sqrt((vectors * vectors).sum(axis=1)) * np.sqrt(q @ q)),
                         DISTANCE_DECIMALS)
    rows = sorted(zip(distances.tolist(), range(0, -len(distances), -1)))
    ranked = []
    for distance, minus_position in rows[: index.k * 4]:
        e = index.events[-minus_position]
        relevance = 1.0 - distance
        ranked.append((relevance + index.recency_weight * 0.5 ** ((now_day - e.day) / index.half_life_days),
                       relevance, e))
    ranked.sort(key=lambda r: (-r[0], -r[2].day, -r[2].step))
    return ranked[: index.k]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_search_matches_brute_force_over_a_long_history_of_repeated_situations(k):
    rng = np.random.default_rng(k)
    index = EventIndex(HashingEmbedder(), k=k)
    for i in range(2500):  # 14 days' worth of awake steps, a few hundred distinct situations
        text, tags = ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
        day = i // 180
        index.add(MemoryEvent(day, i % 180 + 100, int(rng.integers(6, 23)) * 60, day % 7, text, tags))
        if i % 97 == 0 or i > 2400:
            weekday, minute = int(rng.integers(7)), int(rng.integers(6 * 60, 23 * 60))
            text, tags = ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
            got = index.search(weekday, minute, text, tags, now_day=day)
            want = brute_force(index, weekday, minute, text, tags, day)
            assert [r.event for r in got] == [e for _, _, e in want]
            assert [r.relevance for r in got] == pytest.approx([rel for _, rel, _ in want], abs=1e-9)
