"""The recommendation catalog (package data): what assistants under test draw from."""

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from engine.vocab import ACTIVITY_TAGS, FLAGS, TONES, TOPICS


@dataclass(frozen=True, slots=True)
class CatalogItem:
    index: int
    id: str
    text: str
    topic: str
    tone: str
    fits: frozenset[str]
    flags: frozenset[str]


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: it keys per-tag caches on the hot path
class Catalog:
    items: tuple[CatalogItem, ...]

    def fitting(self, tags: tuple[str, ...]) -> tuple[CatalogItem, ...]:
        """Items whose contexts include any of the activity's tags (cached per tag set)."""
        return _fitting(self, frozenset(tags))


@cache
def _fitting(catalog: Catalog, tags: frozenset[str]) -> tuple[CatalogItem, ...]:
    return tuple(item for item in catalog.items if item.fits & tags)


def _check(item: CatalogItem) -> None:
    bad = (
        ([item.topic] if item.topic not in TOPICS else [])
        + ([item.tone] if item.tone not in TONES else [])
        + sorted(item.fits - set(ACTIVITY_TAGS))
        + sorted(item.flags - set(FLAGS))
    )
    if bad:
        raise ValueError(f"catalog item {item.id!r}: unknown vocabulary {bad}")


@cache
def load_catalog() -> Catalog:
    raw = tomllib.loads(resources.files("engine.data").joinpath("catalog.toml").read_text("utf-8"))
    items = []
    for index, spec in enumerate(raw["item"]):
        item = CatalogItem(
            index, spec["id"], spec["text"], spec["topic"], spec["tone"],
            frozenset(spec["fits"]), frozenset(spec.get("flags", ())),
        )
        _check(item)
        items.append(item)
    return Catalog(tuple(items))
