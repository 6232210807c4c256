"""Direct Preference Optimization for the offline policy, in numpy.

loss = -w * log sigmoid(beta * [(log pi(y+) - log ref(y+)) - (log pi(y-) - log ref(y-))])
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.offline_policy import FROZEN, OfflinePolicy
from training.replay import TrainingPair


@dataclass(frozen=True)
class DPOSettings:
    beta: float = 0.3
    epochs: int = 2
    batch_size: int = 4
    learning_rate: float = 0.03


PROGRESS_REPORTS = 20  # progress callbacks per training run, about (plus the first and the last)


def margin(policy: OfflinePolicy, pair: TrainingPair, params: np.ndarray, ref: np.ndarray) -> float:
    """The implicit reward margin beta would multiply: chosen minus rejected log-ratio."""
    lw, ll = policy.pair_log_probs(pair.situation, pair.chosen, pair.rejected, params)
    rw, rl = policy.pair_log_probs(pair.situation, pair.chosen, pair.rejected, ref)
    return (lw - rw) - (ll - rl)


def _ref_log_ratio(policy: OfflinePolicy, pair: TrainingPair, ref: np.ndarray) -> float:
    rw, rl = policy.pair_log_probs(pair.situation, pair.chosen, pair.rejected, ref)
    return rw - rl


def _reported(done: int, total: int, every: int) -> bool:
    """Progress is reported for the first batch, the last, and every `every`-th: each report hops to
    the event loop, and hundreds a day cost more than the training itself."""
    return done == 1 or done == total or done % every == 0


def train_dpo(policy: OfflinePolicy, ref: np.ndarray, pairs: list[TrainingPair], settings: DPOSettings,
              rng: np.random.Generator, progress: Callable[[int, int, float], None] | None = None) -> float:
    """Train policy.params with Adam (on a copy, then replaced); returns the mean loss of the last epoch."""
    if not pairs:
        raise ValueError("no preference pairs to train on")
    params = policy.params.copy()
    m, v = np.zeros_like(params), np.zeros_like(params)
    b1, b2, eps = 0.9, 0.999, 1e-8
    ref_logps = [policy.reference_log_ratio(p.situation, p.chosen, p.rejected) if ref is policy.reference
                 else _ref_log_ratio(policy, p, ref) for p in pairs]
    total_batches = settings.epochs * ((len(pairs) + settings.batch_size - 1) // settings.batch_size)
    every = max(1, -(-total_batches // PROGRESS_REPORTS))
    done, t, epoch_loss = 0, 0, 0.0
    for _ in range(settings.epochs):
        order = rng.permutation(len(pairs))
        losses = []
        for start in range(0, len(order), settings.batch_size):
            grad = np.zeros_like(params)
            batch = order[start:start + settings.batch_size]
            for i in batch:
                pair = pairs[i]
                lw, ll, difference = policy.pair_log_probs_and_grad_difference(
                    pair.situation, pair.chosen, pair.rejected, params)
                x = settings.beta * ((lw - ll) - ref_logps[i])
                losses.append(pair.weight * float(np.logaddexp(0.0, -x)))
                # d/dparams of -log sigmoid(x) = -(1 - sigmoid(x)) * dx/dparams
                grad -= pair.weight * (1.0 / (1.0 + np.exp(x))) * settings.beta * difference
            grad /= len(batch)
            grad[FROZEN] = 0.0
            t += 1
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            params -= settings.learning_rate * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            done += 1
            if progress is not None and _reported(done, total_batches, every):
                progress(done, total_batches, float(np.mean(losses)))
        epoch_loss = float(np.mean(losses))
    policy.params = params
    return epoch_loss
