"""The backend of `--dry-run`: it calls no model. Each answer is the smallest JSON the request's schema
accepts, and each call is counted like a real one, so a simulated day shows how many calls and prompt
tokens each role would make (prompts are built exactly as in a real run; only the answers are stand-ins)."""

import json
import time
from typing import Any

from engine.llm import ChatResult, Message, Usage
from engine.llm.fake import approx_tokens


def schema_sample(schema: dict, defs: dict | None = None) -> Any:
    """A small value valid against `schema` (the subset pydantic emits: $ref, enum, const, anyOf, objects
    with required properties, arrays with minItems, strings with minLength, bounded numbers)."""
    defs = schema.get("$defs", defs or {})
    if "$ref" in schema:
        return schema_sample(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return schema_sample(schema[key][0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: schema_sample(properties[name], defs) for name in schema.get("required", properties)}
    if kind == "array":
        return [schema_sample(schema.get("items", {}), defs) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 0))  # not blank: a blank recommendation is No Recommendation
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    if kind == "boolean":
        return True  # an assistant that always offers something: the judge is asked at every step
    return None


class DryBackend:
    name = "dry"

    def __init__(self, model: str):
        self.model = model  # the model the run would call, for the estimate's table

    async def chat(self, messages: list[Message], *, n: int = 1, json_schema: dict | None = None,
                   temperature: float = 0.7, max_tokens: int = 256, seed: int | None = None) -> ChatResult:
        started = time.perf_counter()
        text = json.dumps(schema_sample(json_schema)) if json_schema is not None else ""
        usage = Usage(sum(approx_tokens(m["content"]) for m in messages), n * approx_tokens(text))
        return ChatResult(texts=(text,) * n, usage=usage, latency_s=time.perf_counter() - started, model=self.model)

    async def aclose(self) -> None:
        pass
