"""A grid of runs: personas x assistants x seeds, one run folder each, and the manifest that names them.

The grid's order is fixed (personas, then assistants, then seeds, as given), so a shard `I/N` (every
N-th run from the I-th) is the same slice on every machine, and the N shards together are the grid.
`grid.toml` in the output folder records the full grid; re-running the same command finds each run's
folder and its state (new, partial, done) from the run store.
"""

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from engine.errors import RunError
from engine.persona_library import persona_paths
from engine.store import RunStore, write_atomic

MANIFEST = "grid.toml"
GLOB_CHARS = "*?["


@dataclass(frozen=True, order=True)
class Cell:
    """One run of the grid."""

    persona: str
    assistant: str
    seed: int

    @property
    def name(self) -> str:  # engine.compose.run_name of the run's config
        return f"{self.persona}__{self.assistant}__s{self.seed}"


@dataclass(frozen=True)
class Grid:
    personas: tuple[str, ...]
    assistants: tuple[str, ...]
    seeds: tuple[int, ...]
    days: int

    def cells(self) -> list[Cell]:
        return [Cell(p, a, s) for p in self.personas for a in self.assistants for s in self.seeds]

    def to_manifest(self) -> dict:
        return {"grid": {"personas": list(self.personas), "assistants": list(self.assistants),
                         "seeds": list(self.seeds), "days": self.days},
                "runs": [cell.name for cell in self.cells()]}


def parse_personas(arg: str) -> tuple[str, ...]:
    """`all`, ids and .toml paths, or globs over the persona folder's ids (e.g. 'E+*', '*O-*'), comma-separated."""
    known = [p.stem for p in persona_paths()]
    chosen: list[str] = []
    for item in (part.strip() for part in arg.split(",")):
        if not item:
            continue
        if item == "all":
            matches = known
        elif any(c in item for c in GLOB_CHARS) and not item.endswith(".toml"):
            matches = [k for k in known if fnmatch.fnmatchcase(k, item)]
            if not matches:
                raise RunError(f"--personas: {item!r} matches no persona id (known: {', '.join(known) or 'none'})")
        else:
            matches = [item]
        chosen += [m for m in matches if m not in chosen]
    if not chosen:
        raise RunError("--personas: name at least one persona (ids, globs or 'all')")
    return tuple(chosen)


def parse_names(arg: str, what: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in arg.split(",") if part.strip()))
    if not names:
        raise RunError(f"{what}: name at least one")
    return names


def parse_seeds(arg: str) -> tuple[int, ...]:
    """`N` (seeds 0..N-1) or a comma-separated list `S1,S2,...`."""
    parts = [part.strip() for part in arg.split(",") if part.strip()]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise RunError(f"--seeds: expected N or S1,S2,..., got {arg!r}") from None
    if not values:
        raise RunError("--seeds: expected N or S1,S2,...")
    if len(values) == 1 and "," not in arg:
        if values[0] < 1:
            raise RunError(f"--seeds: N must be at least 1, got {values[0]}")
        return tuple(range(values[0]))
    return tuple(dict.fromkeys(values))


def parse_shard(arg: str) -> tuple[int, int]:
    """`I/N` with 1 <= I <= N (Slurm's SLURM_ARRAY_TASK_ID counts from 1 in the README's example)."""
    index, sep, count = arg.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise RunError(f"--shard: expected I/N, e.g. 2/8, got {arg!r}") from None
    if not sep or n < 1 or not 1 <= i <= n:
        raise RunError(f"--shard: expected I/N with 1 <= I <= N, got {arg!r}")
    return i, n


def shard(cells: list, index: int, count: int) -> list:
    """The index-th of `count` deterministic slices (round-robin, so each holds a mix of assistants)."""
    return cells[index - 1::count]


def write_manifest(out: Path, grid: Grid) -> None:
    """Record the grid in out/grid.toml; refuse a folder that holds a different grid.
    Shards of one grid write the same bytes, so concurrent shards may race harmlessly."""
    path = Path(out) / MANIFEST
    manifest = grid.to_manifest()
    if path.exists():
        existing = read_manifest(Path(out))
        if existing != manifest:
            raise RunError(f"{path}: this folder holds a different grid; pick another --out "
                           "(or run the command that made it)")
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    write_atomic(path, tomli_w.dumps(manifest))


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RunError(f"{path}: cannot read the grid manifest: {error}") from None


def run_state(run_dir: Path) -> tuple[str, int]:
    """("new" | "partial" | "done", days complete) of a run folder, from the run store."""
    if not (Path(run_dir) / "run.toml").exists():
        return "new", 0
    days = RunStore.read_config(run_dir).days
    done = RunStore(run_dir).completed_days()
    return ("done" if done >= days else "partial"), done


def completed_days(run_dir: Path) -> int:
    """Days with a metrics row (progress display; cheaper than the checkpoint check of run_state)."""
    return len(RunStore(run_dir).metrics_rows())
