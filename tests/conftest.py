import asyncio
import os
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


@pytest.fixture(autouse=True, scope="session")
def _converted_models_in_a_temp_folder(tmp_path_factory):
    """The llama-cpp backend converts the bundled SmolLM2 once (engine.llm.quantize): into a folder of
    this test session, not the user's ~/.cache (subprocesses such as llama workers inherit it)."""
    before = os.environ.get("PROPERSIM_GGUF_CACHE")
    os.environ["PROPERSIM_GGUF_CACHE"] = str(tmp_path_factory.mktemp("gguf-cache"))
    yield
    if before is None:
        os.environ.pop("PROPERSIM_GGUF_CACHE", None)
    else:
        os.environ["PROPERSIM_GGUF_CACHE"] = before
