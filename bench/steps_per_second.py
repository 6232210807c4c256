"""Steps per second of the offline loop: one persona, 14 days, per assistant.

    python bench/steps_per_second.py [--persona ID] [--repeats 3]

Prints the median over repeats, with and without writing the run store, and the
store's cost as a ratio measured side by side.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compose import new_run  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.events import DayEnded  # noqa: E402


def one_run(persona: str, assistant: str, store: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        sim = new_run(RunConfig(persona=persona, assistant=assistant, days=14),
                      Path(tmp) / "run" if store else None)
        steps = []
        sim.subscribe(lambda e: steps.append(e.metrics.awake_steps) if isinstance(e, DayEnded) else None)
        start = time.perf_counter()
        asyncio.run(sim.run())
        return sum(steps) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assistants", default="always-abstain,every-step,oracle,ars-memory,properassistant")
    args = parser.parse_args()
    print(f"{'assistant':18} {'steps/s (memory)':>18} {'steps/s (store)':>16} {'store cost':>11}")
    for assistant in args.assistants.split(","):
        bare = statistics.median(one_run(args.persona, assistant, False) for _ in range(args.repeats))
        stored = statistics.median(one_run(args.persona, assistant, True) for _ in range(args.repeats))
        print(f"{assistant:18} {bare:18,.0f} {stored:16,.0f} {bare / stored:10.2f}x")


if __name__ == "__main__":
    main()
