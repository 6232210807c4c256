"""Errors a user can act on: each names the file, the field and the problem."""

from dataclasses import dataclass
from pathlib import Path

from engine.safe_text import terminal_safe


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class ConfigError(Exception):
    """One or more problems in one file. str() lists every problem, one per line."""

    def __init__(self, path: Path | str, problems: list[Problem]):
        self.path = Path(path)
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        # terminal_safe: a key or value quoted from a hostile file cannot reach the terminal raw
        return "\n".join(terminal_safe(f"{self.path}: {p.field or '(file)'}: {p.message}", newlines=False) for p in self.problems)


class PersonaError(ConfigError):
    pass


class RunError(Exception):
    """A run that cannot start or continue, with a message for the user."""
