"""Decisions on an item's potential matches (P3-P4): a pure decider, then the action.

:func:`decide_manual` is P3/P4 as one pure function, like
:func:`~service.promotion.automated.decide_auto` for automated promotion: from
the Inbox Item, the decision requested, the record the decision targets (the
match the person chose from the item's detection, as looked up; ``None`` when
missing or another organization's) and the organization's policy, it returns

* a :class:`~service.promotion.plans.PlanDraft` - Cases to write
  (create_new_case, copy_patient_info, merge_to_current);
* a :class:`~service.promotion.ledger.StateChange` - the item's state only
  (mark_duplicate, mark_follow_up);
* or the refusal, a typed error (409 / 404 / 422) in the order the checks run.

:class:`Decisions` does the I/O around it: loads the item, looks the target
up, and runs the plan or writes the change.

    >>> decide_manual(item, DecisionRequest("create_new_case"), None, OrgPolicy()).kind  # doctest: +SKIP
    'initial'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import TypeAdapter

from indexer.records import Record
from service.auth import Principal
from service.errors import NotFound, ServiceError
from service.promotion.access import ItemAccess, RecordType
from service.promotion.errors import ActionRefusedError, InvalidRequestError
from service.promotion.followup import COPY_SECTIONS, UNSUPPORTED_COPY_SECTIONS
from service.promotion.ledger import ItemLedger, StateChange
from service.promotion.outcomes import (
    DecisionOutcome,
    DuplicateOf,
    ItemOutcome,
    MarkedDuplicate,
    MarkedFollowUp,
)
from service.promotion.plans import Plan, PlanDraft, PlanRunner, case_id_for
from service.promotion.policy import OrgPolicy, follow_up_refused, not_promotable
from service.promotion.states import is_in_flight
from service.settings import Settings

DecisionAction = Literal[
    "create_new_case", "copy_patient_info", "mark_duplicate", "mark_follow_up", "merge_to_current"
]
Decision = PlanDraft | StateChange | ServiceError
DECISION_OUTCOME: TypeAdapter[DecisionOutcome] = TypeAdapter(DecisionOutcome)


@dataclass(frozen=True)
class DecisionRequest:
    """What the person decided (the body of ``POST …/decision``)."""

    action: DecisionAction
    target_id: str | None = None
    target_type: RecordType | None = None
    copy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """The record a decision names, as looked up for the item's organization."""

    record_type: RecordType
    record_id: str
    #: The latest version; None when it does not exist or is another organization's.
    record: Record | None


def target_id_of(item: Record, request: DecisionRequest) -> str | None:
    """The id the decision targets: merge_to_current defaults to the marked follow-up's Case."""
    if request.action == "merge_to_current":
        return request.target_id or item.links.get("follow_up_of")
    return request.target_id


def decide_manual(
    item: Record, request: DecisionRequest, target: Target | None, policy: OrgPolicy
) -> Decision:
    """P3-P4: what ``request`` does to ``item`` (see the module docstring)."""
    action = request.action
    if action == "merge_to_current":
        return _merge_to_current(item, target, policy)
    # a marked follow-up may still be marked a duplicate (P3), whatever the promotable states
    may_skip_state = item.state == "marked_as_follow_up" and action == "mark_duplicate"
    if not may_skip_state and (refused := not_promotable(item, action, policy)):
        return refused
    if action == "create_new_case":
        return PlanDraft(action=action, kind="initial", case_ids=[case_id_for(item.id)])
    if action == "copy_patient_info":
        return _copy_patient_info(item, request, target)
    if action == "mark_duplicate":
        return _mark_duplicate(item, target)
    return _mark_follow_up(item, target, policy)


def _missing_target(action: str) -> InvalidRequestError:
    return InvalidRequestError("target_id", f"{action} needs the id of the matched record")


def _target_case(target: Target | None, action: str) -> Record | ServiceError:
    if target is None:
        return _missing_target(action)
    if target.record is None:
        return NotFound(target.record_type, target.record_id)
    return target.record


def _merge_to_current(item: Record, target: Target | None, policy: OrgPolicy) -> Decision:
    marked = item.state == "marked_as_follow_up"
    if not marked and (refused := not_promotable(item, "merge_to_current", policy)):
        return refused
    case = _target_case(target, "merge_to_current")
    if isinstance(case, ServiceError):
        return case
    if refused_follow_up := follow_up_refused(case, "follow-up", policy):
        return refused_follow_up
    return PlanDraft(
        action="merge_to_current",
        kind="follow_up",
        case_ids=[case.case_id or case.id],
        target_case_id=case.case_id,
        target_version=case.version,
        method="smart",
    )


