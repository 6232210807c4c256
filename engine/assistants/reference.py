"""The reference policies that give the score scale: silence, spam, chance and the oracle.

None of them reads feedback. The oracle, the upper bound, reads the rubric judge on
purpose and says so with `reads_hidden_preferences`.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from engine.assistants.base import BaseAssistant, candidate_of
from engine.catalog import Catalog
from engine.judges.rubric import DayHistory, RubricJudge
from engine.types import ABSTAIN, Candidate, Feedback, Observation


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
    """The upper bound: asks the (noise-free) judge which candidate would score best."""

    name = "oracle"
    reads_hidden_preferences = True

    def __init__(self, catalog: Catalog, seed: int, judge: RubricJudge):
        super().__init__(catalog, seed)
        self._judge = judge
        self._history = DayHistory()

    @classmethod
    def build(cls, ctx, options) -> "Oracle":
        return cls(ctx.catalog, ctx.assistant_seed, ctx.judge)

    def start_day(self, day: int) -> None:
        super().start_day(day)
        self._history = DayHistory()

    def choose(self, obs: Observation, n: int) -> list[Candidate]:
        best, best_score = ABSTAIN, self._judge.rate_now(obs, ABSTAIN, self._history, noisy=False).total
        if self._judge.wants(obs, self._history):
            recent = self._history.recent_topics
            for item in self.catalog.fitting(obs.activity.tags):
                candidate = candidate_of(item)
                score = self._judge.rate_now(obs, candidate, self._history, noisy=False).total
                # prefer the higher score, then a topic not heard lately (variety)
                if score > best_score or (score == best_score and best.is_recommendation
                                          and best.topic in recent and candidate.topic not in recent):
                    best, best_score = candidate, score
        return [best] * n

    def observe(self, feedback: Feedback) -> None:
        # the oracle knows what it delivered was rated as it predicted (noise aside)
        obs, delivered = feedback.observation, feedback.candidates[feedback.delivered]
        self._history.see(obs, delivered, self._judge.rate_now(obs, delivered, self._history, noisy=False))


def build_always_abstain(ctx, options) -> AlwaysAbstain:
    return AlwaysAbstain(ctx.catalog, ctx.assistant_seed)
