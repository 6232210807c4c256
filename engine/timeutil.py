"""Clock strings ("HH:MM") and windows ("HH:MM-HH:MM") as minutes of the day."""

import re

_TIME = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")  # used with fullmatch: "07:00\n" is not a time


def parse_time(text: str) -> int:
    """Minutes since midnight; '24:00' is allowed as an end of day."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"bad time {_shown(text)} (expected HH:MM, 00:00-24:00)")
    minutes = int(match[1]) * 60 + int(match[2])
    if minutes > 24 * 60:
        raise ValueError(f"bad time {text!r} (after 24:00)")
    return minutes


def parse_window(text: str) -> tuple[int, int]:
    """A same-day window as (start, end) minutes, start < end."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"bad window {_shown(text)} (expected 'HH:MM-HH:MM')")
    start_text, end_text = text.split("-")
    start, end = parse_time(start_text.strip(" ")), parse_time(end_text.strip(" "))  # spaces only, no newline
    if start >= end:
        raise ValueError(f"bad window {text!r} (start must be before end)")
    return start, end


def _shown(value: object) -> str:
    """A value quoted for an error message: repr (control characters escaped), cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def in_windows(minute: int, windows: tuple[tuple[int, int], ...]) -> bool:
    return any(start <= minute < end for start, end in windows)
