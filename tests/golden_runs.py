"""Golden runs: fixed offline configurations whose output bytes are pinned by digest.

`python -m tests.golden_runs --record` rewrites tests/golden/digests.json; do that only on
purpose (a rule of the offline world changed), and say in the commit which rule moved which digest.
"""

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

GOLDEN_FILE = Path(__file__).resolve().parent / "golden" / "digests.json"
PINNED_FILES = ("events.jsonl", "pairs.jsonl", "metrics.csv")

# name -> run config fields
GOLDEN_RUNS: dict[str, dict] = {
    "properassistant-3d-s0": {"persona": "E+A+C+O+N-", "assistant": "properassistant", "days": 3, "seed": 0},
    "oracle-2d-s0": {"persona": "E-A-C+O-N+", "assistant": "oracle", "days": 2, "seed": 0},
    "random-2d-noise": {"persona": "E+A-C-O+N+", "assistant": "random", "days": 2, "seed": 1,
                        "judge": {"noise": 0.1}},
    "ars-memory-2d-novelty": {"persona": "E-A+C-O+N-", "assistant": "ars-memory", "days": 2, "seed": 2,
                              "judge": {"criteria": ["preference", "timing", "frequency", "communication",
                                                     "novelty"]}},
}


def run_digests(name: str, folder: Path) -> dict[str, str]:
    """Run one golden configuration into `folder` and return the SHA-256 of each pinned file."""
    from tests.golden_support import run_to_folder

    run_dir = run_to_folder(GOLDEN_RUNS[name], folder)
    return {f: hashlib.sha256((run_dir / f).read_bytes()).hexdigest() for f in PINNED_FILES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", action="store_true", help="rewrite tests/golden/digests.json")
    args = parser.parse_args()
    digests = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in GOLDEN_RUNS:
            digests[name] = run_digests(name, Path(tmp) / name)
            print(name, json.dumps(digests[name]))
    if args.record:
        GOLDEN_FILE.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
        print(f"recorded {GOLDEN_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
