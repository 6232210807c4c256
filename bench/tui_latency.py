"""Key latency of the live app in a real terminal, and its flat-out rate against headless.

    python bench/tui_latency.py [--presses 12] [--after-day 14] [--persona ID] [--assistant NAME]

Starts `propersim --days 60` in a private tmux server, presses `+` until the status bar
says "max", waits until day 14 is over (the timeline long since full), then presses Space
with `tmux send-keys` and polls `tmux capture-pane` until the status bar says "paused"
(and again until "running"), with the engine flat out in between. Reports the median, p90
and max for pause and resume. The app's flat-out rate is set side by side with
`propersim --batch` (same persona, assistant and days; the median of one run before the app and
two after it), both over days 2-14, timed between the rows of their metrics.csv. Everything runs in a temp folder,
removed at the end (nothing lands in saves/); the last line is one line of JSON.
"""

import argparse
import csv
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"median_ms": 100.0, "p90_ms": 150.0, "app_vs_headless": 0.5}
POLL_SECONDS = 0.01  # between two screen captures while a key's effect is awaited (each spawns a tmux client)
DAY = re.compile(r"Day (\d+)/\d+")


class Tmux:
    """One app in a private tmux server (its own socket, no config), killed on close."""

    def __init__(self, command: str, width: int = 200, height: int = 50):
        self.socket = f"propersim-bench-{os.getpid()}"
        self._tmux("new-session", "-d", "-s", "bench", "-x", str(width), "-y", str(height), command)
        self.pane_pid = int(self._tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True).stdout

    def alive(self) -> bool:
        return _alive(self.pane_pid)

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "bench", *keys)

    def status_line(self) -> str:
        """The screen's first line: the app's status bar."""
        return self._tmux("capture-pane", "-p", "-t", "bench", "-S", "0", "-E", "0")

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "bench")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        Path(f"/tmp/tmux-{os.getuid()}/{self.socket}").unlink(missing_ok=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(self.pane_pid):
            time.sleep(0.05)
        if _alive(self.pane_pid):
            os.kill(self.pane_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"propersim: error: tui_latency: timed out after {timeout:.0f} s waiting for {what}")


def day_rows(folder: Path) -> list[dict]:
    """metrics.csv's complete rows in a run folder (none yet: [])."""
    path = folder / "metrics.csv"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]  # a row being written
    return list(csv.DictReader(lines))


def flat_out_rate(folder: Path, days: int, timeout: float, alive=lambda: True) -> float:
    """Awake steps per second over days 2 to `days` (the first day's end to the last's, as metrics.csv
    gets their rows): start-up and the first day, before the app is at full speed, left out of both."""
    def rows_for(count: int):
        def done():
            if not alive():
                raise SystemExit(f"propersim: error: tui_latency: the run in {folder} stopped before day {days} ended")
            rows = day_rows(folder)
            return len(rows) >= count and rows
        return wait_for(done, timeout, f"day {count} to end")

    rows_for(1)
    started = time.perf_counter()
    rows = rows_for(days)
    return sum(int(r["awake_steps"]) for r in rows[1:days]) / (time.perf_counter() - started)


def find_run_folder(parent: Path, pattern: str) -> Path | None:
    found = [p.parent for p in parent.glob(pattern)]
    return found[0] if found else None


