"""Training an organization's match model (``casematch model train``; pure).

The scan reads the records (``indexer.scan.training_views``); this module runs them
through the audit's own steps (``matcher.audit.compare_records``: blocking on the
retrieval keys, bulk levels, the seeds' exclusions) and its training recipe
(``matcher.audit.train``). There is one recipe, so a stored model scores Detections on
the scale the audit's clusters are cut at.

**Large organizations.** Training reads at most ``max_records`` records, drawn uniformly
(``random.Random(seed)``). Sampling records keeps what the model estimates: ``u`` and
``m`` are shares of levels among pairs, and the prior (matches per pair) is the same in a
uniform sample, since both the matching pairs and all pairs shrink by the square of the
sampling rate. The same records and seed give the same model.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.documents import build_document
from indexer.records import Record
from matcher import audit
from matcher.facts import Facts, facts_from_document, facts_from_view
from matcher.linkage import MatchModel

#: Records training reads at most (``--max-records``); more are sampled uniformly.
DEFAULT_MAX_RECORDS = 200_000


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """One record as training reads it: its comparable values and its retrieval keys."""

    facts: Facts
    keys: tuple[str, ...]


def training_record(record: Record) -> TrainingRecord:
    """A record's training view, built as its index document is (for tests and files)."""
    doc = build_document(record)
    return TrainingRecord(facts_from_document(doc), tuple(doc["keys"]))


def training_record_from_view(view: str, keys: Iterable[str]) -> TrainingRecord:
    """A stored record's training view, from its match view and retrieval keys
    (``indexer.scan.training_views``)."""
    return TrainingRecord(facts_from_view(view), tuple(keys))


def sample_records(
    records: Sequence[TrainingRecord], max_records: int, seed: int
) -> Sequence[TrainingRecord]:
    """``records`` when there are at most ``max_records``, else that many drawn uniformly
    (in their original order)."""
    if max_records < 2:
        raise ValueError(f"max_records must be at least 2, got {max_records}")
    if len(records) <= max_records:
        return records
    chosen = sorted(random.Random(seed).sample(range(len(records)), max_records))
    return [records[i] for i in chosen]


def train(
    records: Sequence[TrainingRecord],
    *,
    organization: str,
    version: int,
    trained_at: str,
    seed: int = 0,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> MatchModel:
    """A model fitted on ``records`` (see the module docstring); ``ValueError`` with a
    message for the user when they are too few or share no blocking key."""
    if len(records) < 2:
        raise ValueError(f"{organization} has {len(records)} records: a model needs at least 2")
    chosen = sample_records(records, max_records, seed)
    compared = audit.compare_records((r.facts, r.keys) for r in chosen)
    if not len(compared.pairs):
        raise ValueError(f"{organization}: no two records share a patient name, birth date or MRN")
    return audit.train_compared(
        compared, organization=organization, trained_at=trained_at, seed=seed, version=version
    )
