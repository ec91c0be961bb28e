"""E2B(R3) intake for the API and the CLI: which organization, which profile, what to report.

The parsing is :mod:`indexer.e2b`; this module binds it to the service's
settings and callers. An E2B item's organization is, in order: the caller's
``organization`` (the key must belong to it), the key's only organization,
or the transmission profile whose ``e2b_senders`` lists the message sender
(N.2.r.2). Good messages load even when others in the same input fail; the
failures come back as details naming the message number, the ICH element and
its path, never a value from the message.

    >>> [d] = details([E2BError("a.xml", "required element is missing", 2, "C.1.1", "/x")])
    >>> d["field"], d["error"], d["message_number"], d["path"]
    ('message 2: C.1.1', 'required element is missing', 2, '/x')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from indexer.e2b import (
    MAX_INPUT_BYTES,
    MAX_MESSAGES,
    E2BError,
    E2BOptions,
    E2BResult,
    SenderRoute,
    parse_e2b,
)
from service.auth import Principal
from service.errors import InvalidInput
from service.settings import Settings

#: Expanded XML one API request may carry (a ZIP's members together); the CLI's file
#: loads keep :data:`indexer.e2b.MAX_INPUT_BYTES`. With the 32 MiB body limit and two
#: heavy requests at once (:mod:`service.limits`) this bounds an upload's memory.
API_MAX_EXPANDED_BYTES = 32 * 1024 * 1024

#: Content types ``POST /v1/inbox-items`` reads as E2B(R3).
E2B_CONTENT_TYPES: frozenset[str] = frozenset(
    {"application/xml", "text/xml", "application/hl7-v3+xml", "application/zip"}
)


def is_e2b_content_type(content_type: str | None) -> bool:
    """True for an XML or ZIP body (parameters such as ``charset`` are ignored)."""
    if not content_type:
        return False
    return content_type.split(";")[0].strip().lower() in E2B_CONTENT_TYPES


def sender_routes(settings: Settings) -> dict[str, SenderRoute]:
    """Message sender id -> (organization, profile name), from the transmission profiles."""
    routes: dict[str, SenderRoute] = {}
    for name, profile in sorted(settings.transmission_profiles.items()):
        if profile.organization:
            for sender in profile.e2b_senders:
                routes.setdefault(sender, SenderRoute(profile.organization, name))
    return routes


def caller_organization(principal: Principal | None, organization: str | None) -> str | None:
    """The organization the caller chose (checked), or the key's only one, else ``None``."""
    if organization:
        if principal is not None:
            principal.check_organization(organization)
        return organization
    if principal is not None and len(principal.organizations) == 1:
        return next(iter(principal.organizations))
    return None


def e2b_options(
    settings: Settings,
    *,
    organization: str | None,
    kind: Literal["case", "inbox_item"] = "inbox_item",
    max_bytes: int = MAX_INPUT_BYTES,
) -> E2BOptions:
    return E2BOptions(
        organization=organization,
        senders=sender_routes(settings),
        kind=kind,
        max_messages=MAX_MESSAGES,
        max_bytes=max_bytes,
    )


def details(errors: Sequence[E2BError]) -> list[dict[str, Any]]:
    """E2B errors as the API's field-by-field details (with the E2B location kept)."""
    out: list[dict[str, Any]] = []
    for error in errors:
        where = [f"message {error.message_number}"] if error.message_number else []
        if error.element:
            where.append(error.element)
        field = ": ".join(where) or (f"line {error.line}" if error.line else "body")
        located = {k: v for k, v in error.as_dict().items() if k != "reason"}
        out.append({"field": field, "value": None, "error": error.reason, **located})
    return out


def parse_upload(
    body: bytes,
    *,
    settings: Settings,
    principal: Principal | None,
    organization: str | None,
    kind: Literal["case", "inbox_item"] = "inbox_item",
    source: str = "request body",
) -> E2BResult:
    """Parse an uploaded E2B body; 422 when not one message could be loaded.

    Records routed to an organization the key does not belong to raise 403
    (checked here, before anything is stored).
    """
    options = e2b_options(
        settings,
        organization=caller_organization(principal, organization),
        kind=kind,
        max_bytes=API_MAX_EXPANDED_BYTES,
    )
    result = parse_e2b(body, options, source=source)
    if not result.records:
        raise InvalidInput(
            details(result.errors)
            or [{"field": "body", "value": None, "error": "no E2B(R3) message in the body"}]
        )
    if principal is not None:
        for org in sorted({r.organization for r in result.records}):
            principal.check_organization(org)
    return result
