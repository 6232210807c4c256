"""The run store: one folder per run, append-only logs, atomic day checkpoints.

    run.toml          resolved config (+ versions)      persona.toml   the persona used
    events.jsonl      one step record per line           pairs.jsonl    prompt/chosen/rejected
    metrics.csv       one row per completed day          checkpoints/day-NN/   assistant state

A day is complete once its checkpoint folder exists and its metrics row is written;
resume truncates the logs back to the last complete day. A store holds the folder's
run lock (engine/runlock.py) from creation or reopening until it is closed: one writer.
"""

import csv
import io
import json
import os
import shutil
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import tomli_w

from engine.config import RunConfig, parse_run_config
from engine.errors import RunError
from engine.metrics import DayMetrics
from engine.runlock import LOCK_NAME, RunLock
from engine.types import PreferencePair, StepRecord

FLUSH_EVERY = 32  # step records between flushes; a crash loses at most this many (the day is redone)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> tuple[list[dict], int]:
    """The records of a JSONL file, and how many torn or corrupt lines were dropped.

    Only a torn *last* line is expected (a crash mid-write); any other bad line is an error.
    """
    if not path.exists():
        return [], 0
    lines = path.read_text("utf-8").split("\n")
    records, dropped = [], 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines):  # only the final segment, with no newline, can be torn
                raise RunError(f"{path}: line {number} is corrupt (not a torn last line)") from None
            dropped += 1
    return records, dropped


def iter_steps(run_dir: Path) -> Iterator[dict]:
    records, _ = read_jsonl(Path(run_dir) / "events.jsonl")
    return (r for r in records if r.get("type") == "step")


