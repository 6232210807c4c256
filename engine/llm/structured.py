"""Typed answers from a backend: schema-constrained chat, tolerant parse, one re-ask, never a
made-up value. Closed vocabularies are Literal/Enum fields of the caller's model, so they
reach the backend as `enum`s in the JSON schema."""

import asyncio
import json
import re
import weakref
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from engine.llm import Backend, BackendError, Message

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Structured(Generic[T]):
    value: T | None  # the validated answer; None when failed
    failed: bool
    raw: str  # the last completion text seen ("" when the backend failed)
    error: str | None = None
    attempts: int = 1


def parse_json_object(text: str) -> Any:
    """The JSON in a completion: ```json fences stripped, else the outermost {...}."""
    fenced = _FENCE.match(text)
    candidate = fenced.group(1) if fenced else text
    try:
        return json.loads(candidate)
    except ValueError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start == -1 or end <= start:
            raise ValueError("no JSON object in the answer") from None
        return json.loads(candidate[start:end + 1])


def describe_validation_error(error: ValidationError, max_items: int = 5) -> str:
    """One short line per problem, e.g. `tone: Input should be 'warm' or 'dry' (got 'jolly')`."""
    parts = []
    for item in error.errors()[:max_items]:
        where = ".".join(str(p) for p in item["loc"]) or "(answer)"
        got = "" if item["type"] == "missing" else f" (got {_short(item.get('input'))})"
        parts.append(f"{where}: {item['msg']}{got}")
    if error.error_count() > max_items:
        parts.append(f"... and {error.error_count() - max_items} more")
    return "; ".join(parts)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def validate(text: str, model_type: type[T]) -> tuple[T | None, str | None]:
    """(value, None) or (None, why not)."""
    try:
        data = parse_json_object(text)
    except ValueError as error:
        return None, f"not a JSON object: {error}"
    try:
        return model_type.model_validate(data), None
    except ValidationError as error:
        return None, describe_validation_error(error)


_SCHEMAS: "weakref.WeakKeyDictionary[type[BaseModel], dict]" = weakref.WeakKeyDictionary()


def json_schema_of(model_type: type[BaseModel]) -> dict:
    """The model's JSON schema, made once per model class (pydantic rebuilds it on every call, a few ms
    each, on every LLM call of every run). Shared: read it, never change it."""
    schema = _SCHEMAS.get(model_type)
    if schema is None:
        schema = _SCHEMAS[model_type] = model_type.model_json_schema()
    return schema


def reask_messages(messages: list[Message], raw: str, error: str) -> list[Message]:
    return [*messages, {"role": "assistant", "content": raw},
            {"role": "user", "content": f"That answer is invalid: {error}. "
                                        "Reply with only a JSON object that matches the schema."}]


async def chat_structured(backend: Backend, messages: list[Message], model_type: type[T], *, n: int = 1,
                          temperature: float = 0.7, max_tokens: int = 256,
                          seed: int | None = None) -> list[Structured[T]]:
    """n answers of `model_type`. Each invalid completion gets ONE re-ask (n=1) that quotes the
    validation error; still invalid, or a BackendError, gives a failed Structured."""
    schema = json_schema_of(model_type)
    params = {"json_schema": schema, "temperature": temperature, "max_tokens": max_tokens, "seed": seed}
    try:
        result = await backend.chat(messages, n=n, **params)
    except BackendError as error:
        return [Structured(None, True, "", str(error), 1) for _ in range(n)]

    async def settle(raw: str) -> Structured[T]:
        value, error = validate(raw, model_type)
        if value is not None:
            return Structured(value, False, raw, None, 1)
        try:
            again = await backend.chat(reask_messages(messages, raw, error or ""), n=1, **params)
        except BackendError as backend_error:
            return Structured(None, True, raw, f"{error}; re-ask failed: {backend_error}", 2)
        retry_raw = again.texts[0]
        value, retry_error = validate(retry_raw, model_type)
        if value is not None:
            return Structured(value, False, retry_raw, None, 2)
        return Structured(None, True, retry_raw, retry_error, 2)

    return list(await asyncio.gather(*(settle(raw) for raw in result.texts)))
