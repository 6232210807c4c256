"""The run store: one folder per run, append-only logs, atomic day checkpoints.

    run.toml          resolved config (+ versions)      persona.toml   the persona used
    events.jsonl      one step record per line           pairs.jsonl    prompt/chosen/rejected
    metrics.csv       one row per completed day          checkpoints/day-NN/   assistant state

A day is complete once its checkpoint is sealed (engine/checkpoint.py) and its metrics row
is written. Resume checks before it trusts: the logs' counts per day agree with metrics.csv,
the checkpoint it loads verifies; it goes back to the last day where all of that holds (runs
are deterministic, so the days after it are simulated again, byte for byte) and truncates
the logs there. Whole files are written atomically (engine/atomic.py); the logs are
append-only, and a torn last line or row is dropped. A store holds the folder's run lock
(engine/runlock.py) from creation or reopening until it is closed: one writer.
"""

import csv
import io
import json
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import tomli_w

from engine.atomic import BackgroundSync, fsync_dir, write_atomic
from engine.checkpoint import CheckpointError, DigestCache, seal, verify
from engine.config import RunConfig, parse_run_config
from engine.errors import RunError
from engine.metrics import DayMetrics
from engine.runlock import LOCK_NAME, RunLock
from engine.tomlfile import read_toml
from engine.types import PreferencePair, StepRecord

FLUSH_EVERY = 32  # step records between flushes; a crash loses at most this many (the day is redone)
LOAD_ERRORS = (CheckpointError, OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)
log = logging.getLogger("propersim")


def read_jsonl(path: Path) -> tuple[list[dict], int]:
    """The records of a JSONL file, and how many torn or corrupt lines were dropped.

    Only a torn *last* line is expected (a crash mid-write); any other bad line is an error.
    """
    lines, dropped = read_jsonl_lines(path)
    return [record for _, record in lines], dropped