class RunStore:
    def __init__(self, folder: Path, lock: RunLock | None = None):
        self.folder = Path(folder)
        self.lock = lock
        self._events: io.TextIOWrapper | None = None
        self._pairs: io.TextIOWrapper | None = None
        self._unflushed = 0

    # --- creating and reopening -------------------------------------------------------
    @classmethod
    def create(cls, folder: Path, config: RunConfig, persona_text: str, versions: dict,
               lock: bool = True) -> "RunStore":
        """A new run folder, locked. `lock=False` only where the caller already holds the lock."""
        folder = Path(folder)
        if (folder / "run.toml").exists():
            raise RunError(f"{folder} already holds a run; resume it with --resume {folder}, or pick another --out")
        folder.mkdir(parents=True, exist_ok=True)
        store = cls(folder, RunLock(folder).acquire() if lock else None)
        try:
            if (folder / "run.toml").exists():  # another process created it while we waited for the lock
                raise RunError(f"{folder} already holds a run; resume it with --resume {folder}, or pick another --out")
            write_atomic(folder / "persona.toml", persona_text)
            write_atomic(folder / "run.toml", tomli_w.dumps(config.to_toml_dict() | {"versions": versions}))
            store._open("w")
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def reopen(cls, folder: Path, lock: bool = True) -> tuple["RunStore", int]:
        """An existing run folder, locked and truncated back to its last complete day; and that day count."""
        folder = Path(folder)
        config = cls.read_config(folder)  # a clear error for a folder that is not a run, before locking it
        store = cls(folder, RunLock(folder).acquire() if lock else None)
        try:
            done = store.completed_days()
            if done < config.days:  # a finished run is left exactly as it is
                store.reopen_at(done)
        except BaseException:
            store.close()
            raise
        return store, done

    @classmethod
    def read_config(cls, folder: Path) -> RunConfig:
        path = Path(folder) / "run.toml"
        if not path.exists():
            raise RunError(f"{folder} is not a run folder (no run.toml)")
        raw = tomllib.loads(path.read_text("utf-8"))
        raw.pop("versions", None)
        return parse_run_config(raw, str(path))

    def completed_days(self) -> int:
        """How many days are complete: metrics row written and checkpoint present."""
        done = 0
        for row in self.day_rows():
            day = int(row["day"])
            if day == done and self.checkpoint_dir(day).exists():
                done += 1
            else:
                break
        return done

    def day_rows(self) -> list[dict]:
        """metrics.csv rows, one per day: an exact duplicate of a row (a write repeated by a
        crash) is dropped; two different rows for one day are refused."""
        kept: dict[str, dict] = {}
        for row in self.metrics_rows():
            earlier = kept.setdefault(row["day"], row)
            if earlier != row:
                raise RunError(f"{self.folder / 'metrics.csv'}: two different rows for day {int(row['day']) + 1}; "
                               "remove the wrong one (or start the run again)")
        return list(kept.values())

    def reopen_at(self, days_done: int) -> None:
        """Truncate every log back to the first `days_done` days and append from there."""
        for name in ("events.jsonl", "pairs.jsonl", "calls.jsonl"):
            if name == "calls.jsonl" and not (self.folder / name).exists():
                continue  # only runs that called a model have one
            records, _ = read_jsonl(self.folder / name)
            kept = [r for r in records if (r.get("day") or 0) < days_done]
            write_atomic(self.folder / name, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
        rows = [r for r in self.day_rows() if int(r["day"]) < days_done]
        header = list(rows[0]) if rows else None
        self._rewrite_metrics(header, rows)
        for stale in self.folder.glob("checkpoints/day-*"):
            if not stale.name.startswith("day-") or not stale.name[4:].isdigit() or int(stale.name[4:]) >= days_done:
                shutil.rmtree(stale, ignore_errors=True)
        self._open("a")

    def _open(self, mode: str) -> None:
        self._events = open(self.folder / "events.jsonl", mode, encoding="utf-8")
        self._pairs = open(self.folder / "pairs.jsonl", mode, encoding="utf-8")

    # --- appending ---------------------------------------------------------------------
    def append_step(self, record: StepRecord) -> None:
        self._events.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
        self._unflushed += 1
        if self._unflushed >= FLUSH_EVERY:
            self.flush()

    def append_pairs(self, pairs: list[PreferencePair]) -> None:
        for pair in pairs:
            self._pairs.write(json.dumps(pair.to_json(), sort_keys=True) + "\n")

    def flush(self) -> None:
        for f in (self._events, self._pairs):
            if f is not None and not f.closed:
                f.flush()
        self._unflushed = 0

    def checkpoint_dir(self, day: int) -> Path:
        return self.folder / "checkpoints" / f"day-{day:02d}"

    def checkpoint(self, day: int, save: Callable[[Path], None]) -> None:
        """Write the day's checkpoint into a temp folder, then rename it into place."""
        final = self.checkpoint_dir(day)
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save(tmp)
        (tmp / "COMPLETE").write_text("ok\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)

    def end_day(self, metrics: DayMetrics, criteria: tuple[str, ...], failures: bool = False,
                training: bool = False) -> None:
        self.flush()
        for f in (self._events, self._pairs):
            os.fsync(f.fileno())
        path = self.folder / "metrics.csv"
        new = not path.exists() or path.stat().st_size == 0
        with open(path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=DayMetrics.columns(criteria, failures, training))
            if new:
                writer.writeheader()
            writer.writerow(metrics.row(failures, training))

    def close(self, keep_lock: bool = False) -> None:
        """Flush and close the logs and, unless `keep_lock`, give up the folder's lock. Idempotent."""
        self.flush()
        for f in (self._events, self._pairs):
            if f is not None:
                f.close()
        self._events = self._pairs = None
        if self.lock is not None and not keep_lock:
            self.lock.release()

    def copy_to(self, target: Path) -> None:
        """Copy the folder (not its lock) to `target`, replacing it atomically."""
        self.flush()
        tmp = target.with_name(target.name + ".saving")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(self.folder, tmp, ignore=shutil.ignore_patterns(LOCK_NAME))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)

    # --- reading -----------------------------------------------------------------------
    def metrics_rows(self) -> list[dict]:
        path = self.folder / "metrics.csv"
        if not path.exists():
            return []
        rows = list(csv.DictReader(path.read_text("utf-8").splitlines()))
        return [r for r in rows if r.get("day", "").isdigit() and None not in r.values()]

    def _rewrite_metrics(self, header: list[str] | None, rows: list[dict]) -> None:
        buffer = io.StringIO()
        if header:
            writer = csv.DictWriter(buffer, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        write_atomic(self.folder / "metrics.csv", buffer.getvalue())
