"""Durable whole-file writes: a temp file beside the target, fsynced, then renamed over it.

A reader (or a resume after a crash) sees the old file or the new one, never a mix.
"""

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class BackgroundSync:
    """fsyncs (and whatever must follow them) run in order on one thread, off the caller's path:
    a day's durability costs the simulation nothing. `drain` waits, and raises the first failure."""

    def __init__(self):
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._failed = False  # once a job fails, the ones after it (which count on it) do not run

    def submit(self, job: Callable[[], None]) -> None:
        self._raise_failed(wait=False)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="propersim-sync")
        self._pending.append(self._pool.submit(self._run, job))

    def _run(self, job: Callable[[], None]) -> None:
        if self._failed:
            raise RuntimeError("not run: an earlier write in the same run failed")
        try:
            job()
        except BaseException:
            self._failed = True
            raise

    def drain(self) -> None:
        self._raise_failed(wait=True)

    def close(self) -> None:
        """Drain, then let the thread go (a later submit starts another)."""
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _raise_failed(self, wait: bool) -> None:
        done = [f for f in self._pending if wait or f.done()]
        self._pending = [f for f in self._pending if f not in done]
        errors = [future.exception() for future in done]  # waits for each
        for error in errors:
            if error is not None:
                raise error  # the job's error, on the caller's thread