def headless_rate(tmp: Path, args, env: dict, run: int) -> float:
    """`propersim --batch` for the same persona, assistant and days, timed like the app."""
    out = tmp / f"batch-{run}"
    proc = subprocess.Popen([sys.executable, "-m", "propersim_tui.cli", "--batch", "--personas", args.persona,
                             "--assistant", args.assistant, "--days", str(args.after_day), "--out", str(out)],
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        folder = wait_for(lambda: find_run_folder(out, "*/run.toml"), 60, "the batch run folder", 0.005)
        return flat_out_rate(folder, args.after_day, 600, lambda: proc.poll() in (None, 0))
    finally:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise SystemExit(f"propersim: error: tui_latency: the batch run failed: {err.strip()[-500:]}")


def time_key(tmux: Tmux, state: str, timeout: float = 10.0) -> float:
    """Press Space; seconds until the status bar shows `state`."""
    start = time.perf_counter()
    tmux.send("Space")
    while state not in tmux.status_line():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"propersim: error: tui_latency: '{state}' did not show within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - start


def summary(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8]
    return {"median": round(statistics.median(ms), 1), "p90": round(p90, 1), "max": round(ms[-1], 1)}


def measure_app(tmp: Path, args, env: dict) -> tuple[float, list[float], list[float], int]:
    """The app's flat-out rate (steps/s) and the pause and resume latencies; the day the presses ended on."""
    argv = [sys.executable, "-m", "propersim_tui.cli", "--persona", args.persona, "--assistant", args.assistant,
            "--days", str(args.days)]
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k in ("PYTHONPATH",)) + " " + \
        " ".join(shlex.quote(a) for a in argv)
    tmux = Tmux(f"cd {shlex.quote(str(tmp))} && exec env TERM=xterm-256color {command}")
    try:
        wait_for(lambda: DAY.search(tmux.status_line()), 60, "the app's first screen")
        for _ in range(8):  # the speed keys step through the speeds; stop at "max"
            if " max " in tmux.status_line():
                break
            tmux.send("+")
            time.sleep(0.05)
        wait_for(lambda: " max " in tmux.status_line(), 10, "the speed to show max")
        live = wait_for(lambda: find_run_folder(tmp / "saves", ".live-*/run.toml"), 10, "the live run folder")
        rate = flat_out_rate(live, args.after_day, 900, tmux.alive)
        wait_for(lambda: int(DAY.search(tmux.status_line()).group(1)) > args.after_day, 60,
                 f"day {args.after_day + 1} on screen")
        pauses, resumes = [], []
        for _ in range(args.presses):
            time.sleep(args.run_seconds)  # flat out between presses
            if "finished" in tmux.status_line():
                raise SystemExit("propersim: error: tui_latency: the run finished before the presses did; "
                                 "give more --days or fewer --presses")
            pauses.append(time_key(tmux, "paused"))
            time.sleep(args.paused_seconds)
            resumes.append(time_key(tmux, "running"))
        day = int(DAY.search(tmux.status_line()).group(1))
        return rate, pauses, resumes, day
    finally:
        tmux.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--assistant", default="properassistant")
    parser.add_argument("--days", type=int, default=60, help="the app's run length (default 60)")
    parser.add_argument("--after-day", type=int, default=14, help="presses start once this many days are over")
    parser.add_argument("--presses", type=int, default=12, help="Space presses for pause, and as many for resume")
    parser.add_argument("--run-seconds", type=float, default=0.5, help="flat out before each pause press")
    parser.add_argument("--paused-seconds", type=float, default=0.5, help="paused before each resume press")
    parser.add_argument("--root", type=Path, help="the checkout whose app is measured (default: this one), "
                                                   "for before/after comparisons")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("propersim: error: tui_latency: tmux is not installed")
    root = (args.root or ROOT).resolve()
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    tmp = Path(tempfile.mkdtemp(prefix="propersim-tui-latency-"))
    try:  # headless before and after the app: the load on a shared machine drifts
        headless_runs = [headless_rate(tmp, args, env, 0)]
        app_rate, pauses, resumes, day = measure_app(tmp, args, env)
        headless_runs += [headless_rate(tmp, args, env, run) for run in (1, 2)]
        headless = statistics.median(headless_runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pause, resume = summary(pauses), summary(resumes)
    ratio = app_rate / headless
    load = os.getloadavg()
    print(f"{args.persona} · {args.assistant} · presses on days {args.after_day + 1}-{day} · "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"pause  (Space -> 'paused'):  median {pause['median']:6.1f} ms  p90 {pause['p90']:6.1f} ms  "
          f"max {pause['max']:6.1f} ms  ({len(pauses)} presses)")
    print(f"resume (Space -> 'running'): median {resume['median']:6.1f} ms  p90 {resume['p90']:6.1f} ms  "
          f"max {resume['max']:6.1f} ms  ({len(resumes)} presses)")
    print(f"flat out, days 2-{args.after_day}: app {app_rate:,.0f} steps/s, headless {headless:,.0f} steps/s "
          f"(median of {', '.join(f'{h:,.0f}' for h in headless_runs)}) -> app is {ratio:.0%} of headless")
    met = all(s["median"] <= TARGETS["median_ms"] and s["p90"] <= TARGETS["p90_ms"] for s in (pause, resume)) \
        and ratio >= TARGETS["app_vs_headless"]
    print(json.dumps({"pause_ms": pause, "resume_ms": resume, "app_steps_per_s": round(app_rate),
                      "headless_steps_per_s": round(headless), "headless_runs": [round(h) for h in headless_runs], "app_vs_headless": round(ratio, 3),
                      "load_1min": round(load[0], 2), "targets": TARGETS, "met": met}))


if __name__ == "__main__":
    main()
