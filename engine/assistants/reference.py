"""The reference policies that give the score scale: silence, spam, chance and the oracle.

None of them reads feedback. The oracle, the upper bound, reads the rubric judge on
purpose and says so with `reads_hidden_preferences`.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from engine.assistants.base import BaseAssistant, candidate_of
from engine.catalog import Catalog
from engine.judges.day_plan import DayPlanner
from engine.judges.rubric import RubricJudge
from engine.types import ABSTAIN, Candidate, Feedback, Observation
from engine.wanted import planned_observations


class AlwaysAbstain(BaseAssistant):
    name = "always-abstain"

    def choose(self, obs: Observation, n: int) -> list[Candidate]:
        return [ABSTAIN] * n


class RandomOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.03  # chance per step and candidate


class RandomRate(BaseAssistant):
    """Recommends a random fitting item with a fixed probability per step (persona-agnostic)."""

    name = "random"

    def __init__(self, catalog: Catalog, seed: int, rate: float = 0.03):
        super().__init__(catalog, seed)
        self.rate = rate

    @classmethod
    def build(cls, ctx, options: RandomOptions) -> "RandomRate":
        return cls(ctx.catalog, ctx.assistant_seed, options.rate)

    def choose(self, obs: Observation, n: int) -> list[Candidate]:
        items = self.catalog.fitting(obs.activity.tags)
        out = []
        for _ in range(n):
            if items and self.rng.random() < self.rate:
                out.append(candidate_of(items[int(self.rng.integers(len(items)))]))
            else:
                out.append(ABSTAIN)
        return out


class EveryStep(RandomRate):
    """Recommends at every step: a random catalog item that fits the activity."""

    name = "every-step"

    def __init__(self, catalog: Catalog, seed: int):
        super().__init__(catalog, seed, rate=1.0)

    @classmethod
    def build(cls, ctx, options) -> "EveryStep":
        return cls(ctx.catalog, ctx.assistant_seed)


class Oracle(BaseAssistant):
    """The upper bound: plans the day over the user's known plan with the (noise-free) judge."""

    name = "oracle"
    reads_hidden_preferences = True

    def __init__(self, catalog: Catalog, seed: int, judge: RubricJudge, user=None):
        super().__init__(catalog, seed)
        self._judge = judge
        self._user = user  # the routine user's day plan is known to the oracle (greedy without one)
        self._planner: DayPlanner | None = None  # made at each day's first step
        self._day = 0

    @classmethod
    def build(cls, ctx, options) -> "Oracle":
        return cls(ctx.catalog, ctx.assistant_seed, ctx.judge, ctx.user)

    def start_day(self, day: int) -> None:
        super().start_day(day)
        self._day = day
        self._planner = None  # planned at the first step: the user plans its day before the assistant starts

    def choose(self, obs: Observation, n: int) -> list[Candidate]:
        if self._planner is None:
            plan = getattr(self._user, "day_plan", lambda: None)()
            known = planned_observations(plan, self._judge.clock, obs.day) if plan is not None else []
            self._planner = DayPlanner(self._judge, known)
        return [self._planner.choose(obs)] * n

    def observe(self, feedback: Feedback) -> None:
        self._planner.see(feedback.observation, feedback.candidates[feedback.delivered])


def build_always_abstain(ctx, options) -> AlwaysAbstain:
    return AlwaysAbstain(ctx.catalog, ctx.assistant_seed)
