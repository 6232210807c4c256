"""Crash/resume: SIGKILL a `propersim --batch` run at random moments, resume each, compare bytes.

    python bench/crash.py [--kills 100] [--days 3] [--assistant properassistant] [--seed 11]

One uninterrupted run is the reference (its timeline of day ends is recorded). Then, for each
kill, a fresh run is started and killed: a third at a uniformly random moment, a third just
before a day's checkpoint appears (day-end training), a third right after it appears (while the
checkpoint is written and sealed). Each killed run is resumed with `--batch --resume` and its
events.jsonl, pairs.jsonl, metrics.csv and final checkpoint weights compared with the reference.
Prints where the kills landed and how many ended byte-identical; one JSON line at the end.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "propersim_tui.cli"]
COMPARED = ("events.jsonl", "pairs.jsonl", "metrics.csv")
POLL = 0.002


def start(args, out: Path) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "--batch", "--personas", args.persona, "--assistant", args.assistant,
                             "--days", str(args.days), "--seed", str(args.seed), "--out", str(out)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_dir(args, out: Path) -> Path:
    return out / f"{args.persona}__{args.assistant}__s{args.seed}"


def reference(args, out: Path) -> tuple[float, list[float]]:
    """Run to the end; its wall time and when each day's checkpoint folder appeared (from the start)."""
    began, proc, seen = time.perf_counter(), start(args, out), []
    folder = run_dir(args, out)
    while proc.poll() is None:
        if (folder / "checkpoints" / f"day-{len(seen):02d}").exists():
            seen.append(time.perf_counter() - began)
        time.sleep(POLL)
    if proc.returncode != 0:
        sys.exit(f"the reference run failed: {proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - began, seen


def where(folder: Path) -> str:
    """Where a kill landed, from what the folder holds."""
    if not (folder / "run.toml").exists():
        return "startup"
    rows = max(0, len((folder / "metrics.csv").read_text().splitlines()) - 1) if (folder / "metrics.csv").exists() \
        else 0
    days = sorted((folder / "checkpoints").glob("day-*")) if (folder / "checkpoints").exists() else []
    if len(days) > rows or any(not (d / "COMPLETE").exists() for d in days):
        return "checkpointing"  # written but not sealed, or sealed before its metrics row
    return "mid-day"  # or day-end training: its last steps are still in the write buffer


def kill_once(args, out: Path, mode: str, total: float, day_ends: list[float], rng: random.Random) -> str:
    began, proc = time.perf_counter(), start(args, out)
    folder = run_dir(args, out)
    if mode == "uniform":
        deadline = began + rng.uniform(0.0, total)
    elif mode == "training":
        deadline = began + max(0.0, rng.choice(day_ends) - rng.uniform(0.0, 0.25))
    else:  # "checkpoint": triggered by the day's checkpoint folder appearing
        day, deadline = rng.randrange(len(day_ends)), None
        while proc.poll() is None and not (folder / "checkpoints" / f"day-{day:02d}").exists():
            time.sleep(POLL / 2)
        deadline = time.perf_counter() + rng.uniform(0.0, 0.04)
    while proc.poll() is None and time.perf_counter() < deadline:
        time.sleep(POLL / 2)
    if proc.poll() is not None:
        return "finished"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return where(folder)


def identical(reference_dir: Path, folder: Path, days: int) -> bool:
    last = f"checkpoints/day-{days - 1:02d}"
    names = [*COMPARED, f"{last}/policy.npy", f"{last}/memory.json"]
    return all((folder / n).exists() and (folder / n).read_bytes() == (reference_dir / n).read_bytes()
               for n in names if (reference_dir / n).exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--assistant", default="properassistant")
    parser.add_argument("--seed", type=int, default=11, help="of the kill moments (the runs use seed 0)")
    args = parser.parse_args()
    rng, args.seed = random.Random(args.seed), 0
    landed, same, failures = Counter(), 0, []
    with tempfile.TemporaryDirectory(prefix="propersim-crash-") as tmp:
        ref_out = Path(tmp) / "reference"
        total, day_ends = reference(args, ref_out)
        print(f"reference: {total:.1f} s, checkpoints at {', '.join(f'{t:.2f}' for t in day_ends)} s")
        modes = ["uniform", "training", "checkpoint"]
        for i in range(args.kills):
            out = Path(tmp) / f"kill-{i:03d}"
            mode = modes[i % 3]
            landing = kill_once(args, out, mode, total, day_ends, rng)
            landed[f"{mode}:{landing}"] += 1
            resumed = subprocess.run([*CLI, "--batch", "--resume", str(run_dir(args, out))], cwd=REPO,
                                     capture_output=True, text=True) if landing != "startup" else \
                subprocess.run([*CLI, "--batch", "--personas", args.persona, "--assistant", args.assistant,
                                "--days", str(args.days), "--out", str(out)], cwd=REPO, capture_output=True,
                               text=True)  # killed before its folder held a run: start it again
            ok = resumed.returncode == 0 and identical(run_dir(args, ref_out), run_dir(args, out), args.days)
            same += ok
            if not ok:
                failures.append({"kill": i, "mode": mode, "landed": landing, "rc": resumed.returncode,
                                 "stderr": resumed.stderr[-300:]})
            print(f"kill {i + 1:3d} {mode:10} landed {landing:13} -> {'identical' if ok else 'DIFFERENT'}",
                  flush=True)
            shutil.rmtree(out, ignore_errors=True)
    print(f"{same} of {args.kills} killed runs resumed byte-identical")
    print(json.dumps({"kills": args.kills, "identical": same, "target": args.kills, "days": args.days,
                      "assistant": args.assistant, "landed": dict(sorted(landed.items())), "failures": failures}))


if __name__ == "__main__":
    main()
