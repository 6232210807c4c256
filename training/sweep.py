"""Many runs at once: persona x assistant x seed jobs in worker processes, metrics only.

Used by the calibration and learning-curve benchmarks. Nothing is written to disk;
each job returns its per-day metrics.
"""

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.config import RunConfig
from engine.events import DayEnded
from engine.metrics import DayMetrics
from engine.workers import run_parallel


@dataclass(frozen=True)
class Job:
    persona: str
    assistant: str
    seed: int
    days: int
    options: tuple = ()


@dataclass(frozen=True)
class JobResult:
    job: Job
    days: list[DayMetrics]
    seconds: float

    @property
    def steps(self) -> int:
        return sum(d.awake_steps for d in self.days)


def run_job(job: Job) -> JobResult:
    from engine.compose import new_run  # imported in the worker

    sim = new_run(RunConfig(persona=job.persona, assistant=job.assistant, days=job.days, seed=job.seed,
                            assistant_options=dict(job.options)), None)
    days: list[DayMetrics] = []
    sim.subscribe(lambda e: days.append(e.metrics) if isinstance(e, DayEnded) else None)
    start = time.perf_counter()
    asyncio.run(sim.run())
    return JobResult(job, days, time.perf_counter() - start)


def run_jobs(jobs: Iterable[Job], workers: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[JobResult]:
    """Run jobs in `workers` processes (default: one per core) of the program's pool; results in job order."""
    jobs = list(jobs)
    finished = 0

    def done(_index: int, _result: JobResult) -> None:
        nonlocal finished
        finished += 1
        if progress:
            progress(finished, len(jobs))

    return run_parallel(run_job, jobs, workers or os.cpu_count() or 1, on_done=done)
