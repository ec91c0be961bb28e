"""The soak's checking logic (``benchmarks.service_load.SoakResult``): which answers count as
a duplicate Case, a conflicting decision, a lost write; the soak itself is a benchmark."""

from __future__ import annotations

import pytest

from benchmarks.service_load import SoakResult, lonely_item

CREATED = {"outcome": "case_created", "case_id": "CASE-II-1", "state": "promoted"}
DUPLICATE = {"outcome": "marked_duplicate", "state": "duplicate"}
MATCHES = {"outcome": "potential_matches", "state": "new"}


def _result(*answers: tuple[str, dict[str, object]]) -> SoakResult:
    result = SoakResult()
    for item_id, body in answers:
        result.acknowledge(item_id, body)
    result.cases_after = result.cases_before + result.cases_created
    return result


@pytest.mark.parametrize(
    ("answers", "broken"),
    [
        ([("II-1", CREATED)], []),
        # a contested promotion's losers replay the winner's outcome: one Case
        ([("II-1", CREATED), ("II-1", CREATED), ("II-1", CREATED)], []),
        (
            [("II-1", CREATED), ("II-1", {**CREATED, "case_id": "CASE-II-1-b"})],
            ["1 items with duplicate Cases"],
        ),
        ([("II-1", CREATED), ("II-1", DUPLICATE)], ["1 items both promoted and duplicate"]),
        ([("II-1", MATCHES), ("II-2", DUPLICATE)], []),
    ],
    ids=[
        "one-case",
        "replayed-outcome-is-one-case",
        "two-cases-for-one-item",
        "case-and-duplicate-for-one-item",
        "matches-and-a-duplicate-mark",
    ],
)
def test_P17_soak_counts_duplicates_by_distinct_case(
    answers: list[tuple[str, dict[str, object]]], broken: list[str]
) -> None:
    assert _result(*answers).violations() == broken


def test_soak_flags_5xx_lost_writes_and_cases_no_answer_named() -> None:
    result = _result(("II-1", CREATED))
    result.note("promote", 12.0, 503)
    result.lost.append("item II-2")
    result.cases_after += 1  # the store holds a Case that no answer acknowledged
    result.inconsistent.append("item II-1 is not promoted to its Case")
    assert result.violations() == [
        "1 5xx",
        "1 lost acknowledged writes",
        "1 Case documents no answer acknowledged",
        "1 read-back mismatches",
    ]


def test_lonely_items_keep_the_organization_and_share_no_identifying_value() -> None:
    base = {
        "id": "II-9",
        "organization": "ORG-A",
        "receipt_date": "2025-01-01",
        "patient": {"initials": "JS", "first_name": "Jane"},
        "identifiers": {"case_identifiers": ["CI-9"], "wwuid": "US-1"},
    }
    a, b = lonely_item(base, 1, 42), lonely_item(base, 2, 42)
    assert a["organization"] == "ORG-A" and a["receipt_date"] == "2025-01-01"
    assert a["id"] != b["id"] and a["patient"] != b["patient"]
    assert "wwuid" not in a["identifiers"] and a["patient"]["first_name"] != "Jane"
