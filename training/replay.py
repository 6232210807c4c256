"""The replay buffer: every preference pair so far, and the strategies that sample a day's training set."""

from dataclasses import dataclass

import numpy as np

from training.features import Situation

STRATEGIES = ("uniform-200", "uniform-400", "half-today")


@dataclass(slots=True)
class TrainingPair:
    situation: Situation
    chosen: int  # action index (NO_REC or item position)
    rejected: int
    day: int
    weight: float = 1.0
    source: str = "simulated"


class ReplayBuffer:
    """Pairs of any kind with `.day`, `.source` and `.weight` (TrainingPair, training.llm ChatPair).
    `size` overrides the strategy's 200 (or 400) pairs a day."""

    def __init__(self, strategy: str = "uniform-200", size: int | None = None):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown replay strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self.size = size or (400 if strategy == "uniform-400" else 200)
        self.pairs: list = []

    def __len__(self) -> int:
        return len(self.pairs)

    def extend(self, pairs: list[TrainingPair]) -> None:
        self.pairs.extend(pairs)

    def sample(self, today: int, rng: np.random.Generator) -> list[TrainingPair]:
        """The day's training set, drawn without replacement.

        Today's human-labelled pairs are scarce and deliberate, so they are always in it
        (with their weight); the rest of the set is drawn by the strategy.
        """
        human = [p for p in self.pairs if p.day == today and p.source == "human"]
        if human:
            rest = ReplayBuffer(self.strategy, self.size)
            rest.pairs = [p for p in self.pairs if not (p.day == today and p.source == "human")]
            return human[:self.size] + rest.sample(today, rng)[: max(0, self.size - len(human))]
        if self.strategy == "half-today":
            fresh = [p for p in self.pairs if p.day == today]
            older = [p for p in self.pairs if p.day != today]
            take_fresh = min(len(fresh), max(self.size // 2, self.size - len(older)))
            take_older = min(len(older), self.size - take_fresh)
            return _draw(fresh, take_fresh, rng) + _draw(older, take_older, rng)
        return _draw(self.pairs, self.size, rng)


def _draw(pool: list, size: int, rng: np.random.Generator) -> list:
    if size >= len(pool):
        return list(pool)
    return [pool[i] for i in sorted(rng.choice(len(pool), size=size, replace=False))]
