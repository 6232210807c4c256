"""ProPerAssistant's parts: DPO, the replay buffer, retrieval, memory, and resume."""

import asyncio
import shutil

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.compose import resume_run
from engine.embedders.hashing import HashingEmbedder
from engine.memory import Memory, MemoryEvent, MemoryLevel
from engine.retrieval import EventIndex
from engine.types import ABSTAIN, Activity, Candidate, Feedback, Observation
from tests.conftest import run_days
from training.dpo import DPOSettings, margin, train_dpo
from training.features import CONTEXT_DIM, Situation, context_vector
from training.offline_policy import NO_REC, OfflinePolicy, initial_params
from training.replay import ReplayBuffer, TrainingPair

CATALOG = load_catalog()
RNG = np.random.default_rng(0)


def situation(minute: int, tags: tuple[str, ...], gap: int | None = None) -> Situation:
    zeros = np.zeros(22)
    return Situation(context_vector(minute, False, tags, gap, 0, 0.0, 0.0), tags, minute // 240, 0,
                     zeros, np.zeros(6), zeros)


def test_dpo_increases_the_chosen_minus_rejected_margin():
    policy = OfflinePolicy(CATALOG, initial_params(True, True))
    reference = policy.params.copy()
    evening, work = situation(19 * 60, ("leisure",)), situation(10 * 60, ("work",))
    items = CATALOG.fitting(("leisure",))
    music = next(i for i, item in enumerate(items) if item.topic == "music")
    news = next(i for i, item in enumerate(items) if item.topic == "news")
    pairs = [TrainingPair(evening, music, NO_REC, 0), TrainingPair(evening, music, news, 0),
             TrainingPair(work, NO_REC, 0, 0)] * 10
    before = [margin(policy, p, policy.params, reference) for p in pairs[:3]]
    loss = train_dpo(policy, reference, pairs, DPOSettings(), np.random.default_rng(1))
    after = [margin(policy, p, policy.params, reference) for p in pairs[:3]]
    assert before == [0.0, 0.0, 0.0]
    assert all(a > 1.0 for a in after), after
    assert loss < np.log(2)  # below the loss at zero margin


def test_dpo_respects_pair_weights():
    evening = situation(19 * 60, ("leisure",))
    pair = TrainingPair(evening, 0, NO_REC, 0)
    margins = []
    for weight in (1.0, 5.0):
        policy = OfflinePolicy(CATALOG, initial_params(True, True))
        reference = policy.params.copy()
        heavy = TrainingPair(pair.situation, pair.chosen, pair.rejected, 0, weight=weight)
        train_dpo(policy, reference, [heavy], DPOSettings(learning_rate=0.01, epochs=1), np.random.default_rng(0))
        margins.append(margin(policy, heavy, policy.params, reference))
    assert margins[1] > margins[0] > 0


def test_heavier_pairs_win_a_conflict():
    """Eight pairs say recommend here, two say stay quiet: the heavier the two, the more quiet is preferred."""
    evening = situation(19 * 60, ("leisure",))
    preferred = []
    for weight in (1.0, 3.0, 20.0):
        policy = OfflinePolicy(CATALOG, initial_params(True, True))
        pairs = [TrainingPair(evening, 0, NO_REC, 0) for _ in range(8)]
        pairs += [TrainingPair(evening, NO_REC, 0, 0, weight=weight) for _ in range(2)]
        train_dpo(policy, policy.params.copy(), pairs, DPOSettings(), np.random.default_rng(0))
        quiet, speak = (policy.log_prob_and_grad(evening, a, policy.params, want_grad=False)[0] for a in (NO_REC, 0))
        preferred.append(quiet - speak)
    assert preferred[0] + 0.5 < preferred[1] < preferred[2] - 0.5


