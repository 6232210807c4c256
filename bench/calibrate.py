"""Calibration of the offline world: do reference policies get clearly different scores?

    python bench/calibrate.py [--days 14] [--seeds 3]

Runs oracle, always-abstain and every-step over every persona x seed, then a random
policy at the persona-agnostic average rate (the oracle's mean recommendations per
awake step). Prints mean daily score per policy and per persona, recommendations per
hour, missed opportunities per day, and the normalized score
(policy - always-abstain) / (oracle - always-abstain) per persona and day.
"""

import argparse
import statistics as st
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.persona_library import persona_paths  # noqa: E402
from training.sweep import Job, run_jobs  # noqa: E402

REFERENCE = ("oracle", "always-abstain", "every-step")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    personas = [p.stem for p in persona_paths()]
    start = time.perf_counter()
    results = run_jobs([Job(p, a, s, args.days) for a in REFERENCE for p in personas for s in range(args.seeds)],
                       args.workers)
    oracle_runs = [r for r in results if r.job.assistant == "oracle"]
    rate = sum(m.recommendations for r in oracle_runs for m in r.days) / sum(r.steps for r in oracle_runs)
    results += run_jobs([Job(p, "random", s, args.days, (("rate", rate),)) for p in personas
                         for s in range(args.seeds)], args.workers)
    policies = (*REFERENCE, "random")

    def days_of(policy: str, persona: str | None = None) -> list:
        return [m for r in results if r.job.assistant == policy and (persona is None or r.job.persona == persona)
                for m in r.days]

    # normalized score per persona, seed and day, against that persona's oracle and abstain on the same day
    by_key = {(r.job.assistant, r.job.persona, r.job.seed): r.days for r in results}

    def normalized(policy: str, persona: str) -> float:
        values = []
        for s in range(args.seeds):
            for d in range(args.days):
                o = by_key[("oracle", persona, s)][d].mean_score
                a = by_key[("always-abstain", persona, s)][d].mean_score
                p = by_key[(policy, persona, s)][d].mean_score
                if o - a > 1e-9:
                    values.append((p - a) / (o - a))
        return st.mean(values) if values else float("nan")

    print(f"random policy rate: {rate:.4f} recommendations per awake step ({rate * 24:.2f}/hour)\n")
    print(f"{'persona':12} " + " ".join(f"{p:>14}" for p in policies) + "   order ok")
    failures = []
    for persona in personas:
        means = {p: st.mean(m.mean_score for m in days_of(p, persona)) for p in policies}
        ok = means["oracle"] > means["always-abstain"] > means["every-step"]
        if not ok:
            failures.append(persona)
        print(f"{persona:12} " + " ".join(f"{means[p]:14.2f}" for p in policies) + f"   {'yes' if ok else 'NO'}")

    print(f"\n{'policy':16} {'mean score':>10} {'worst persona':>22} {'recs/h':>7} {'missed/day':>10} {'normalized':>10}")
    targets = {"oracle": (">=", 3.7), "always-abstain": ("<=", 2.8), "every-step": ("<=", 2.0)}
    summary = {}
    for p in policies:
        per_persona = {q: st.mean(m.mean_score for m in days_of(p, q)) for q in personas}
        worst = min(per_persona, key=per_persona.get)
        days = days_of(p)
        summary[p] = st.mean(m.mean_score for m in days)
        norm = st.mean(normalized(p, q) for q in personas)
        print(f"{p:16} {summary[p]:10.2f} {worst + f' ({per_persona[worst]:.2f})':>22} "
              f"{st.mean(m.recs_per_hour for m in days):7.2f} {st.mean(m.missed_opportunities for m in days):10.1f} "
              f"{norm:10.2f}")
    checks = [(f"{p} {op} {bound}", summary[p] >= bound if op == ">=" else summary[p] <= bound)
              for p, (op, bound) in targets.items()]
    checks.append(("random in between every-step and oracle",
                   summary["every-step"] < summary["random"] < summary["oracle"]))
    checks.append((f"per-persona order oracle > always-abstain > every-step ({len(failures)} failures)", not failures))
    print()
    for text, ok in checks:
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    print(f"\n{len(results)} runs in {time.perf_counter() - start:.0f} s")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
