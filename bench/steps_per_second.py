"""Steps per second of the offline loop: one persona, 14 days, per assistant.

    python bench/steps_per_second.py [--persona ID] [--repeats 3] [--assistants A,B,...]

Prints the median over repeats, with and without writing the run store, the store's cost, and each
assistant's speed as a ratio to always-abstain's, all measured side by side in this one run. Wall
time depends on the machine's load; CPU time (all threads: DPO trains on one) much less, so both
are printed, with `os.getloadavg()`. Ends with one line of JSON: the figures and their targets.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compose import new_run  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.events import DayEnded  # noqa: E402

BASELINE = "always-abstain"
TARGET = {"properassistant": 6000.0}  # steps/s with the run store, 1 persona x 14 days (issue 13)


def one_run(persona: str, assistant: str, store: bool) -> tuple[float, float]:
    """(steps per wall second, steps per CPU second) of one 14-day run."""
    with tempfile.TemporaryDirectory() as tmp:
        sim = new_run(RunConfig(persona=persona, assistant=assistant, days=14),
                      Path(tmp) / "run" if store else None)
        steps = []
        sim.subscribe(lambda e: steps.append(e.metrics.awake_steps) if isinstance(e, DayEnded) else None)
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(sim.run())
        return sum(steps) / (time.perf_counter() - wall), sum(steps) / (time.process_time() - cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assistants", default="always-abstain,every-step,oracle,ars-memory,properassistant")
    args = parser.parse_args()
    assistants = list(dict.fromkeys([BASELINE] + args.assistants.split(",")))  # the baseline first, once
    load_before = os.getloadavg()[0]
    figures = {}
    for assistant in assistants:
        bare = [one_run(args.persona, assistant, False) for _ in range(args.repeats)]
        stored = [one_run(args.persona, assistant, True) for _ in range(args.repeats)]
        figures[assistant] = {
            "memory": statistics.median(w for w, _ in bare), "store": statistics.median(w for w, _ in stored),
            "store_cpu": statistics.median(c for _, c in stored),
        }
    base = figures[BASELINE]
    print(f"{'assistant':18} {'steps/s (memory)':>17} {'steps/s (store)':>16} {'store cost':>11} "
          f"{'per CPU-s (store)':>18} {'x ' + BASELINE:>17}")
    for assistant, f in figures.items():
        print(f"{assistant:18} {f['memory']:17,.0f} {f['store']:16,.0f} {f['memory'] / f['store']:10.2f}x "
              f"{f['store_cpu']:18,.0f} {base['store'] / f['store']:16.2f}x")
    load_after = os.getloadavg()[0]
    print(f"medians of {args.repeats}; load average {load_before:.2f} before, {load_after:.2f} after "
          f"(on {os.cpu_count()} CPUs: above that, wall figures are lower than on a quiet machine)")
    checks = {a: figures[a]["store"] >= t for a, t in TARGET.items() if a in figures}
    print(json.dumps({
        "bench": "steps_per_second", "persona": args.persona, "days": 14, "repeats": args.repeats,
        "load_average": [round(load_before, 2), round(load_after, 2)], "cpus": os.cpu_count(),
        "steps_per_s_store": {a: round(f["store"]) for a, f in figures.items()},
        "steps_per_s_memory": {a: round(f["memory"]) for a, f in figures.items()},
        "steps_per_cpu_s_store": {a: round(f["store_cpu"]) for a, f in figures.items()},
        "slowdown_vs_" + BASELINE: {a: round(base["store"] / f["store"], 2) for a, f in figures.items()},
        "targets": {f"steps_per_s_store.{a}": f">= {t:g} (quiet machine)" for a, t in TARGET.items()},
        "pass": all(checks.values()) if checks else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
