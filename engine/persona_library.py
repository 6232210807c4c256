"""Finding persona files: the shipped ones, or a folder named by PROPERSIM_PERSONAS."""

import os
from importlib import resources
from pathlib import Path

from engine.errors import RunError
from engine.persona import Persona, load_persona


def persona_dir() -> Path:
    override = os.environ.get("PROPERSIM_PERSONAS")
    return Path(override) if override else Path(str(resources.files("personas")))


def persona_paths(folder: Path | None = None) -> list[Path]:
    return sorted((folder or persona_dir()).glob("*.toml"))


def resolve_persona(ref: str) -> tuple[Persona, Path]:
    """A persona and its file, by id (a file in the persona folder) or by path to a TOML file."""
    path = Path(ref)
    if path.suffix == ".toml" and path.exists():
        return load_persona(path), path
    candidate = persona_dir() / f"{ref}.toml"
    if candidate.exists():
        return load_persona(candidate), candidate
    known = ", ".join(p.stem for p in persona_paths()) or "(none)"
    raise RunError(f"unknown persona {ref!r}; known personas: {known}")
