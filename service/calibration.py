"""Calibration of the match model on labelled generated data (issue 15).

The sample generator (``service.sample``) plants duplicates of its Cases as Inbox Items
and says which Case each came from, so a model trained on that data without labels
can be checked against them: in bins of predicted probability, the share of pairs that
really are the same report should be the bin's mean prediction.

Truth: an Inbox Item of a duplicate family is the same report as its base Case, and so
are two items of one base; the M6 near miss (``old_new_info_date``) is a duplicate too
(M6 hides an old Case from the listing; it is still the same report). Every other pair
is not. Scored pairs: the candidate pairs of the audit's blocking, after the seeds'
exclusions (``matcher.audit.compare_records``: pairs sharing a retrieval key, the pairs
training and the audit score), each scored one at a time as a Detection scores it
(``MatchModel.levels`` and ``probability``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from matcher import audit
from matcher.linkage import MatchModel
from matcher.training import TrainingRecord, train, training_record
from service.sample import DUPLICATE_FAMILIES, Population, generate_queries

#: A bin is checked when it holds at least this many pairs.
MIN_PAIRS_PER_BIN = 50
#: Families whose item is the same report as its base Case.
SAME_REPORT_FAMILIES: frozenset[str] = frozenset({*DUPLICATE_FAMILIES, "old_new_info_date"})


@dataclass(frozen=True)
class LabelledSet:
    """Generated records of one organization, and for each the report it is a copy of."""

    records: list[TrainingRecord]
    #: ``origin[i]``: the index of the record ``i`` copies (itself when it is an original).
    origin: list[int]

    def same_report(self, a: int, b: int) -> bool:
        return self.origin[a] == self.origin[b]


def labelled_set(
    seed: int, cases: int, items: int, *, organization: str = "ORG-A", today: date | None = None
) -> LabelledSet:
    """``cases`` generated Cases of one organization and ``items`` labelled Inbox Items."""
    population = Population(
        seed=seed, n=cases, organizations=(organization,), today=today or date(2026, 1, 15)
    )
    queries = [
        q
        for q in generate_queries(seed, population, items)
        if q.source.organization == organization
    ]
    records = [*population, *(q.source for q in queries)]
    where = {r.id: i for i, r in enumerate(records)}
    origin = list(range(len(records)))
    for q in queries:
        if q.family in SAME_REPORT_FAMILIES and q.base_id in where:
            origin[where[q.source.id]] = where[q.base_id]
    return LabelledSet([training_record(r) for r in records], origin)


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    pairs: int
    mean_predicted: float
    observed: float

    @property
    def checked(self) -> bool:
        return self.pairs >= MIN_PAIRS_PER_BIN


def scored_pairs(data: LabelledSet, model: MatchModel) -> list[tuple[float, bool]]:
    """(probability, same report) of every candidate pair (see the module docstring)."""
    compared = audit.compare_records((r.facts, r.keys) for r in data.records)
    out = []
    for a, b in compared.pairs.tolist():
        levels = model.levels(data.records[a].facts, data.records[b].facts)
        out.append((model.probability(levels), data.same_report(a, b)))
    return out


def reliability(scored: list[tuple[float, bool]], bins: int = 10) -> list[CalibrationBin]:
    """Equal-width bins of predicted probability: pairs, mean prediction, observed share."""
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, truth in scored:
        grouped[min(int(p * bins), bins - 1)].append((p, truth))
    return [
        CalibrationBin(
            i / bins,
            (i + 1) / bins,
            len(group),
            sum(p for p, _ in group) / len(group),
            sum(1 for _, t in group if t) / len(group),
        )
        for i, group in enumerate(grouped)
        if group
    ]


def calibrate(
    seed: int = 1, cases: int = 2000, items: int = 400
) -> tuple[MatchModel, LabelledSet, list[CalibrationBin]]:
    """Generate a labelled set, train on it without the labels, and bin the scored pairs."""
    data = labelled_set(seed, cases, items)
    model = train(
        data.records,
        organization="ORG-A",
        version=1,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=seed,
    )
    return model, data, reliability(scored_pairs(data, model))
