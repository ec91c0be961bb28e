"""Which decisions the item page enables, and the reason it gives for each disabled one."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.records import Record
from matcher.model import Header, Match, RecordRef, Status
from service.auth import Principal
from service.settings import OrganizationSettings, Settings
from service.ui.decisions import ACTIONS, consequence, decisions_for

WRITER = Principal("w", frozenset({"ORG-A"}), frozenset({"promote"}))
READER = Principal("r", frozenset({"ORG-A"}), frozenset({"read_matches"}))


def item(state: str = "new", source: str = "manual", **links: Any) -> Record:
    return Record.model_validate(
        {
            "id": "II-1",
            "kind": "inbox_item",
            "organization": "ORG-A",
            "state": state,
            "source": source,
            "links": links,
        }
    )


def match(record_type: str = "case", state: str = "in_progress") -> Match:
    return Match(
        record_type=record_type,  # type: ignore[arg-type]
        record_id="CASE-9" if record_type == "case" else "II-9",
        rank=1,
        status=Status(),
        comparison=[],
        state=state,
        header=Header(source=RecordRef(), match=RecordRef(), state=state),
    )


def enabled(record: Record, m: Match | None, principal: Principal = WRITER, **kw: Any) -> set[str]:
    return {
        d.action
        for d in decisions_for(record, m, principal, kw.pop("s", Settings()), **kw)
        if d.enabled
    }


def reason(record: Record, m: Match | None, action: str, **kw: Any) -> str:
    settings = kw.pop("s", Settings())
    return next(
        d.reason for d in decisions_for(record, m, WRITER, settings, **kw) if d.action == action
    )


CASES = [
    ("new-no-match", item(), None, {"promote", "create_new_case", "promote_multiple"}),
    (
        "new-case-match",
        item(),
        match(),
        {
            "promote",
            "create_new_case",
            "copy_patient_info",
            "mark_duplicate",
            "mark_follow_up",
            "merge_to_current",
            "promote_multiple",
        },
    ),
    (
        "new-item-match",
        item(),
        match("inbox_item", "new"),
        {"promote", "create_new_case", "mark_duplicate", "promote_multiple"},
    ),
    ("new-e2b", item(source="e2b"), None, {"promote", "create_new_case"}),
    (
        "follow-up-item",
        item("marked_as_follow_up", follow_up_of="CASE-9"),
        None,
        {"unmark_follow_up", "merge_to_current"},
    ),
    ("failed", item("promotion_failed"), match(), {"reset_to_new"}),
    ("missing-information", item("missing_information"), None, {"reset_to_new"}),
    ("promoted", item("promoted"), match(), set()),
    ("duplicate", item("duplicate"), None, set()),
    (
        "approved-case-match",
        item(),
        match("case", "approved"),
        {
            "promote",
            "create_new_case",
            "copy_patient_info",
            "mark_duplicate",
            "merge_to_current",
            "promote_multiple",
        },
    ),
    (
        "void-case-match",
        item(),
        match("case", "void"),
        {"promote", "create_new_case", "copy_patient_info", "mark_duplicate", "promote_multiple"},
    ),
]


@pytest.mark.parametrize(
    ("record", "m", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_P1_P9_P16_decisions_enabled_by_state_source_and_match(
    record: Record, m: Match | None, expected: set[str]
) -> None:
    assert enabled(record, m, follow_up_state="in_progress") == expected


def test_every_decision_is_listed_in_order_even_when_disabled() -> None:
    assert [d.action for d in decisions_for(item("duplicate"), None, WRITER, Settings())] == list(
        ACTIONS
    )


def test_a_key_without_promote_sees_every_decision_disabled_with_the_reason() -> None:
    listed = decisions_for(item(), match(), READER, Settings())
    assert not any(d.enabled for d in listed)
    assert {d.reason for d in listed} == {"this API key lacks the permission: promote"}


@pytest.mark.parametrize(
    ("record", "m", "action", "expected"),
    [
        (item("duplicate"), None, "create_new_case", "is in state 'duplicate'"),
        (item(source="e2b"), None, "promote_multiple", "E2B-imported"),
        (item(), None, "mark_duplicate", "choose a match first"),
        (item(), match("inbox_item", "new"), "mark_follow_up", "needs a Case"),
        (item(), match("case", "void"), "mark_follow_up", "refused for a Case in that state"),
        (item(), match("case", "approved"), "mark_follow_up", "needs an in-flight Case"),
        (item(), None, "unmark_follow_up", "not marked_as_follow_up"),
        (item(), None, "reset_to_new", "only a promotion_failed or missing_information"),
    ],
    ids=[
        "P1-closed-item",
        "P7-e2b",
        "P3-no-match-chosen",
        "P3-follow-up-of-an-item",
        "P4-void-case",
        "P3-approved-case",
        "P5-not-a-follow-up",
        "P16-not-failed",
    ],
)
def test_disabled_decision_says_why(
    record: Record, m: Match | None, action: str, expected: str
) -> None:
    assert expected in reason(record, m, action)


def test_P4_state_prohibited_by_the_organization_is_the_reason() -> None:
    settings = Settings(
        organizations={
            "ORG-A": OrganizationSettings(prohibited_follow_up_states=["medical_review"])
        }
    )
    why = reason(item(), match("case", "medical_review"), "merge_to_current", s=settings)
    assert "organization's settings prohibit" in why


def test_P3_mark_follow_up_disabled_when_the_organization_turns_it_off() -> None:
    settings = Settings(organizations={"ORG-A": OrganizationSettings(allow_mark_follow_up=False)})
    assert "not enabled for this organization" in reason(
        item(), match(), "mark_follow_up", s=settings
    )


@pytest.mark.parametrize("action", ACTIONS, ids=ACTIONS)
def test_confirmation_says_what_happens_with_ids_only(action: str) -> None:
    from service.ui.decisions import Target

    text = consequence(
        action, item(), Target("case", "CASE-9", "in_progress"), count=3, settings=Settings()
    )  # type: ignore[arg-type]
    assert "II-1" in text
    if action in ("copy_patient_info", "mark_duplicate", "mark_follow_up", "merge_to_current"):
        assert "Case CASE-9" in text
    if action == "promote_multiple":
        assert text.startswith("3 Cases are created")
