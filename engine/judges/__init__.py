"""The judge role: rates every candidate of a step on the persona's rubric.

A judge owns its memory of the day (what was delivered and how it landed): the loop
tells it the delivered outcome with `record`, after any human override. It rates all
candidates of a step in one call, so an LLM judge may batch or gather its requests.
A rating may be *failed* (no valid judgment): see engine.types.Rating.

Implementations: `rubric` (offline, engine/judges/rubric.py); `takeover`
(engine/judges/takeover.py) wraps any judge for a human rater.
"""

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from engine.registry import Entry, Registry
from engine.types import Candidate, Observation, Rating


@runtime_checkable
class Judge(Protocol):
    kind: str
    criteria: tuple[str, ...]
    can_fail: bool  # whether a rating may be failed (a model judge): metrics then count failures

    async def start_day(self, day: int) -> None:
        """Forget the previous day (the reference judge's memory is reset each day)."""

    async def rate(self, obs: Observation, candidates: Sequence[Candidate]) -> list[Rating]:
        """One rating per candidate, in order; keys of each are exactly `criteria` unless failed."""

    def record(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        """The candidate actually delivered and its final rating enter the judge's memory."""


JUDGES = Registry("judge", [
    Entry("rubric", "engine.judges.rubric:build", "offline: rules over the persona's structured preferences"),
    Entry("llm", "engine.judges.llm:build", "a model, as the persona, rates by its first-person rubric",
          "engine.judges.llm:LLMJudgeOptions", flags=frozenset({"needs-backend"})),
])
