"""Typed outcomes of the promotion actions (SPEC §7): one model per ``outcome``.

Every promotion action answers one of these models; the routers declare them
as their ``response_model`` so the OpenAPI document shows each response. An
outcome is stored on the Inbox Item (``links.last_operation.outcome``) and
under its Idempotency-Key as JSON (:func:`outcome_json`), and read back with
the union of the route that replays it (:data:`ITEM_OUTCOME` for the item's
own record), so a replay is the same typed value as the first answer.

    >>> outcome_json(Reset())
    {'outcome': 'reset', 'state': 'new'}
    >>> status_of(CaseCreated(case_id="CASE-1", case_version=1, inbound_transmission_id="IT-1"))
    201
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from matcher.model import Detection

# -- outcomes that create Cases (one per plan kind, see service.promotion.writers) -------------


class CaseCreated(BaseModel):
    """P1/P3/P10: one new Case and its Inbound Transmission."""

    outcome: Literal["case_created"] = "case_created"
    case_id: str
    case_version: int
    inbound_transmission_id: str
    state: Literal["promoted"] = "promoted"


class FollowUpCreated(BaseModel):
    """P3 merge_to_current, P15 automated merge: the next version of an existing Case."""

    outcome: Literal["follow_up_created"] = "follow_up_created"
    case_id: str
    case_version: int
    inbound_transmission_id: str
    state: Literal["promoted"] = "promoted"
    merge_method: Literal["smart", "override"]


class CasesCreated(BaseModel):
    """P7-P9: ``count`` Cases, each with its own Inbound Transmission, linked to the first."""

    outcome: Literal["cases_created"] = "cases_created"
    count: int
    case_ids: list[str]
    first_case_id: str
    inbound_transmission_ids: list[str]
    state: Literal["promoted"] = "promoted"


# -- outcomes that change the item's state only --------------------------------------------------


class PotentialMatches(BaseModel):
    """P2: detection found matches; nothing was written to the item, the results log was (M22)."""

    outcome: Literal["potential_matches"] = "potential_matches"
    detection: Detection
    inbound_transmission_id: str
    state: str


class DuplicateOf(BaseModel):
    record_type: Literal["case", "inbox_item"]
    record_id: str


class MarkedDuplicate(BaseModel):
    """P3 mark_duplicate."""

    outcome: Literal["marked_duplicate"] = "marked_duplicate"
    duplicate_of: DuplicateOf
    state: Literal["duplicate"] = "duplicate"


class MarkedFollowUp(BaseModel):
    """P3 mark_follow_up: linked to an in-flight Case, no Case written."""

    outcome: Literal["marked_follow_up"] = "marked_follow_up"
    case_id: str
    state: Literal["marked_as_follow_up"] = "marked_as_follow_up"


class Unmarked(BaseModel):
    """P5: back to the state the item had before it was marked."""

    outcome: Literal["unmarked"] = "unmarked"
    state: str


class Reset(BaseModel):
    """P16: a failed item sent back to ``new``."""

    outcome: Literal["reset"] = "reset"
    state: Literal["new"] = "new"


class ItemStateChanged(BaseModel):
    """A manual state change of an Inbox Item (triage, verify, reject, back to new)."""

    outcome: Literal["state_changed"] = "state_changed"
    state: str


class MissingInformation(BaseModel):
    """P10: automated promotion found the item invalid."""

    outcome: Literal["missing_information"] = "missing_information"
    state: Literal["missing_information"] = "missing_information"
    automation_message: str
    validation_errors: list[str]
    inbound_transmission_id: str


class AutoMarkedFollowUp(BaseModel):
    """P12/P14: automated promotion marked the item as a follow-up of an in-flight Case."""

    outcome: Literal["marked_as_follow_up"] = "marked_as_follow_up"
    state: Literal["marked_as_follow_up"] = "marked_as_follow_up"
    automation_message: str
    case_id: str


class AutoPromotionFailed(BaseModel):
    """P11/P14/P16: automated promotion could not decide; ``case_id`` when one Case matched."""

    outcome: Literal["promotion_failed"] = "promotion_failed"
    state: Literal["promotion_failed"] = "promotion_failed"
    automation_message: str
    #: Absent (not null) when several Cases matched, as in the JSON of SPEC §7.
    case_id: str | None = Field(default=None, exclude_if=lambda value: value is None)


# -- outcomes of other records ------------------------------------------------------------------


class CaseStateChanged(BaseModel):
    """A Case's latest version moved along its lifecycle."""

    outcome: Literal["state_changed"] = "state_changed"
    case_id: str
    case_version: int
    state: str


class AutoRunSummary(BaseModel):
    """One automated-promotion run: items processed, resulting states, refusals by status."""

    processed: int
    by_state: dict[str, int]
    refused: dict[str, int]


# -- unions by route ------------------------------------------------------------------------------

#: What running a plan answers (also what a concurrent request's rolled-forward plan answers).
PlanOutcome = CaseCreated | FollowUpCreated | CasesCreated
PromoteOutcome = Annotated[PlanOutcome | PotentialMatches, Field(discriminator="outcome")]
DecisionOutcome = Annotated[
    PlanOutcome | MarkedDuplicate | MarkedFollowUp, Field(discriminator="outcome")
]
CreatedOutcome = Annotated[PlanOutcome, Field(discriminator="outcome")]
AutoOutcome = Annotated[
    PlanOutcome | MissingInformation | AutoMarkedFollowUp | AutoPromotionFailed,
    Field(discriminator="outcome"),
]
#: Every outcome an Inbox Item records as its last operation.
ItemOutcome = Annotated[
    PlanOutcome
    | MarkedDuplicate
    | MarkedFollowUp
    | Unmarked
    | Reset
    | ItemStateChanged
    | MissingInformation
    | AutoMarkedFollowUp
    | AutoPromotionFailed,
    Field(discriminator="outcome"),
]

ITEM_OUTCOME: TypeAdapter[ItemOutcome] = TypeAdapter(ItemOutcome)


def status_of(outcome: BaseModel) -> int:
    """HTTP status of an outcome: 201 when it created Cases (a plan's outcome), else 200."""
    return 201 if isinstance(outcome, PlanOutcome) else 200


def outcome_json(outcome: BaseModel) -> dict[str, Any]:
    """The JSON an outcome is answered, stored and replayed as."""
    data: dict[str, Any] = outcome.model_dump(mode="json")
    return data


__all__ = [
    "ITEM_OUTCOME",
    "AutoMarkedFollowUp",
    "AutoOutcome",
    "AutoPromotionFailed",
    "AutoRunSummary",
    "CaseCreated",
    "CaseStateChanged",
    "CasesCreated",
    "CreatedOutcome",
    "DecisionOutcome",
    "DuplicateOf",
    "FollowUpCreated",
    "ItemOutcome",
    "ItemStateChanged",
    "MarkedDuplicate",
    "MarkedFollowUp",
    "MissingInformation",
    "PlanOutcome",
    "PotentialMatches",
    "PromoteOutcome",
    "Reset",
    "Unmarked",
    "outcome_json",
    "status_of",
]