def _copy_patient_info(item: Record, request: DecisionRequest, target: Target | None) -> Decision:
    case = _target_case(target, "copy_patient_info")
    if isinstance(case, ServiceError):
        return case
    for section in request.copy:
        if section in UNSUPPORTED_COPY_SECTIONS:
            return InvalidRequestError(
                "copy",
                f"'{section}' is not held by casematch records; "
                f"copyable sections: {', '.join(COPY_SECTIONS)}",
                section,
            )
        if section not in COPY_SECTIONS:
            return InvalidRequestError(
                "copy", f"unknown section; allowed: {', '.join(COPY_SECTIONS)}", section
            )
    return PlanDraft(
        action="copy_patient_info",
        kind="copy",
        case_ids=[case_id_for(item.id)],
        target_case_id=case.case_id,
        target_version=case.version,
        copy_sections=list(request.copy),
    )


def _mark_duplicate(item: Record, target: Target | None) -> Decision:
    if target is None:
        return _missing_target("mark_duplicate")
    if target.record_type == "inbox_item" and target.record_id == item.id:
        return InvalidRequestError(
            "target_id", "an Inbox Item cannot duplicate itself", target.record_id
        )
    if target.record is None:
        return NotFound(target.record_type, target.record_id)
    link = DuplicateOf(record_type=target.record_type, record_id=target.record_id)
    as_json = link.model_dump()
    return StateChange(
        action="mark_duplicate",
        to_state="duplicate",
        links={"duplicate_of": as_json},
        details={"duplicate_of": as_json},
        outcome=MarkedDuplicate(duplicate_of=link),
    )


def _mark_follow_up(item: Record, target: Target | None, policy: OrgPolicy) -> Decision:
    if not policy.allow_mark_follow_up:
        return ActionRefusedError("mark as follow-up is not enabled for this organization")
    case = _target_case(target, "mark_follow_up")
    if isinstance(case, ServiceError):
        return case
    if refused := follow_up_refused(case, "mark as follow-up", policy):
        return refused
    if not is_in_flight(case.state):
        return ActionRefusedError(
            f"Case {case.case_id} is in state '{case.state}': mark as follow-up needs an "
            "in-flight Case; use merge_to_current to create a follow-up version"
        )
    assert case.case_id is not None
    return StateChange(
        action="mark_follow_up",
        to_state="marked_as_follow_up",
        links={"follow_up_of": case.case_id, "prior_state": item.state},
        details={"follow_up_of": case.case_id, "case_version": case.version},
        outcome=MarkedFollowUp(case_id=case.case_id),
    )


class Decisions:
    """``POST …/decision``: load, look the target up, decide, then run or write."""

    def __init__(
        self, settings: Settings, access: ItemAccess, runner: PlanRunner, ledger: ItemLedger
    ) -> None:
        self.settings = settings
        self.access = access
        self.runner = runner
        self.ledger = ledger

    def decide(
        self, item_id: str, principal: Principal, operation_id: str, request: DecisionRequest
    ) -> ItemOutcome:
        stored = self.access.load_item(item_id, principal)
        if (replay := self.ledger.replayed(stored, operation_id, DECISION_OUTCOME)) is not None:
            return replay
        item = stored.record
        policy = OrgPolicy.of(self.settings, item.organization)
        decision = decide_manual(item, request, self.look_up(item, request), policy)
        if isinstance(decision, ServiceError):
            raise decision
        if isinstance(decision, StateChange):
            return self.ledger.apply(stored, principal, operation_id, decision)
        plan = Plan.of(
            decision, operation_id=operation_id, actor=principal.key_id, from_state=item.state
        )
        return self.runner.run(stored, plan)

    def look_up(self, item: Record, request: DecisionRequest) -> Target | None:
        """The record ``request`` targets; an item id is tried first when no type is given."""
        target_id = target_id_of(item, request)
        if not target_id:
            return None
        record_type: RecordType = "case"
        if request.action == "mark_duplicate":
            record_type = request.target_type or (
                "inbox_item"
                if self.access.exists("inbox_item", item.organization, target_id)
                else "case"
            )
        record = self.access.visible(record_type, target_id, item.organization)
        return Target(record_type, target_id, record)
