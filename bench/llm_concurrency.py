"""Steps per second of N = 1, 8 and 32 LLM personas run concurrently in ONE process (asyncio, as
`propersim --batch` runs them) against a local OpenAI-compatible server that answers every request
after a fixed 100 ms. All three roles are on the model: the `llm` user, the `llm` judge (combined
mode) and `llm-properassistant`.

    python bench/llm_concurrency.py [--quick] [--repeats 3]     # about 2 minutes; --quick about 30 s

With calls that take 100 ms and no CPU to speak of, 32 personas should step nearly 32 times as fast
as one: the target is rate(32) >= 0.8 x 32 x rate(1). Falling short means the product serialises
somewhere (an in-flight limit, a connection pool, per-call CPU on the one event loop).

Each persona runs one recorded simulated day (run folder, calls.jsonl) of 20-minute steps (about
45 awake steps; --quick: hourly steps, about 15). The rate is steady state: steps recorded between
the moment every run has made its first step and the moment the first run makes its last, over
that window, so the day-plan call before the first step and runs that finish early do not count.
The figure per N is the median of --repeats runs (--quick: one).

The fake server (tests/llm_servers.py) runs in a separate process, so its threads do not compete
for this process's GIL, and keeps connections alive as real servers do; it reports the peak number
of requests it had in flight (a request counts until its handler returns, just after the answer
went out, so the peak can read N + 1). Also reported, to tell where time goes: this process's CPU
per step (one event loop runs every persona: 32 answers that arrive together queue for it, so CPU
per call sets the ratio) and the load average, since other processes on a small machine slow that
loop down too.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compose import new_run  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.events import StepRecorded  # noqa: E402
from engine.persona_library import persona_paths  # noqa: E402

DELAY_S = 0.1
SIZES = (1, 8, 32)
TARGET_RATIO = 0.8  # of perfect scaling: rate(32) / (32 x rate(1))


def serve(conn, delay_s: float, keep_alive: bool = True) -> None:
    """The fake server's process: answers commands on `conn` until "stop"."""
    from tests.llm_servers import FakeOpenAIServer, role_answer

    with FakeOpenAIServer(role_answer, delay_s=delay_s, usage="estimate", keep_alive=keep_alive) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "reset":  # what each measurement reads starts from zero
                with server._lock:
                    server.requests.clear()
                    server.max_in_flight = 0
            with server._lock:
                conn.send({"requests": len(server.requests), "max_in_flight": server.max_in_flight,
                           "cpu_s": time.process_time()})


def config_for(persona: str, base_url: str, step_seconds: int) -> RunConfig:
    return RunConfig.model_validate({
        "persona": persona, "assistant": "llm-properassistant", "days": 1, "step_seconds": step_seconds,
        "user": {"kind": "llm"}, "judge": {"kind": "llm", "options": {"mode": "combined"}},
        "backends": {"default": {"kind": "openai", "base_url": base_url, "model": "fake-100ms"}}})


async def drive(sims: list) -> list[list[float]]:
    """Run every simulation to its end at once; the time of each recorded step, per simulation."""
    stamps: list[list[float]] = [[] for _ in sims]
    for sim, times in zip(sims, stamps):
        sim.subscribe(lambda e, times=times: times.append(time.perf_counter()) if isinstance(e, StepRecorded)
                      else None)
    await asyncio.gather(*(sim.run_and_close() for sim in sims))
    return stamps


def steady_rate(stamps: list[list[float]]) -> tuple[float, int]:
    """Steps per second while every run was stepping, and the number of steps that counted."""
    start = max(times[0] for times in stamps)
    end = min(times[-1] for times in stamps)
    if end <= start:
        raise RuntimeError("no window in which every run was stepping: make the day longer")
    counted = sum(start < t <= end for times in stamps for t in times)
    return counted / (end - start), counted


def measure(personas: list[str], base_url: str, step_seconds: int, conn) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sims = [new_run(config_for(p, base_url, step_seconds), Path(tmp) / p) for p in personas]
        conn.send("reset")
        before = conn.recv()
        started, cpu = time.perf_counter(), time.process_time()
        stamps = asyncio.run(drive(sims))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.send("stats")
    server = conn.recv()
    rate, counted = steady_rate(stamps)
    steps = sum(map(len, stamps))
    return {"steps_per_s": rate, "steps": steps, "counted_steps": counted, "wall_s": wall,
            "cpu_ms_per_step": 1000 * cpu / steps, "server_max_in_flight": server["max_in_flight"],
            "server_cpu_ms_per_request": 1000 * (server["cpu_s"] - before["cpu_s"]) / server["requests"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="hourly steps and one repeat (about 15 awake steps)")
    parser.add_argument("--repeats", type=int, default=None, help="measurements per N (default 3, --quick 1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="the numbers of personas")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    step_seconds = 3600 if args.quick else 1200
    shipped = [p.stem for p in persona_paths()]
    if max(args.sizes) > len(shipped):
        parser.error(f"only {len(shipped)} shipped personas; the runs must differ")

    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    server = context.Process(target=serve, args=(child_conn, DELAY_S), daemon=True)
    server.start()
    load_before = os.getloadavg()[0]
    try:
        base_url = conn.recv()
        results: dict[int, dict] = {}
        for n in args.sizes:
            runs = [measure(shipped[:n], base_url, step_seconds, conn) for _ in range(repeats)]
            r = results[n] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            r |= {"repeats": [round(run["steps_per_s"], 2) for run in runs],
                  "server_max_in_flight": max(run["server_max_in_flight"] for run in runs)}
            print(f"N={n:3d}: {r['steps_per_s']:7.2f} steps/s (median of {repeats}: "
                  f"{', '.join(f'{x:.2f}' for x in r['repeats'])}); {r['steps']:.0f} steps, "
                  f"{r['counted_steps']:.0f} in the window, {r['wall_s']:.1f} s wall, "
                  f"{r['cpu_ms_per_step']:.1f} ms CPU a step; server: peak {r['server_max_in_flight']} in flight, "
                  f"{r['server_cpu_ms_per_request']:.2f} ms CPU a request", flush=True)
    finally:
        conn.send("stop")
        server.join(timeout=5)
    load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    print(f"load average (1 min) before and after: {load[0]}, {load[1]} on {os.cpu_count()} CPUs")
    figures: dict = {"bench": "llm_concurrency", "delay_ms": round(DELAY_S * 1000), "step_seconds": step_seconds,
                     "repeats": repeats, "cpus": os.cpu_count(), "load_avg": load}
    for n, r in results.items():
        figures[f"steps_per_s_n{n}"] = round(r["steps_per_s"], 2)
        figures[f"cpu_ms_per_step_n{n}"] = round(r["cpu_ms_per_step"], 2)
        figures[f"server_max_in_flight_n{n}"] = r["server_max_in_flight"]
    low, high = min(results), max(results)
    if high > low:
        ratio = (results[high]["steps_per_s"] / high) / (results[low]["steps_per_s"] / low)
        print(f"rate({high}) / ({high} x rate({low})) = {ratio:.2f} (target >= {TARGET_RATIO:g})")
        figures |= {"ratio": round(ratio, 3), "targets": {"ratio": TARGET_RATIO}}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
