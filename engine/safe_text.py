"""Text that people write (persona files, reasons) checked before it is trusted, and made safe
before it is printed to a terminal: no control characters, no escape sequences, no bidi tricks,
no text that only looks filled in."""

import unicodedata

# Reorder what a terminal or an editor shows ("Trojan source"): never legitimate in a persona.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that render as nothing (fillers, the blank braille pattern): invisible like a space.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset(("Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me", "Cs", "Co", "Cn"))
_PROSE_CONTROLS = frozenset("\n\t")  # a multi-line TOML string may hold these


def text_problem(text: str, multiline: bool = False) -> str | None:
    """What is wrong with a piece of human-written text, or None when it is fine.

    Wrong: a control character (NUL, ESC of an ANSI/OSC sequence, a C1 code; newline and tab are
    allowed only where `multiline`), a bidi control, a lone surrogate, or nothing visible at all
    (only whitespace, zero-width or filler characters)."""
    for position, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cc" and not (multiline and ch in _PROSE_CONTROLS):
            return f"contains a control character ({_codepoint(ch)}) at position {position}"
        if ch in _BIDI_CONTROLS:
            return f"contains a bidirectional control character ({_codepoint(ch)}) at position {position}"
        if category == "Cs":
            return f"contains a lone surrogate ({_codepoint(ch)}) at position {position}"
    if not any(_visible(ch) for ch in text):
        return "is blank: it has no visible character"
    return None


def _visible(ch: str) -> bool:
    return unicodedata.category(ch) not in _INVISIBLE_CATEGORIES and ch not in _BLANK_LETTERS


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def terminal_safe(text: str, newlines: bool = True) -> str:
    """`text` with every control, format and bidi character shown as an escape (\\x1b, \\u202e),
    so that printing it cannot move the cursor, recolour the terminal or reorder the line; newlines
    are kept unless `newlines` is False (one line of a message)."""
    return "".join(
        ch if (ch == "\n" and newlines) or not _unsafe(ch) else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in text)


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch in _BIDI_CONTROLS
