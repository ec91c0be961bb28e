"""Domain errors of the service layer and the HTTP error bodies they become.

Every error body is ``{"detail": ...}``: a sentence for 401/403/404/409/503, a
list of ``{"field", "value", "error"}`` for 422. PHI values are masked in 422
bodies (``"***"``, via the field registry, :func:`indexer.fields.is_phi_path`), and no body or log
line carries a PHI value (M21): exception messages here name record ids,
organizations and fields only, and unexpected exceptions are logged by type,
never by message.

    >>> NotFound("inbox_item", "II-9").message
    "inbox_item 'II-9' not found"

Routers and the service layer raise these; other service modules (promotion)
subclass :class:`ServiceError` for their own 4xx cases.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.engine import EngineUnavailable, VersionConflict
from indexer.records import clean_message, describe_errors, safe_text, shown_value
from matcher import MatcherError
from service.limits import RequestGuard

log = logging.getLogger("casematch.service")

#: Seconds a client should wait before retrying when the engine is down.
RETRY_AFTER_S = 5


class ServiceError(Exception):
    """A request the service refuses, with its HTTP status and a PHI-free message."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(ServiceError):  # noqa: N818 (HTTP status names read best)
    status_code = 401


class Forbidden(ServiceError):  # noqa: N818 (HTTP status names read best)
    status_code = 403


class NotFound(ServiceError):  # noqa: N818 (HTTP status names read best)
    status_code = 404

    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__(f"{kind} {record_id!r} not found")
        self.kind = kind
        self.record_id = record_id


class Conflict(ServiceError):  # noqa: N818 (HTTP status names read best)
    status_code = 409


class InvalidInput(ServiceError):  # noqa: N818 (HTTP status names read best)
    """422 with field-by-field details (each ``{"field", "value", "error"}``)."""

    status_code = 422

    def __init__(self, details: Sequence[dict[str, Any]]) -> None:
        super().__init__(f"{len(details)} invalid field(s)")
        self.details = list(details)


def request_error_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's request errors as field-by-field details, PHI masked.

    The leading ``body``/``query``/``path``/``header`` element of the location
    is kept for parameters and dropped for the body.
    """
    out: list[dict[str, Any]] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if err.get("type") == "json_invalid":
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            reason = (err.get("ctx") or {}).get("error", "")
            out.append(
                {
                    "field": "body",
                    "value": None,
                    "error": f"the body is not valid JSON{where}"
                    + (f" ({reason})" if reason else ""),
                }
            )
            continue
        if loc and loc[0] == "body":
            loc = loc[1:]
        named = ".".join(p for p in loc if not p.isdigit())
        shown = shown_value(named, err.get("input"), refused=err.get("type") == "extra_forbidden")
        field = safe_text(".".join(loc)) or "body"
        out.append({"field": field, "value": shown, "error": clean_message(err)})
    return out


def _body(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, InvalidInput):
        return _body(422, exc.details)
    headers = {"WWW-Authenticate": "APIKey"} if isinstance(exc, Unauthorized) else None
    return _body(exc.status_code, exc.message, headers)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own HTTP errors in the one error shape.

    A body FastAPI cannot read (not UTF-8, say) is a 422 on ``body`` like any
    other malformed body, never a bare 400.
    """
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        return _body(
            422,
            [{"field": "body", "value": None, "error": "the body cannot be read as JSON"}],
        )
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return _body(exc.status_code, detail, headers)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _body(422, request_error_details(exc.errors()))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return _body(422, describe_errors(exc))


async def _matcher_error(request: Request, exc: Exception) -> JSONResponse:
    """Detection could not run (an engine search failed, or the index needs a reindex).

    ``MatcherError`` messages carry no record values (M21), so the caller sees it.
    """
    log.error("detection failed during %s %s", request.method, request.url.path)
    return _body(503, str(exc))


async def _engine_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("engine unavailable during %s %s", request.method, request.url.path)
    return _body(
        503,
        "the search engine is unavailable; retry shortly",
        {"Retry-After": str(RETRY_AFTER_S)},
    )


async def _version_conflict(request: Request, exc: Exception) -> JSONResponse:
    return _body(409, "the record was changed concurrently; re-read it and retry")


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a bare 500, logged by type only.

    Starlette's own last-resort handler re-raises after answering so that the
    server logs the traceback; an exception message may quote a field value,
    so this middleware (inside it) keeps such exceptions from reaching it (M21).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "unhandled %s during %s %s",
                type(exc).__name__,
                scope.get("method", ""),
                scope.get("path", ""),
            )
            if not started:
                await _body(500, "internal error")(scope, receive, send)


#: The one error body, as OpenAPI documents it for every 4xx/5xx response.
ERROR_SCHEMAS: dict[str, Any] = {
    "ErrorDetail": {
        "type": "object",
        "title": "ErrorDetail",
        "required": ["field", "error"],
        "properties": {
            "field": {"type": "string", "description": "where: body, id, [3].patient.dob"},
            "value": {"description": "a short excerpt of the value; '***' for PHI"},
            "error": {"type": "string", "description": "what is wrong and what is expected"},
        },
    },
    "Error": {
        "type": "object",
        "title": "Error",
        "required": ["detail"],
        "properties": {
            "detail": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/ErrorDetail"}},
                ]
            }
        },
    },
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every 4xx/5xx response of ``schema`` use :data:`ERROR_SCHEMAS` (in place).

    FastAPI documents its own 422 shape (``loc``/``msg``/``type``); casematch answers
    ``{"detail": [{"field", "value", "error"}]}`` or ``{"detail": "..."}`` instead.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(ERROR_SCHEMAS)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    }
    return schema


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _validation)
    app.add_exception_handler(EngineUnavailable, _engine_unavailable)
    app.add_exception_handler(VersionConflict, _version_conflict)
    app.add_exception_handler(MatcherError, _matcher_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_middleware(RequestGuard)  # inside CatchAll
    app.add_middleware(CatchAll)
