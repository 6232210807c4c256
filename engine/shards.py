"""Append-only state saved in shards, so a day's checkpoint costs one day's data.

Each save writes one shard with the items added since the previous save and hard-links the
earlier shards from the folder they were last saved in (a fresh write where links are not
possible): every checkpoint folder is complete on its own, and disk grows with the days.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path

from engine.checkpoint import CheckpointError


class ShardSet:
    """The shards `<prefix>-<start>-<end>.npz` of one append-only list, items [start, end) each."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._pattern = re.compile(rf"{re.escape(prefix)}-(\d{{8}})-(\d{{8}})\.npz")
        self._saved: list[tuple[int, int, Path]] = []  # where each shard was last written or found

    def name(self, start: int, end: int) -> str:
        return f"{self.prefix}-{start:08d}-{end:08d}.npz"

    def save(self, folder: Path, count: int, write: Callable[[Path, int, int], None]) -> None:
        """Persist items [0, count) into `folder`; `write(path, start, end)` writes one shard."""
        if self._saved and self._saved[-1][1] > count:  # the list shrank: not append-only after all
            self._saved = []
        saved = []
        for start, end, source in self._saved:
            target = folder / source.name
            try:
                os.link(source, target)
            except OSError:  # gone, already there, or no hard links on this filesystem
                _write_new(target, start, end, write)
            saved.append((start, end, target))
        start = saved[-1][1] if saved else 0
        if count > start:
            _write_new(folder / self.name(start, count), start, count, write)
            saved.append((start, count, folder / self.name(start, count)))
        self._saved = saved

    def found(self, folder: Path) -> list[tuple[int, int, Path]]:
        """The shards in `folder`, in order; CheckpointError unless they cover [0, n) without gaps."""
        shards = []
        for path in folder.iterdir():
            match = self._pattern.fullmatch(path.name)
            if match:
                shards.append((int(match[1]), int(match[2]), path))
        shards.sort()
        expected = 0
        for start, end, path in shards:
            if start != expected or end <= start:
                raise CheckpointError(f"{path}: shard out of sequence (expected one starting at {expected})")
            expected = end
        return shards

    def adopt(self, shards: list[tuple[int, int, Path]]) -> None:
        """After a load: the next save links these instead of writing them again."""
        self._saved = list(shards)


def _write_new(path: Path, start: int, end: int, write: Callable[[Path, int, int], None]) -> None:
    """Write a shard as a new file: one already at `path` may be hard-linked into other checkpoints."""
    path.unlink(missing_ok=True)
    write(path, start, end)
