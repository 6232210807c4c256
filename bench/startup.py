"""Start-up time of `propersim`: from typing the command to the first screen.

    python bench/startup.py [--repeats 5]

Runs `propersim` in a pseudo-terminal with PROPERSIM_STARTUP_PROBE set, which makes the
app exit as soon as its first screen has been painted; prints the median wall time,
and the import time of the batch path for comparison.
"""

import argparse
import os
import pty
import statistics
import subprocess
import sys
import time


def time_command(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    while proc.poll() is None:  # drain the terminal output so the app never blocks
        try:
            os.read(primary, 65536)
        except OSError:
            break
    proc.wait()
    os.close(primary)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PROPERSIM_STARTUP_PROBE": "1", "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "48"}
    app = [time_command([sys.executable, "-m", "propersim_tui.cli"], env) for _ in range(args.repeats)]
    bare = [time_command([sys.executable, "-c", "pass"], env) for _ in range(args.repeats)]
    print(f"propersim to first screen: median {statistics.median(app):.2f} s "
          f"(min {min(app):.2f}, max {max(app):.2f}) over {args.repeats} runs")
    print(f"bare interpreter start:    median {statistics.median(bare):.2f} s  "
          f"-> app start is {statistics.median(app) / statistics.median(bare):.1f}x a bare python")


if __name__ == "__main__":
    main()
