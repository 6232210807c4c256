"""Human ratings replace the judge's, are recorded as such, and feed the next training round."""

import asyncio
import json

from engine.compose import new_run
from engine.config import RunConfig
from engine.types import Rating
from tests.conftest import REFERENCE_PERSONA
from training.feedback import export_human_pairs


def _human_run(tmp_path, weight: float = 3.0):
    config = RunConfig(persona=REFERENCE_PERSONA, assistant="properassistant", days=1, human_weight=weight)
    sim = new_run(config, tmp_path / "run", takeover=True)
    rated = []

    async def human(record):
        if record.delivered_candidate.is_recommendation and len(rated) < 20:
            rating = Rating(dict.fromkeys(sim.criteria, False), "not now, thanks", source="human")
            rated.append(record.step)
            return {record.delivered: rating}
        return None

    sim.set_rater(human)
    return sim, rated


def test_human_ratings_are_recorded_and_become_weighted_pairs(tmp_path):
    sim, rated = _human_run(tmp_path)
    samples = []
    original = sim.assistant.replay.sample
    sim.assistant.replay.sample = lambda today, rng: samples.append(original(today, rng)) or samples[-1]
    asyncio.run(sim.run())
    steps = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    human_steps = [s for s in steps if s["candidates"][s["delivered"]]["rating"]["source"] == "human"]
    assert [s["step"] for s in human_steps] == rated and len(rated) == 20
    assert all(s["candidates"][s["delivered"]]["rating"]["total"] == 0 for s in human_steps)
    pairs = [json.loads(line) for line in (tmp_path / "run" / "pairs.jsonl").read_text().splitlines()]
    human_pairs = [p for p in pairs if p["source"] == "human"]
    assert human_pairs and all(p["weight"] == 3.0 and p["rejected_score"] == 0 for p in human_pairs)
    # the next training round's input holds every human pair, with its weight
    (batch,) = samples
    trained = [p for p in batch if p.source == "human"]
    assert len(trained) == len(human_pairs) and all(p.weight == 3.0 for p in trained)
    out = tmp_path / "feedback.jsonl"
    assert export_human_pairs(tmp_path / "run", out) == len(human_pairs)
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert all({"prompt", "chosen", "rejected"} <= set(p) for p in exported)


def _human_margin(policy, pairs, params) -> float:
    """Mean log-probability margin of what the human preferred over what they rejected, under `params`."""
    return sum(policy.log_prob_and_grad(p.situation, p.chosen, params, want_grad=False)[0]
               - policy.log_prob_and_grad(p.situation, p.rejected, params, want_grad=False)[0]
               for p in pairs) / len(pairs)


def test_human_pairs_move_training_toward_what_the_human_preferred(tmp_path):
    """Whatever their weight, the human's pairs reach the day's training and move the policy toward what the
    human preferred (same day, same pairs). Here nothing contradicts them, so both weights learn them fully;
    how the weight settles a conflict is test_learning's test_heavier_pairs_win_a_conflict."""
    margins, before = {}, set()
    for weight in (1.0, 20.0):
        sim, _ = _human_run(tmp_path / str(weight), weight)
        asyncio.run(sim.run())
        policy = sim.assistant.policy
        human = [p for p in sim.assistant.replay.pairs if p.source == "human"]
        assert len(human) >= 10 and all(p.weight == weight for p in human)
        margins[weight] = _human_margin(policy, human, policy.params)
        before.add(round(_human_margin(policy, human, policy.reference), 9))
    (untrained,) = before  # both runs saw the same human pairs from the same starting policy
    assert untrained + 5 < min(margins.values())
