"""Promotion routes (SPEC §7): promote, decision, unmark-follow-up, promote-multiple,
auto-promote, reset-to-new, state changes, Inbound Transmissions and audit trails.

Thin over the components of :class:`service.promotion.service.Promotion`, which
the app builds at start-up (``app.state.promotion``). Every route declares its
typed outcome (:mod:`service.promotion.outcomes`) as its ``response_model``.
Every mutating route takes an ``Idempotency-Key`` header (P17): the same key and
request return the first outcome, the same key with another request is 422.
Mutations need ``promote``; reads need ``read_matches``; PHI shows only with
``read_phi`` (M20).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from service.auth import Principal, ReaderDep, WriterDep
from service.promotion.audit import AuditEntry
from service.promotion.auto_promotion import AUTO_OUTCOME, AUTO_RUN_OUTCOME
from service.promotion.decisions import DECISION_OUTCOME, DecisionAction, DecisionRequest
from service.promotion.idempotency import Outcome, request_hash
from service.promotion.lifecycle import (
    CASE_STATE_OUTCOME,
    ITEM_STATE_OUTCOME,
    RESET_OUTCOME,
    UNMARK_OUTCOME,
)
from service.promotion.manual import PROMOTE_OUTCOME
from service.promotion.multiple import MAX_MULTIPLE, MULTIPLE_OUTCOME
from service.promotion.outcomes import (
    AutoOutcome,
    AutoRunSummary,
    CaseStateChanged,
    CreatedOutcome,
    DecisionOutcome,
    ItemStateChanged,
    PromoteOutcome,
    Reset,
    Unmarked,
    outcome_json,
    status_of,
)
from service.promotion.service import Promotion
from service.promotion.transmissions import InboundTransmission

router = APIRouter(tags=["promotion"])
T = TypeVar("T")


def get_promotion(request: Request) -> Promotion:
    """The app's :class:`Promotion`, built with its services in the app's lifespan."""
    promotion: Promotion = request.app.state.promotion
    return promotion


PromotionDep = Annotated[Promotion, Depends(get_promotion)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Repeat a request safely: same key, same outcome."),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionIn(_In):
    action: DecisionAction
    target_id: str | None = Field(default=None, max_length=200)
    target_type: Literal["case", "inbox_item"] | None = None
    copy_sections: list[str] = Field(default_factory=list, alias="copy", max_length=20)


class MultipleIn(_In):
    count: int = Field(ge=1, le=MAX_MULTIPLE)


class StateIn(_In):
    to: str = Field(max_length=50)


class AutoRunIn(_In):
    organizations: list[str] | None = None
    limit: int | None = Field(default=None, ge=1)


class ErrorBody(BaseModel):
    """An error answer (see :mod:`service.errors`): a sentence, or one entry per bad field."""

    detail: str | list[dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorBody}


#: Error responses the promotion routes document.
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _error("The record does not exist (or is another organization's)"),
    409: _error("The record's state does not allow the action"),
    422: _error("Invalid request, unmet prerequisites, or a reused Idempotency-Key"),
    503: _error("The engine is unavailable; retry after the Retry-After seconds"),
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {404: _ERRORS[404], 503: _ERRORS[503]}


def _run(
    promotion: Promotion,
    principal: Principal,
    request: Request,
    response: Response,
    key: str | None,
    body: Any,
    answers: TypeAdapter[T],
    operation: Callable[[str], BaseModel],
) -> T | JSONResponse:
    """Run ``operation`` once per Idempotency-Key and answer its typed outcome.

    A first run and a replay answer alike: the outcome's JSON (as stored under
    the key) read back as the route's outcome type. A refusal is its error body.
    """

    def call(operation_id: str) -> Outcome:
        out = operation(operation_id)
        return Outcome(status_of(out), outcome_json(out))

    outcome = promotion.idempotency.run(
        actor=principal.key_id,
        key=key,
        fingerprint=request_hash(request.method, request.url.path, body, principal.organizations),
        operation=call,
    )
    if outcome.status >= 400:
        return JSONResponse(outcome.body, status_code=outcome.status)
    response.status_code = outcome.status
    return answers.validate_python(outcome.body)


@router.post(
    "/inbox-items/{item_id}/promote",
    response_model=PromoteOutcome,
    responses={201: {"description": "A Case was created", "model": CreatedOutcome}, **_ERRORS},
)
def promote(
    item_id: str,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """P1-P2: ``case_created`` (201) or ``potential_matches`` with the Detection (200)."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        None,
        PROMOTE_OUTCOME,
        lambda op: promotion.manual.promote(item_id, principal, op),
    )


