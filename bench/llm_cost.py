"""LLM calls and prompt tokens per role for one simulated persona-day, against a recording fake
OpenAI-compatible server on loopback (real HTTP, scripted answers), in the judge's `combined` and
`reference` modes, beside the paper's code (about 16 calls and 22k prompt tokens per awake step).

    python bench/llm_cost.py [--persona ID] [--days 1]

Token counts are the fake server's estimate (about 4 characters a token of each request); the
paper's figures are per awake step, scaled to the same number of awake steps.

The scripted assistant offers a recommendation as its second candidate either at every step (the
worst case for the judge: no step is quiet, so no quiet verdict is reused) or at about one step in
twelve (two an hour, still more than most personas want). The ratios are given for both.
"""

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compose import new_run  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.events import StepRecorded  # noqa: E402
from engine.seeding import stable_hash  # noqa: E402
from tests.llm_servers import FakeOpenAIServer, role_answer  # noqa: E402

PAPER_CALLS_PER_STEP = 16
PAPER_PROMPT_TOKENS_PER_STEP = 22_000
TARGET_CALLS_RATIO, TARGET_TOKENS_RATIO = 8.0, 5.0


def quiet_most(body: dict, index: int) -> str:
    """role_answer, but the assistant's second candidate recommends at about one step in twelve."""
    answer = role_answer(body, index)
    if '"recommend": true' in answer and stable_hash(body["messages"][-1]["content"]) % 12:
        return json.dumps({"recommend": False, "text": "", "topic": "music", "tone": "warm"})
    return answer


def one_day(persona: str, mode: str, base_url: str, days: int) -> dict:
    config = RunConfig.model_validate({
        "persona": persona, "assistant": "llm-properassistant", "days": days,
        "user": {"kind": "llm"}, "judge": {"kind": "llm", "options": {"mode": mode}},
        "backends": {"default": {"kind": "openai", "base_url": base_url, "model": "recording-fake"}}})
    with tempfile.TemporaryDirectory() as tmp:
        sim = new_run(config, Path(tmp) / "run")
        steps = []
        sim.subscribe(lambda e: steps.append(1) if isinstance(e, StepRecorded) else None)
        asyncio.run(sim.run_and_close())
        totals = sim.backends.ledger.totals()
    return {"awake_steps": len(steps), "roles": {role: {"calls": t.calls, "prompt_tokens": t.prompt_tokens}
                                                 for role, t in totals.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", default="E+A+C+O+N-")
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args()
    figures: dict = {}
    with FakeOpenAIServer(quiet_most, usage="estimate") as server:
        for mode in ("combined", "reference"):
            figures[mode] = one_day(args.persona, mode, server.base_url, args.days)
    with FakeOpenAIServer(role_answer, usage="estimate") as server:
        figures["combined, never quiet"] = one_day(args.persona, "combined", server.base_url, args.days)
    steps = figures["combined"]["awake_steps"]
    paper = {"calls": PAPER_CALLS_PER_STEP * steps, "prompt_tokens": PAPER_PROMPT_TOKENS_PER_STEP * steps}
    print(f"{args.persona}, {args.days} simulated day(s), {steps} awake steps")
    print(f"{'':22} {'role':10} {'calls':>8} {'prompt tokens':>14}")
    for mode, result in figures.items():
        for role, t in result["roles"].items():
            print(f"{mode:22} {role:10} {t['calls']:8d} {t['prompt_tokens']:14d}")
        calls = sum(t["calls"] for t in result["roles"].values())
        tokens = sum(t["prompt_tokens"] for t in result["roles"].values())
        result |= {"calls": calls, "prompt_tokens": tokens}
        print(f"{mode:22} {'all':10} {calls:8d} {tokens:14d}")
    print(f"{'paper':22} {'all':10} {paper['calls']:8d} {paper['prompt_tokens']:14d}")
    combined, never_quiet = figures["combined"], figures["combined, never quiet"]
    calls_ratio = paper["calls"] / combined["calls"]
    tokens_ratio = paper["prompt_tokens"] / combined["prompt_tokens"]
    worst_calls_ratio = paper["calls"] / never_quiet["calls"]
    worst_tokens_ratio = paper["prompt_tokens"] / never_quiet["prompt_tokens"]
    print(f"combined vs the paper: {calls_ratio:.1f}x fewer calls (target >= {TARGET_CALLS_RATIO:g}x), "
          f"{tokens_ratio:.1f}x fewer prompt tokens (target >= {TARGET_TOKENS_RATIO:g}x); when no step is quiet: "
          f"{worst_calls_ratio:.2f}x and {worst_tokens_ratio:.1f}x")
    print(json.dumps({"bench": "llm_cost", "awake_steps": steps, "combined_calls": combined["calls"],
                      "combined_prompt_tokens": combined["prompt_tokens"],
                      "reference_calls": figures["reference"]["calls"],
                      "reference_prompt_tokens": figures["reference"]["prompt_tokens"],
                      "paper_calls": paper["calls"], "paper_prompt_tokens": paper["prompt_tokens"],
                      "calls_ratio": round(calls_ratio, 2), "tokens_ratio": round(tokens_ratio, 2),
                      "never_quiet_calls_ratio": round(worst_calls_ratio, 2),
                      "never_quiet_tokens_ratio": round(worst_tokens_ratio, 2),
                      "targets": {"calls_ratio": TARGET_CALLS_RATIO, "tokens_ratio": TARGET_TOKENS_RATIO}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