def read_jsonl_lines(path: Path) -> tuple[list[tuple[bytes, dict]], int]:
    """Each record with its line as written (newline included), and how many torn last lines were dropped."""
    if not path.exists():
        return [], 0
    lines = path.read_bytes().split(b"\n")  # decoded line by line: a torn last line may end mid-character
    records, dropped = [], 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
            records.append((line + b"\n", record))
        except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError is a ValueError
            if number != len(lines):  # only the final segment, with no newline, can be torn
                raise RunError(f"{path}: line {number} is corrupt (not a torn last line): restore the file, "
                               "or start the run again in a new folder") from None
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
        self._digests = DigestCache()  # checkpoints share hard-linked shards: each is hashed once
        self._sync = BackgroundSync()  # a day's fsyncs and seal, off the simulation's path
        self.repairs: list[str] = []  # what resume found wrong and went back over (also logged)

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
            if done < config.days or store.repairs:  # a sound finished run is left exactly as it is
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
        raw = read_toml(path)
        raw.pop("versions", None)
        return parse_run_config(raw, str(path))

    def completed_days(self) -> int:
        """How many days are complete and agree everywhere: a metrics row each, as many step records
        and pairs in the logs as the row counts, and a checkpoint that verifies for the last of them.
        What disagrees is noted in `repairs`; the count stops before it."""
        counts = {"events.jsonl": self._counts("events.jsonl", lambda r: r.get("type") == "step"),
                  "pairs.jsonl": self._counts("pairs.jsonl", lambda r: True)}
        done = 0
        for row in self.day_rows():
            problem = self._disagreement(row, done, counts)
            if problem:
                self._note(problem)
                break
            done += 1
        return self._last_sealed(done)

    def _disagreement(self, row: dict, day: int, counts: dict[str, dict[int, int]]) -> str | None:
        """What is wrong with `row` as the metrics of `day`, given the logs' counts per day; None if nothing."""
        if int(row["day"]) != day:
            return f"{self.folder / 'metrics.csv'}: day {int(row['day']) + 1} follows day {day} (a row is missing)"
        for name, column in (("events.jsonl", "awake_steps"), ("pairs.jsonl", "pairs")):
            found, expected = counts[name].get(day, 0), row.get(column, "")
            if not expected.isdecimal():
                return f"{self.folder / 'metrics.csv'}: day {day + 1}: {column} is {expected!r}, not a count"
            if found != int(expected):
                what = "records out of order or repeated" if found < 0 else f"{found} records"
                return f"{self.folder / name}: {what} for day {day + 1} where metrics.csv counts {expected}"
        return None

    def _counts(self, name: str, counted: Callable[[dict], bool]) -> dict[int, int]:
        """Records per day in a log; -1 for a day whose records repeat or are out of order."""
        lines, _ = read_jsonl_lines(self.folder / name)
        counts: dict[int, int] = {}
        last = (-1, -1)
        for _, record in lines:
            if not counted(record):
                continue
            day, step = record.get("day"), record.get("step")
            if not isinstance(day, int) or not isinstance(step, int):
                continue  # not a record of a day; it fails the day's count if it was one
            if (day, step) < last or (day, step) == last and name != "pairs.jsonl":  # a step may have 2+ pairs
                counts[day] = -1
            elif counts.get(day, 0) >= 0:
                counts[day] = counts.get(day, 0) + 1
            last = max(last, (day, step))
        return counts

    def _last_sealed(self, done: int) -> int:
        """`done`, or fewer: back to the last of those days whose checkpoint verifies."""
        while done:
            try:
                verify(self.checkpoint_dir(done - 1), self._digests)
                return done
            except CheckpointError as error:
                self._note(str(error))
                done -= 1
        return 0

    def _note(self, problem: str) -> None:
        if problem in self.repairs:
            return
        self.repairs.append(problem)
        log.warning("propersim: warning: %s", problem)

    def restore(self, done: int, load: Callable[[Path], None]) -> int:
        """Load the checkpoint of day `done` - 1 with `load`; if it cannot be loaded (damaged, non-finite
        weights: `load` must then change nothing), go back a day and truncate the logs there. The days kept."""
        while done:
            try:
                load(self.checkpoint_dir(done - 1))
                return done
            except LOAD_ERRORS as error:
                self._note(f"{self.checkpoint_dir(done - 1)}: cannot be loaded: {error}")
                done = self._last_sealed(done - 1)
                self.reopen_at(done)
        return 0

    def day_rows(self) -> list[dict]:
        """metrics.csv rows, one per day: an exact duplicate of a row (a write repeated by a
        crash) is dropped, never counted twice; two different rows for one day are refused."""
        kept: dict[str, dict] = {}
        for row in self.metrics_rows():
            earlier = kept.setdefault(row["day"], row)
            if earlier != row:
                raise RunError(f"{self.folder / 'metrics.csv'}: two different rows for day {int(row['day']) + 1}; "
                               "remove the wrong one (or start the run again)")
            if earlier is not row:
                self._note(f"{self.folder / 'metrics.csv'}: the row of day {int(row['day']) + 1} is there twice")
        return list(kept.values())

    def reopen_at(self, days_done: int) -> None:
        """Truncate every log back to the first `days_done` days (their lines kept byte for byte) and
        append from there."""
        self.close(keep_lock=True)
        for stale in self.folder.glob("*.tmp"):  # a whole-file write a crash interrupted
            stale.unlink(missing_ok=True)
        self._refuse_dropping_human_ratings(days_done)
        if self.repairs:
            log.warning("propersim: warning: %s: resuming at day %d, which is simulated again with every day after it",
                        self.folder, days_done + 1)
        for name in ("events.jsonl", "pairs.jsonl", "calls.jsonl"):
            if name == "calls.jsonl" and not (self.folder / name).exists():
                continue  # only runs that called a model have one
            lines, _ = read_jsonl_lines(self.folder / name)
            kept = [line for line, r in lines if (r["day"] if isinstance(r.get("day"), int) else 0) < days_done]
            write_atomic(self.folder / name, b"".join(kept))
        rows = [r for r in self.day_rows() if int(r["day"]) < days_done]
        header = list(rows[0]) if rows else None
        self._rewrite_metrics(header, rows)
        for stale in self.folder.glob("checkpoints/day-*"):
            if not stale.name.startswith("day-") or not stale.name[4:].isdigit() or int(stale.name[4:]) >= days_done:
                shutil.rmtree(stale, ignore_errors=True)
        self._open("a")

    def _refuse_dropping_human_ratings(self, days_done: int) -> None:
        """Simulating days again reproduces everything but a human's ratings: never drop a complete day of them."""
        recorded = {int(r["day"]) for r in self.day_rows()}  # complete days: what going back would drop
        lines, _ = read_jsonl_lines(self.folder / "pairs.jsonl")
        days = sorted({r["day"] for _, r in lines if r.get("source") == "human" and isinstance(r.get("day"), int)
                       and r["day"] >= days_done and r["day"] in recorded})
        if days:
            raise RunError(f"{self.folder / 'pairs.jsonl'}: resuming would go back to day {days_done + 1} "
                           f"({'; '.join(self.repairs) or 'see above'}) and lose the human ratings of day "
                           f"{', '.join(str(d + 1) for d in days)}; save them first with `propersim "
                           f"export-feedback {self.folder} --out FILE.jsonl`, or repair the damaged file")

    def _open(self, mode: str) -> None:
        self._events = open(self.folder / "events.jsonl", mode, encoding="utf-8")
        self._pairs = open(self.folder / "pairs.jsonl", mode, encoding="utf-8")

    # --- appending ---------------------------------------------------------------------
    def append_step(self, record: StepRecord) -> None:
        self._events.write(record.to_json_line() + "\n")  # json.dumps(record.to_json(), sort_keys=True), faster
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
        """Write the day's checkpoint in its folder; it is sealed (fsynced, then its COMPLETE marker with
        the files' checksums) in the background, and until then resume ignores it. Written in place,
        not renamed, so the shards it holds can be hard-linked into the next day's (engine/shards.py)."""
        folder = self.checkpoint_dir(day)
        shutil.rmtree(folder, ignore_errors=True)  # an attempt a crash left unfinished
        folder.mkdir(parents=True)
        save(folder)
        self._sync.submit(lambda: self._seal(folder))

    def _seal(self, folder: Path) -> None:
        try:
            seal(folder, self._digests)
            fsync_dir(folder.parent)
        except OSError as error:
            raise RunError(f"{folder}: cannot write the checkpoint: {error.strerror or error}") from None

    def end_day(self, metrics: DayMetrics, criteria: tuple[str, ...], failures: bool = False,
                training: bool = False) -> None:
        """Record the day as complete: in the background, after its checkpoint is sealed, the logs are
        fsynced and then the day's metrics row is appended. A row always means a sealed checkpoint."""
        self.flush()
        columns, row = DayMetrics.columns(criteria, failures, training), metrics.row(failures, training)
        fds = [os.dup(f.fileno()) for f in (self._events, self._pairs)]  # still open if the logs close first
        self._sync.submit(lambda: self._record_day(fds, columns, row))

    def _record_day(self, fds: list[int], columns: list[str], row: dict) -> None:
        path = self.folder / "metrics.csv"
        try:
            for fd in fds:
                os.fsync(fd)  # the day's lines are durable before the row that counts them
            new = not path.exists() or path.stat().st_size == 0
            with open(path, "a", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                if new:
                    writer.writeheader()
                writer.writerow(row)
                f.flush()
                os.fsync(f.fileno())
        except OSError as error:
            raise RunError(f"{path}: cannot record the day: {error.strerror or error}") from None
        finally:
            for fd in fds:
                os.close(fd)

    def close(self, keep_lock: bool = False) -> None:
        """Flush, let the background fsyncs finish, close the logs and, unless `keep_lock`, give up the
        folder's lock. Idempotent."""
        self.flush()
        try:
            self._sync.close()
        finally:
            self._close_files(keep_lock)

    def _close_files(self, keep_lock: bool) -> None:
        for f in (self._events, self._pairs):
            if f is not None:
                f.close()
        self._events = self._pairs = None
        if self.lock is not None and not keep_lock:
            self.lock.release()

    def copy_to(self, target: Path) -> None:
        """Copy the folder (not its lock) to `target`, replacing it atomically."""
        self.flush()
        self._sync.drain()
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
        text = path.read_text("utf-8", errors="replace")
        lines = text.splitlines()
        if lines and not text.endswith("\n"):  # a row cut short by a crash: that day is not complete
            lines.pop()
        rows = list(csv.DictReader(lines))
        return [r for r in rows if (r.get("day") or "").isdecimal() and None not in r.values()]

    def _rewrite_metrics(self, header: list[str] | None, rows: list[dict]) -> None:
        buffer = io.StringIO()
        if header:
            writer = csv.DictWriter(buffer, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        write_atomic(self.folder / "metrics.csv", buffer.getvalue())