@router.post(
    "/inbox-items/{item_id}/decision",
    response_model=DecisionOutcome,
    responses={201: {"description": "Cases were written", "model": CreatedOutcome}, **_ERRORS},
)
def decision(
    item_id: str,
    body: DecisionIn,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """P3: create_new_case | copy_patient_info | mark_duplicate | mark_follow_up | merge_to_current."""
    decided = DecisionRequest(
        action=body.action,
        target_id=body.target_id,
        target_type=body.target_type,
        copy=tuple(body.copy_sections),
    )
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        body.model_dump(mode="json", by_alias=True),
        DECISION_OUTCOME,
        lambda op: promotion.decisions.decide(item_id, principal, op, decided),
    )


@router.post("/inbox-items/{item_id}/unmark-follow-up", response_model=Unmarked, responses=_ERRORS)
def unmark_follow_up(
    item_id: str,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """P5: back to the prior state; a promoted item is never unlinked (409)."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        None,
        UNMARK_OUTCOME,
        lambda op: promotion.lifecycle.unmark_follow_up(item_id, principal, op),
    )


@router.post(
    "/inbox-items/{item_id}/promote-multiple",
    status_code=201,
    response_model=CreatedOutcome,
    responses=_ERRORS,
)
def promote_multiple(
    item_id: str,
    body: MultipleIn,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """P7-P9: ``count`` Cases (1-100), no detection, each linked to the first."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        body.model_dump(),
        MULTIPLE_OUTCOME,
        lambda op: promotion.multiple.promote_multiple(item_id, principal, op, body.count),
    )


@router.post(
    "/inbox-items/{item_id}/auto-promote",
    response_model=AutoOutcome,
    responses={201: {"description": "A Case was written", "model": CreatedOutcome}, **_ERRORS},
)
def auto_promote(
    item_id: str,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """P10-P16 for one item."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        None,
        AUTO_OUTCOME,
        lambda op: promotion.automated.auto_promote(item_id, principal, op),
    )


@router.post("/inbox-items/{item_id}/reset-to-new", response_model=Reset, responses=_ERRORS)
def reset_to_new(
    item_id: str,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """P16: a ``promotion_failed`` / ``missing_information`` item back to ``new``."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        None,
        RESET_OUTCOME,
        lambda op: promotion.lifecycle.reset_to_new(item_id, principal, op),
    )


@router.post("/inbox-items/{item_id}/state", response_model=ItemStateChanged, responses=_ERRORS)
def set_item_state(
    item_id: str,
    body: StateIn,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """Triage, verify, reject, or return to new (409 when the current state does not allow it)."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        body.model_dump(),
        ITEM_STATE_OUTCOME,
        lambda op: promotion.lifecycle.set_item_state(item_id, principal, op, body.to),
    )


@router.post("/cases/{case_id}/state", response_model=CaseStateChanged, responses=_ERRORS)
def set_case_state(
    case_id: str,
    body: StateIn,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """Move a Case's latest version along its lifecycle (409 when not allowed)."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        body.model_dump(),
        CASE_STATE_OUTCOME,
        lambda op: promotion.lifecycle.set_case_state(case_id, principal, op, body.to),
    )


@router.post("/auto-promote", response_model=AutoRunSummary, responses=_ERRORS)
def auto_promote_run(
    body: AutoRunIn,
    request: Request,
    response: Response,
    promotion: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> Any:
    """One automated-promotion run over the caller's new items; counts per resulting state."""
    return _run(
        promotion,
        principal,
        request,
        response,
        key,
        body.model_dump(),
        AUTO_RUN_OUTCOME,
        lambda op: promotion.automated.run(
            principal, organizations=body.organizations, limit=body.limit
        ),
    )


@router.get("/inbound-transmissions/{transmission_id}", responses=_READ_ERRORS)
def get_transmission(
    transmission_id: str, promotion: PromotionDep, principal: ReaderDep
) -> InboundTransmission:
    """The Inbound Transmission with its results logs (M22)."""
    return promotion.reads.transmission(transmission_id, principal)


@router.get("/inbox-items/{item_id}/audit", responses=_READ_ERRORS)
def item_audit(item_id: str, promotion: PromotionDep, principal: ReaderDep) -> list[AuditEntry]:
    """The Inbox Item's audit trail (P18), oldest first."""
    return promotion.reads.audit_trail("inbox_item", item_id, principal)


@router.get("/cases/{case_id}/audit", responses=_READ_ERRORS)
def case_audit(case_id: str, promotion: PromotionDep, principal: ReaderDep) -> list[AuditEntry]:
    """The Case's audit trail (P18), every version, oldest first."""
    return promotion.reads.audit_trail("case", case_id, principal)
