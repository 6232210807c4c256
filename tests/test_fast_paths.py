"""The hot loop's fast paths give exactly what the plain ones they replace gave: the learner's numbers
bit for bit (a difference in the last bit could change a sampled action, and with it a run's recorded
bytes), and the run store's lines byte for byte."""

import asyncio
import json

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.compose import new_run
from engine.config import RunConfig
from engine.events import StepRecorded
from engine.types import ABSTAIN, Activity, Candidate, Observation, Rating, StepRecord, failed_rating
from engine.vocab import ACTIVITY_TAGS, TONES, TOPICS
from training.dpo import DPOSettings, train_dpo
from training.features import (
    I_MEM_TONE,
    I_MEM_TOPIC,
    I_RETRIEVED_TOPIC,
    I_SAID,
    Situation,
    _static_item_features,
    context_vector,
    item_features,
)
from training.offline_policy import FROZEN, NO_REC, OfflinePolicy, initial_params
from training.replay import TrainingPair

CATALOG = load_catalog()


def random_situations(rng: np.random.Generator, n: int) -> list[Situation]:
    tags_pool = [t for t in ACTIVITY_TAGS if t != "sleep"]
    out = []
    for _ in range(n):
        tags = tuple(sorted(set(rng.choice(tags_pool, size=int(rng.integers(1, 3))).tolist())))
        minute = int(rng.integers(6 * 60, 23 * 60))
        items = CATALOG.fitting(tags)
        said = frozenset(i.id for i in items if rng.random() < 0.2)
        out.append(Situation(context_vector(minute, bool(rng.integers(2)), tags, int(rng.integers(0, 200)),
                                            int(rng.integers(0, 12)), rng.normal(), rng.normal()),
                             tags, minute // 240, int(rng.integers(2)), rng.normal(size=len(TOPICS)),
                             rng.normal(size=len(TONES)), rng.normal(size=len(TOPICS)), said))
    return out


def fresh_item_features(s: Situation) -> np.ndarray:
    """The feature matrix as it was built before the reused buffer: a copy of the static part each call."""
    items, static, topics, tones, _ = _static_item_features(CATALOG, frozenset(s.tags), s.block, s.weekend)
    phi = static.copy()
    phi[:, I_MEM_TOPIC] = s.mem_topic[topics]
    phi[:, I_MEM_TONE] = s.mem_tone[tones]
    phi[:, I_RETRIEVED_TOPIC] = s.retrieved_topic[topics]
    if s.said:
        phi[:, I_SAID] = [item.id in s.said for item in items]
    return phi


def test_reused_feature_matrix_equals_a_fresh_one_call_after_call():
    rng = np.random.default_rng(5)
    situations = random_situations(rng, 60)
    for s in situations + situations[::-1]:  # the same kinds again, with and without `said`, in another order
        items, phi = item_features(CATALOG, s)
        assert items == CATALOG.fitting(tuple(sorted(s.tags)))
        assert np.array_equal(phi, fresh_item_features(s))
        assert not phi.flags.writeable


def test_one_distribution_per_pair_gives_the_log_probs_and_grad_difference_of_two_calls():
    rng = np.random.default_rng(6)
    policy = OfflinePolicy(CATALOG, initial_params(True, True) + rng.normal(scale=0.3, size=initial_params(True, True).shape))
    for s in random_situations(rng, 40):
        n = len(CATALOG.fitting(tuple(sorted(s.tags))))
        chosen, rejected = int(rng.integers(n)), NO_REC
        for a, b in ((chosen, rejected), (rejected, chosen), (chosen, (chosen + 1) % n)):
            lw, ll = policy.pair_log_probs(s, a, b, policy.params)
            (lw2, gw), (ll2, gl) = policy.log_prob_and_grad(s, a, policy.params), policy.log_prob_and_grad(s, b, policy.params)
            assert (lw, ll) == (lw2, ll2)
            lw3, ll3, difference = policy.pair_log_probs_and_grad_difference(s, a, b, policy.params)
            assert (lw3, ll3) == (lw, ll) and difference.tobytes() == (gw - gl).tobytes()  # signed zeros too


