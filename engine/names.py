"""Names that become folder names (persona ids, assistant names, run names) are checked here,
before anything is created, so that no run can land outside its --out folder."""

import re

from engine.errors import RunError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}")


def check_name(kind: str, value: str) -> str:
    """`value` if it is a safe single path component: letters, digits and _ . + -, no '..'."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        shown = value.encode("unicode_escape").decode("ascii") if isinstance(value, str) else repr(value)
        raise RunError(f"{kind} {shown!r} is not a valid name: use letters, digits and _ . + - "
                       "(at most 80, starting with a letter or digit, no '..')")
    return value
