"""One ledger per run: every LLM call, who made it, what it cost."""

import json
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

RECENT_CALLS = 256  # full calls (prompt and answers) kept in memory for display; all of them go to the file


@dataclass(frozen=True, slots=True)
class CallRecord:
    role: str
    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool
    failed: bool
    day: int | None = None
    step: int | None = None
    n: int = 1
    error: str | None = None


@dataclass(slots=True)
class RoleTotals:
    """Tokens and latency count only calls a model answered: a cache hit costs nothing."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def add(self, record: CallRecord) -> None:
        self.calls += 1
        self.cached += record.cached
        self.failed += record.failed
        if not record.cached:
            self.prompt_tokens += record.prompt_tokens
            self.completion_tokens += record.completion_tokens
            self.latency_s += record.latency_s


class CallLedger:
    """In memory, and appended to `run_folder/calls.jsonl` when a run folder is given. The file is
    made by the first record, so a run that never calls a model has none."""

    FILENAME = "calls.jsonl"

    def __init__(self, run_folder: Path | None = None):
        self.path = Path(run_folder) / self.FILENAME if run_folder is not None else None
        self.records: list[CallRecord] = []
        self.day: int | None = None
        self.step: int | None = None
        self.recent: deque[tuple[CallRecord, list, list]] = deque(maxlen=RECENT_CALLS)  # (record, prompt, answers)
        # Metered calls come from one event loop, but a backend thread may record too: a lock is cheap.
        self._lock = threading.Lock()

    def set_position(self, day: int | None, step: int | None) -> None:
        """Where the loop is now; the records made until the next call carry it."""
        self.day, self.step = day, step

    def record(self, record: CallRecord, prompt: list | None = None, answers: list | None = None) -> None:
        """Count a call; the file also gets the exact prompt and the answers (what each role saw and said)."""
        with self._lock:
            self.records.append(record)
            self.recent.append((record, prompt or [], answers or []))
            if self.path is not None:
                if len(self.records) == 1:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                line = asdict(record) | {"prompt": prompt or [], "answers": answers or []}
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")

    def calls_at(self, day: int, step: int | None) -> list[tuple[CallRecord, list, list]] | None:
        """The calls made for one step (the live app's detail pane), or None when some of them may
        have fallen out of `recent`: read calls.jsonl then. A step's calls are made one after another,
        so they are all kept unless the oldest kept call is one of them; step None (the day plan,
        and any day-end call) is asked twice a day, so once anything fell out, only the file is sure."""
        with self._lock:
            found = [c for c in self.recent if c[0].day == day and c[0].step == step]
            if len(self.records) > len(self.recent) and (step is None or not found or found[0] is self.recent[0]):
                return None
            return found

    def totals(self) -> dict[str, RoleTotals]:
        """Per role, in the order roles first called."""
        with self._lock:
            totals: dict[str, RoleTotals] = {}
            for record in self.records:
                totals.setdefault(record.role, RoleTotals()).add(record)
            return totals

    def total(self) -> RoleTotals:
        overall = RoleTotals()
        for record in list(self.records):
            overall.add(record)
        return overall
