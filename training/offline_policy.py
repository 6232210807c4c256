"""The offline policy: log-linear over {No Recommendation} and the catalog items that fit.

    P(recommend) = sigmoid(w_z . c)         P(item i | recommend) = softmax_i(w_i . phi_i)

log-probabilities and their gradients are exact, so DPO trains it directly.
"""

import numpy as np

from engine.catalog import Catalog
from training.features import (
    C_BIAS,
    C_GAP,
    C_GOOD_GAP,
    C_RETRIEVED,
    CONTEXT_DIM,
    GAP_EDGES,
    I_MEM_TONE,
    I_MEM_TOPIC,
    I_RETRIEVED_TOPIC,
    I_SAID,
    ITEM_DIM,
    Situation,
    item_features,
)

NO_REC = -1  # action index of No Recommendation; items are positions in the fitting list
PARAM_DIM = CONTEXT_DIM + ITEM_DIM
# Weights DPO leaves at the day-0 prior: the recommend bias is shared by every situation, so one day of
# chatter would teach "be quiet" everywhere (the assistant fell silent on day 2 in half the runs); frozen,
# the lesson goes to what tells situations apart (time, activity, gaps, counts, memories).
FROZEN = np.array([C_BIAS])


def initial_params(uses_memory: bool, in_context: bool, recommend_rate: float = 0.8,
                   in_context_scale: float = 0.5, gap_prior: float = 0.5) -> np.ndarray:
    """The day-0 policy: like an untrained LLM, it recommends often and ignores timing.

    With memory it has the common sense not to repeat itself within minutes; with
    scores in memory (in_context) remembered and retrieved scores shift its choices.
    """
    w = np.zeros(PARAM_DIM)
    w[C_BIAS] = np.log(recommend_rate / (1 - recommend_rate))
    under_10, under_20 = np.array(_gap_bins(0, 10)), np.array(_gap_bins(10, 20))
    if uses_memory:
        w[C_GAP + under_10] = -1.5 * gap_prior  # under 10 minutes since the last recommendation
        w[C_GAP + under_20] = -0.7 * gap_prior  # under 20
        w[CONTEXT_DIM + I_SAID] = -2.0  # it doesn't repeat an item it just suggested
    if in_context:
        w[C_GOOD_GAP + under_10] = -1.5 * gap_prior  # right after one that landed: let it sink in
        w[C_GOOD_GAP + under_20] = -0.7 * gap_prior
        w[C_RETRIEVED] = 0.7 * in_context_scale  # similar moments where recommending scored well
        w[C_RETRIEVED + 1] = -0.7 * in_context_scale  # similar moments where silence scored well
        w[CONTEXT_DIM + I_MEM_TOPIC] = 1.0 * in_context_scale
        w[CONTEXT_DIM + I_MEM_TONE] = 0.7 * in_context_scale
        w[CONTEXT_DIM + I_RETRIEVED_TOPIC] = 0.5 * in_context_scale
    return w


def _gap_bins(start: int, end: int) -> list[int]:
    """Offsets, within a gap block of the context, of the bins covering [start, end) minutes."""
    edges = (0, *GAP_EDGES)
    return [1 + i for i in range(len(GAP_EDGES)) if start <= edges[i] and edges[i + 1] <= end]


def _log_sigmoid(x: float) -> float:
    return -np.logaddexp(0.0, -x)


def _sigmoid(z: float) -> float:
    """P(recommend) for the logit z."""
    return 1.0 / (1.0 + np.exp(-z))