def test_replay_buffer_samples_uniformly_from_all_days():
    buffer = ReplayBuffer("uniform-200")
    blank = situation(600, ("leisure",))
    buffer.extend([TrainingPair(blank, i, NO_REC, day=i // 100) for i in range(1000)])
    counts = np.zeros(1000)
    rng = np.random.default_rng(42)
    for _ in range(500):
        batch = buffer.sample(9, rng)
        assert len(batch) == 200 and len({p.chosen for p in batch}) == 200  # without replacement
        for p in batch:
            counts[p.chosen] += 1
    # each pair is drawn with probability 0.2: 100 expected draws in 500 samples
    per_day = counts.reshape(10, 100).sum(axis=1)
    chi2 = ((per_day - 10_000) ** 2 / 10_000).sum()
    assert chi2 < 21.7  # chi-square, 9 degrees of freedom, p = 0.01
    assert counts.min() > 60 and counts.max() < 140


def test_half_today_takes_half_from_today():
    buffer = ReplayBuffer("half-today")
    blank = situation(600, ("leisure",))
    buffer.extend([TrainingPair(blank, i, NO_REC, day=i // 150) for i in range(600)])
    batch = buffer.sample(3, np.random.default_rng(0))
    assert len(batch) == 200 and sum(p.day == 3 for p in batch) == 100
    with pytest.raises(ValueError, match="unknown replay strategy"):
        ReplayBuffer("everything")


def _event(day: int, minute: int, text: str, tags: tuple[str, ...]) -> MemoryEvent:
    return MemoryEvent(day, minute * 60 // 150, minute, day % 7, text, tags)


def test_retrieval_returns_the_true_nearest_event():
    activities = [("Cooking dinner", ("cooking",)), ("Reading on the sofa", ("reading", "leisure")),
                  ("Answering emails", ("work",)), ("Watering the tomatoes", ("outdoor", "chores")),
                  ("Practising piano", ("music", "creative")), ("Morning shower", ("hygiene",))]
    index = EventIndex(HashingEmbedder(), k=3, recency_weight=0.0)
    rng = np.random.default_rng(3)
    for i in range(600):
        text, tags = activities[int(rng.integers(len(activities)))]
        index.add(_event(i // 100, int(rng.integers(6 * 60, 23 * 60)), text, tags))
    agree = 0
    for text, tags in activities:
        for minute in (7 * 60, 12 * 60 + 30, 19 * 60):
            best = index.search(2, minute, text, tags, now_day=6)[0]
            agree += best.event.activity == text
    assert agree == 18


def test_retrieval_prefers_recent_events_among_equals():
    index = EventIndex(HashingEmbedder(), k=1, recency_weight=0.1)
    index.add(_event(0, 600, "Reading on the sofa", ("reading",)))
    index.add(_event(7, 600, "Reading on the sofa", ("reading",)))
    (best,) = index.search(0, 600, "Reading on the sofa", ("reading",), now_day=8)
    assert best.event.day == 7


def _feedback(day: int, minute: int, recommend: bool, score: int = 3) -> Feedback:
    obs = Observation(day, minute * 60 // 150, minute, 0, f"{minute // 60:02d}:{minute % 60:02d}",
                      Activity("Reading", "common_room", "sofa", ("reading",)))
    rec = Candidate("books-01", "Read a chapter.", "books", "warm") if recommend else ABSTAIN
    return Feedback(obs, (ABSTAIN, rec), (4, score), ("", "fine"), 1)


def test_memory_counts_recommendations_across_hour_and_block_boundaries():
    memory = Memory(MemoryLevel.SCORES)
    recommend_at = {7 * 60 + 5, 7 * 60 + 40, 8 * 60 + 10, 11 * 60 + 50, 12 * 60 + 5}
    for minute in range(7 * 60, 13 * 60, 5):
        memory.add(_feedback(0, minute, minute in recommend_at))
    # the 07:00 hour closed the 04:00-08:00 block at 08:00; hours 08-11 closed 08:00-12:00 at 12:00
    early, block = memory.blocks
    assert (early.start_minute, early.end_minute, early.recommendations, early.steps) == (4 * 60, 8 * 60, 2, 12)
    assert (block.start_minute, block.end_minute, block.recommendations) == (8 * 60, 12 * 60, 2)
    assert memory.hours == []  # 12:00 opened a new block
    assert memory.hour.start_minute == 12 * 60 and memory.hour.recommendations == 1
    assert memory.recommendations_today(0) == 5 and memory.totals.recommendations == 5
    assert memory.minutes_since_recommendation(0, 12 * 60 + 55) == 50
    assert len(memory.recent) == 4
    memory2 = Memory(MemoryLevel.SCORES)
    for minute in range(9 * 60, 11 * 60 + 30, 5):
        memory2.add(_feedback(0, minute, minute % 60 == 0))
    assert [h.recommendations for h in memory2.hours] == [1, 1] and memory2.hour.recommendations == 1
    memory2.add(_feedback(1, 7 * 60, False))  # a new day resets today's count, not the totals
    assert memory2.recommendations_today(1) == 0 and memory2.totals.recommendations == 3
    assert "3 recommendation(s)" in memory2.blocks[-1].render()


def test_memory_levels_hold_what_they_should():
    for level, has_rec, has_score, has_reason in [(MemoryLevel.ACTIONS, False, False, False),
                                                  (MemoryLevel.RECOMMENDATIONS, True, False, False),
                                                  (MemoryLevel.SCORES, True, True, False),
                                                  (MemoryLevel.REASONS, True, True, True)]:
        event = Memory(level).add(_feedback(0, 600, True))
        assert (event.delivered is not None, event.score is not None, event.reason is not None) == \
            (has_rec, has_score, has_reason)
    assert Memory(MemoryLevel.NONE).add(_feedback(0, 600, True)) is None


def test_the_delivered_candidate_names_the_best_item_only_beside_an_exploratory_one():
    s = situation(20 * 60, ("leisure",))
    params = initial_params(True, True)
    rng = np.random.default_rng(3)
    params[CONTEXT_DIM:] = rng.normal(size=len(params) - CONTEXT_DIM)  # items of clearly different scores
    policy = OfflinePolicy(CATALOG, params)
    best = int(np.argmax(policy.distribution(s)[3]))
    delivered = [policy.sample(s, 2, rng, explore=0.5)[0][-1] for _ in range(200)]
    assert set(delivered) == {NO_REC, best}
    sampled = [policy.sample(s, 2, rng, explore=0.0)[0][-1] for _ in range(200)]  # a baseline keeps sampling
    assert len(set(sampled) - {NO_REC}) > 1


def test_the_day0_prior_holds_back_under_20_minutes_whatever_the_bins():
    w = initial_params(True, True)
    for gap, penalty in ((2, -0.75), (9, -0.75), (12, -0.35), (18, -0.35), (25, 0.0), (60, 0.0)):
        c = context_vector(600, False, (), gap, 1, 0.0, 0.0, gap, 1) - context_vector(600, False, (), None, 1, 0.0, 0.0, None, 1)
        assert float(c @ w[:CONTEXT_DIM]) == pytest.approx(2 * penalty), gap


def test_properassistant_learns_in_a_few_days():
    days = run_days("properassistant", days=5)
    silent = run_days("always-abstain", days=5)
    assert days[0].mean_score <= 2.8
    assert days[-1].mean_score > days[0].mean_score + 0.5
    assert days[-1].recs_per_hour < days[0].recs_per_hour / 2
    # learning to stay silent would pass the lines above: it must beat silence, and still speak up when wanted
    assert days[-1].mean_score > silent[-1].mean_score + 0.4
    assert days[0].normalized < 0 < 0.4 < days[-1].normalized  # 0 is always-abstain, 1 the oracle
    assert days[-1].recall >= 0.6 and days[-1].precision >= 0.5 > days[0].precision


@pytest.mark.parametrize("assistant", ["properassistant", "ars-memory"])
def test_resume_mid_run_reproduces_an_uninterrupted_run(tmp_path, assistant):
    full, cut = tmp_path / "full", tmp_path / "cut"
    run_days(assistant, days=3, run_dir=full)
    run_days(assistant, days=3, run_dir=cut)
    shutil.rmtree(cut / "checkpoints" / "day-02")
    shutil.rmtree(cut / "checkpoints" / "day-01")
    lines = (cut / "metrics.csv").read_text().splitlines(keepends=True)
    (cut / "metrics.csv").write_text("".join(lines[:2]))  # header + day 0
    sim = resume_run(cut)
    assert sim.day == 1
    asyncio.run(sim.run())
    for log in ("events.jsonl", "pairs.jsonl", "metrics.csv"):
        assert (full / log).read_bytes() == (cut / log).read_bytes(), log
    assert np.array_equal(np.load(full / "checkpoints/day-02/policy.npy"), np.load(cut / "checkpoints/day-02/policy.npy"))


def test_training_emits_progress_events():
    from engine.compose import new_run
    from engine.config import RunConfig
    from engine.events import TrainingFinished, TrainingProgress, TrainingStarted
    sim = new_run(RunConfig(persona="E+A+C+O+N-", assistant="properassistant", days=1), None)
    seen = []
    sim.subscribe(lambda e: seen.append(e) if isinstance(e, (TrainingStarted, TrainingProgress, TrainingFinished)) else None)
    asyncio.run(sim.run())
    assert isinstance(seen[0], TrainingStarted) and isinstance(seen[-1], TrainingFinished)
    progress = [e for e in seen if isinstance(e, TrainingProgress)]
    assert progress and progress[-1].done == progress[-1].total


def test_a_training_failure_stops_the_run_with_a_clear_error(tmp_path, monkeypatch):
    import training.dpo as module
    from engine.errors import RunError

    def broken(*args, **kwargs):
        raise FloatingPointError("loss is NaN")

    monkeypatch.setattr(module, "train_dpo", broken)
    with pytest.raises(RunError, match=r"training at the end of day 1 failed: FloatingPointError: loss is NaN"):
        run_days("properassistant", days=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints" / "day-00").exists()  # nothing pretends day 1 completed
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_memory_keeps_recommendations_that_name_no_topic():
    from engine.memory import UNNAMED, Memory, MemoryLevel
    from engine.types import Activity, Candidate, Feedback, Observation

    memory = Memory(MemoryLevel.REASONS)
    obs = Observation(0, 300, 750, 0, "12:30", Activity("Lunch", "kitchen", "table", ("meal",)))
    free = Candidate(None, "Take a short walk after lunch?")  # free text: no topic, no tone
    memory.add(Feedback(obs, (free, free), (3, 3), ("fine", "fine"), 1))
    assert memory.totals.by_topic == {UNNAMED: [1, 3]} and memory.recommendations_today(0) == 1
    assert any("Take a short walk" in line for line in memory.render())


def test_training_that_diverges_to_non_finite_weights_stops_the_run_before_the_day_counts(tmp_path, monkeypatch):
    import training.dpo as module
    from engine.errors import RunError

    def diverging(policy, reference, pairs, settings, rng, progress=None):
        policy.params = np.full_like(policy.params, np.nan)
        return float("nan")

    monkeypatch.setattr(module, "train_dpo", diverging)
    with pytest.raises(RunError, match=r"diverged on day 1 \(non-finite weights\)"):
        run_days("properassistant", days=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints" / "day-00").exists()  # NaN weights are never checkpointed
    assert not (tmp_path / "run" / "metrics.csv").exists()
