"""Many runs at once: persona x assistant x seed jobs in worker processes, metrics only.

Used by the calibration and learning-curve benchmarks. Nothing is written to disk;
each job returns its per-day metrics.
"""

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from engine.config import RunConfig
from engine.events import DayEnded
from engine.metrics import DayMetrics


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
    wanted_per_day: tuple[int, int]
    seconds: float

    @property
    def steps(self) -> int:
        return sum(d.awake_steps for d in self.days)


def run_job(job: Job) -> JobResult:
    from training.runs import new_run  # imported in the worker

    sim = new_run(RunConfig(persona=job.persona, assistant=job.assistant, days=job.days, seed=job.seed,
                            assistant_options=dict(job.options)), None)
    days: list[DayMetrics] = []
    sim.subscribe(lambda e: days.append(e.metrics) if isinstance(e, DayEnded) else None)
    start = time.perf_counter()
    asyncio.run(sim.run())
    low, high = sim.persona.preferences.per_day
    return JobResult(job, days, (low, high), time.perf_counter() - start)


def run_jobs(jobs: Iterable[Job], workers: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[JobResult]:
    """Run jobs in `workers` processes (default: one per core); results in job order."""
    jobs = list(jobs)
    workers = workers or os.cpu_count() or 1
    results: dict[int, JobResult] = {}
    if workers == 1:
        for i, job in enumerate(jobs):
            results[i] = run_job(job)
            if progress:
                progress(len(results), len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress:
                    progress(len(results), len(jobs))
    return [results[i] for i in range(len(jobs))]
