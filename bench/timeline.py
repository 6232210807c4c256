"""The timeline after a full 14-day run: how long showing it and filtering it take.

    python bench/timeline.py

Records a 14-day run, feeds its ~5,000 steps to the app's timeline in one go (as the
app does after a burst at full speed), then toggles the recommendations-only filter
both ways. Prints the median of 5 rounds for each, next to the cost per row.
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compose import new_run  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.store import iter_steps  # noqa: E402
from propersim_tui.app import ProPerSimApp  # noqa: E402


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        sim = new_run(RunConfig(persona="E+A+C+O+N-", assistant="properassistant", days=14), run)
        await sim.run()
        steps = list(iter_steps(run))
        app = ProPerSimApp(replay_dir=run, saves=Path(tmp))
        fill, toggle = [], []
        async with app.run_test(size=(160, 48)) as pilot:
            for _ in range(5):
                start = time.perf_counter()
                app.timeline.reset(steps)
                await pilot.pause()
                fill.append(time.perf_counter() - start)
                start = time.perf_counter()
                app.timeline.only_recommendations = True
                app.timeline.reset(steps)
                app.timeline.only_recommendations = False
                app.timeline.reset(steps)
                await pilot.pause()
                toggle.append(time.perf_counter() - start)
            rows = app.timeline.row_count
    print(f"{len(steps)} steps; the timeline keeps the newest {rows} rows")
    print(f"show all steps:        median {statistics.median(fill) * 1000:7.1f} ms "
          f"({statistics.median(fill) / rows * 1e6:.0f} us per row shown)")
    print(f"filter on and off:     median {statistics.median(toggle) * 1000:7.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
