"""The LLM calls behind one step, for the detail pane: what each role was asked, word for word,
and what it answered.

A live run reads them from its CallLedger (the recent calls in memory, calls.jsonl for older
ones); a replay from the run folder's calls.jsonl alone. Both give calls in the file's form: a
dict of CallRecord's fields plus "prompt" (the chat messages) and "answers".

The user's day plan is asked before the day's first step (position (day, None)); the pane shows
it under a "Day plan" heading on the day's first step, where it took effect, and nowhere else.
"""

import json
import re
from dataclasses import asdict
from pathlib import Path

from rich.text import Text

from engine.llm.ledger import CallLedger

MAX_MESSAGE_CHARS = 20_000  # a pathological prompt must not stall the pane; the cut is always said
POSITION = re.compile(rb'"day":(null|\d+),"step":(null|\d+)')  # as CallLedger writes it, before "prompt"
ROLE_STYLES = {"system": "bold magenta", "user": "bold cyan", "assistant": "bold green"}

Position = tuple[int | None, int | None]


class CallsFile:
    """calls.jsonl, indexed by (day, step) -> byte offsets of its lines. Indexing reads only what
    was appended since the last lookup (a live run's file grows), so each line is scanned once;
    a lookup then reads just that step's lines."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offsets: dict[Position, list[int]] = {}
        self._indexed = 0  # bytes of the file indexed so far (whole lines only)

    def _catch_up(self) -> None:
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            return  # made by the first call: none yet
        with file:
            file.seek(self._indexed)
            for line in file:
                if not line.endswith(b"\n"):
                    break  # being written: the next lookup gets it
                position = _position(line)
                if position is not None:
                    self._offsets.setdefault(position, []).append(self._indexed)
                self._indexed += len(line)

    def calls_at(self, day: int, step: int | None) -> list[dict]:
        self._catch_up()
        offsets = self._offsets.get((day, step))
        if not offsets:
            return []
        calls = []
        with self.path.open("rb") as file:
            for offset in offsets:
                file.seek(offset)
                try:
                    calls.append(json.loads(file.readline()))
                except ValueError:
                    pass  # a damaged line: the rest still show
        return calls


def _position(line: bytes) -> Position | None:
    match = POSITION.search(line, 0, 1000)
    if match is not None:
        return tuple(None if g == b"null" else int(g) for g in match.groups())
    try:  # written some other way: parse the whole line
        call = json.loads(line)
        return call.get("day"), call.get("step")
    except (ValueError, AttributeError):
        return None


class LedgerCalls:
    """A live run's calls: from the ledger's memory while it still holds them, else from its file."""

    def __init__(self, ledger: CallLedger):
        self.ledger = ledger
        self.file = CallsFile(ledger.path) if ledger.path is not None else None

    def calls_at(self, day: int, step: int | None) -> list[dict]:
        kept = self.ledger.calls_at(day, step)
        if kept is None:
            return self.file.calls_at(day, step) if self.file is not None else []
        return [asdict(record) | {"prompt": prompt, "answers": answers} for record, prompt, answers in kept]


def calls_text(step_calls: list[dict], plan_calls: list[dict]) -> Text:
    """The step's calls, then the day plan's (empty when there are neither)."""
    text = Text()
    for heading, calls in (("LLM calls at this step", step_calls),
                           ("Day plan (asked before the day's first step)", plan_calls)):
        if calls:
            text.append(f"\n{heading}\n", style="bold underline")
            for call in calls:
                _append_call(text, call)
    return text


def _append_call(text: Text, call: dict) -> None:
    text.append(f"\n■ {call['role']}", style="bold reverse")
    text.append(f"  {call.get('backend', '?')} · {call.get('model') or '?'}")
    if call.get("cached"):
        text.append(" · cached (no tokens spent)", style="cyan")
    else:
        text.append(f" · tokens {call.get('prompt_tokens', 0)} in, {call.get('completion_tokens', 0)} out")
    text.append(f" · {call.get('latency_s', 0.0) * 1000:.0f} ms")
    if call.get("n", 1) > 1:
        text.append(f" · n={call['n']}")
    if call.get("failed"):
        text.append(f" · FAILED: {call.get('error') or 'no answer'}", style="bold red")
    text.append("\n")
    for message in call.get("prompt") or []:
        role = message.get("role", "?")
        text.append(f"{role}: ", style=ROLE_STYLES.get(role, "bold"))
        _append_capped(text, message.get("content") or "")
    answers = call.get("answers") or []
    for i, answer in enumerate(answers):
        text.append("answered" + (f" ({i + 1}/{len(answers)})" if len(answers) > 1 else "") + ": ",
                    style="bold yellow")
        _append_capped(text, answer, style="yellow")
    if not answers and not call.get("failed"):
        text.append("answered nothing\n", style="dim")


def _append_capped(text: Text, content: str, style: str = "") -> None:
    text.append(content[:MAX_MESSAGE_CHARS], style=style)
    if len(content) > MAX_MESSAGE_CHARS:
        text.append(f" … {len(content) - MAX_MESSAGE_CHARS} more characters (all of it is in calls.jsonl)",
                    style="bold dim")
    text.append("\n")
