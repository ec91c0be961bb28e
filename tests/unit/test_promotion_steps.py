"""The pure steps around the deciders, table-driven, no engine: lifecycle changes (P5, P16),
promote to multiple (P7), automated refusals and steps (P10-P16), and typed outcomes."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel

from indexer.records import Record
from service.errors import ServiceError
from service.promotion.automated import AutoDecision, auto_refusal, auto_step
from service.promotion.errors import ActionRefusedError, PrerequisitesError, TransitionError
from service.promotion.ledger import StateChange
from service.promotion.lifecycle import item_state_change, reset_change, unmark_change
from service.promotion.multiple import plan_multiple
from service.promotion.outcomes import (
    ITEM_OUTCOME,
    AutoMarkedFollowUp,
    AutoPromotionFailed,
    CaseCreated,
    CasesCreated,
    FollowUpCreated,
    MarkedDuplicate,
    MissingInformation,
    Reset,
    outcome_json,
    status_of,
)
from service.promotion.plans import PlanDraft, PlanKind
from service.promotion.policy import OrgPolicy
from service.promotion.writers import WRITERS
from service.settings import TransmissionProfile

COMPLETE: dict[str, Any] = {
    "receipt_date": "2025-03-01",
    "patient": {"initials": "QX"},
    "reporter": {"last_name": "Nordmann", "country": "NO"},
    "products": [{"product": "PRD-1", "rank": 1, "drug_role": "suspect"}],
    "events": [{"event_reported": "rash", "rank": 1}],
}


def _item(state: str = "new", source: str = "intake_api", **fields: Any) -> Record:
    return Record.model_validate(
        {
            "id": "II-1",
            "kind": "inbox_item",
            "organization": "ORG-A",
            "state": state,
            "source": source,
            **fields,
        }
    )


# -- P5 / P16 / manual state changes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior", "to_state"),
    [("triage", "triage"), ("verified", "verified"), (None, "new"), ("promoted", "new")],
    ids=["back-to-triage", "back-to-verified", "no-prior-means-new", "never-back-to-promoted"],
)
def test_P5_unmark_returns_to_the_prior_state(prior: str | None, to_state: str) -> None:
    links = {"follow_up_of": "C-1", **({"prior_state": prior} if prior else {})}
    change = unmark_change(_item("marked_as_follow_up", links=links))
    assert isinstance(change, StateChange)
    assert (change.to_state, outcome_json(change.outcome)) == (
        to_state,
        {"outcome": "unmarked", "state": to_state},
    )
    assert set(change.drop_links) >= {"follow_up_of", "prior_state"}


@pytest.mark.parametrize(
    ("step", "state"),
    [
        (unmark_change, "new"),
        (unmark_change, "promoted"),
        (reset_change, "new"),
        (reset_change, "promoted"),
    ],
    ids=["unmark-unmarked", "unmark-promoted", "reset-new", "reset-promoted"],
)
def test_P5_P16_refused_from_other_states(step: Any, state: str) -> None:
    refused = step(_item(state))
    assert isinstance(refused, TransitionError)
    assert f"in state '{state}'" in refused.message


@pytest.mark.parametrize(
    "state", ["promotion_failed", "missing_information"], ids=["failed", "missing-info"]
)
def test_P16_reset_sends_failed_items_back_to_new(state: str) -> None:
    change = reset_change(_item(state, links={"automation_message": "why"}))
    assert isinstance(change, StateChange)
    assert (change.to_state, change.outcome) == ("new", Reset())
    assert change.details == {"automation_message": "why"}


def test_manual_item_state_change_names_its_state() -> None:
    change = item_state_change("triage")
    assert (change.action, change.to_state) == ("set_state:triage", "triage")
    assert outcome_json(change.outcome) == {"outcome": "state_changed", "state": "triage"}


# -- P7 promote to multiple ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (_item(source="e2b", **COMPLETE), ActionRefusedError),
        (_item("duplicate", **COMPLETE), TransitionError),
        (_item(), PrerequisitesError),
    ],
    ids=["e2b-refused", "state-refused", "prerequisites"],
)
def test_P7_refusals(item: Record, error: type[ServiceError]) -> None:
    policy = OrgPolicy(minimum_case_criteria=True)
    assert type(plan_multiple(item, 2, policy)) is error


def test_P7_plans_n_cases_numbered_from_one() -> None:
    draft = plan_multiple(_item(**COMPLETE), 3, OrgPolicy(minimum_case_criteria=True))
    assert isinstance(draft, PlanDraft)
    assert (draft.kind, draft.case_ids) == (
        "multiple",
        ["CASE-II-1-001", "CASE-II-1-002", "CASE-II-1-003"],
    )


# -- P10-P16 automated promotion ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "profile", "phrase"),
    [
        (_item(source="manual"), TransmissionProfile(), "automated promotion is for"),
        (_item(), TransmissionProfile(auto_promote=False), "does not enable auto-promote"),
        (_item("promotion_failed"), TransmissionProfile(), "reset it to new first"),
        (_item("triage"), TransmissionProfile(), "in state 'triage'"),
    ],
    ids=["manual-source", "profile-off", "P16-failed-waits-for-reset", "not-new"],
)
def test_P16_auto_refusals(item: Record, profile: TransmissionProfile, phrase: str) -> None:
    refused = auto_refusal(item, "default", profile)
    assert refused is not None and phrase in refused.message


def test_P10_auto_accepts_a_new_item_from_an_automated_source() -> None:
    assert auto_refusal(_item(), "default", TransmissionProfile()) is None


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (
            AutoDecision("initial_case"),
            {"action": "auto_promote", "kind": "initial", "case_ids": ["CASE-II-1"]},
        ),
        (
            AutoDecision("follow_up_case", case_id="C-1", case_version=2, method="override"),
            {
                "action": "auto_promote",
                "kind": "follow_up",
                "case_ids": ["C-1"],
                "target_case_id": "C-1",
                "target_version": 2,
                "method": "override",
            },
        ),
    ],
    ids=["P13-initial-case", "P15-follow-up"],
)
def test_P13_P15_auto_decisions_that_write_cases(
    decision: AutoDecision, expected: dict[str, Any]
) -> None:
    step = auto_step(_item(), decision)
    assert isinstance(step, PlanDraft)
    assert step.model_dump(exclude_defaults=True) == expected


@pytest.mark.parametrize(
    ("decision", "links", "outcome"),
    [
        (
            AutoDecision("marked_as_follow_up", case_id="C-1", message="m"),
            {"automation_message": "m", "follow_up_of": "C-1", "prior_state": "new"},
            {
                "outcome": "marked_as_follow_up",
                "state": "marked_as_follow_up",
                "automation_message": "m",
                "case_id": "C-1",
            },
        ),
        (
            AutoDecision("promotion_failed", case_id="C-1", message="m"),
            {"automation_message": "m", "failed_case_id": "C-1"},
            {
                "outcome": "promotion_failed",
                "state": "promotion_failed",
                "automation_message": "m",
                "case_id": "C-1",
            },
        ),
        (
            AutoDecision("promotion_failed", message="m"),
            {"automation_message": "m"},
            {"outcome": "promotion_failed", "state": "promotion_failed", "automation_message": "m"},
        ),
    ],
    ids=["P12-marked", "P14-failed-one-case", "P11-failed-several-cases"],
)
def test_P12_P14_P16_auto_decisions_on_the_item(
    decision: AutoDecision, links: dict[str, Any], outcome: dict[str, Any]
) -> None:
    step = auto_step(_item(), decision)
    assert isinstance(step, StateChange)
    assert (step.to_state, step.links, outcome_json(step.outcome)) == (
        decision.outcome,
        links,
        outcome,
    )


# -- typed outcomes ------------------------------------------------------------------------------

OUTCOMES: list[BaseModel] = [
    CaseCreated(case_id="C", case_version=1, inbound_transmission_id="IT"),
    FollowUpCreated(
        case_id="C", case_version=2, inbound_transmission_id="IT", merge_method="smart"
    ),
    CasesCreated(count=1, case_ids=["C"], first_case_id="C", inbound_transmission_ids=["IT"]),
    MarkedDuplicate.model_validate({"duplicate_of": {"record_type": "case", "record_id": "C"}}),
    MissingInformation(
        automation_message="m", validation_errors=["e"], inbound_transmission_id="IT"
    ),
    AutoMarkedFollowUp(automation_message="m", case_id="C"),
    AutoPromotionFailed(automation_message="m"),
    Reset(),
]


@pytest.mark.parametrize("outcome", OUTCOMES, ids=[type(o).__name__ for o in OUTCOMES])
def test_P17_a_stored_outcome_reads_back_as_the_same_typed_value(outcome: BaseModel) -> None:
    """A replay answers what the first call did: JSON -> union -> the same model."""
    assert ITEM_OUTCOME.validate_python(outcome_json(outcome)) == outcome


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(OUTCOMES[0], 201), (OUTCOMES[1], 201), (OUTCOMES[2], 201), (OUTCOMES[3], 200)],
    ids=["case-created", "follow-up-created", "cases-created", "marked-duplicate"],
)
def test_outcomes_that_create_cases_answer_201(outcome: BaseModel, status: int) -> None:
    assert status_of(outcome) == status


def test_every_plan_kind_has_exactly_one_writer() -> None:
    kinds = [writer.kind for writer in WRITERS]
    assert sorted(kinds) == sorted(get_args(PlanKind))
