"""A checkpoint folder's seal: the COMPLETE marker, written last, lists the SHA-256 of every file.

A checkpoint is trusted only when its marker is there and every digest matches, so a folder
left half-written by a crash, or damaged since, is never loaded. Files hard-linked from an
earlier checkpoint (engine/shards.py) are not read again: digests are cached by inode.
"""

import hashlib
import json
import os
from pathlib import Path

from engine.atomic import fsync_dir, write_atomic
from engine.errors import RunError

MARKER = "COMPLETE"
FORMAT = 1


class CheckpointError(RunError):
    """A checkpoint that must not be loaded; resume falls back to an earlier day."""


class DigestCache:
    """SHA-256 of files, remembered by (device, inode, size, mtime): a hard link costs one stat."""

    def __init__(self):
        self._known: dict[tuple[int, int, int, int], str] = {}

    def digest(self, path: Path, fsync: bool = False) -> str:
        st = path.stat()
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = self._known.get(key)
        if known is None:
            with open(path, "rb") as f:
                known = hashlib.file_digest(f, "sha256").hexdigest()
                if fsync:
                    os.fsync(f.fileno())
            self._known[key] = known
        return known


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.relative_to(folder).as_posix() != MARKER)


def seal(folder: Path, cache: DigestCache | None = None) -> None:
    """Fsync the folder's files and write its marker with their digests (the checkpoint's commit point)."""
    folder = Path(folder)
    cache = cache or DigestCache()
    files = {name: cache.digest(folder / name, fsync=True) for name in _files(folder)}
    for sub in {(folder / name).parent for name in files}:
        fsync_dir(sub)
    write_atomic(folder / MARKER, json.dumps({"format": FORMAT, "files": files}, indent=1, sort_keys=True) + "\n")


def verify(folder: Path, cache: DigestCache | None = None) -> None:
    """Raise CheckpointError unless `folder` is sealed and every file matches its digest."""
    folder, cache = Path(folder), cache or DigestCache()
    marker = folder / MARKER
    if not marker.is_file():
        raise CheckpointError(f"{folder}: no {MARKER} marker (the checkpoint was never finished)")
    try:
        sealed = json.loads(marker.read_text("utf-8"))
        files = sealed["files"]
        if sealed.get("format") != FORMAT or not isinstance(files, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise CheckpointError(f"{marker}: not a checksum list of this version (an older or damaged checkpoint)") \
            from None
    present = _files(folder)
    if sorted(files) != present:
        odd = sorted(set(files) ^ set(present))
        raise CheckpointError(f"{folder}: files missing or not sealed: {', '.join(odd[:5])}")
    for name, digest in files.items():
        if cache.digest(folder / name) != digest:
            raise CheckpointError(f"{folder / name}: checksum does not match its {MARKER} marker (damaged)")
