"""Building a runnable Simulation from a config: new runs and resumed ones."""

import importlib.metadata
import platform
from pathlib import Path

from engine.catalog import load_catalog
from engine.clock import SimClock
from engine.config import RunConfig
from engine.errors import RunError
from engine.persona import load_persona
from engine.persona_library import resolve_persona
from engine.seeding import stable_hash
from engine.simulation import Simulation, build_judge
from engine.store import RunStore
from training.registry import build_assistant


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in ("propersim", "numpy", "usearch", "textual", "torch", "trl", "peft", "transformers"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def run_name(config: RunConfig) -> str:
    return f"{config.persona}__{config.assistant}__s{config.seed}"


def _simulation(config: RunConfig, persona, store: RunStore | None) -> Simulation:
    clock = SimClock(config.start_date, config.days, config.step_seconds)
    judge = build_judge(config, persona, clock)
    assistant_seed = config.seed * 1_000_003 + stable_hash(persona.id)
    assistant = build_assistant(
        config.assistant, load_catalog(), assistant_seed, config.assistant_options,
        oracle_judge=judge if config.assistant == "oracle" else None,
    )
    return Simulation(config, persona, assistant, store, judge=judge)


def new_run(config: RunConfig, run_dir: Path | None) -> Simulation:
    """A fresh simulation; with run_dir it is recorded there, without it nothing is written."""
    persona, persona_path = resolve_persona(config.persona)
    config = config.model_copy(update={"persona": persona.id})
    store = None
    if run_dir is not None:
        store = RunStore.create(run_dir, config, persona_path.read_text("utf-8"), package_versions())
    sim = _simulation(config, persona, store)
    sim.start_at(0)
    return sim


def resume_run(run_dir: Path) -> Simulation:
    """Continue a recorded run from its last complete day."""
    run_dir = Path(run_dir)
    config = RunStore.read_config(run_dir)
    persona_path = run_dir / "persona.toml"
    if not persona_path.exists():
        raise RunError(f"{run_dir} has no persona.toml")
    persona = load_persona(persona_path, check_name=False)
    store = RunStore(run_dir)
    done = store.completed_days()
    store.reopen_at(done)
    sim = _simulation(config, persona, store)
    if done:
        sim.assistant.load(store.checkpoint_dir(done - 1))
    sim.start_at(done)
    return sim
