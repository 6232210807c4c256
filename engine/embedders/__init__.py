"""The embedder role: text -> unit vector, for retrieving similar moments from memory.

Implementations: `hashing` (engine/embedders/hashing.py, the default, no weights) and
`minilm` (engine/embedders/minilm.py, the [embed] extra).
"""

from typing import Annotated, Protocol, runtime_checkable

import numpy as np
from pydantic import AfterValidator

from engine.registry import Entry, Registry, missing_extra


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, text: str) -> np.ndarray:
        """An L2-normalised float32 vector of length `dim`; the same text gives the same vector."""


EMBEDDERS = Registry("embedder", [
    Entry("hashing", "engine.embedders.hashing:HashingEmbedder", "token and bigram feature hashing (no weights)"),
    Entry("minilm", "engine.embedders.minilm:SentenceEmbedder", "all-MiniLM-L6-v2 sentence embeddings, offline",
          extra="embed"),
])


def check_embedder(name: str) -> str:
    """An embedder option: a registered name whose extra is installed."""
    if name not in EMBEDDERS:
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(EMBEDDERS.names())}")
    hint = missing_extra(EMBEDDERS.get(name).extra)
    if hint:
        raise ValueError(f"the {name} embedder {hint}")
    return name


EmbedderName = Annotated[str, AfterValidator(check_embedder)]


def make_embedder(name: str) -> Embedder:
    return EMBEDDERS.get(name).factory()()
