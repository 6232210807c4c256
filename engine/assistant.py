"""The assistant role: the interface, and the reference policies that give the score scale.

An assistant sees observations and its own feedback, never the persona. The one
exception is the oracle, the upper bound, which reads the judge on purpose and
says so with `reads_hidden_preferences`.
"""

from collections.abc import Callable
from pathlib import Path

from engine.catalog import Catalog
from engine.judge_rubric import DayHistory, RubricJudge
from engine.seeding import ROLE_ASSISTANT, rng_for
from engine.types import ABSTAIN, Candidate, Feedback, Observation, PreferencePair

Emit = Callable[[object], None]


def candidate_of(item) -> Candidate:
    return Candidate(item.id, item.text, item.topic, item.tone)


class Assistant:
    """Base class: an assistant that neither remembers nor learns."""

    name = "assistant"
    reads_hidden_preferences = False
    trains = False

    def __init__(self, catalog: Catalog, seed: int):
        self.catalog = catalog
        self.seed = seed
        self.rng = rng_for(seed, ROLE_ASSISTANT, 0)
        self.last_retrieved: tuple[str, ...] = ()

    def start_day(self, day: int) -> None:
        self.rng = rng_for(self.seed, ROLE_ASSISTANT, day)

    async def propose(self, obs: Observation, n: int) -> list[Candidate]:
        raise NotImplementedError

    def observe(self, feedback: Feedback) -> None:
        """Told after every step what was delivered and how its candidates scored."""

    async def end_day(self, day: int, pairs: list[PreferencePair], emit: Emit) -> None:
        """Called at each day boundary with the day's preference pairs."""

    def save(self, folder: Path) -> None:
        """Write whatever the assistant needs to resume after `folder`'s day."""

    def load(self, folder: Path) -> None:
        """Restore what save() wrote."""


class AlwaysAbstain(Assistant):
    name = "always-abstain"

    async def propose(self, obs: Observation, n: int) -> list[Candidate]:
        return [ABSTAIN] * n


class RandomRate(Assistant):
    """Recommends a random fitting item with a fixed probability per step (persona-agnostic)."""

    name = "random"

    def __init__(self, catalog: Catalog, seed: int, rate: float = 0.03):
        super().__init__(catalog, seed)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within 0-1, got {rate}")
        self.rate = rate

    async def propose(self, obs: Observation, n: int) -> list[Candidate]:
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


class Oracle(Assistant):
    """The upper bound: asks the (noise-free) judge which candidate would score best."""

    name = "oracle"
    reads_hidden_preferences = True

    def __init__(self, catalog: Catalog, seed: int, judge: RubricJudge):
        super().__init__(catalog, seed)
        self._judge = judge
        self._history = DayHistory()

    def start_day(self, day: int) -> None:
        super().start_day(day)
        self._history = DayHistory()

    async def propose(self, obs: Observation, n: int) -> list[Candidate]:
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
