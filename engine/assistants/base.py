"""The shared base of the built-in assistants: a per-day random stream and no-op learning."""

from pathlib import Path

from engine.assistants import Emit
from engine.catalog import Catalog
from engine.seeding import ROLE_ASSISTANT, rng_for
from engine.types import Candidate, Feedback, Observation, PreferencePair, Proposal


def candidate_of(item) -> Candidate:
    return Candidate(item.id, item.text, item.topic, item.tone)


class BaseAssistant:
    """An assistant that neither remembers nor learns; subclasses choose the candidates."""

    name = "assistant"
    reads_hidden_preferences = False
    trains = False

    def __init__(self, catalog: Catalog, seed: int):
        self.catalog = catalog
        self.seed = seed
        self.rng = rng_for(seed, ROLE_ASSISTANT, 0)

    def start_day(self, day: int) -> None:
        self.rng = rng_for(self.seed, ROLE_ASSISTANT, day)

    async def propose(self, obs: Observation, n: int) -> Proposal:
        return Proposal(tuple(self.choose(obs, n)), obs.render())

    def choose(self, obs: Observation, n: int) -> list[Candidate]:
        raise NotImplementedError

    def observe(self, feedback: Feedback) -> None:
        pass

    async def end_day(self, day: int, pairs: list[PreferencePair], emit: Emit) -> None:
        pass

    def save(self, folder: Path) -> None:
        """Write the state a resume needs into `folder` (the store seals it afterwards)."""

    def load(self, folder: Path) -> None:
        """Restore from a folder `save` wrote. All or nothing: if it raises (engine.checkpoint.CheckpointError
        for a checkpoint that fails a check), the assistant is left as it was and resume goes back a day."""
