"""Human feedback out of a run, in the form any DPO trainer reads."""

import json
from pathlib import Path

from engine.errors import RunError
from engine.store import read_jsonl, write_atomic

EXPORTED_FIELDS = ("prompt", "chosen", "rejected", "chosen_score", "rejected_score", "weight", "day", "step")


def export_human_pairs(run_dir: Path, out: Path) -> int:
    """Write the run's pairs with source = human to `out` (JSONL); returns how many."""
    path = Path(run_dir) / "pairs.jsonl"
    if not path.exists():
        raise RunError(f"{run_dir} has no pairs.jsonl: is it a run folder?")
    pairs, _ = read_jsonl(path)
    human = [{k: p[k] for k in EXPORTED_FIELDS} for p in pairs if p.get("source") == "human"]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in human))
    return len(human)
