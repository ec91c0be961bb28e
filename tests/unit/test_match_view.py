"""The match view: a candidate read from its compact view compares exactly like its document.

Retrieval reads candidates as ``match_view`` (``indexer.documents``) and
``matcher.facts.facts_from_view`` decodes it; if the two drifted apart, the
engine path would rank on other values than the brute-force reference.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any

import orjson
import pytest

from benchmarks.generator import Population, generate_queries
from indexer.dates import PartialDate
from indexer.documents import MATCH_VIEW_VERSION, VIEW_LAYOUT, build_document, view_layout
from indexer.fields import FIELD_BY_KEY, FIELDS, FieldSpec
from matcher.facts import (
    Facts,
    StaleMatchViewError,
    facts_from_document,
    facts_from_view,
    with_record,
)
from matcher.model import DetectionOptions
from matcher.rank import rank_reference_facts
from tests.factories import bare

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


@pytest.mark.parametrize(
    "version",
    [4, "4+patient.age:age_years:", f"{MATCH_VIEW_VERSION}-older"],
    ids=["layout-4", "layout-4-generic", "other-digest"],
)
def test_a_view_of_another_layout_is_refused(version: object) -> None:
    """Views written before the layout was derived (version 4) ask for a reindex."""
    doc = build_document(next(iter(Population(seed=11, n=1, today=TODAY))))
    stale = orjson.loads(doc["match_view"])
    stale[0] = version
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


# -- the layout is the registry's: every field round-trips through document -> view -> Facts

#: Per registry field carried in the view: the stored-record JSON that gives it a value (and
#: nothing else), and the value ``Facts`` then holds at the field's ``fact``.
ROUND_TRIP: dict[str, tuple[dict[str, Any], Any]] = {
    "identifiers.any": ({"identifiers": {"wwuid": " WW-0001 "}}, frozenset({"ww-0001"})),
    "details.report_type": ({"report_type": "Spontaneous"}, "spontaneous"),
    "patient.initials": ({"patient": {"initials": "j.s."}}, "js"),
    "patient.first_name": ({"patient": {"first_name": "Zoë"}}, "zoe"),
    "patient.last_name": ({"patient": {"last_name": "O'Brien"}}, "obrien"),
    "patient.sex": ({"patient": {"sex": "male"}}, "male"),
    "patient.dob": ({"patient": {"dob": "1980-06"}}, PartialDate.parse("1980-06")),
    "patient.mrn_gp": ({"patient": {"mrn": {"gp": "G-1"}}}, "g-1"),
    "patient.mrn_specialist": ({"patient": {"mrn": {"specialist": "S-1"}}}, "s-1"),
    "patient.mrn_hospital": ({"patient": {"mrn": {"hospital": "H-1"}}}, "h-1"),
    "patient.mrn_investigation": ({"patient": {"mrn": {"investigation": "I-1"}}}, "i-1"),
    "patient.edc_subject": ({"patient": {"edc_subject": "EDC-1"}}, "edc-1"),
    "study.study_number": ({"study_number": "STU-1"}, "stu-1"),
    "reporter.first_name": ({"reporter": {"first_name": "Jacob"}}, "jacob"),
    "reporter.last_name": ({"reporter": {"last_name": "Smith"}}, "smith"),
    "reporter.qualification": ({"reporter": {"qualification": "physician"}}, "physician"),
    "reporter.country": ({"reporter": {"country": "fr"}}, "FR"),
    "product.product_reported": (
        {"products": [{"product_reported": "Aspirin  100 MG", "rank": 1}]},
        "aspirin 100 mg",
    ),
    "product.product": ({"products": [{"product": "PRD-17", "rank": 1}]}, "prd-17"),
    "product.study_product": ({"products": [{"study_product": "SP-1", "rank": 1}]}, "sp-1"),
    "event.event_reported": ({"events": [{"event_reported": "Headache", "rank": 1}]}, "headache"),
    "event.meddra_pt": ({"events": [{"meddra_pt_code": "10019211", "rank": 1}]}, "10019211"),
    "event.country": ({"events": [{"country": "fr", "rank": 1}]}, "FR"),
    "event.onset": ({"events": [{"onset": "2024-03", "rank": 1}]}, PartialDate.parse("2024-03")),
}
#: ``Facts`` attributes a field's value also fills: the names' tokens (N3), the identifiers.
ALSO_FILLS = {
    "patient.first_name": {"patient_name"},
    "patient.last_name": {"patient_name"},
    "reporter.first_name": {"reporter_name"},
    "reporter.last_name": {"reporter_name"},
    "identifiers.any": {"id_values"},
}
IN_VIEW = [f for f in FIELDS if f.view]


def _fact(facts: Facts, spec: FieldSpec) -> Any:
    if spec.normalizer is not None:
        return facts.extra.get(spec.key)
    if "." not in spec.fact:
        return getattr(facts, spec.fact)
    what, name = spec.fact.split(".")
    items = getattr(facts, what)
    return getattr(items[0], name) if items else None


@pytest.mark.parametrize("spec", IN_VIEW, ids=[f.key for f in IN_VIEW])
def test_every_registry_field_round_trips_through_document_view_and_facts(spec: FieldSpec) -> None:
    """A value given to one field arrives at that field's ``fact``, and nowhere else."""
    stored, expected = ROUND_TRIP[spec.key]  # a new field needs its line here
    empty = facts_from_view(build_document(bare("C-1", kind="case"))["match_view"])
    doc = build_document(bare("C-1", kind="case", **stored))
    facts = facts_from_view(doc["match_view"])
    assert _fact(facts, spec) == expected
    assert _fact(empty, spec) in (None, frozenset())
    assert facts == replace(facts_from_document(doc), record={})
    changed = {f.name for f in fields(Facts) if getattr(facts, f.name) != getattr(empty, f.name)}
    own = spec.fact.split(".")[0] if spec.normalizer is None else "extra"
    assert changed - {own} <= ALSO_FILLS.get(spec.key, set())
    if "." in spec.fact:  # the item holds this field's value only
        (item,) = getattr(facts, own)
        others = {f.name: getattr(item, f.name) for f in fields(item) if f.name != "rank"}
        del others[spec.fact.split(".")[1]]
        assert set(others.values()) == {None}


def test_fields_compared_only_in_the_table_stay_out_of_the_view() -> None:
    left_out = [f.key for f in FIELDS if not f.view]
    assert left_out == ["details.receipt_date", "details.new_info_date"]
    assert view_layout(tuple(f for f in FIELDS if f.view)) == VIEW_LAYOUT


def test_the_view_layout_follows_the_registry_order() -> None:
    """Moving a field in the registry moves its slot: positions are computed, not written."""
    moved = (FIELD_BY_KEY["patient.sex"], *(f for f in FIELDS if f.key != "patient.sex"))
    names = [slot.name for slot in view_layout(moved)]
    assert names.index("sex") < names.index("id_values") < names.index("initials")
    assert [slot.name for slot in view_layout(FIELDS)] == [slot.name for slot in VIEW_LAYOUT]
