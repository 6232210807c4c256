"""The embedder role: text -> unit vector, for retrieving similar moments from memory.

Implementations: `hashing` (engine/embedders/hashing.py, the default, no weights) and
`minilm` (engine/embedders/minilm.py, the [embed] extra).
"""

from typing import Protocol, runtime_checkable

import numpy as np

from engine.registry import Entry, Registry


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


def make_embedder(name: str) -> Embedder:
    return EMBEDDERS.get(name).factory()()
