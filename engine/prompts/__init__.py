"""Prompt templates of the LLM roles (package data: *.txt), loaded by name."""

from functools import cache
from importlib import resources


@cache
def template(name: str) -> str:
    """The text of engine/prompts/<name>.txt."""
    return resources.files(__name__).joinpath(f"{name}.txt").read_text("utf-8").strip()
