"""Executors of a grid: where each run's loop runs. Every run is already planned and its folder created;
an executor only continues each folder from its last complete day (day 0 for a new one) to the end, so
the bytes in the folders are the same whichever executor ran them (the offline world is deterministic).

- local, offline runs: the program's process pool (engine/workers.py), `jobs` workers (CPU-bound);
- local, LLM-bound runs: asyncio tasks in this process, so they share backends and the in-flight limit;
- ray: one Ray task per run, with the resources its config asks for; results land in the shared folder.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

from engine.config import RunConfig
from engine.errors import RunError
from engine.events import DayEnded
from engine.workers import run_parallel

TICK_SECONDS = 0.5
IN_PROCESS_OFFLINE = 1  # offline runs at a time on this process's event loop when jobs == 1


def uses_model(config: RunConfig) -> bool:
    return bool(config.backends)


def trains_on_gpu(config: RunConfig) -> bool:
    """The LLM assistant that trains a LoRA adapter daily, on an in-process Hugging Face model."""
    return config.assistant == "llm-properassistant" and any(b.kind == "transformers" for b in config.backends.values())


def ray_resources(config: RunConfig) -> dict:
    """A Ray task's request: one CPU per run (its loop is one process), and a GPU for a run that trains."""
    return {"num_cpus": 1, "num_gpus": 1 if trains_on_gpu(config) else 0}


def finish_run(run_dir: str) -> int:
    """Continue one run folder to its end (locking it); its completed day count. A pool worker or a Ray task."""
    from engine.compose import resume_run  # imported where it runs

    sim = resume_run(Path(run_dir))
    asyncio.run(sim.run_and_close())
    return sim.config.days


async def _in_process(run_dirs: list[Path], concurrency: int | None,
                      on_start: Callable[[Path], None], on_day: Callable[[Path, int], None]) -> None:
    """Runs as asyncio tasks on this loop, `concurrency` at a time (None: all at once)."""
    from engine.compose import resume_run

    gate = asyncio.Semaphore(concurrency or len(run_dirs) or 1)

    async def one(run_dir: Path) -> None:
        async with gate:
            sim = resume_run(run_dir)
            on_start(run_dir)
            sim.subscribe(lambda e: on_day(run_dir, e.day + 1) if isinstance(e, DayEnded) else None)
            await sim.run_and_close()

    await asyncio.gather(*(one(d) for d in run_dirs))


def run_local(runs: dict[Path, RunConfig], jobs: int, on_tick: Callable[[], None],
              on_start: Callable[[Path], None], on_day: Callable[[Path, int], None]) -> None:
    """Offline runs in the process pool (jobs > 1) or one after another here; LLM-bound runs all at once here."""
    offline = [d for d, c in runs.items() if not uses_model(c)]
    llm_bound = [d for d, c in runs.items() if uses_model(c)]
    if offline and jobs > 1:
        run_parallel(finish_run, [str(d) for d in offline], jobs, on_tick=on_tick, tick_seconds=TICK_SECONDS)
    elif offline:
        asyncio.run(_in_process(offline, IN_PROCESS_OFFLINE, on_start, on_day))
    if llm_bound:
        asyncio.run(_in_process(llm_bound, None, on_start, on_day))
    on_tick()


def run_ray(runs: dict[Path, RunConfig], address: str | None, on_tick: Callable[[], None]) -> None:
    """One Ray task per run. `address` None starts a local Ray (unless this process already joined one)."""
    try:
        import ray
    except ImportError:
        raise RunError("--executor ray needs the [ray] extra: pip install -e '.[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise RunError(f"--ray-address {address or '(local)'}: cannot join a Ray cluster: {error}") from None
    task = ray.remote(finish_run)
    pending = [task.options(**ray_resources(config)).remote(str(run_dir)) for run_dir, config in runs.items()]
    refs = list(pending)
    while pending:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=TICK_SECONDS)
        on_tick()
    try:
        ray.get(refs)
    except ray.exceptions.RayTaskError as error:  # a run's own error, raised on a node
        raise RunError(f"a run failed on Ray: {error.cause if error.cause is not None else error}") from None
