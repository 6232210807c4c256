"""Reading a grid (a folder of run folders, usually with grid.toml) or a single run folder."""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from engine.errors import RunError
from engine.grid import read_manifest
from engine.llm.ledger import CallLedger, CallRecord, RoleTotals
from engine.metrics import DayMetrics
from engine.persona import load_persona
from engine.store import RunStore, read_jsonl

RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(CallRecord))


@dataclass(frozen=True)
class RunResult:
    name: str
    persona: str
    assistant: str
    seed: int
    planned_days: int
    step_seconds: int
    criteria: tuple[str, ...]
    days: list[DayMetrics]  # the complete days, from metrics.csv
    traits: dict[str, str]  # Big Five trait -> "high" | "low"
    conditional: bool  # the persona's preferences change with the day ([[preferences.when]])
    calls: dict[str, RoleTotals]  # role -> LLM cost, from calls.jsonl (empty: no model ran)


def run_folders(path: Path) -> list[Path]:
    path = Path(path)
    if (path / "run.toml").exists():
        return [path]
    if not path.is_dir():
        raise RunError(f"{path}: no such folder")
    found = sorted(child for child in path.iterdir() if (child / "run.toml").exists())
    manifest = read_manifest(path)
    if manifest:  # the grid's own order (personas, assistants, seeds as given), then any other run
        order = {name: i for i, name in enumerate(manifest.get("runs", []))}
        found.sort(key=lambda child: (order.get(child.name, len(order)), child.name))
    if not found:
        raise RunError(f"{path}: no run here (a run folder holds run.toml; a grid folder holds run folders)")
    return found


def call_totals(run_dir: Path) -> dict[str, RoleTotals]:
    records, _ = read_jsonl(Path(run_dir) / CallLedger.FILENAME)
    totals: dict[str, RoleTotals] = {}
    for record in records:
        call = CallRecord(**{k: record[k] for k in RECORD_FIELDS if k in record})
        totals.setdefault(call.role, RoleTotals()).add(call)
    return totals


def load_run(run_dir: Path) -> RunResult:
    config = RunStore.read_config(run_dir)
    store = RunStore(run_dir)
    complete = store.completed_days()
    days = [DayMetrics.from_row(row, config.judge.criteria) for row in store.day_rows()][:complete]
    persona = load_persona(Path(run_dir) / "persona.toml", check_name=False)
    return RunResult(Path(run_dir).name, config.persona, config.assistant, config.seed, config.days,
                     config.step_seconds, config.judge.criteria, days, persona.traits.model_dump(),
                     bool(persona.preferences.when), call_totals(run_dir))


def load_runs(path: Path) -> list[RunResult]:
    return [load_run(folder) for folder in run_folders(path)]
