import asyncio
import tomllib
from pathlib import Path

import pytest

from engine.compose import new_run
from engine.config import RunConfig
from engine.events import DayEnded

REPO = Path(__file__).resolve().parent.parent
PERSONAS = REPO / "personas"
REFERENCE_PERSONA = "E+A+C+O+N-"


@pytest.fixture
def persona_raw() -> dict:
    """The reference persona file as a mutable dict."""
    return tomllib.loads((PERSONAS / f"{REFERENCE_PERSONA}.toml").read_text("utf-8"))


def run_days(assistant: str, persona: str = REFERENCE_PERSONA, days: int = 2, seed: int = 0,
             run_dir: Path | None = None, **config) -> list:
    """Run a simulation to the end and return its DayMetrics."""
    sim = new_run(RunConfig(persona=persona, assistant=assistant, days=days, seed=seed, **config), run_dir)
    metrics = []
    sim.subscribe(lambda e: metrics.append(e.metrics) if isinstance(e, DayEnded) else None)
    asyncio.run(sim.run())
    return metrics
