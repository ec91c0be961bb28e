"""Pure metric functions shared by every benchmark: ranking quality, pairwise linkage
quality, clustering and latency summaries.

Nothing here touches an engine, a clock or a file; each function is a plain mapping
from inputs to numbers so it can be tested with one-line asserts.

    >>> recall_at_k(["a", "b", "c"], {"b"}, 1), recall_at_k(["a", "b", "c"], {"b"}, 5)
    (0.0, 1.0)
    >>> reciprocal_rank(["a", "b", "c"], {"b"})
    0.5
    >>> pair_scores({("a", "b")}, {("a", "b"), ("a", "c")}).f1
    0.6666666666666666
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

T = TypeVar("T", bound=Hashable)
Pair = tuple[str, str]


# -- ranking quality ---------------------------------------------------------


def recall_at_k(ranked: Sequence[str], expected: Iterable[str], k: int) -> float:
    """Share of ``expected`` ids found among the first ``k`` of ``ranked`` (1.0 when none expected)."""
    wanted = set(expected)
    if not wanted:
        return 1.0
    top = set(ranked[:k])
    return len(wanted & top) / len(wanted)


def hit_at_k(ranked: Sequence[str], expected: Iterable[str], k: int) -> bool:
    """True when any expected id is among the first ``k`` results."""
    wanted = set(expected)
    return any(r in wanted for r in ranked[:k])


def reciprocal_rank(ranked: Sequence[str], expected: Iterable[str]) -> float:
    """1 / (1-based rank of the first expected id); 0.0 when none is returned."""
    wanted = set(expected)
    for i, rid in enumerate(ranked, start=1):
        if rid in wanted:
            return 1.0 / i
    return 0.0


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; NaN for no values (so an empty group is visible, never 0)."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else math.nan


# -- pairwise linkage quality ------------------------------------------------


def canonical_pair(a: str, b: str) -> Pair:
    """An unordered pair as a sorted tuple, so (a, b) and (b, a) count once."""
    return (a, b) if a <= b else (b, a)


def pairs_of(pairs: Iterable[tuple[str, str]]) -> set[Pair]:
    """Canonical, self-pair-free set of pairs."""
    return {canonical_pair(a, b) for a, b in pairs if a != b}


@dataclass(frozen=True)
class PairScores:
    """Precision, recall and F1 of predicted pairs against true pairs."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


def pair_scores(true_pairs: Iterable[Pair], predicted_pairs: Iterable[Pair]) -> PairScores:
    """Score predicted pairs against the truth; pairs are unordered."""
    truth = pairs_of(true_pairs)
    predicted = pairs_of(predicted_pairs)
    tp = len(truth & predicted)
    return PairScores(tp, len(predicted) - tp, len(truth) - tp)


# -- clustering --------------------------------------------------------------


class UnionFind:
    """Disjoint sets with path halving and union by size."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        self._parent: dict[str, str] = {}
        self._size: dict[str, int] = {}
        for item in items:
            self.add(item)

    def add(self, item: str) -> None:
        if item not in self._parent:
            self._parent[item] = item
            self._size[item] = 1

    def find(self, item: str) -> str:
        self.add(item)
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]

    def clusters(self) -> list[list[str]]:
        """Every set, members sorted, largest first then by first member (deterministic)."""
        groups: dict[str, list[str]] = {}
        for item in self._parent:
            groups.setdefault(self.find(item), []).append(item)
        return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


def cluster_pairs(pairs: Iterable[tuple[str, str]], items: Iterable[str] = ()) -> list[list[str]]:
    """Connected components of the graph whose edges are ``pairs``."""
    uf = UnionFind(items)
    for a, b in pairs:
        uf.union(a, b)
    return uf.clusters()


def pairs_within(clusters: Iterable[Sequence[str]]) -> set[Pair]:
    """Every unordered pair inside each cluster (the transitive closure of the links)."""
    out: set[Pair] = set()
    for cluster in clusters:
        members = sorted(set(cluster))
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                out.add((a, b))
    return out


def pairs_from_labels(labels: Mapping[str, T]) -> set[Pair]:
    """True pairs from an entity label per record (records with equal labels are linked)."""
    groups: dict[T, list[str]] = {}
    for rid, label in labels.items():
        groups.setdefault(label, []).append(rid)
    return pairs_within(groups.values())


# -- latency summaries -------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks; NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """count, mean, p50, p90, p99 and max of a sample (milliseconds in, milliseconds out)."""
    return {
        "count": float(len(values)),
        "mean": mean(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0 or either side is NaN."""
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator
