"""What a day's checkpoint costs as a run grows: a 42-day properassistant run with the run store.

    python bench/checkpoints.py [--persona ID] [--days 42] [--repeats 3]

Times the store's checkpoint (the assistant's save, fsyncs and the checksum seal) on every
day, and the run folder's size on disk at day 14 (hard-linked shards counted once). Prints
medians over repeats and ends with one JSON line. Targets: day 42 <= 1.5x day 1, <= 15 MB at day 14.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compose import new_run  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.events import DayEnded  # noqa: E402

DISK_DAY = 14


def disk_bytes(folder: Path) -> int:
    """Bytes of the files under `folder`, each inode once (as `du` counts hard links)."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        st = path.lstat()
        if path.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def one_run(persona: str, days: int) -> tuple[list[float], list[float], list[float], int]:
    """Checkpoint milliseconds per day on the simulation's thread (wall and CPU), in the background
    seal (wall), and the folder's bytes at the end of day DISK_DAY."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        sim = new_run(RunConfig(persona=persona, assistant="properassistant", days=days), folder)
        store, times, cpus, seals, disk = sim.store, [], [], [], [0]
        checkpoint = store.checkpoint

        def timed(day, save):
            start, cpu = time.perf_counter(), time.thread_time()
            checkpoint(day, save)
            times.append((time.perf_counter() - start) * 1000)
            cpus.append((time.thread_time() - cpu) * 1000)

        store.checkpoint = timed
        seal = store._seal  # the fsyncs and checksums, on the store's background thread

        def timed_seal(folder):
            start = time.perf_counter()
            seal(folder)
            seals.append((time.perf_counter() - start) * 1000)

        store._seal = timed_seal
        sim.subscribe(lambda e: disk.__setitem__(0, disk_bytes(folder))
                      if isinstance(e, DayEnded) and e.day == DISK_DAY - 1 else None)
        asyncio.run(sim.run())
        return times, cpus, seals, disk[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.persona, args.days) for _ in range(args.repeats)]
    per_day, cpu_day, seal_day = ([statistics.median(run[i][d] for run in runs) for d in range(args.days)]
                                  for i in range(3))
    disk_mb = statistics.median(run[3] for run in runs) / 1e6
    first, middle, last = per_day[0], per_day[min(DISK_DAY, args.days) - 1], per_day[-1]
    print(f"checkpoint ms (median of {args.repeats}): day 1 {first:.1f}, day {min(DISK_DAY, args.days)} "
          f"{middle:.1f}, day {args.days} {last:.1f}; ratio day {args.days}/day 1 {last / first:.2f}x")
    print(f"checkpoint CPU ms (this thread): day 1 {cpu_day[0]:.1f}, day {args.days} {cpu_day[-1]:.1f}; "
          f"ratio {cpu_day[-1] / cpu_day[0]:.2f}x")
    print(f"seal ms in the background (fsyncs + checksums): day 1 {seal_day[0]:.1f}, day {args.days} "
          f"{seal_day[-1]:.1f}; ratio {seal_day[-1] / seal_day[0]:.2f}x")
    print(f"run folder on disk at day {DISK_DAY}: {disk_mb:.1f} MB")
    print(json.dumps({"days": args.days, "repeats": args.repeats, "checkpoint_ms_day1": round(first, 2),
                      f"checkpoint_ms_day{DISK_DAY}": round(middle, 2), f"checkpoint_ms_day{args.days}": round(last, 2),
                      "ratio_last_to_first": round(last / first, 3), "ratio_target": 1.5,
                      "checkpoint_cpu_ms_day1": round(cpu_day[0], 2),
                      f"checkpoint_cpu_ms_day{args.days}": round(cpu_day[-1], 2),
                      "cpu_ratio_last_to_first": round(cpu_day[-1] / cpu_day[0], 3),
                      "seal_ms_day1": round(seal_day[0], 2), f"seal_ms_day{args.days}": round(seal_day[-1], 2),
                      "seal_ratio_last_to_first": round(seal_day[-1] / seal_day[0], 3),
                      f"disk_mb_day{DISK_DAY}": round(disk_mb, 2), "disk_mb_target": 15.0}))


if __name__ == "__main__":
    main()
