"""One place that turns (run seed, role, day, ...) into an independent random stream."""

import zlib

import numpy as np

ROLE_USER, ROLE_JUDGE, ROLE_ASSISTANT, ROLE_TRAINING = 1, 2, 3, 4


def stable_hash(text: str) -> int:
    """A hash that, unlike hash(), is the same in every process."""
    return zlib.crc32(text.encode("utf-8"))


def rng_for(seed: int, role: int, day: int, *extra: int) -> np.random.Generator:
    return np.random.default_rng([seed, role, day, *extra])
