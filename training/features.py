"""Feature layout of the offline log-linear policy.

A decision is two-level: recommend or not (logit z = w_z . c), then which fitting
catalog item (softmax over s_i = w_i . phi_i). The context vector c and each item's
phi are built here from the observation and what memory/retrieval supply.
"""

import threading
from dataclasses import dataclass
from functools import cache

import numpy as np

from engine.catalog import Catalog
from engine.vocab import ACTIVITY_TAGS, FLAGS, TONES, TOPICS

TOPIC_INDEX = {t: i for i, t in enumerate(TOPICS)}
TONE_INDEX = {t: i for i, t in enumerate(TONES)}
TAG_INDEX = {t: i for i, t in enumerate(ACTIVITY_TAGS)}
# Fine where people differ: a user's spacing lies anywhere from 10 to 60 minutes, and a bin that straddles
# it teaches the learner to wait for the bin's end (the wanted moments in between are lost).
GAP_EDGES = (10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 90, 120, 180)  # minutes since the last recommendation today
COUNT_EDGES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)  # recommendations delivered today
BLOCKS = 6  # 4-hour blocks of the day

# context vector c
C_BIAS = 0
C_HOUR = 1  # hour x day type: 48
C_HALF = C_HOUR + 48  # half-hour of day: 48
C_TAG = C_HALF + 48  # activity tags: 16
C_GAP = C_TAG + len(ACTIVITY_TAGS)  # "none today" + len(GAP_EDGES) + 1 bins
C_COUNT = C_GAP + len(GAP_EDGES) + 2
C_RETRIEVED = C_COUNT + len(COUNT_EDGES) + 1  # retrieved rec value, retrieved abstain value
C_GOOD_GAP = C_RETRIEVED + 2  # since the last well-received one: "none today" + len(GAP_EDGES) + 1 bins
C_GOOD_COUNT = C_GOOD_GAP + len(GAP_EDGES) + 2  # well-received ones today
CONTEXT_DIM = C_GOOD_COUNT + len(COUNT_EDGES) + 1

# item features phi: static part (depends on the item, block and day type) then dynamic part
I_TOPIC = 0
I_TONE = I_TOPIC + len(TOPICS)
I_FLAG = I_TONE + len(TONES)
I_TOPIC_BLOCK = I_FLAG + len(FLAGS)
I_TOPIC_WEEKEND = I_TOPIC_BLOCK + len(TOPICS) * BLOCKS
I_TONE_WEEKEND = I_TOPIC_WEEKEND + len(TOPICS)
STATIC_DIM = I_TONE_WEEKEND + len(TONES)
I_MEM_TOPIC, I_MEM_TONE, I_RETRIEVED_TOPIC = STATIC_DIM, STATIC_DIM + 1, STATIC_DIM + 2
I_SAID = STATIC_DIM + 3  # it recommended this very item in the last few hours
ITEM_DIM = STATIC_DIM + 4


@dataclass(slots=True)
class Situation:
    """Everything the policy decides from at one step; stored with each pair for training."""

    context: np.ndarray  # (CONTEXT_DIM,)
    tags: tuple[str, ...]
    block: int
    weekend: int
    mem_topic: np.ndarray  # (len(TOPICS),) mean remembered score per topic, centred
    mem_tone: np.ndarray  # (len(TONES),)
    retrieved_topic: np.ndarray  # (len(TOPICS),)
    said: frozenset[str] = frozenset()  # item ids it recommended in the last few hours


def bin_index(value: float, edges: tuple) -> int:
    for i, edge in enumerate(edges):
        if value < edge:
            return i
    return len(edges)


def context_vector(minute: int, weekend: bool, tags: tuple[str, ...], gap: int | None, count: int | None,
                   retrieved_rec: float, retrieved_abstain: float, good_gap: int | None = None,
                   good_count: int | None = None) -> np.ndarray:
    """gap/count are None when the assistant has no memory of its recommendations; good_gap/good_count
    (since the last well-received one, and how many today) None when it keeps no scores."""
    c = np.zeros(CONTEXT_DIM)
    c[C_BIAS] = 1.0
    c[C_HOUR + (minute // 60) * 2 + int(weekend)] = 1.0
    c[C_HALF + minute // 30] = 1.0
    for tag in tags:
        c[C_TAG + TAG_INDEX[tag]] = 1.0
    if count is not None:
        c[C_GAP + (0 if gap is None else 1 + bin_index(gap, GAP_EDGES))] = 1.0
        c[C_COUNT + bin_index(count, COUNT_EDGES)] = 1.0
    c[C_RETRIEVED] = retrieved_rec
    c[C_RETRIEVED + 1] = retrieved_abstain
    if good_count is not None:
        c[C_GOOD_GAP + (0 if good_gap is None else 1 + bin_index(good_gap, GAP_EDGES))] = 1.0
        c[C_GOOD_COUNT + bin_index(good_count, COUNT_EDGES)] = 1.0
    return c


@cache
def _static_item_features(catalog: Catalog, tags: frozenset[str], block: int, weekend: int) -> tuple:
    items = catalog.fitting(tuple(sorted(tags)))
    phi = np.zeros((len(items), ITEM_DIM))
    topics = np.array([TOPIC_INDEX[i.topic] for i in items], dtype=np.intp)
    tones = np.array([TONE_INDEX[i.tone] for i in items], dtype=np.intp)
    rows = np.arange(len(items))
    phi[rows, I_TOPIC + topics] = 1.0
    phi[rows, I_TONE + tones] = 1.0
    for r, item in enumerate(items):
        for flag in item.flags:
            phi[r, I_FLAG + FLAGS.index(flag)] = 1.0
    phi[rows, I_TOPIC_BLOCK + topics * BLOCKS + block] = 1.0
    if weekend:
        phi[rows, I_TOPIC_WEEKEND + topics] = 1.0
        phi[rows, I_TONE_WEEKEND + tones] = 1.0
    phi.setflags(write=False)
    return items, phi, topics, tones, {item.id: row for row, item in enumerate(items)}


# One writable copy of each static matrix per thread, refilled in place: copying up to 235 KB on
# every call cost more than the scoring itself. Per thread, because DPO trains on a worker thread.
_scratch = threading.local()


def item_features(catalog: Catalog, s: Situation) -> tuple[tuple, np.ndarray]:
    """The fitting items and their feature matrix (n_items, ITEM_DIM) in this situation.

    The matrix is read-only and reused: it is valid until the next call in this thread for the same
    tags, block and day type (use it at once, or copy it). Its values are exactly those of a fresh
    copy, so scores computed from it are bit-identical."""
    items, static, topics, tones, rows = _static_item_features(catalog, frozenset(s.tags), s.block, s.weekend)
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    entry = buffers.get(id(static))
    if entry is None or entry[1] is not static:  # holding `static` keeps its id from being reused
        entry = buffers[id(static)] = (static.copy(), static)
    phi = entry[0]
    phi.setflags(write=True)
    phi[:, I_MEM_TOPIC] = s.mem_topic[topics]
    phi[:, I_MEM_TONE] = s.mem_tone[tones]
    phi[:, I_RETRIEVED_TOPIC] = s.retrieved_topic[topics]
    phi[:, I_SAID] = 0.0
    if s.said:  # a few ids: look up their rows rather than test every item
        phi[[rows[i] for i in s.said if i in rows], I_SAID] = 1.0
    phi.setflags(write=False)
    return items, phi
