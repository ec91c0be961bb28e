"""What the review page shows: masking (M20), the comparison's blocks (M19), labels."""

from __future__ import annotations

import pytest

from matcher.model import ComparisonRow
from service.ui.views import RESULTS, comparison_groups, field_label, shown_record

RECORD = {
    "id": "II-1",
    "patient": {
        "initials": "JS",
        "first_name": "Jane",
        "edc_subject": "SUBJ-7",
        "age": {"value": 4},
    },
    "reporter": {"last_name": "Smith", "qualification": "physician"},
    "events": [{"event_reported": "rash", "onset": "2025-01-02", "rank": 1}],
    "narrative": "Jane Smith, 44, fell ill.",
}


def test_M20_masked_record_hides_phi_and_free_text() -> None:
    shown = shown_record(RECORD, sees_phi=False)
    assert shown["patient"]["initials"] == shown["patient"]["first_name"] == "***"
    assert shown["patient"]["edc_subject"] == "***"
    assert shown["narrative"] == "***"
    assert shown["reporter"]["last_name"] == "***"
    assert shown["events"][0]["onset"] == "***"
    assert shown["patient"]["age"] == {"value": 4}  # not PHI
    assert shown["reporter"]["qualification"] == "physician"
    assert RECORD["narrative"].startswith("Jane")  # the input is not changed


def test_M20_read_phi_sees_the_values() -> None:
    assert shown_record(RECORD, sees_phi=True)["narrative"] == RECORD["narrative"]


def row(section: str, field: str, source: str | None, result: str = "exact") -> ComparisonRow:
    return ComparisonRow(section=section, field=field, source=source, match=source, result=result)  # type: ignore[arg-type]


def test_M19_each_product_pair_is_a_block_and_the_primary_comes_first() -> None:
    source = {
        "products": [
            {"product_reported": "Aspirin", "product": "PRD-1", "rank": 1},
            {"product_reported": "Ibuprofen", "product": "PRD-2", "rank": 2},
        ],
        "events": [{"event_reported": "rash", "rank": 1}],
    }
    rows = [
        row("patient", "initials", "***", "none"),
        row("products", "product_reported", "Ibuprofen"),
        row("products", "product", "PRD-2"),
        row("products", "product_reported", "Aspirin", "partial"),
        row("products", "product", "PRD-1", "none"),
        row("events", "event_reported", "rash"),
    ]
    groups = comparison_groups(rows, source)
    assert [g.title for g in groups] == [
        "Patient",
        "Product 1 (primary)",
        "Product 2",
        "Adverse Event 1 (primary)",
    ]
    assert [r.source for r in groups[1].rows] == ["Aspirin", "PRD-1"]


def test_M19_masked_primary_event_is_still_recognized_by_its_verbatim() -> None:
    source = {
        "events": [
            {"event_reported": "rash", "meddra_pt": "Rash", "meddra_pt_code": "1", "rank": 1}
        ]
    }
    rows = [row("events", "meddra_pt", "Rash (1)"), row("events", "onset", "***")]
    assert comparison_groups(rows, source)[0].primary


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("mrn_hospital", "MRN hospital"),
        ("wwuid", "WWUID"),
        ("case_identifier~wwuid", "Case identifier ~ WWUID"),
        ("dob", "DOB"),
        ("meddra_pt", "MedDRA PT"),
    ],
    ids=["mrn", "wwuid", "cross-field", "dob", "meddra"],
)
def test_field_labels_read_as_words(name: str, label: str) -> None:
    assert field_label(name) == label


def test_results_differ_by_symbol_and_word_not_colour_alone() -> None:
    assert len({r.symbol for r in RESULTS.values()}) == 3
    assert len({r.text for r in RESULTS.values()}) == 3