def reference_train_dpo(policy, ref, pairs, settings, rng, progress):
    """training/dpo.py's loop as it was: four distributions per pair, progress after every batch."""
    params = policy.params.copy()
    m, v = np.zeros_like(params), np.zeros_like(params)
    b1, b2, eps = 0.9, 0.999, 1e-8
    ref_logps = [policy.log_prob_and_grad(p.situation, p.chosen, ref, want_grad=False)[0]
                 - policy.log_prob_and_grad(p.situation, p.rejected, ref, want_grad=False)[0] for p in pairs]
    total = settings.epochs * ((len(pairs) + settings.batch_size - 1) // settings.batch_size)
    done, t = 0, 0
    for _ in range(settings.epochs):
        order, losses = rng.permutation(len(pairs)), []
        for start in range(0, len(order), settings.batch_size):
            grad, batch = np.zeros_like(params), order[start:start + settings.batch_size]
            for i in batch:
                pair = pairs[i]
                lw, gw = policy.log_prob_and_grad(pair.situation, pair.chosen, params)
                ll, gl = policy.log_prob_and_grad(pair.situation, pair.rejected, params)
                x = settings.beta * ((lw - ll) - ref_logps[i])
                losses.append(pair.weight * float(np.logaddexp(0.0, -x)))
                grad -= pair.weight * (1.0 / (1.0 + np.exp(x))) * settings.beta * (gw - gl)
            grad /= len(batch)
            grad[FROZEN] = 0.0
            t += 1
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            params -= settings.learning_rate * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            done += 1
            progress(done, total, float(np.mean(losses)))
    policy.params = params
    return float(np.mean(losses))


def test_dpo_gives_the_weights_and_losses_of_the_plain_loop_and_reports_progress_about_20_times():
    rng = np.random.default_rng(7)
    pairs = []
    for s in random_situations(rng, 100):
        n = len(CATALOG.fitting(tuple(sorted(s.tags))))
        a = int(rng.integers(n))
        chosen, rejected = (a, NO_REC) if rng.random() < 0.5 else (NO_REC, a)
        pairs.append(TrainingPair(s, chosen, rejected, 0, float(rng.choice([0.5, 1.0, 1.3]))))
    settings = DPOSettings()
    fast, plain = OfflinePolicy(CATALOG, initial_params(True, True)), OfflinePolicy(CATALOG, initial_params(True, True))
    fast_reports, plain_reports = [], []
    loss = train_dpo(fast, fast.reference, pairs, settings, np.random.default_rng(1),
                     lambda *r: fast_reports.append(r))
    plain_loss = reference_train_dpo(plain, plain.reference, pairs, settings, np.random.default_rng(1),
                                     lambda *r: plain_reports.append(r))
    assert np.array_equal(fast.params, plain.params) and loss == plain_loss
    total = plain_reports[-1][1]
    assert len(plain_reports) == total == 50
    assert 2 <= len(fast_reports) <= 22
    assert fast_reports[0] == plain_reports[0] and fast_reports[-1] == plain_reports[-1]  # first and last kept
    assert set(fast_reports) <= set(plain_reports)  # each report is the one the plain loop made at that batch


def test_step_lines_are_the_json_dumps_of_the_records():
    sim = new_run(RunConfig(persona="E-A+C-O+N-", assistant="ars-memory", days=1), None)
    records = []
    sim.subscribe(lambda e: records.append(e.record) if isinstance(e, StepRecorded) else None)
    asyncio.run(sim.run())
    obs = Observation(0, 7, 450, 2, "07:30", Activity("Café au lait \u2615 \"quoted\"", "kitchen", "mug", (), "human"))
    odd = [  # a human's free text, a failed rating, a free-text candidate, 1 where a judge should say True
        StepRecord(0, 7, obs, (ABSTAIN, Candidate(None, "Try the \u00e9clair", None, "warm")),
                   (Rating({"timing": True}, "ok", source="human"), failed_rating("timeout")), 1, ("a\nb",)),
        StepRecord(0, 8, obs, (ABSTAIN,), (Rating({"timing": 1}, "ok"),), 0),
        StepRecord(0, 9, obs, (ABSTAIN,), (Rating({"timing": True}, "ok"),), 0),
        StepRecord(0, 10, Observation(0, 10, 25, 0, "00:25", Activity("x", "kitchen", "mug", ["listed"])),  # unhashable
                   (ABSTAIN,), (Rating({"timing": True}, "ok"),), 0),
    ]
    for record in records + odd + odd:  # twice: from the fragments cached the first time
        assert record.to_json_line() == json.dumps(record.to_json(), sort_keys=True)
    assert len(records) > 300



def test_memoized_item_choice_is_the_fresh_distribution_and_forgets_replaced_weights():
    rng = np.random.default_rng(8)
    policy = OfflinePolicy(CATALOG, initial_params(True, True))
    situations = random_situations(rng, 30)
    for params in (policy.params, policy.params + rng.normal(scale=0.3, size=policy.params.shape)):
        policy.params = params
        for s in situations + situations:  # the second time from the memo
            log_p, cumulative, best = policy.item_choice(s)
            fresh = policy.distribution(s)[3]
            assert np.array_equal(log_p, fresh) and np.array_equal(cumulative, np.cumsum(np.exp(fresh)))
            assert best == int(np.argmax(fresh))
    with pytest.raises(ValueError):  # weights are replaced, never changed in place: the memo relies on it
        policy.params[0] += 1.0


def test_reference_log_ratio_is_computed_once_and_equals_the_direct_one():
    rng = np.random.default_rng(9)
    policy = OfflinePolicy(CATALOG, initial_params(True, True))
    for s in random_situations(rng, 20):
        a = int(rng.integers(len(CATALOG.fitting(s.tags))))
        rw, rl = policy.pair_log_probs(s, a, NO_REC, policy.reference)
        assert policy.reference_log_ratio(s, a, NO_REC) == rw - rl == policy.reference_log_ratio(s, a, NO_REC)


def test_fewer_collections_while_any_run_is_inside_and_the_old_thresholds_after_the_last():
    import gc

    from engine.gc_tuning import HOT_LOOP_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold() == HOT_LOOP_THRESHOLD
    first.__exit__(None, None, None)  # the first to enter leaves first: the other is still running
    assert gc.get_threshold() == HOT_LOOP_THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
