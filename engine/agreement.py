"""How far two judges agree: exact and within-one agreement and Cohen's kappa, per criterion and overall.

Pure arithmetic on paired ratings, no I/O. Two judges' ratings of the same candidates are
compared three ways:
- per criterion: the pass/fail verdicts (two categories);
- pooled: every criterion's verdict as one item (one kappa for "the verdicts");
- total: the 0..K score (K criteria), ordinal, so within-one agreement and the
  quadratic-weighted kappa are the telling figures there.

Kappa corrects agreement for chance: kappa = (p_o - p_e) / (1 - p_e), with p_o the observed
agreement and p_e the agreement expected if the two judges rated independently with their own
marginal rates. It is 0/0 exactly when both judges give one and the same value to every item
(p_e = 1 forces p_o = 1): perfect, trivial agreement, defined here as 1.0. A judge that is
constant while the other is not gets p_e < 1 and an ordinary kappa, often near 0 even at high
agreement (the "kappa paradox": agreement on a rare category is what kappa rewards). With no
items every figure is None.

A failed rating (no valid judgment) on either side leaves its candidate out of every figure;
how many were left out, and by whom, is counted.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from engine.types import Rating


@dataclass(frozen=True, slots=True)
class Agreement:
    """Figures over `n` paired ratings; fractions in 0..1, None when n is 0."""

    n: int
    exact: float | None
    within_one: float | None
    kappa: float | None
    weighted_kappa: float | None  # quadratic weights; equal to kappa for two categories

    def to_json(self) -> dict:
        return asdict(self)


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Unweighted Cohen's kappa of two raters' labels of the same items (None for no items).

    In counts, exactly: kappa = (n * agreeing - S) / (n^2 - S), with S = sum over labels of
    count_a(label) * count_b(label) (= n^2 * p_e).
    """
    n = _paired(a, b)
    if n == 0:
        return None
    agreeing = sum(x == y for x, y in zip(a, b))
    count_b = Counter(b)
    chance = sum(count * count_b[label] for label, count in Counter(a).items())
    if chance == n * n:  # both raters constant on the same label: 0/0, trivially perfect
        return 1.0
    return (n * agreeing - chance) / (n * n - chance)


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa with quadratic disagreement weights (i - j)^2 on ordinal labels.

    kappa_w = 1 - observed / expected disagreement. Under independence the expected squared
    difference is sum_ij p_a(i) p_b(j) (i - j)^2 = var(a) + var(b) + (mean a - mean b)^2, so, in
    sums over the items: kappa_w = 1 - n * sum (a - b)^2 / (n * (sum a^2 + sum b^2) - 2 * sum a * sum b).
    The weights' scale (the usual 1 / (K - 1)^2) cancels, so the label range need not be given.
    """
    n = _paired(a, b)
    if n == 0:
        return None
    observed = n * sum((x - y) ** 2 for x, y in zip(a, b))
    expected = n * (sum(x * x for x in a) + sum(y * y for y in b)) - 2 * sum(a) * sum(b)
    if expected == 0:  # both raters constant on the same label (then observed is 0 too)
        return 1.0
    return 1.0 - observed / expected


def agreement(a: Sequence[int], b: Sequence[int]) -> Agreement:
    n = _paired(a, b)
    if n == 0:
        return Agreement(0, None, None, None, None)
    return Agreement(
        n, sum(x == y for x, y in zip(a, b)) / n, sum(abs(x - y) <= 1 for x, y in zip(a, b)) / n,
        cohen_kappa(a, b), quadratic_weighted_kappa(a, b),
    )


def _paired(a: Sequence[int], b: Sequence[int]) -> int:
    if len(a) != len(b):
        raise ValueError(f"ratings must be paired: {len(a)} against {len(b)}")
    return len(a)


@dataclass(frozen=True, slots=True)
class JudgeAgreement:
    """Two judges' ratings of the same candidates, compared."""

    criteria: dict[str, Agreement]
    pooled: Agreement  # every verdict of every criterion, as one set of items
    total: Agreement  # the 0..len(criteria) score
    compared: int  # candidates rated validly by both
    failed_first: int  # failed ratings of the first judge (the recorded one)
    failed_second: int  # failed ratings of the second judge (the new one)
    excluded: int  # candidates left out: failed by either (or both)

    def to_json(self) -> dict:
        return {
            "criteria": {name: a.to_json() for name, a in self.criteria.items()},
            "pooled": self.pooled.to_json(), "total": self.total.to_json(), "compared": self.compared,
            "failed": {"recorded": self.failed_first, "new": self.failed_second}, "excluded": self.excluded,
        }


def compare_ratings(pairs: Iterable[tuple[Rating, Rating]], criteria: Sequence[str]) -> JudgeAgreement:
    """Agreement of (first, second) ratings of the same candidates on `criteria`. A valid rating
    must carry every criterion (ValueError otherwise: two judges with different rubrics do not compare)."""
    verdicts: dict[str, tuple[list[int], list[int]]] = {c: ([], []) for c in criteria}
    totals: tuple[list[int], list[int]] = ([], [])
    failed_first = failed_second = excluded = 0
    for first, second in pairs:
        failed_first += first.failed
        failed_second += second.failed
        if first.failed or second.failed:
            excluded += 1
            continue
        for rating in (first, second):
            missing = set(criteria) - set(rating.criteria)
            if missing:
                raise ValueError(f"a rating lacks criteria {sorted(missing)} (it has {sorted(rating.criteria)})")
        for name in criteria:
            verdicts[name][0].append(int(first.criteria[name]))
            verdicts[name][1].append(int(second.criteria[name]))
        totals[0].append(sum(first.criteria[c] for c in criteria))
        totals[1].append(sum(second.criteria[c] for c in criteria))
    pooled_first = [v for name in criteria for v in verdicts[name][0]]
    pooled_second = [v for name in criteria for v in verdicts[name][1]]
    return JudgeAgreement(
        {name: agreement(*verdicts[name]) for name in criteria}, agreement(pooled_first, pooled_second),
        agreement(*totals), len(totals[0]), failed_first, failed_second, excluded,
    )