class OfflinePolicy:
    """The offline implementation of engine.assistants.Policy."""

    def __init__(self, catalog: Catalog, params: np.ndarray, reference: np.ndarray | None = None):
        self.catalog = catalog
        self._item_choices: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # see item_choice
        self.params = params
        self.reference = params.copy() if reference is None else reference  # DPO's frozen reference
        # (id(situation), chosen, rejected) -> (the situation, its log ratio under the reference)
        self._reference_ratios: dict[tuple[int, int, int], tuple[Situation, float]] = {}

    @property
    def params(self) -> np.ndarray:
        return self._params

    @params.setter
    def params(self, params: np.ndarray) -> None:
        """Weights are replaced, never changed in place (read-only), so what was computed from them stays valid."""
        params = np.asarray(params)
        params.setflags(write=False)
        self._params = params
        self._item_choices.clear()

    def train(self, pairs: list, settings, rng: np.random.Generator, progress=None) -> float:
        from training.dpo import train_dpo  # dpo imports this module

        return train_dpo(self, self.reference, pairs, settings, rng, progress)

    def distribution(self, s: Situation, params: np.ndarray | None = None) -> tuple[float, tuple, np.ndarray, np.ndarray]:
        """(z, items, phi, log-softmax over items) for a situation."""
        w = self.params if params is None else params
        z = float(s.context @ w[:CONTEXT_DIM])
        items, phi = item_features(self.catalog, s)
        scores = phi @ w[CONTEXT_DIM:]
        log_p = scores - np.logaddexp.reduce(scores) if len(items) else scores
        return z, items, phi, log_p

    def item_choice(self, s: Situation) -> tuple[np.ndarray, np.ndarray, int]:
        """(log-softmax over the fitting items, its cumulative probabilities, the best item) under the
        current weights.

        Memoized on everything the scores depend on: without trained weights or remembered scores
        (the baselines) the same few situations recur all run long, and otherwise within a day."""
        key = (frozenset(s.tags), s.block, s.weekend, s.mem_topic.tobytes(), s.mem_tone.tobytes(),
               s.retrieved_topic.tobytes(), s.said)
        known = self._item_choices.get(key)
        if known is None:
            if len(self._item_choices) >= 4096:
                self._item_choices.clear()
            log_p = self.distribution(s)[3]
            cumulative = np.cumsum(np.exp(log_p))
            log_p.setflags(write=False)
            cumulative.setflags(write=False)
            known = self._item_choices[key] = (log_p, cumulative, int(np.argmax(log_p)))
        return known

    def sample(self, s: Situation, n: int, rng: np.random.Generator,
               explore: float = 0.0) -> tuple[list[int], tuple]:
        """n action indices (NO_REC or an item position), and the items.

        All but the last candidate are exploratory with probability `explore`: recommend
        or not by a coin flip, the item drawn from the policy's own choice. The last one, the one delivered, is
        always the policy's own decision, so what the user experiences is the policy. When it explores
        (explore > 0 and n > 1), the delivered one names the policy's best item: trying other items is the
        exploratory candidate's job, and a second-best item delivered at a wanted moment costs the user
        the moment (nothing can land until min_gap later).
        """
        items = self.catalog.fitting(s.tags)
        p_rec = _sigmoid(float(s.context @ self._params[:CONTEXT_DIM])) if items else 0.0
        best_delivered = explore > 0 and n > 1
        choice = None  # the item scores: computed only once an item is named (most steps name none)
        actions = []
        for k in range(n):
            if k < n - 1 and items and rng.random() < explore:
                # explore whether to recommend, with the item it would choose: a uniform item here
                # would teach "don't recommend now" whenever the random item is a bad one
                if rng.random() < 0.5:
                    actions.append(NO_REC)
                    continue
                best = False
            elif rng.random() < p_rec:
                best = best_delivered and k == n - 1
            else:
                actions.append(NO_REC)
                continue
            choice = choice or self.item_choice(s)
            if best:
                actions.append(choice[2])
            else:
                cumulative = choice[1]
                drawn = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
                actions.append(min(drawn, len(items) - 1))
        return actions, items

    def reference_log_ratio(self, s: Situation, chosen: int, rejected: int) -> float:
        """log ref(chosen) - log ref(rejected). The reference never changes and the replay buffer offers
        the same pairs day after day, so each is computed once (the situation is held, so its id is not reused)."""
        key = (id(s), chosen, rejected)
        known = self._reference_ratios.get(key)
        if known is None or known[0] is not s:
            rw, rl = self.pair_log_probs(s, chosen, rejected, self.reference)
            known = self._reference_ratios[key] = (s, rw - rl)
        return known[1]

    def log_prob_and_grad(self, s: Situation, action: int, params: np.ndarray,
                          want_grad: bool = True) -> tuple[float, np.ndarray | None]:
        return self._log_prob_and_grad(s, action, self.distribution(s, params), want_grad)

    def pair_log_probs(self, s: Situation, chosen: int, rejected: int, params: np.ndarray) -> tuple[float, float]:
        """The log-probabilities of both actions of a pair, from one distribution."""
        return self._pair_log_probs(s, chosen, rejected, self.distribution(s, params))

    @classmethod
    def _pair_log_probs(cls, s: Situation, chosen: int, rejected: int, dist: tuple) -> tuple[float, float]:
        return cls._log_prob_and_grad(s, chosen, dist, False)[0], cls._log_prob_and_grad(s, rejected, dist, False)[0]

    def pair_log_probs_and_grad_difference(self, s: Situation, chosen: int, rejected: int,
                                           params: np.ndarray) -> tuple[float, float, np.ndarray]:
        """(log pi(chosen), log pi(rejected), grad log pi(chosen) - grad log pi(rejected)): what DPO needs,
        bit for bit what two log_prob_and_grad calls give, from one distribution and no full gradients."""
        dist = self.distribution(s, params)
        z, _, phi, log_p = dist
        lw, ll = self._pair_log_probs(s, chosen, rejected, dist)
        p_rec = _sigmoid(z)
        context = [-p_rec * s.context if a == NO_REC else (1.0 - p_rec) * s.context for a in (chosen, rejected)]
        difference = np.empty(PARAM_DIM)
        np.subtract(context[0], context[1], out=difference[:CONTEXT_DIM])
        expected = np.exp(log_p) @ phi  # a pair has at least one item
        if chosen == NO_REC:  # its item part is zeros
            np.subtract(0.0, phi[rejected] - expected, out=difference[CONTEXT_DIM:])
        elif rejected == NO_REC:
            np.subtract(phi[chosen], expected, out=difference[CONTEXT_DIM:])
        else:
            np.subtract(phi[chosen] - expected, phi[rejected] - expected, out=difference[CONTEXT_DIM:])
        return lw, ll, difference

    @staticmethod
    def _log_prob_and_grad(s: Situation, action: int, dist: tuple, want_grad: bool) -> tuple[float, np.ndarray | None]:
        z, items, phi, log_p = dist
        if action == NO_REC:
            log_prob = _log_sigmoid(-z)
        else:
            log_prob = _log_sigmoid(z) + float(log_p[action])
        if not want_grad:
            return log_prob, None
        grad = np.zeros(PARAM_DIM)
        p_rec = _sigmoid(z)
        if action == NO_REC:
            grad[:CONTEXT_DIM] = -p_rec * s.context
        else:
            grad[:CONTEXT_DIM] = (1.0 - p_rec) * s.context
            grad[CONTEXT_DIM:] = phi[action] - np.exp(log_p) @ phi
        return log_prob, grad
