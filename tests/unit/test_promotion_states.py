"""The Inbox Item and Case state machines (SPEC §1) and P1/P10/P13 pure rules."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from indexer.records import CaseState, InboxState, Record
from service.promotion.errors import TransitionError
from service.promotion.rules import classify_seriousness, missing_prerequisites, validation_errors
from service.promotion.states import (
    CASE_TRANSITIONS,
    INBOX_TRANSITIONS,
    can_transition,
    is_in_flight,
    transition,
)
from tests.factories import bare


def _item(**fields: Any) -> Record:
    return bare("II-1", **fields)


def test_every_state_has_a_transition_row() -> None:
    assert set(INBOX_TRANSITIONS) == {s.value for s in InboxState}
    assert set(CASE_TRANSITIONS) == {s.value for s in CaseState}
    for table in (INBOX_TRANSITIONS, CASE_TRANSITIONS):
        for targets in table.values():
            assert targets <= set(table)


@pytest.mark.parametrize(
    ("kind", "src", "dst"),
    [
        ("inbox_item", "new", "processing"),
        ("inbox_item", "processing", "promoted"),
        ("inbox_item", "new", "duplicate"),
        ("inbox_item", "verified", "marked_as_follow_up"),
        ("inbox_item", "marked_as_follow_up", "new"),
        ("inbox_item", "promotion_failed", "new"),
        ("inbox_item", "missing_information", "new"),
        ("case", "new", "superseded"),
        ("case", "approved", "superseded"),
        ("case", "voiding", "void"),
    ],
    ids=lambda v: str(v),
)
def test_allowed_transitions(kind: Any, src: str, dst: str) -> None:
    assert transition(kind, src, dst) == dst


@pytest.mark.parametrize(
    ("kind", "src", "dst"),
    [
        ("inbox_item", "promoted", "new"),
        ("inbox_item", "promoted", "marked_as_follow_up"),
        ("inbox_item", "duplicate", "promoted"),
        ("inbox_item", "rejected", "new"),
        ("inbox_item", "promotion_failed", "promoted"),
        ("inbox_item", "new", "promoted"),
        ("case", "void", "new"),
        ("case", "superseded", "approved"),
        ("case", "deleted", "superseded"),
    ],
    ids=lambda v: str(v),
)
def test_refused_transitions_name_the_current_state(kind: Any, src: str, dst: str) -> None:
    with pytest.raises(TransitionError) as exc:
        transition(kind, src, dst, record_id="X-1", action="promote")
    assert exc.value.status_code == 409
    assert f"in state '{src}'" in exc.value.message
    assert "X-1" in exc.value.message


def test_P5_promoted_item_can_never_be_unlinked() -> None:
    assert INBOX_TRANSITIONS["promoted"] == frozenset()
    assert not can_transition("inbox_item", "promoted", "marked_as_follow_up")


@pytest.mark.parametrize(
    ("state", "in_flight"),
    [
        ("new", True),
        ("in_progress", True),
        ("medical_review", True),
        ("approved", False),
        ("closed", False),
        ("superseded", False),
        ("void", False),
        ("nullifying", False),
        ("deleted", False),
    ],
    ids=lambda v: str(v),
)
def test_in_flight_case_states(state: str, in_flight: bool) -> None:
    assert is_in_flight(state) is in_flight


# -- P1 -----------------------------------------------------------------------

_COMPLETE: dict[str, Any] = {
    "patient": {"initials": "JS"},
    "reporter": {"last_name": "Smith", "country": "US"},
    "events": [{"event_reported": "headache"}],
    "products": [{"product": "PRD-1"}],
}


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        (_COMPLETE, []),
        ({**_COMPLETE, "patient": {}}, ["identifiable patient"]),
        ({**_COMPLETE, "patient": {"reason_omitted": {"initials": "privacy"}}}, []),
        ({**_COMPLETE, "patient": {"initials": "UNK"}}, ["identifiable patient"]),
        ({**_COMPLETE, "reporter": {"country": "US"}}, ["identifiable reporter"]),
        (
            {**_COMPLETE, "reporter": {"last_name": "Smith"}},
            ["country (primary reporter or adverse event)"],
        ),
        (
            {
                **_COMPLETE,
                "reporter": {"last_name": "Smith"},
                "events": [{"event_reported": "rash", "country": "FR"}],
            },
            [],
        ),
        ({**_COMPLETE, "events": []}, ["adverse event"]),
        (
            {**_COMPLETE, "products": [{"product_reported": "aspirin"}]},
            ["study or company product"],
        ),
        ({**_COMPLETE, "products": [], "study": "STUDY-1"}, []),
        (
            {},
            [
                "identifiable patient",
                "identifiable reporter",
                "country (primary reporter or adverse event)",
                "adverse event",
                "study or company product",
            ],
        ),
    ],
    ids=[
        "complete",
        "no-patient",
        "patient-withheld",
        "patient-unk",
        "no-reporter",
        "no-country",
        "event-country",
        "no-event",
        "no-company-product",
        "study",
        "empty",
    ],
)
def test_P1_minimum_case_criteria_itemized(fields: dict[str, Any], missing: list[str]) -> None:
    assert missing_prerequisites(_item(**fields), minimum_case_criteria=True) == missing


def test_P1_only_organization_without_minimum_criteria() -> None:
    assert missing_prerequisites(_item(), minimum_case_criteria=False) == []


# -- P10 ----------------------------------------------------------------------

_VALID: dict[str, Any] = {
    "receipt_date": "2025-03-01",
    "events": [{"event_reported": "headache"}],
    "products": [{"product": "PRD-1", "rank": 1}],
}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (_VALID, []),
        ({**_VALID, "receipt_date": None}, ["receipt_date: a value is required"]),
        (
            {**_VALID, "events": []},
            ["events: at least one adverse event (reported or MedDRA) is required"],
        ),
        (
            {**_VALID, "products": [{"product": "PRD-1", "rank": 2}]},
            ["products: no primary company product with rank 1"],
        ),
        (
            {**_VALID, "products": [{"product_reported": "aspirin", "rank": 1}]},
            ["products: no primary company product with rank 1"],
        ),
        ({**_VALID, "new_info_date": "2025-02-01"}, ["new_info_date: before receipt_date"]),
    ],
    ids=["valid", "no-receipt", "no-event", "rank-2", "uncoded", "new-info-before"],
)
def test_P10_validation_errors(fields: dict[str, Any], errors: list[str]) -> None:
    assert validation_errors(_item(**fields), today=date(2026, 1, 1)) == errors


def test_P10_future_date_is_a_validation_error() -> None:
    # Stored yesterday, validated "as of" an earlier day: the receipt date is in its future.
    item = _item(**_VALID)
    assert validation_errors(item, today=date(2025, 1, 1)) == [
        "receipt_date: date is in the future"
    ]


# -- P13 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], "non_serious"),
        ([{"event_reported": "rash", "rank": 1}], "non_serious"),
        ([{"event_reported": "rash", "rank": 1, "seriousness": ["hospitalization"]}], "serious"),
        (
            [
                {"event_reported": "rash", "rank": 2, "seriousness": ["death"]},
                {"event_reported": "itch", "rank": 1},
            ],
            "non_serious",
        ),
    ],
    ids=["no-event", "blank-seriousness", "primary-serious", "only-secondary-serious"],
)
def test_P13_serious_when_primary_event_has_seriousness(events: list[Any], expected: str) -> None:
    assert classify_seriousness(_item(events=events)) == expected
