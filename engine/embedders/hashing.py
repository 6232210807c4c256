"""The default embedder (`hashing`): token and bigram feature hashing; no weights, the same in every process."""

import re
import zlib

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Token and bigram feature hashing with signs, L2-normalised."""

    name = "hashing"

    def __init__(self, dim: int = 128):
        self.dim = dim
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, text: str) -> np.ndarray:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        tokens = _TOKEN.findall(text.lower())
        vector = np.zeros(self.dim, dtype=np.float32)
        for feature in tokens + [a + "_" + b for a, b in zip(tokens, tokens[1:])]:
            h = zlib.crc32(feature.encode())
            vector[h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm:
            vector /= norm
        if len(self._cache) < 50_000:  # situations repeat a lot; cap the cache for long runs
            self._cache[text] = vector
        return vector
