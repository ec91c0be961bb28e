"""``/v1/cases`` and ``/v1/inbox-items``: store records and read them back.

POST takes one record or a list (validated all-or-nothing, errors per item as
``[3].patient.dob``) and answers 201 with the ids. GET answers the stored
record (a Case's latest version) with its state, PHI masked unless the key has
``read_phi`` (M20). The work is in :mod:`service.records`.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from service import e2b_intake
from service import records as service
from service.auth import ReaderDep, WriterDep
from service.deps import IdempotencyDep, IdempotencyKey, SettingsDep, StoreDep
from service.promotion.idempotency import Outcome, request_hash


class StoredOut(BaseModel):
    """What a POST stored."""

    count: int
    ids: list[str]
    #: E2B uploads only: the messages that were not loaded (the others were).
    errors: list[dict[str, Any]] = []


class RecordOut(BaseModel):
    """A stored record in the Intake-API shape; masked PHI values read ``"***"``."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    organization: str
    state: str
    version: int
    case_id: str | None = None


_ONE_OR_MANY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Record"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                    ]
                }
            },
            # E2B(R3) XML (a batch or one message) or a ZIP of XML files; see e2b_intake.
            "application/xml": {"schema": {"type": "string", "format": "binary"}},
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid X-API-Key"},
    403: {"description": "the key lacks the permission or the organization"},
    422: {"description": "field-by-field errors: [{field, value, error}]"},
    503: {"description": "the search engine is unavailable (Retry-After)"},
}

Payload = Annotated[Any, Body(description="one record or a list of records")]
E2BOrganization = Annotated[
    str | None,
    Query(
        description="E2B uploads: the organization of the items (default: the key's only "
        "organization, else the transmission profile of the message sender)"
    ),
]


def _router(path: str, kind: service.KindName, tag: str) -> APIRouter:
    router = APIRouter(prefix=path, tags=[tag], responses=_ERRORS)

    @router.post(
        "",
        status_code=201,
        response_model=StoredOut,
        openapi_extra=_ONE_OR_MANY,
        responses={
            409: {"description": "a stored id with other content"},
            413: {"description": "the body is larger than the limit (docs/api.md)"},
            415: {"description": "the Content-Type is not accepted by this route"},
            429: {"description": "too many large uploads at once (Retry-After)"},
        },
        summary=f"Store and index one {tag[:-1]} record or a list",
        name=f"store_{kind}s",
    )
    def store_records(
        payload: Payload,
        principal: WriterDep,
        store: StoreDep,
        settings: SettingsDep,
        idempotency: IdempotencyDep,
        request: Request,
        organization: E2BOrganization = None,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        e2b = e2b_intake.is_e2b_content_type(request.headers.get("content-type"))
        if e2b:
            body = payload if isinstance(payload, bytes) else str(payload).encode()
            fingerprint: Any = {"e2b": hashlib.sha256(body).hexdigest(), "org": organization}
        else:
            fingerprint = payload

        def run(_operation_id: str) -> Outcome:
            if e2b:
                result = e2b_intake.parse_upload(
                    body,
                    settings=settings,
                    principal=principal,
                    organization=organization,
                    kind=kind,
                )
                ids = service.store_records(store, principal, result.records)
                out = StoredOut(count=len(ids), ids=ids, errors=e2b_intake.details(result.errors))
            else:
                records = service.parse_batch(payload, kind)
                ids = service.store_records(store, principal, records)
                out = StoredOut(count=len(ids), ids=ids)
            return Outcome(201, out.model_dump(mode="json"))

        outcome = idempotency.run(
            actor=principal.key_id,
            key=key,
            fingerprint=request_hash(
                request.method, request.url.path, fingerprint, principal.organizations
            ),
            operation=run,
        )
        return JSONResponse(outcome.body, status_code=outcome.status)

    @router.get(
        "/{record_id}",
        response_model=RecordOut,
        responses={404: {"description": "no such record"}},
        summary=f"The stored {tag[:-1]} record and its state",
        name=f"get_{kind}",
    )
    def get_record(
        record_id: str, principal: ReaderDep, store: StoreDep, settings: SettingsDep
    ) -> dict[str, Any]:
        return service.read_record(store, principal, kind, record_id, mask_phi=settings.mask_phi)

    return router


cases_router = _router("/cases", "case", "cases")
inbox_items_router = _router("/inbox-items", "inbox_item", "inbox-items")
