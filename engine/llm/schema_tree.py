"""The JSON-schema subset the schema-guided decoder handles, compiled to a small tree, and the
canonical (compact) JSON it writes. Plain Python: importable without llama_cpp."""

import json
from typing import Any

# The canonical JSON written: compact, as json.dumps(separators=(",", ":")) writes it. A spaced
# separator (", " and ": ") costs a token more at each key, and every fixed token is evaluated.
SEP, LEAD = ",", ""
_SCHEMA_KEYS = {"type", "title", "description", "enum", "const", "properties", "required", "items",
                "minItems", "maxItems", "minLength", "maxLength", "$ref", "$defs", "additionalProperties",
                "anyOf", "oneOf", "discriminator"}


def compile_schema(schema: dict) -> tuple | None:
    """The schema as a tree of ("object", [(key, node)]), ("array", node, min, max), ("string", min,
    max), ("enum", values), ("bool",), ("literal", json_text) (a boolean const) and ("choice", key,
    [(json_text, [(key, node)])]) nodes; None when it uses anything else (numbers, other unions,
    patterns, optional properties, ...), which then goes to llama.cpp's grammar. A choice is a
    oneOf/anyOf of objects that all begin with the same key, each with its own constant there (a
    pydantic union discriminated by a Literal field that comes first): the model picks the constant,
    and the rest is that object's."""
    defs = schema.get("$defs", {})

    def node(s: Any, depth: int) -> tuple | None:
        if not isinstance(s, dict) or depth > 16 or set(s) - _SCHEMA_KEYS or s.get("additionalProperties", False):
            return None
        if "$ref" in s:
            name = s["$ref"].removeprefix("#/$defs/")
            return node(defs.get(name), depth + 1) if len(s) == 1 and name in defs else None
        if "anyOf" in s or "oneOf" in s:
            return choice(s.get("anyOf", s.get("oneOf")), depth) if ("anyOf" in s) != ("oneOf" in s) else None
        if "enum" in s or "const" in s:
            values = s["enum"] if "enum" in s else [s["const"]]
            if values and all(isinstance(v, str) for v in values):
                return ("enum", tuple(dict.fromkeys(values)))
            if "const" in s and isinstance(s["const"], bool) and s.get("type", "boolean") == "boolean":
                return ("literal", json.dumps(s["const"]))
            return None
        kind = s.get("type")
        if kind == "boolean":
            return ("bool",)
        if kind == "string":
            return ("string", s.get("minLength", 0), s.get("maxLength"))
        if kind == "array":
            item = node(s.get("items"), depth + 1)
            return None if item is None else ("array", item, s.get("minItems", 0), s.get("maxItems"))
        if kind == "object":
            props = s.get("properties", {})
            if set(s.get("required", [])) != set(props):
                return None
            children = [(key, node(sub, depth + 1)) for key, sub in props.items()]
            return None if any(c is None for _, c in children) else ("object", children)
        return None

    def choice(alternatives: Any, depth: int) -> tuple | None:
        if not isinstance(alternatives, list) or not alternatives:
            return None
        options = []
        for alternative in alternatives:
            compiled = node(alternative, depth + 1)
            if compiled is None or compiled[0] != "object" or not compiled[1]:
                return None
            key, first = compiled[1][0]
            if first[0] == "literal":
                text = first[1]
            elif first[0] == "enum" and len(first[1]) == 1:
                text = json.dumps(first[1][0])
            else:
                return None
            options.append((key, text, compiled[1]))
        if len({key for key, _, _ in options}) != 1 or len({text for _, text, _ in options}) != len(options):
            return None
        return ("choice", options[0][0], tuple((text, props) for _, text, props in options))

    return node(schema, 0)


def minimal(node: tuple) -> str:
    """The JSON text a compiled schema node may need at the least, for the token budget of what
    remains: strings and arrays at their shortest, an enum at its longest value (not yet chosen)."""
    kind = node[0]
    if kind == "bool":
        return "false"
    if kind == "literal":
        return node[1]
    if kind == "choice":
        return min((minimal(("object", props)) for _, props in node[2]), key=len)
    if kind == "enum":
        return json.dumps(max(node[1], key=len))
    if kind == "string":
        return '"' + "a" * node[1] + '"'
    if kind == "object":
        return "{" + SEP.join(f"{json.dumps(key)}:{LEAD}{minimal(sub)}" for key, sub in node[1]) + "}"
    return "[" + SEP.join([minimal(node[1])] * node[2]) + "]"


def independent_members(node: tuple) -> list | None:
    """The members of an object of two or more objects of one shape (the judge's verdicts: one per
    option), which the schema decoder writes each in a sequence of its own, in lockstep: each member
    is decoded after the prompt and its own key, not after the members before it, so each option is
    rated on its own, and both cost about the decoding steps of one. None for any other node."""
    if node[0] != "object" or len(node[1]) < 2:
        return None
    first = node[1][0][1]
    if first[0] != "object" or any(sub != first for _, sub in node[1]):
        return None
    return list(node[1])
