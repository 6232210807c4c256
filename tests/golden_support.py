"""How a golden run is made, through the product's own entry points (kept apart so a refactor
changes one function here, never the pinned configurations)."""

import asyncio
from pathlib import Path

from engine.compose import new_run
from engine.config import parse_run_config


def run_to_folder(fields: dict, folder: Path) -> Path:
    config = parse_run_config(dict(fields), "golden")
    sim = new_run(config, folder)
    asyncio.run(sim.run())
    return folder
