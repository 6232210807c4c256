"""The live run's store, with its day-end writes moved off the UI's event loop.

At a day's end the simulation checkpoints the assistant, seals the day's logs (fsync) and
appends the day's metrics row, all synchronously: tens to hundreds of milliseconds in which
the app could not answer a key. The driver closes each day inside `deferring()`; those calls
are queued there and then run, in the same order and on the same objects, in a worker thread
while the engine waits (the assistant is not touched until they are done, so what is written
is byte for byte what the synchronous path writes). Everything else goes straight through.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from engine.store import RunStore


class DayEndWriter:
    def __init__(self, store: RunStore):
        self.store = store
        self._queued: deque[Callable[[], None]] = deque()
        self._deferring = False
        self._lock = threading.Lock()  # one writer at a time: the worker thread, or the UI saving or closing

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Queue the day-end writes made inside (see `write_queued`)."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    @property
    def queued(self) -> bool:
        return bool(self._queued)

    def write_queued(self) -> None:
        """Run the queued writes in order (from any thread; the caller keeps the engine waiting)."""
        with self._lock:
            while self._queued:
                self._queued.popleft()()

    # --- the day-end writes ------------------------------------------------------------
    def checkpoint(self, day: int, save) -> None:
        self._write(lambda: self.store.checkpoint(day, save), self._deferring)

    def end_day(self, *args, **kwargs) -> None:
        self._write(lambda: self.store.end_day(*args, **kwargs), self._deferring)

    def close(self, *args, **kwargs) -> None:
        """After the queued writes, whoever asks (the engine at the last day, the UI on quit)."""
        self._write(lambda: self.store.close(*args, **kwargs), self.queued and self._deferring)

    # --- what must see every write done first ------------------------------------------
    def copy_to(self, target) -> None:
        self._write(lambda: self.store.copy_to(target), False)

    def flush(self) -> None:
        self._write(self.store.flush, False)

    def _write(self, write: Callable[[], None], defer: bool) -> None:
        self._queued.append(write)
        if not defer:
            self.write_queued()
