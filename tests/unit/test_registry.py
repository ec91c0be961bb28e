"""The field registry (``indexer.fields``) is the one place each field's facts live.

The fast hand-written evaluation equals the registry-driven one on generated
pairs; every consumer's PHI list is the registry's; derived key-kind groups
and table rows follow the declarations.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import fields
from indexer.dates import PartialDate
from indexer.documents import build_document, key_kind, key_plan, unproduced_kinds
from indexer.fields import (
    FIELD_BY_KEY,
    FIELDS,
    KEY_VALUES,
    PHI_PATHS,
    RANKED_FIELDS,
    KeyKind,
    is_phi_path,
    masked_excerpt,
)
from indexer.records import PHI_FIELDS, Record
from matcher import table
from matcher.compare import COMPARATORS
from matcher.evaluate import evaluate
from matcher.facts import EventFacts, Facts, ProductFacts, facts_from_record
from matcher.profiles import PROFILES
from matcher.reference import evaluate_by_registry
from tests.conftest import make_record

BASE = facts_from_record(make_record("II-1"))
#: A key kind no producer knows (``KeyKind`` has no such member).
AGE_KIND = cast(KeyKind, "patient_age")

names = st.sampled_from([None, "john", "jon", "smith", "smyth", "mary", "mary ann", "ann"])
codes = st.sampled_from([None, "", "a1", "b2"])
dobs = st.sampled_from([None, "1980", "1980-06", "1980-06-02", "1980-07-01", "1981"]).map(
    lambda d: PartialDate.parse(d) if d else None
)
texts = st.sampled_from([None, "", "aspirin 100 mg", "aspirin 100mg tab", "aspirin", "10 mg"])
products = st.lists(
    st.builds(ProductFacts, st.sampled_from([None, "p-1", "p-2"]), texts, codes, st.just(1)),
    max_size=3,
).map(lambda ps: tuple(replace(p, rank=i) for i, p in enumerate(ps, start=1)))
events = st.lists(
    st.builds(
        EventFacts,
        st.sampled_from([None, "10019211", "10028813"]),
        st.sampled_from([None, "headache", "nausea"]),
        st.sampled_from([None, "us", "fr"]),
        st.sampled_from([None, "2024-03-05", "2024-05-03", "2024"]).map(
            lambda d: PartialDate.parse(d) if d else None
        ),
        st.just(1),
    ),
    max_size=3,
).map(lambda es: tuple(replace(e, rank=i) for i, e in enumerate(es, start=1)))
ids = st.lists(st.sampled_from([None, "w-1", "w-2", "c-9"]), min_size=6, max_size=7)


def _tokens(first: str | None, last: str | None) -> str | None:
    out = sorted(t for part in (first, last) if part for t in part.split())
    return " ".join(out) or None


@st.composite
def facts(draw: st.DrawFn) -> Facts:
    first, last, r_first, r_last = (draw(names) for _ in range(4))
    return replace(
        BASE,
        clinical_trial=draw(st.booleans()),
        blinded=draw(st.booleans()),
        initials=draw(codes),
        first_name=first,
        last_name=last,
        patient_name=_tokens(first, last),
        sex=draw(codes),
        dob=draw(dobs),
        mrn_gp=draw(codes),
        mrn_investigation=draw(codes),
        study_number=draw(codes),
        edc_subject=draw(codes),
        reporter_first=r_first,
        reporter_last=r_last,
        reporter_name=_tokens(r_first, r_last),
        qualification=draw(codes),
        country=draw(st.sampled_from([None, "us", "fr"])),
        id_values=draw(ids),
        products=draw(products),
        events=draw(events),
    )


@settings(max_examples=400)
@given(facts(), facts(), st.sampled_from(sorted(PROFILES)))
def test_fast_evaluation_equals_the_registry_driven_one(
    src: Facts, cand: Facts, profile_name: str
) -> None:
    profile = PROFILES[profile_name]
    fast = evaluate(src, cand, profile)
    slow = evaluate_by_registry(src, cand, profile)
    assert fast.results == slow.results
    assert (fast.count, fast.score) == (slow.count, slow.score)
    assert fast.id_matches == slow.id_matches
    assert (fast.subject_tier, fast.country, fast.tag) == (
        slow.subject_tier,
        slow.country,
        slow.tag,
    )


@pytest.mark.parametrize("spec", RANKED_FIELDS, ids=[f.key for f in RANKED_FIELDS])
def test_every_ranked_field_has_a_comparator(spec: fields.FieldSpec) -> None:
    assert spec.comparator == "name" or spec.comparator in COMPARATORS


def test_M20_record_reads_and_tables_mask_the_same_fields() -> None:
    """Issue 12: the table's and the record reads' PHI lists differed on EDC subject."""
    assert PHI_FIELDS == PHI_PATHS
    table_fields = {f.path for f in FIELDS if f.row is not None and f.row in table.PHI_ROWS}
    assert table_fields == {f.path for f in FIELDS if f.phi}
    assert "patient.edc_subject" in PHI_FIELDS
    assert ("patient", "edc_subject") in table.PHI_ROWS


@pytest.mark.parametrize(
    ("path", "phi"),
    [
        ("narrative", True),
        ("patient.edc_subject", True),
        ("reporter.organization", True),
        ("patient.mrn.investigation", True),
        ("patient.reason_omitted.first_name", True),
        ("events.onset", True),
        ("products.product", False),
        ("study_number", False),
    ],
    ids=lambda v: str(v),
)
def test_M20_phi_paths(path: str, phi: bool) -> None:
    assert is_phi_path(path) is phi


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ("narrative", "x" * 1_000_000, "***"),
        ("study_number", "S" * 100, "S" * 39 + "…"),
        ("study_number", "STU-1", "STU-1"),
        ("products", [{"a": 1}], None),
        ("version", 3, 3),
    ],
    ids=["phi", "long-text", "short-text", "object", "number"],
)
def test_M21_error_excerpts_are_short_and_masked(path: str, value: object, shown: object) -> None:
    assert masked_excerpt(path, value) == shown


def test_key_kind_groups_follow_the_declarations() -> None:
    below_study = {k for f in FIELDS if f.group in ("reporter", "product", "event") for k in f.keys}
    assert below_study == fields.STUDY_PAIRED
    assert {
        "patient_first_name",
        "patient_last_name",
        "reporter_first_name",
        "reporter_last_name",
    } == fields.NAME_KINDS


def test_every_key_a_document_holds_is_a_declared_kind() -> None:
    record = _trial_case(
        study_number="STU-1",
        patient={
            "initials": "JS",
            "first_name": "Jane",
            "last_name": "Smith",
            "dob": "1980-06",
            "mrn": {"gp": "g", "specialist": "s", "hospital": "h", "investigation": "i"},
            "edc_subject": "E-1",
        },
        products=[{"product": "P", "product_reported": "Aspirin 100mg tabs", "study_product": "X"}],
    )
    declared = {str(k) for f in FIELDS for k in f.keys}
    kinds = {key_kind(k).removeprefix(fields.IN_STUDY) for k in build_document(record)["keys"]}
    assert kinds <= declared
    assert {str(k) for f in FIELDS if f.group != "identifiers" for k in f.keys} - kinds <= {
        "event_reported"  # only uncoded events hold it
    }


def test_index_stores_only_the_product_words_queries_ask_for() -> None:
    doc = build_document(make_record("C-1", products=[{"product_reported": "Aspirin 100mcg"}]))
    words = {k.rsplit(":", 1)[1] for k in doc["keys"] if "|product_word:" in k}
    assert words == {"aspirin"}  # not "mcg", which no query asks for


def test_M21_a_422_repeats_a_short_excerpt_of_a_long_value() -> None:
    from pydantic import ValidationError

    from indexer.records import Record, describe_errors

    with pytest.raises(ValidationError) as caught:
        Record.model_validate(
            {"id": "II-1", "kind": "inbox_item", "organization": "ORG-A", "study": "S" * 300}
        )
    (detail,) = describe_errors(caught.value)
    assert detail["field"] == "study"
    assert detail["value"] == "S" * 39 + "…"


def test_every_declared_key_kind_has_a_producer() -> None:
    assert unproduced_kinds(FIELDS) == []
    assert set(KEY_VALUES) == {k for f in FIELDS for k in f.keys}


@pytest.mark.parametrize(
    ("added", "missing"),
    [
        (
            replace(FIELD_BY_KEY["patient.sex"], key="patient.age", keys=(AGE_KIND,)),
            ["patient.age: patient_age"],
        ),
        (  # a generic field's first kind holds its value; a second one needs a producer
            replace(
                FIELD_BY_KEY["patient.sex"],
                key="patient.age",
                normalizer="age_years",
                keys=(AGE_KIND, AGE_KIND),
            ),
            ["patient.age: patient_age"],
        ),
    ],
    ids=["new-kind", "generic-second-kind"],
)
def test_a_field_declaring_a_key_kind_without_a_producer_is_refused(
    added: fields.FieldSpec, missing: list[str]
) -> None:
    registry = (*FIELDS, added)
    assert unproduced_kinds(registry) == missing
    with pytest.raises(ValueError, match="patient_age"):
        key_plan(registry)


def _trial_case(**fields: Any) -> Record:
    """A clinical-trial Case with ``fields``."""
    return make_record("C-1", kind="case", study_type="clinical_trial", **fields)


TRIAL_CASE = _trial_case(
    study_number="Stü-1",
    patient={"initials": "JS", "dob": "1980-06-02", "mrn": {"investigation": "I-9"}},
    products=[{"product_reported": "Aspirin 100mcg", "study_product": "X", "rank": 1}],
    events=[{"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}],
)
MADE_KEYS = {
    "study_number:stu-1": "folded",
    "patient_dob:1980-06-02": "value",
    "patient_dob_within:1980": "dates_within",
    "patient_dob_within:1980-06": "dates_within",
    "study_initials:stu-1|js": "in_study",
    "study_mrn_investigation:stu-1|i-9": "in_study",
    "product_word:aspirin": "words",
    "event_reported_coded:headache|10019211": "coded_text",
    "study_product:x": "value",
}


@pytest.mark.parametrize(("key", "produce"), MADE_KEYS.items(), ids=list(MADE_KEYS))
def test_retrieval_keys_are_made_as_each_kind_declares(key: str, produce: str) -> None:
    keys = {k.split("|", 2)[2] for k in build_document(TRIAL_CASE)["keys"] if "@" not in k}
    assert key in keys
    assert KEY_VALUES[KeyKind(key.split(":")[0])].produce == produce


def test_M8_a_blinded_record_holds_no_study_product_keys() -> None:
    blinded = build_document(TRIAL_CASE.model_copy(update={"blinded": True}))["keys"]
    assert blinded
    assert not [k for k in blinded if "study_product:" in k]
