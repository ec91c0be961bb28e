"""Decisions on potential matches (P3-P4) as a pure function, table-driven, no engine.

Each row: the item's state, the request, the target as looked up, the policy,
and what :func:`decide_manual` answers - a plan (Cases to write), a state
change, or the refusal (its type and a phrase of its message).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from indexer.records import Record
from service.errors import NotFound, ServiceError
from service.promotion.decisions import (
    DecisionRequest,
    Target,
    decide_manual,
    target_id_of,
)
from service.promotion.errors import ActionRefusedError, InvalidRequestError, TransitionError
from service.promotion.ledger import StateChange
from service.promotion.outcomes import MarkedDuplicate, MarkedFollowUp, outcome_json
from service.promotion.plans import PlanDraft
from service.promotion.policy import OrgPolicy


def _item(state: str = "new", **links: Any) -> Record:
    return Record.model_validate(
        {
            "id": "II-1",
            "kind": "inbox_item",
            "organization": "ORG-A",
            "state": state,
            "links": links,
        }
    )


def _case(state: str = "in_progress", version: int = 1) -> Record:
    return Record.model_validate(
        {
            "id": "C-1",
            "case_id": "C-1",
            "kind": "case",
            "organization": "ORG-A",
            "state": state,
            "version": version,
        }
    )


def _case_target(state: str = "in_progress", version: int = 1) -> Target:
    return Target("case", "C-1", _case(state, version))


MISSING_CASE = Target("case", "C-9", None)


@dataclass(frozen=True)
class Row:
    request: DecisionRequest
    target: Target | None = None
    state: str = "new"
    policy: OrgPolicy = field(default_factory=OrgPolicy)
    links: dict[str, Any] = field(default_factory=dict)


PLANS: list[tuple[str, Row, dict[str, Any]]] = [
    (
        "create-new-case",
        Row(DecisionRequest("create_new_case")),
        {"action": "create_new_case", "kind": "initial", "case_ids": ["CASE-II-1"]},
    ),
    (
        "create-new-case-from-triage",
        Row(DecisionRequest("create_new_case"), state="triage"),
        {"action": "create_new_case", "kind": "initial", "case_ids": ["CASE-II-1"]},
    ),
    (
        "copy-patient-info",
        Row(
            DecisionRequest("copy_patient_info", "C-1", copy=("narrative",)),
            _case_target("approved", 3),
        ),
        {
            "action": "copy_patient_info",
            "kind": "copy",
            "case_ids": ["CASE-II-1"],
            "target_case_id": "C-1",
            "target_version": 3,
            "copy_sections": ["narrative"],
        },
    ),
    (
        "merge-to-current",
        Row(DecisionRequest("merge_to_current", "C-1"), _case_target("approved", 2)),
        {
            "action": "merge_to_current",
            "kind": "follow_up",
            "case_ids": ["C-1"],
            "target_case_id": "C-1",
            "target_version": 2,
            "method": "smart",
        },
    ),
    (
        "merge-a-marked-follow-up",  # P3: from marked_as_follow_up, not a promotable state
        Row(
            DecisionRequest("merge_to_current"),
            _case_target(),
            state="marked_as_follow_up",
            links={"follow_up_of": "C-1"},
        ),
        {
            "action": "merge_to_current",
            "kind": "follow_up",
            "case_ids": ["C-1"],
            "target_case_id": "C-1",
            "target_version": 1,
            "method": "smart",
        },
    ),
]


def _decide(row: Row) -> PlanDraft | StateChange | ServiceError:
    return decide_manual(_item(row.state, **row.links), row.request, row.target, row.policy)


@pytest.mark.parametrize(
    ("row", "expected"), [(r, e) for _, r, e in PLANS], ids=[i for i, _, _ in PLANS]
)
def test_P3_decisions_that_write_cases_are_plans(row: Row, expected: dict[str, Any]) -> None:
    decision = _decide(row)
    assert isinstance(decision, PlanDraft)
    assert decision.model_dump(exclude_defaults=True) == expected


CHANGES: list[tuple[str, Row, str, dict[str, Any], dict[str, Any]]] = [
    (
        "mark-duplicate-of-case",
        Row(DecisionRequest("mark_duplicate", "C-1"), _case_target()),
        "duplicate",
        {"duplicate_of": {"record_type": "case", "record_id": "C-1"}},
        {
            "outcome": "marked_duplicate",
            "duplicate_of": {"record_type": "case", "record_id": "C-1"},
            "state": "duplicate",
        },
    ),
    (
        "mark-duplicate-of-item",
        Row(
            DecisionRequest("mark_duplicate", "II-2"),
            Target("inbox_item", "II-2", _item().model_copy(update={"id": "II-2"})),
        ),
        "duplicate",
        {"duplicate_of": {"record_type": "inbox_item", "record_id": "II-2"}},
        {
            "outcome": "marked_duplicate",
            "duplicate_of": {"record_type": "inbox_item", "record_id": "II-2"},
            "state": "duplicate",
        },
    ),
    (
        "marked-follow-up-may-become-duplicate",  # P3: whatever the promotable states
        Row(
            DecisionRequest("mark_duplicate", "C-1"),
            _case_target(),
            state="marked_as_follow_up",
            policy=OrgPolicy(promotable_states=frozenset({"new"})),
        ),
        "duplicate",
        {"duplicate_of": {"record_type": "case", "record_id": "C-1"}},
        {
            "outcome": "marked_duplicate",
            "duplicate_of": {"record_type": "case", "record_id": "C-1"},
            "state": "duplicate",
        },
    ),
    (
        "mark-follow-up-of-in-flight-case",
        Row(DecisionRequest("mark_follow_up", "C-1"), _case_target("in_progress", 4), "verified"),
        "marked_as_follow_up",
        {"follow_up_of": "C-1", "prior_state": "verified"},
        {"outcome": "marked_follow_up", "case_id": "C-1", "state": "marked_as_follow_up"},
    ),
]


@pytest.mark.parametrize(
    ("row", "to_state", "links", "outcome"),
    [(r, s, lk, o) for _, r, s, lk, o in CHANGES],
    ids=[i for i, *_ in CHANGES],
)
def test_P3_decisions_on_the_item_only_are_state_changes(
    row: Row, to_state: str, links: dict[str, Any], outcome: dict[str, Any]
) -> None:
    decision = _decide(row)
    assert isinstance(decision, StateChange)
    assert (decision.action, decision.to_state, decision.links) == (
        row.request.action,
        to_state,
        links,
    )
    assert isinstance(decision.outcome, MarkedDuplicate | MarkedFollowUp)
    assert outcome_json(decision.outcome) == outcome


REFUSALS: list[tuple[str, Row, type[ServiceError], str]] = [
    (
        "promoted-item",
        Row(DecisionRequest("create_new_case"), state="promoted"),
        TransitionError,
        "in state 'promoted'",
    ),
    (
        "state-not-promotable-by-settings",
        Row(
            DecisionRequest("create_new_case"),
            state="triage",
            policy=OrgPolicy(promotable_states=frozenset({"verified"})),
        ),
        TransitionError,
        "in state 'triage'",
    ),
    (
        "state-checked-before-target",  # 409 before 404: the item's state is checked first
        Row(DecisionRequest("copy_patient_info", "C-9"), MISSING_CASE, state="duplicate"),
        TransitionError,
        "in state 'duplicate'",
    ),
    (
        "copy-without-target",
        Row(DecisionRequest("copy_patient_info")),
        InvalidRequestError,
        "needs the id of the matched record",
    ),
    (
        "copy-from-missing-case",
        Row(DecisionRequest("copy_patient_info", "C-9", copy=("narrative",)), MISSING_CASE),
        NotFound,
        "'C-9' not found",
    ),
    (
        "copy-section-casematch-does-not-hold",
        Row(DecisionRequest("copy_patient_info", "C-1", copy=("drug_history",)), _case_target()),
        InvalidRequestError,
        "not held by casematch records",
    ),
    (
        "copy-unknown-section",
        Row(DecisionRequest("copy_patient_info", "C-1", copy=("wallet",)), _case_target()),
        InvalidRequestError,
        "unknown section",
    ),
    (
        "duplicate-of-itself",
        Row(DecisionRequest("mark_duplicate", "II-1"), Target("inbox_item", "II-1", _item())),
        InvalidRequestError,
        "cannot duplicate itself",
    ),
    (
        "duplicate-of-another-orgs-item",  # looked up as None: indistinguishable from missing
        Row(DecisionRequest("mark_duplicate", "II-7"), Target("inbox_item", "II-7", None)),
        NotFound,
        "'II-7' not found",
    ),
    (
        "mark-follow-up-disabled",
        Row(
            DecisionRequest("mark_follow_up", "C-1"),
            _case_target(),
            policy=OrgPolicy(allow_mark_follow_up=False),
        ),
        ActionRefusedError,
        "not enabled",
    ),
    (
        "P4-mark-follow-up-of-void-case",
        Row(DecisionRequest("mark_follow_up", "C-1"), _case_target("void")),
        ActionRefusedError,
        "in state 'void'",
    ),
    (
        "P4-settings-prohibit-follow-up",
        Row(
            DecisionRequest("merge_to_current", "C-1"),
            _case_target("closed"),
            policy=OrgPolicy(prohibited_follow_up_states=frozenset({"closed"})),
        ),
        ActionRefusedError,
        "settings prohibit",
    ),
    (
        "mark-follow-up-needs-in-flight-case",
        Row(DecisionRequest("mark_follow_up", "C-1"), _case_target("approved")),
        ActionRefusedError,
        "needs an in-flight Case",
    ),
    (
        "P4-merge-into-nullified-case",
        Row(DecisionRequest("merge_to_current", "C-1"), _case_target("nullified")),
        ActionRefusedError,
        "refused for a Case in that state",
    ),
    (
        "merge-without-target-or-mark",
        Row(DecisionRequest("merge_to_current")),
        InvalidRequestError,
        "needs the id of the matched record",
    ),
]


@pytest.mark.parametrize(
    ("row", "error", "phrase"),
    [(r, e, p) for _, r, e, p in REFUSALS],
    ids=[i for i, *_ in REFUSALS],
)
def test_P3_P4_refusals_are_returned_not_raised(
    row: Row, error: type[ServiceError], phrase: str
) -> None:
    decision = _decide(row)
    assert type(decision) is error
    assert isinstance(decision, ServiceError)
    assert phrase in decision.message or phrase in str(getattr(decision, "details", ""))


@pytest.mark.parametrize(
    ("request_", "links", "expected"),
    [
        (DecisionRequest("merge_to_current"), {"follow_up_of": "C-5"}, "C-5"),
        (DecisionRequest("merge_to_current", "C-1"), {"follow_up_of": "C-5"}, "C-1"),
        (DecisionRequest("mark_follow_up"), {"follow_up_of": "C-5"}, None),
    ],
    ids=["merge-defaults-to-marked-case", "merge-named-case-wins", "only-merge-defaults"],
)
def test_P3_target_of_a_decision(
    request_: DecisionRequest, links: dict[str, Any], expected: str | None
) -> None:
    assert target_id_of(_item("marked_as_follow_up", **links), request_) == expected
