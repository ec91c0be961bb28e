"""Promotion routes (SPEC §7): promote, decision, unmark-follow-up, promote-multiple,
auto-promote, reset-to-new, state changes, Inbound Transmissions and audit trails.

Thin over :class:`service.promotion.workflows.PromotionService`. Every mutating
route takes an ``Idempotency-Key`` header (P17): the same key and request
return the first outcome, the same key with another request is 422.
Mutations need ``promote``; reads need ``read_matches``; PHI shows only with
``read_phi`` (M20).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from service.auth import Principal, ReaderDep, WriterDep
from service.deps import resolve_settings
from service.promotion.idempotency import Outcome, request_hash
from service.promotion.workflows import (
    MAX_MULTIPLE,
    DecisionAction,
    PromotionService,
    auto_promote_pending,
)

router = APIRouter(tags=["promotion"])
_lock = threading.Lock()

_CREATED = frozenset({"case_created", "cases_created", "follow_up_created"})


def get_promotion(request: Request) -> PromotionService:
    """The app's PromotionService, created (and its aux indices ensured) on first use."""
    state = request.app.state
    service: PromotionService | None = getattr(state, "promotion", None)
    if service is not None and service.store is state.store:
        return service
    with _lock:
        service = getattr(state, "promotion", None)
        if service is None or service.store is not state.store:
            service = PromotionService(state.store, resolve_settings(request))
            service.ensure_indices()
            state.promotion = service
    return service


PromotionDep = Annotated[PromotionService, Depends(get_promotion)]
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


def _run(
    service: PromotionService,
    principal: Principal,
    request: Request,
    key: str | None,
    body: Any,
    operation: Callable[[str], dict[str, Any]],
) -> JSONResponse:
    def call(operation_id: str) -> Outcome:
        out = operation(operation_id)
        return Outcome(201 if out.get("outcome") in _CREATED else 200, out)

    outcome = service.idempotency.run(
        actor=principal.key_id,
        key=key,
        fingerprint=request_hash(request.method, request.url.path, body),
        operation=call,
    )
    return JSONResponse(outcome.body, status_code=outcome.status)


@router.post("/inbox-items/{item_id}/promote")
def promote(
    item_id: str,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """P1-P2: ``case_created`` (201) or ``potential_matches`` with the Detection (200)."""
    return _run(
        service, principal, request, key, None, lambda op: service.promote(item_id, principal, op)
    )


@router.post("/inbox-items/{item_id}/decision")
def decision(
    item_id: str,
    body: DecisionIn,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """P3: create_new_case | copy_patient_info | mark_duplicate | mark_follow_up | merge_to_current."""
    return _run(
        service,
        principal,
        request,
        key,
        body.model_dump(mode="json", by_alias=True),
        lambda op: service.decide(
            item_id,
            principal,
            op,
            action=body.action,
            target_id=body.target_id,
            target_type=body.target_type,
            copy=body.copy_sections,
        ),
    )


@router.post("/inbox-items/{item_id}/unmark-follow-up")
def unmark_follow_up(
    item_id: str,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """P5: back to the prior state; a promoted item is never unlinked (409)."""
    return _run(
        service,
        principal,
        request,
        key,
        None,
        lambda op: service.unmark_follow_up(item_id, principal, op),
    )


@router.post("/inbox-items/{item_id}/promote-multiple")
def promote_multiple(
    item_id: str,
    body: MultipleIn,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """P7-P9: ``count`` Cases (1-100), no detection, each linked to the first."""
    return _run(
        service,
        principal,
        request,
        key,
        body.model_dump(),
        lambda op: service.promote_multiple(item_id, principal, op, body.count),
    )


@router.post("/inbox-items/{item_id}/auto-promote")
def auto_promote(
    item_id: str,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """P10-P16 for one item."""
    return _run(
        service,
        principal,
        request,
        key,
        None,
        lambda op: service.auto_promote(item_id, principal, op),
    )


@router.post("/inbox-items/{item_id}/reset-to-new")
def reset_to_new(
    item_id: str,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """P16: a ``promotion_failed`` / ``missing_information`` item back to ``new``."""
    return _run(
        service,
        principal,
        request,
        key,
        None,
        lambda op: service.reset_to_new(item_id, principal, op),
    )


@router.post("/inbox-items/{item_id}/state")
def set_item_state(
    item_id: str,
    body: StateIn,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Triage, verify, reject, or return to new (409 when the current state does not allow it)."""
    return _run(
        service,
        principal,
        request,
        key,
        body.model_dump(),
        lambda op: service.set_item_state(item_id, principal, op, body.to),
    )


@router.post("/cases/{case_id}/state")
def set_case_state(
    case_id: str,
    body: StateIn,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Move a Case's latest version along its lifecycle (409 when not allowed)."""
    return _run(
        service,
        principal,
        request,
        key,
        body.model_dump(),
        lambda op: service.set_case_state(case_id, principal, op, body.to),
    )


@router.post("/auto-promote")
def auto_promote_run(
    body: AutoRunIn,
    request: Request,
    service: PromotionDep,
    principal: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """One automated-promotion run over the caller's new items; counts per resulting state."""
    return _run(
        service,
        principal,
        request,
        key,
        body.model_dump(),
        lambda op: auto_promote_pending(
            service, principal, organizations=body.organizations, limit=body.limit
        ),
    )


@router.get("/inbound-transmissions/{transmission_id}")
def get_transmission(
    transmission_id: str, service: PromotionDep, principal: ReaderDep
) -> dict[str, Any]:
    """The Inbound Transmission with its results logs (M22)."""
    return service.transmission(transmission_id, principal)


@router.get("/inbox-items/{item_id}/audit")
def item_audit(item_id: str, service: PromotionDep, principal: ReaderDep) -> list[dict[str, Any]]:
    """The Inbox Item's audit trail (P18), oldest first."""
    return service.audit_trail("inbox_item", item_id, principal)


@router.get("/cases/{case_id}/audit")
def case_audit(case_id: str, service: PromotionDep, principal: ReaderDep) -> list[dict[str, Any]]:
    """The Case's audit trail (P18), every version, oldest first."""
    return service.audit_trail("case", case_id, principal)
