"""Turning step records (the JSON form in events.jsonl) into text for the screen.

Live runs and replays both render from these dicts, so they look the same. A stretch away
from home (the engine's Away event, live only) is a timeline row of its own: `away_row`.
"""

from functools import cache

from rich.text import Text

from engine.types import is_recommendation_text
from engine.vocab import CRITERIA

SCORE_STYLES = ("bold red", "red", "yellow", "green", "bold green", "bold green")
CRITERIA_SHORT = {name: mark for name, (mark, _) in CRITERIA.items()}


def score_text(total: int | None) -> Text:
    if total is None:
        return Text("–", style="dim")
    return Text(str(total), style=SCORE_STYLES[max(0, min(total, 5))])


def criteria_text(criteria: dict[str, bool]) -> Text:
    """P✓ T✗ ... in the rubric's order (records on disk have their keys sorted)."""
    return _criteria_text(tuple(sorted(criteria.items())))


@cache  # a handful of distinct outcomes, rendered for thousands of rows
def _criteria_text(items: tuple[tuple[str, bool], ...]) -> Text:
    criteria = dict(items)
    text = Text()
    order = [c for c in CRITERIA_SHORT if c in criteria] + sorted(set(criteria) - set(CRITERIA_SHORT))
    for name in order:
        passed = criteria[name]
        text.append(CRITERIA_SHORT.get(name, name[0].upper()), style="dim")
        text.append("✓ " if passed else "✗ ", style="green" if passed else "red")
    return text


def delivered(step: dict) -> dict:
    return step["candidates"][step["delivered"]]


def is_recommendation(step: dict) -> bool:
    return is_recommendation_text(delivered(step)["text"])


def away_row(day: int, start_clock: str, end_clock: str, text: str) -> dict:
    """A timeline row for time away from home: no step was recorded then (nothing is rated)."""
    return {"type": "away", "day": day, "step": None, "clock": start_clock, "end_clock": end_clock, "text": text}


def is_away(row: dict) -> bool:
    return row.get("type") == "away"


def timeline_cells(step: dict) -> tuple:
    """day, time, activity, delivered recommendation, score, criteria, human marker."""
    if is_away(step):
        return (str(step["day"] + 1), step["clock"], Text(f"away from home: {step['text']}", style="dim italic"),
                Text(f"until {step['end_clock']} (not rated)", style="dim"), Text(""), Text(""), Text(""))
    c = delivered(step)
    rating = c["rating"]
    rec = Text(c["text"]) if is_recommendation_text(c["text"]) else Text("· no recommendation", style="dim italic")
    human = Text("👤", style="bold magenta") if rating["source"] == "human" else Text("")
    activity = Text(step["activity"]["text"], style="italic" if step["activity"].get("source") == "human" else "")
    return (str(step["day"] + 1), step["clock"], activity, rec, score_text(rating["total"]),
            criteria_text(rating["criteria"]), human)


def step_detail(step: dict) -> Text:
    """The selected step: every candidate with its rating and reason, and what the assistant recalled."""
    text = Text()
    if is_away(step):
        text.append(f"Day {step['day'] + 1} {step['clock']}-{step['end_clock']}  ", style="bold")
        text.append(f"away from home: {step['text']}\n")
        text.append("Not at home, so the assistant is not heard: no decision, no rating.", style="dim italic")
        return text
    a = step["activity"]
    text.append(f"Day {step['day'] + 1} {step['clock']}  ", style="bold")
    text.append(f"{a['text']} ({a['room'].replace('_', ' ')}, {a['object']})\n")
    for i, c in enumerate(step["candidates"]):
        r = c["rating"]
        marker = "▶ delivered" if i == step["delivered"] else "  candidate"
        text.append(f"{marker} {i + 1}: ", style="bold" if i == step["delivered"] else "dim")
        text.append(c["text"])
        if is_recommendation_text(c["text"]) and (c.get("topic") or c.get("tone")):
            text.append(f"  [{c.get('topic') or '?'}, {c.get('tone') or '?'}]", style="dim")
        text.append("\n    ")
        if r.get("failed"):
            text.append("not rated: the judge gave no valid answer", style="yellow")
        else:
            text.append_text(score_text(r["total"]))
            text.append(f"/{len(r['criteria'])}  ")
            text.append_text(criteria_text(r["criteria"]))
        if r["source"] == "human":
            text.append(" (human)", style="magenta")
        text.append(f"\n    {r['reason']}\n", style="italic")
    if step.get("retrieved"):
        text.append("Recalled similar moments:\n", style="bold")
        for memory in step["retrieved"]:
            text.append(f"  • {memory}\n", style="dim")
    return text


def floor_plan(rooms: dict, current_room: str, current_object: str = "", width: int = 42, height: int = 12) -> Text:
    """The house as boxes of box-drawing characters, the current room highlighted."""
    grid = [[" "] * width for _ in range(height)]
    styles = [[""] * width for _ in range(height)]
    for room_id, room in rooms.items():
        x, y, w, h = room.box
        style = "bold reverse green" if room_id == current_room else "blue"
        for cx in range(x, min(x + w, width)):
            for cy in (y, min(y + h, height) - 1):
                grid[cy][cx] = "─"
                styles[cy][cx] = style
        for cy in range(y, min(y + h, height)):
            for cx in (x, min(x + w, width) - 1):
                grid[cy][cx] = "│"
                styles[cy][cx] = style
        corners = ((x, y, "┌"), (min(x + w, width) - 1, y, "┐"), (x, min(y + h, height) - 1, "└"),
                   (min(x + w, width) - 1, min(y + h, height) - 1, "┘"))
        for cx, cy, ch in corners:
            grid[cy][cx] = ch
        label = room.label[: w - 3]
        for i, ch in enumerate(label):
            grid[y + 1][x + 2 + i] = ch
            styles[y + 1][x + 2 + i] = "bold green" if room_id == current_room else "bold"
        if room_id == current_room:
            for line, (label_text, label_style) in enumerate((("● here", "bold yellow"), (current_object, "yellow"))):
                for i, ch in enumerate(label_text[: w - 3]):
                    grid[y + 2 + line][x + 2 + i] = ch
                    styles[y + 2 + line][x + 2 + i] = label_style
    text = Text()
    for row, row_styles in zip(grid, styles):
        for ch, style in zip(row, row_styles):
            text.append(ch, style=style or None)
        text.append("\n")
    text.rstrip()
    return text
