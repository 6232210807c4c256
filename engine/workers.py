"""The program's one process pool, for CPU-bound offline runs (batch --jobs, benchmarks).

Workers are spawned (never forked: a parent may hold threads, model handles or locks)
and die with their parent: Linux's parent-death signal where available, and a watchdog
thread everywhere, so a SIGKILLed parent leaves no worker writing on.
"""

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

PR_SET_PDEATHSIG = 1
WATCHDOG_SECONDS = 0.5


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def run_parallel(fn: Callable[[Any], Any], items: Iterable[Any], workers: int,
                 on_done: Callable[[int, Any], None] | None = None,
                 on_tick: Callable[[], None] | None = None, tick_seconds: float = 0.5) -> list[Any]:
    """fn(item) for every item, in `workers` processes (in this one when workers == 1).

    Results come back in item order; `on_done(index, result)` as each finishes and `on_tick()`
    every tick while waiting (progress). A failure raises once the others are done.
    """
    items = list(items)
    results: list[Any] = [None] * len(items)
    if workers <= 1:
        for i, item in enumerate(items):
            results[i] = fn(item)
            if on_done:
                on_done(i, results[i])
        return results
    with worker_pool(min(workers, len(items)) or 1) as pool:
        futures: dict[Future, int] = {pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=tick_seconds)
            for future in done:
                if future.exception() is None:
                    results[futures[future]] = future.result()
                    if on_done:
                        on_done(futures[future], results[futures[future]])
            if on_tick:
                on_tick()
        for future in futures:
            future.result()  # the first failure, with its own message
    return results
