"""Learning curve: ProPerAssistant against the memory baselines, day by day.

    python bench/learning_curve.py [--days 14] [--seeds 3] [--csv bench/learning_curve.csv]

Runs every persona x seed x variant (default 32 x 3 x 5) on all cores, prints the
day-by-day mean score and recommendations per hour, checks the targets, and writes
one CSV row per (variant, persona, seed, day).
"""

import argparse
import csv
import statistics as st
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.persona_library import persona_paths  # noqa: E402
from training.sweep import Job, run_jobs  # noqa: E402

VARIANTS = ("properassistant", "ars-memory", "ar-memory", "no-memory", "always-abstain")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--personas", help="comma-separated ids or a folder (default: the shipped 32)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--csv", type=Path, default=Path("bench/learning_curve.csv"))
    args = parser.parse_args()
    if args.personas and Path(args.personas).is_dir():
        personas = [str(p) for p in persona_paths(Path(args.personas))]
    else:
        personas = args.personas.split(",") if args.personas else [p.stem for p in persona_paths()]

    jobs = [Job(p, v, s, args.days) for v in VARIANTS for p in personas for s in range(args.seeds)]
    start = time.perf_counter()
    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done % 48 == 0 or done == total:
            print(f"\r{done}/{total} runs", end="" if sys.stderr.isatty() else "\n", file=sys.stderr)

    results = run_jobs(jobs, args.workers, progress=progress)
    elapsed = time.perf_counter() - start
    steps = sum(r.steps for r in results)
    print(f"\n{len(jobs)} runs, {steps:,} steps in {elapsed:.0f} s: {steps / elapsed:,.0f} steps/s", file=sys.stderr)

    curves, rates = {}, {}
    print(f"\nmean daily score (over {len(personas)} personas x {args.seeds} seeds)")
    print(f"{'day':>16} " + " ".join(f"{d + 1:>5}" for d in range(args.days)))
    for v in VARIANTS:
        rs = [r for r in results if r.job.assistant == v]
        curves[v] = [st.mean(r.days[d].mean_score for r in rs) for d in range(args.days)]
        rates[v] = [st.mean(r.days[d].recs_per_hour for r in rs) for d in range(args.days)]
        print(f"{v:>16} " + " ".join(f"{x:5.2f}" for x in curves[v]))
    print("\nrecommendations per hour")
    for v in VARIANTS:
        print(f"{v:>16} " + " ".join(f"{x:5.1f}" for x in rates[v]))

    pa = [r for r in results if r.job.assistant == "properassistant"]
    in_range = [r for r in pa if r.wanted_per_day[0] <= r.days[-1].recommendations <= r.wanted_per_day[1]]
    per_persona = {}
    for r in pa:
        per_persona.setdefault(r.job.persona, []).append(r.days[-1].mean_score)
    worst = min(per_persona, key=lambda p: st.mean(per_persona[p]))
    last = {v: curves[v][-1] for v in VARIANTS}
    checks = [
        (f"properassistant day 1 = {curves['properassistant'][0]:.2f} <= 2.6", curves["properassistant"][0] <= 2.6),
        (f"properassistant day {args.days} = {last['properassistant']:.2f} >= 3.3", last["properassistant"] >= 3.3),
        (f"properassistant day {args.days} >= always-abstain + 0.4 = {last['always-abstain'] + 0.4:.2f}",
         last["properassistant"] >= last["always-abstain"] + 0.4),
        (f"last-day recommendations inside the wanted range: {len(in_range) / len(pa):.0%} of runs >= 75%",
         len(in_range) / len(pa) >= 0.75),
        (f"ordering {last['properassistant']:.2f} > {last['ars-memory']:.2f} >= {last['ar-memory']:.2f} >= {last['no-memory']:.2f}",
         last["properassistant"] > last["ars-memory"] >= last["ar-memory"] >= last["no-memory"]),
    ]
    print()
    for text, ok in checks:
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    print(f"worst persona for properassistant on the last day: {worst} ({st.mean(per_persona[worst]):.2f})")

    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["variant", "persona", "seed", "day", "mean_score", "recs_per_hour", "recommendations",
                         "missed_opportunities", "wanted_min", "wanted_max"])
        for r in results:
            for m in r.days:
                writer.writerow([r.job.assistant, r.job.persona, r.job.seed, m.day + 1, round(m.mean_score, 4),
                                 round(m.recs_per_hour, 4), m.recommendations, m.missed_opportunities,
                                 *r.wanted_per_day])
    print(f"wrote {args.csv}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
