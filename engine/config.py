"""The resolved configuration of one run: what run.toml holds."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import ConfigError, Problem
from engine.llm.config import BackendConfig
from engine.vocab import DEFAULT_CRITERIA, OPTIONAL_CRITERIA


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


OptionValue = str | int | float | bool
# An assistant's options may hold one nested table (e.g. [assistant_options.dpo] of an LLM assistant).
AssistantOptionValue = OptionValue | list[str] | dict[str, OptionValue | list[str]]
BACKEND_ROLES = ("default", "user", "judge", "assistant")


class JudgeConfig(_Strict):
    kind: str = "rubric"  # a name in engine.judges.JUDGES
    noise: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0  # chance that each verdict flips
    criteria: tuple[str, ...] = DEFAULT_CRITERIA
    options: dict[str, OptionValue] = {}

    @field_validator("criteria")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(DEFAULT_CRITERIA) - set(OPTIONAL_CRITERIA)
        if unknown or not value or len(set(value)) != len(value):
            raise ValueError(
                f"criteria must be distinct names from {DEFAULT_CRITERIA + OPTIONAL_CRITERIA}, got {list(value)}"
            )
        return value


class UserConfig(_Strict):
    kind: str = "routine"  # a name in engine.users.USERS
    options: dict[str, OptionValue] = {}


class RunConfig(_Strict):
    persona: str
    assistant: str  # a name in engine.assistants.ASSISTANTS
    assistant_options: dict[str, AssistantOptionValue] = {}
    days: Annotated[int, Field(ge=1, le=365)] = 14
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0  # numpy seeds are non-negative; TOML ints are 64-bit
    start_date: dt.date = dt.date(2026, 3, 2)  # a Monday
    step_seconds: Annotated[int, Field(ge=30, le=3600)] = 150
    n_candidates: Annotated[int, Field(ge=1, le=8)] = 2
    deliver: Annotated[int, Field(ge=0, le=7)] = 1  # the reference delivers the second candidate
    human_weight: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0
    judge: JudgeConfig = JudgeConfig()
    user: UserConfig = UserConfig()
    # the LLM backend of each role: "user", "judge", "assistant", else "default"
    backends: dict[str, BackendConfig] = {}

    @field_validator("backends")
    @classmethod
    def _roles(cls, value: dict) -> dict:
        unknown = set(value) - set(BACKEND_ROLES)
        if unknown:
            raise ValueError(f"unknown backend role(s) {sorted(unknown)}; known: {', '.join(BACKEND_ROLES)}")
        return value

    @field_validator("deliver")
    @classmethod
    def _in_range(cls, value: int, info) -> int:
        n = info.data.get("n_candidates", 2)
        if value >= n:
            raise ValueError(f"must be below n_candidates ({n})")
        return value

    def to_toml_dict(self) -> dict:
        out = self.model_dump(mode="python", exclude={"backends"})
        if self.backends:  # only then, so run.toml of runs without a model stays as it was
            out["backends"] = {role: b.model_dump(mode="json", exclude_none=True) for role, b in self.backends.items()}
        return out


def parse_run_config(raw: dict, path: str = "run.toml") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(path, [
            Problem(".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "))
            for e in error.errors(include_url=False)
        ]) from None
