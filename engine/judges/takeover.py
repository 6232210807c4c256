"""Human takeover of the judge: a wrapper around any judge.

While a rater is set, the wrapped judge rates first, then the human may replace any of
the step's ratings (by candidate index). The human sees the step as it would be
recorded, with the judge's ratings, and which candidate is delivered.
"""

from collections.abc import Awaitable, Callable, Sequence

from engine.types import Candidate, Observation, Rating, StepRecord

# Given the step as the judge rated it, returns (eventually) ratings by candidate index, or None.
HumanRater = Callable[[StepRecord], Awaitable[dict[int, Rating] | None]]


class TakeoverJudge:
    def __init__(self, inner, deliver: int):
        self.inner = inner
        self.deliver = deliver
        self.rater: HumanRater | None = None

    @property
    def kind(self) -> str:
        return self.inner.kind

    @property
    def criteria(self) -> tuple[str, ...]:
        return self.inner.criteria

    @property
    def can_fail(self) -> bool:
        return self.inner.can_fail

    async def start_day(self, day: int) -> None:
        await self.inner.start_day(day)

    async def rate(self, obs: Observation, candidates: Sequence[Candidate]) -> list[Rating]:
        ratings = await self.inner.rate(obs, candidates)
        rater = self.rater
        if rater is None:
            return ratings
        draft = StepRecord(obs.day, obs.step, obs, tuple(candidates), tuple(ratings), self.deliver)
        human = await rater(draft)
        return [human.get(i, r) for i, r in enumerate(ratings)] if human else ratings

    def record(self, obs: Observation, delivered: Candidate, rating: Rating) -> None:
        self.inner.record(obs, delivered, rating)
