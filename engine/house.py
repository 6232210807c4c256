"""The home: rooms, their objects and floor-plan boxes, loaded from package data."""

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    label: str
    box: tuple[int, int, int, int]  # x, y, w, h on the floor plan
    objects: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Break:
    text: str
    room: str
    object: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class House:
    name: str
    rooms: dict[str, Room]
    breaks: tuple[Break, ...]


@cache
def load_house() -> House:
    raw = tomllib.loads(resources.files("engine.data").joinpath("house.toml").read_text("utf-8"))
    rooms = {
        room_id: Room(room_id, spec["label"], tuple(spec["box"]), tuple(spec["objects"]))
        for room_id, spec in raw["rooms"].items()
    }
    breaks = tuple(Break(b["text"], b["room"], b["object"], tuple(b["tags"])) for b in raw["breaks"])
    return House(raw["name"], rooms, breaks)
