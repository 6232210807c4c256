"""What the fuzz tests share: one hypothesis profile (500 cases, reproducible in CI), hostile values,
and the check that an error is a clean one."""

import unicodedata
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# derandomize: the same 500 cases on every machine, so a CI failure reproduces locally;
# database=None: nothing is written next to the repository.
FUZZ = settings(max_examples=500, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

HOSTILE_TEXT = st.sampled_from([
    "", " ", "\t", "\n", "   \n ", "\u200b", "\u200b\u200c\u200d", "\u3164", "\u2800", "\ufeff",
    "ok\x00", "\x00", "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
    "\x9b31m", "a\rb", "\x7f", "Ali\u202ece", "\u2066x\u2069", "07:00\n", "07:00 ", " 07:00", "7:00", "24:00",
    "25:00", "07:00-08:00\n", "07:00 - 08:00", "08:00-07:00", "[bold]x[/]", "[/]", "x" * 2001, "x" * 100_000,
    "é" * 3000, "\ud800", "weekday\n", "mon,mon", "sleep", "walk", "warm",
])
WEIRD_VALUE = st.one_of(
    HOSTILE_TEXT, st.text(max_size=20), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2), st.just([]), st.just({}),
)


def no_raw_control(text: str) -> bool:
    """Nothing in `text` that a terminal would act on: no control character but newline and tab."""
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)


def assert_names_the_file(message: str, path) -> None:
    """Every line of a ConfigError names its file, and nothing in it reaches the terminal raw."""
    assert message, "an empty error"
    for line in message.splitlines():
        assert line.startswith(str(path)), (line, path)
    assert no_raw_control(message), repr(message[:200])


def mutations_of(node, prefix=()):
    """Every path (keys and list indexes) into a parsed TOML document."""
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from mutations_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from mutations_of(value, (*prefix, i))


def mutate(raw, path, action, value):
    """A deep copy of `raw` with one change at `path`: delete, replace, add an unknown key, or repeat."""
    import copy

    raw = copy.deepcopy(raw)
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "add_key" and isinstance(parent, dict):
        parent[value if isinstance(value, str) else f"unexpected_{len(parent)}"] = value
    elif action == "repeat" and isinstance(parent, list):
        parent.extend([parent[last]] * 50)
    else:
        parent[last] = value
    return raw


MUTATIONS = ("delete", "replace", "add_key", "repeat")


def apply_mutations(raw, mutations):
    """`raw` with each (path, action, value) applied in turn; a path an earlier one removed is skipped."""
    for path, action, value in mutations:
        try:
            raw = mutate(raw, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue
    return raw


def damaged_bytes(data, blob: bytes, nest: Callable[[int], str], inserts: list[bytes]) -> bytes:
    """A file's bytes damaged one way: cut short, a few bytes overwritten, `nest(depth)` (a deeply nested
    TOML line) appended, or one of `inserts` spliced in."""
    blob = bytearray(blob)
    how = data.draw(st.sampled_from(["truncate", "overwrite", "nest", "insert"]))
    at = data.draw(st.integers(0, len(blob)))
    if how == "truncate":
        return bytes(blob[:at])
    if how == "overwrite":
        blob[at:at + 4] = data.draw(st.binary(min_size=1, max_size=4))
    elif how == "nest":
        blob += nest(data.draw(st.integers(1, 5000))).encode()
    else:
        blob[at:at] = data.draw(st.sampled_from(inserts))
    return bytes(blob)
