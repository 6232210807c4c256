"""Calibration of the offline world: can a policy that uses no feedback game the judge?

    python bench/calibrate.py [--days 14] [--seeds 3] [--personas ID,...|FOLDER] [--workers N]

Runs the reference policies (oracle, always-abstain, every-step, random at the oracle's
average rate) and every adversary of engine/assistants/adversaries.py SUITE over each
persona x seed. Per policy: the paper's mean over all awake steps, the normalized score
(policy - always-abstain) / (oracle - always-abstain) per persona and day (from
metrics.csv's columns), precision, recall, recommendations per day and the share of days
inside the wanted range; the normalized score also on each half of the personas (sorted by
id, alternating) and per week. Ends with one line of JSON: the figures and their targets.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.assistants.adversaries import SUITE  # noqa: E402
from engine.persona_library import persona_paths  # noqa: E402
from engine.report.stats import nanmean as mean  # noqa: E402  (learning_curve.py imports it from here)
from training.sweep import Job, run_jobs  # noqa: E402

REFERENCE = ("oracle", "always-abstain", "every-step")
ADVERSARY_MAX_NORMALIZED = 0.35
ADVERSARY_MAX_OVER_ABSTAIN = 0.6


def personas_from(arg: str | None) -> list[str]:
    if arg and Path(arg).is_dir():
        return [str(p) for p in persona_paths(Path(arg))]
    return arg.split(",") if arg else [p.stem for p in persona_paths()]


def summarize(days: list) -> dict:
    recs = sum(m.recommendations for m in days)
    served = sum(m.recommendations * m.precision for m in days if not math.isnan(m.precision))
    in_range = [m.in_wanted_range for m in days if m.in_wanted_range is not None]
    return {
        "mean": mean(m.mean_score for m in days), "normalized": mean(m.normalized for m in days),
        "precision": served / recs if recs else math.nan, "recall": mean(m.recall for m in days),
        "recs_per_day": recs / len(days), "in_range": sum(in_range) / len(in_range) if in_range else math.nan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--personas", help="comma-separated ids or a folder of persona files (default: the shipped 32)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    personas = personas_from(args.personas)
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"{done}/{total} runs", file=sys.stderr)

    results = run_jobs([Job(p, a, s, args.days) for a in REFERENCE for p in personas for s in range(args.seeds)],
                       args.workers, progress)
    oracle_runs = [r for r in results if r.job.assistant == "oracle"]
    rate = sum(m.recommendations for r in oracle_runs for m in r.days) / sum(r.steps for r in oracle_runs)
    policies = {name: (name, ()) for name in REFERENCE} | {"random": ("random", (("rate", round(rate, 6)),))}
    policies |= {label: (name, tuple(sorted(options.items()))) for name, options, label in SUITE}
    extra = [Job(p, name, s, args.days, options) for label, (name, options) in policies.items()
             if label not in REFERENCE for p in personas for s in range(args.seeds)]
    results += run_jobs(extra, args.workers, progress)
    by_policy: dict[str, list] = {}
    for r in results:
        label = next(lb for lb, (name, options) in policies.items() if (name, options) == (r.job.assistant, r.job.options))
        by_policy.setdefault(label, []).append(r)

    halves = (set(personas[0::2]), set(personas[1::2]))
    table = {}
    print(f"random policy rate: {rate:.4f} recommendations per awake step\n")
    print(f"{'policy':24} {'mean':>5} {'norm':>6} {'half1':>6} {'half2':>6} {'week1':>6} {'week2':>6} "
          f"{'prec':>5} {'recall':>6} {'recs/d':>6} {'inrange':>7}")
    for label, runs in by_policy.items():
        days = [m for r in runs for m in r.days]
        row = summarize(days)
        row["halves"] = [summarize([m for r in runs if r.job.persona in h for m in r.days])["normalized"]
                         for h in halves]
        row["weeks"] = [summarize([m for r in runs for m in r.days if m.day // 7 == w])["normalized"]
                        for w in range(2) if args.days > 7 * w]
        row["per_persona"] = {p: summarize([m for r in runs if r.job.persona == p for m in r.days])["mean"]
                              for p in personas}
        table[label] = row
        weeks = row["weeks"] + [math.nan] * (2 - len(row["weeks"]))
        print(f"{label:24} {row['mean']:5.2f} {row['normalized']:6.2f} {row['halves'][0]:6.2f} "
              f"{row['halves'][1]:6.2f} {weeks[0]:6.2f} {weeks[1]:6.2f} {row['precision']:5.2f} "
              f"{row['recall']:6.2f} {row['recs_per_day']:6.1f} {row['in_range']:7.0%}")

    print(f"\n{'persona':28} " + " ".join(f"{p:>8}" for p in ("oracle", "abstain", "every", "best adv")))
    adversaries = [label for label in table if label not in (*REFERENCE, "random")]
    for p in personas:
        best = max(adversaries, key=lambda a: table[a]["per_persona"][p])
        print(f"{Path(p).stem:28} {table['oracle']['per_persona'][p]:8.2f} "
              f"{table['always-abstain']['per_persona'][p]:8.2f} {table['every-step']['per_persona'][p]:8.2f} "
              f"{table[best]['per_persona'][p]:8.2f} {best}")

    oracle_days = [m.mean_score for r in by_policy["oracle"] for m in r.days]
    abstain = table["always-abstain"]["mean"]
    worst_adv = max(adversaries + ["random"], key=lambda a: max(table[a]["normalized"], *table[a]["halves"]))
    worst_norm = max(table[worst_adv]["normalized"], *table[worst_adv]["halves"])
    best_mean = max(adversaries + ["random"], key=lambda a: table[a]["mean"])
    checks = [
        (f"oracle >= 3.9 on every persona and day (min {min(oracle_days):.2f})", min(oracle_days) >= 3.9),
        (f"always-abstain {abstain:.2f} <= 2.8", abstain <= 2.8),
        (f"every-step {table['every-step']['mean']:.2f} <= 2.0", table["every-step"]["mean"] <= 2.0),
        (f"every adversary's normalized <= {ADVERSARY_MAX_NORMALIZED}, overall and on each half "
         f"(worst {worst_adv}: {worst_norm:.2f})", worst_norm <= ADVERSARY_MAX_NORMALIZED),
        (f"no adversary above always-abstain + {ADVERSARY_MAX_OVER_ABSTAIN} on the mean "
         f"(best {best_mean}: {table[best_mean]['mean']:.2f})",
         table[best_mean]["mean"] <= abstain + ADVERSARY_MAX_OVER_ABSTAIN),
    ]
    print()
    for text, ok in checks:
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    print(f"\n{len(results)} runs in {time.perf_counter() - start:.0f} s")
    print(json.dumps({
        "bench": "calibrate", "personas": len(personas), "seeds": args.seeds, "days": args.days,
        "oracle_min_day": round(min(oracle_days), 4), "abstain_mean": round(abstain, 4),
        "every_step_mean": round(table["every-step"]["mean"], 4),
        "worst_adversary": worst_adv, "worst_adversary_normalized": round(worst_norm, 4),
        "best_adversary_mean": round(table[best_mean]["mean"], 4),
        "normalized": {label: round(row["normalized"], 4) for label, row in table.items()},
        "targets": {"oracle_min_day": ">= 3.9", "abstain_mean": "<= 2.8", "every_step_mean": "<= 2.0",
                    "worst_adversary_normalized": f"<= {ADVERSARY_MAX_NORMALIZED}",
                    "best_adversary_mean": f"<= abstain + {ADVERSARY_MAX_OVER_ABSTAIN}"},
        "pass": all(ok for _, ok in checks),
    }))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
