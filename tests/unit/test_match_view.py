"""The match view: a candidate read from its compact view compares exactly like its document.

Retrieval reads candidates as ``match_view`` (``indexer.documents``) and
``matcher.facts.facts_from_view`` decodes it; if the two drifted apart, the
engine path would rank on other values than the brute-force reference.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import orjson
import pytest

from benchmarks.generator import Population, generate_queries
from indexer.documents import MATCH_VIEW_VERSION, build_document
from matcher.facts import (
    StaleMatchViewError,
    facts_from_document,
    facts_from_view,
    with_record,
)
from matcher.model import DetectionOptions
from matcher.rank import rank_reference_facts

TODAY = date(2026, 1, 15)


def test_every_generated_record_reads_the_same_from_its_view() -> None:
    pop = Population(seed=11, n=600, today=TODAY)
    records = [*pop, *(q.source for q in generate_queries(11, pop, 200, today=TODAY))]
    for record in records:
        doc = build_document(record)
        assert facts_from_view(doc["match_view"]) == replace(facts_from_document(doc), record={})


def test_a_view_is_a_tenth_of_the_document() -> None:
    doc = build_document(next(iter(Population(seed=11, n=1, today=TODAY))))
    assert len(doc["match_view"]) * 5 < len(orjson.dumps(doc))


def test_a_view_of_another_layout_is_refused() -> None:
    doc = build_document(next(iter(Population(seed=11, n=1, today=TODAY))))
    stale = orjson.loads(doc["match_view"])
    stale[0] = f"{MATCH_VIEW_VERSION}-older"
    with pytest.raises(StaleMatchViewError):
        facts_from_view(orjson.dumps(stale).decode())


def test_with_record_changes_only_the_record() -> None:
    doc = build_document(next(iter(Population(seed=11, n=1, today=TODAY))))
    bare = facts_from_view(doc["match_view"])
    assert with_record(bare, doc["record"]) == replace(bare, record=doc["record"])
    assert with_record(bare, doc["record"]) == facts_from_document(doc)
    assert bare.record == {}


def test_detections_from_views_equal_detections_from_documents() -> None:
    """What detection ranks (views, then records for the listed) is what the reference ranks."""
    pop = Population(seed=13, n=400, today=TODAY)
    docs = [build_document(record) for record in pop]
    records = {(d["kind"], d["record_id"]): d["record"] for d in docs}
    from_documents = [facts_from_document(d) for d in docs]  # as ``rank_reference`` reads them
    listed = 0
    for query in generate_queries(13, pop, 12, today=TODAY):
        for profile in ("enhanced", "deep_22r1", "deep_22r3"):
            options = DetectionOptions(profile=profile, today=TODAY)
            views = [facts_from_view(d["match_view"]) for d in docs]
            expected = rank_reference_facts(query.source, from_documents, options)
            assert rank_reference_facts(query.source, views, options, records) == expected
            listed += len(expected.sections.all())
    assert listed > 0
