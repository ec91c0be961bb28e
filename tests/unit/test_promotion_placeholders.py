"""P8 placeholders and P9 localization for created Cases (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.documents import build_document
from indexer.records import Record
from service.promotion.cases import case_localization, new_case_from_item, with_placeholders
from tests.factories import bare


def _item(**fields: Any) -> Record:
    return bare("II-1", **fields)


@pytest.mark.parametrize(
    ("fields", "filled"),
    [
        ({}, ["reporter", "patient.initials", "events[0].event_reported"]),
        (
            {
                "reporter": {"organization": "Clinic"},
                "patient": {"age": {"value": 3, "unit": "year"}},
                "events": [{"meddra_pt_code": "10019211"}],
            },
            [],
        ),
        (
            {
                "reporter": {"reason_omitted": {"last_name": "privacy"}},
                "patient": {"reason_omitted": {"dob": "unknown"}},
                "events": [{"event_reported": "rash"}],
            },
            [],
        ),
        (
            {
                "patient": {"mrn": {"gp": "G-1"}},
                "events": [{"event_reported": "rash"}, {"rank": 2}],
            },
            ["reporter", "events[1].event_reported"],
        ),
        (
            {"patient": {"first_name": "Ann"}, "reporter": {"qualification": "physician"}},
            ["reporter", "patient.initials", "events[0].event_reported"],
        ),
    ],
    ids=[
        "all-blank",
        "all-present",
        "reasons-omitted-count",
        "mrn-and-second-event",
        "names-dont-count",
    ],
)
def test_P8_placeholders_fill_only_blank_sections(
    fields: dict[str, Any], filled: list[str]
) -> None:
    assert with_placeholders(_item(**fields))[1] == filled


def test_P8_placeholders_are_recognizable_and_never_match() -> None:
    case, _ = with_placeholders(new_case_from_item(_item(), "CASE-1"))
    assert case.patient.initials == "PLACEHOLDER"
    assert case.reporter.last_name == "Placeholder reporter"
    assert case.events[0].event_reported == "Placeholder event"
    doc = build_document(case)
    assert doc["patient"]["initials"] is None  # N5: no information, never compared
    assert doc["reporter"]["last_name"] is None and doc["reporter"]["name_tokens"] == []
    assert doc["events"][0]["key"] is None and doc["events"][0]["event_reported"] is None


@pytest.mark.parametrize(
    ("localization", "expected"),
    [
        ("global", "global"),
        ("en", "global"),
        ("en-US", "global"),
        ("", "global"),
        ("ja", "ja"),
        ("fr-CA", "fr-CA"),
        ("de", "de"),
    ],
    ids=lambda v: str(v) or "empty",
)
def test_P9_non_english_localization_makes_domestic_case(localization: str, expected: str) -> None:
    assert case_localization(localization) == expected
    assert new_case_from_item(_item(localization=localization or "global"), "C").localization in (
        expected,
        "global",
    )
