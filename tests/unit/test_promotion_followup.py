"""P6 follow-up reconciliation, P13 smart/override merges, P3 copy patient info (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.records import Record
from service.promotion.followup import copy_patient_info, override_merge, reconcile
from tests.factories import bare


def _case(**fields: Any) -> Record:
    base: dict[str, Any] = {
        "state": "approved",
        "receipt_date": "2025-01-10",
        "identifiers": {"case_identifiers": ["CI-1"], "wwuid": "US-ACME-1"},
    }
    return bare("C-1", kind="case", **{**base, **fields})


def _item(**fields: Any) -> Record:
    base: dict[str, Any] = {
        "receipt_date": "2025-03-01",
        "identifiers": {"case_identifiers": ["CI-1", "CI-2"]},
    }
    return bare("II-9", **{**base, **fields})


def test_P6_follow_up_is_next_version_of_the_same_case() -> None:
    merged = reconcile(_case(version=2), _item())
    assert (merged.kind.value, merged.case_id, merged.version, merged.state) == (
        "case",
        "C-1",
        3,
        "new",
    )
    assert merged.identifiers.case_identifiers == ["CI-1", "CI-2"]
    assert merged.identifiers.wwuid == "US-ACME-1"


def test_P6_receipt_date_kept_and_new_info_date_from_follow_up_receipt() -> None:
    merged = reconcile(_case(), _item())
    assert str(merged.receipt_date) == "2025-01-10"
    assert str(merged.new_info_date) == "2025-03-01"


@pytest.mark.parametrize(
    ("initial", "follow", "expected"),
    [
        # masked in the follow-up wins: value blanked, reason kept
        (
            {"first_name": "Ann"},
            {"reason_omitted": {"first_name": "privacy"}},
            {"first_name": None, "reason_omitted": {"first_name": "privacy"}},
        ),
        (
            {"mrn": {"hospital": "H-1"}},
            {"reason_omitted": {"mrn.hospital": "masked"}},
            {"mrn": {"hospital": None}, "reason_omitted": {"mrn.hospital": "masked"}},
        ),
        # a value in the follow-up lifts the initial's reason omitted
        (
            {"reason_omitted": {"initials": "unknown"}},
            {"initials": "AB"},
            {"initials": "AB", "reason_omitted": {}},
        ),
        # the initial's reason stays when the follow-up says nothing
        (
            {"reason_omitted": {"initials": "privacy"}},
            {},
            {"initials": None, "reason_omitted": {"initials": "privacy"}},
        ),
        # value + unit fields are overwritten, nulls included
        ({"weight": {"value": 70, "unit": "kg"}}, {}, {"weight": None}),
        (
            {"height": {"value": 170, "unit": "cm"}},
            {"height": {"value": 1.7, "unit": "m"}},
            {"height": {"value": 1.7, "unit": "m"}},
        ),
        ({"gestation": {"value": 20, "unit": "week"}}, {}, {"gestation": None}),
        ({"age": {"value": 44, "unit": "year"}}, {}, {"age": None}),
        # age-related fields take the follow-up's values as a group
        (
            {"dob": "1980", "age_group": "adult"},
            {"dob": "1980-06-02"},
            {"dob": "1980-06-02", "age_group": None},
        ),
        (
            {"dob": "1980", "age_group": "adult"},
            {"sex": "male"},
            {"dob": "1980", "age_group": "adult", "sex": "male"},
        ),
        # other values: the follow-up adds or corrects, never blanks
        (
            {"initials": "JS", "sex": "female"},
            {"initials": None, "sex": "male"},
            {"initials": "JS", "sex": "male"},
        ),
    ],
    ids=[
        "masked-wins",
        "masked-mrn",
        "value-lifts-reason",
        "reason-kept",
        "weight-null",
        "height-overwritten",
        "gestation-null",
        "age-null",
        "age-related-group",
        "age-related-absent",
        "scalars",
    ],
)
def test_P6_patient_reconciliation(
    initial: dict[str, Any], follow: dict[str, Any], expected: dict[str, Any]
) -> None:
    merged = reconcile(_case(patient=initial), _item(patient=follow)).patient
    got = merged.model_dump(mode="json")
    for field, value in expected.items():
        if isinstance(value, dict) and field == "mrn":
            for k, v in value.items():
                assert got["mrn"][k] == v
        else:
            assert got[field] == value, field


def test_P6_reporter_mask_in_follow_up_wins() -> None:
    merged = reconcile(
        _case(reporter={"first_name": "Jacob", "last_name": "Smith", "country": "US"}),
        _item(reporter={"reason_omitted": {"last_name": "privacy"}, "qualification": "physician"}),
    ).reporter
    assert (merged.first_name, merged.last_name, merged.country) == ("Jacob", None, "US")
    assert merged.reason_omitted == {"last_name": "privacy"}
    assert merged.qualification is not None


def test_P6_products_and_events_combined_initial_primary_stays() -> None:
    merged = reconcile(
        _case(
            products=[{"product": "PRD-1", "rank": 1}],
            events=[{"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}],
        ),
        _item(
            products=[
                {"product": "PRD-2", "rank": 1},
                {"product": "prd-1", "drug_role": "suspect"},
            ],
            events=[
                {
                    "meddra_pt_code": "10019211",
                    "seriousness": ["hospitalization"],
                    "onset": "2025-02-01",
                    "rank": 1,
                }
            ],
        ),
    )
    assert [(p.product, p.rank) for p in merged.products] == [("prd-1", 1), ("PRD-2", 2)]
    assert merged.products[0].drug_role is not None  # updated from the follow-up
    assert len(merged.events) == 1
    assert merged.events[0].event_reported == "headache"
    assert [s.value for s in merged.events[0].seriousness] == ["hospitalization"]
    assert merged.events[0].onset is not None and merged.events[0].onset.precision == "day"


def test_P13_override_uses_item_data_and_appends_initial_narrative_and_documents() -> None:
    initial = _case(
        patient={"initials": "JS"},
        narrative="Initial narrative.",
        documents=["doc-a", {"id": "n1", "type": "narrative"}],
        localization="ja",
    )
    item = _item(
        patient={"initials": "KT"}, narrative="Follow-up narrative.", documents=["doc-b", "doc-a"]
    )
    merged = override_merge(initial, item)
    assert merged.patient.initials == "KT"
    assert merged.narrative == "Follow-up narrative.\n\nInitial narrative."
    assert merged.documents == ["doc-b", "doc-a", {"id": "n1", "type": "narrative"}]
    assert merged.localization == "global"  # the item's localization is carried over
    assert (merged.version, str(merged.receipt_date), str(merged.new_info_date)) == (
        2,
        "2025-01-10",
        "2025-03-01",
    )


def test_P13_smart_merge_keeps_initial_data_the_item_lacks() -> None:
    merged = reconcile(
        _case(narrative="Initial.", patient={"initials": "JS"}), _item(narrative="More.")
    )
    assert merged.patient.initials == "JS"
    assert merged.narrative == "Initial.\n\nMore."


def test_P3_copy_patient_info_copies_patient_and_chosen_sections() -> None:
    matched = _case(
        patient={"initials": "JS", "dob": "1980-06", "mrn": {"hospital": "H-1"}},
        products=[
            {"product": "PRD-1", "drug_role": "suspect", "rank": 1},
            {"product": "PRD-9", "drug_role": "concomitant", "rank": 2},
        ],
        narrative="Old narrative.",
    )
    item = _item(patient={"sex": "female"}, products=[{"product": "PRD-5", "rank": 1}])
    case, copied = copy_patient_info(item, matched, "CASE-II-9", ["concomitant_products"])
    assert (case.case_id, case.version, case.kind.value) == ("CASE-II-9", 1, "case")
    assert case.patient.initials == "JS" and case.patient.sex is not None
    assert case.patient.mrn.hospital == "H-1"
    assert [p.product for p in case.products] == ["PRD-5", "PRD-9"]
    assert case.narrative is None
    assert copied == {
        "patient": ["dob", "initials", "mrn.hospital"],
        "concomitant_products": ["rank 2"],
    }
    assert "C-1" not in str(case.links)  # the new Case is not linked to the matched one
