"""The records service layer: validate, authorize, store and read Cases and Inbox Items.

Routers stay thin over these functions. A POST body is one record or a list;
a list is validated as a whole (all-or-nothing) and its errors are reported per
item (``[3].patient.dob``). Every record must belong to an organization of the
caller's key. Reads return the stored record masked per M20 unless the caller
may see PHI.

    >>> mask_record({"patient": {"initials": "JS", "age": {"value": 4}}})
    {'patient': {'initials': '***', 'age': {'value': 4}}}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ValidationError

from indexer.fields import MASK as MASK  # masking is the field registry's
from indexer.fields import mask_record as mask_record
from indexer.records import (
    ORG_SEPARATOR,
    Kind,
    Record,
    describe_errors,
    parse_intake,
    shown_value,
)
from indexer.store import RecordStore
from service import tenancy
from service.auth import Principal
from service.errors import Conflict, InvalidInput, ServiceError

#: The most records one POST may carry.
MAX_BATCH = 10_000

KindName = Literal["case", "inbox_item"]


class StoreFailed(ServiceError):  # noqa: N818 (HTTP status names read best)
    """The engine refused records that passed validation (a mapping or engine problem)."""

    status_code = 502


def parse_batch(payload: Any, kind: KindName) -> list[Record]:
    """Validate a POST body (a record or a list) as records of ``kind``; 422 on any error.

    A missing ``kind`` is filled in from the route; a different one is an error.
    """
    items = payload if isinstance(payload, list) else [payload]
    many = isinstance(payload, list)
    if not items:
        raise InvalidInput([{"field": "body", "value": None, "error": "the list is empty"}])
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            [
                {
                    "field": "body",
                    "value": None,
                    "error": f"at most {MAX_BATCH} records per request; split the list",
                }
            ]
        )
    records: list[Record] = []
    details: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        prefix = f"[{i}]" if many else ""
        if not isinstance(item, dict):
            details.append(
                {"field": prefix or "body", "value": None, "error": "expected a JSON object"}
            )
            continue
        broken = _invalid_unicode(item)
        if broken is not None:
            details.append(
                {
                    "field": _join(prefix, broken) or "body",
                    "value": None,
                    "error": "not valid Unicode text (a lone surrogate escape such as \\ud800)",
                }
            )
            continue
        if item.get("kind", kind) != kind:
            details.append(
                {
                    "field": _join(prefix, "kind"),
                    "value": shown_value("kind", item.get("kind")),
                    "error": f"this endpoint stores {kind} records only",
                }
            )
            continue
        try:
            record = parse_intake(item, kind=kind)
        except ValidationError as exc:
            for d in describe_errors(exc):
                field = "" if d["field"] == "record" else d["field"]
                details.append({**d, "field": _join(prefix, field) or "record"})
            continue
        if record.doc_id in seen:
            details.append(
                {
                    "field": _join(prefix, "id"),
                    "value": shown_value("id", record.id),
                    "error": f"the same record appears twice in this request (also item {seen[record.doc_id]})",
                }
            )
            continue
        seen[record.doc_id] = i
        records.append(record)
    if details:
        raise InvalidInput(details)
    return records


def _invalid_unicode(node: Any, path: str = "") -> str | None:
    """The path of the first string (key or value) that is not valid Unicode, else None.

    JSON may escape lone surrogates (``"\\ud800"``); no record can hold them (the
    engine takes UTF-8), so they are refused at intake, not failed on at storage.
    """
    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(node, dict):
        for key, value in node.items():
            here = _join(path, str(key)) if isinstance(key, str) else path
            if isinstance(key, str) and _invalid_unicode(key) is not None:
                return path or "body"
            found = _invalid_unicode(value, here)
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _invalid_unicode(value, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def _join(prefix: str, field: str) -> str:
    if not field:
        return prefix
    return f"{prefix}.{field}" if prefix else field


def authorize_write(principal: Principal, records: Sequence[Record]) -> None:
    """403 unless every record belongs to one of the caller's organizations."""
    for organization in sorted({r.organization for r in records}):
        principal.check_organization(organization)


def store_records(store: RecordStore, principal: Principal, records: Sequence[Record]) -> list[str]:
    """Store and index ``records`` (validated); returns their ids in request order.

    Storing is create-only: a record whose document (an Inbox Item id, a Case
    version) is already stored is accepted again only if it is identical (a
    retried request), else the whole request is refused with 409 so that an
    intake re-post can never overwrite a record promotion has moved on.
    """
    authorize_write(principal, records)
    existing = _stored_versions(store, records)
    changed = sorted(
        r.doc_id.partition(ORG_SEPARATOR)[2]  # the caller's own organization goes unsaid
        for r in records
        if r.doc_id in existing and existing[r.doc_id] != r
    )
    if changed:
        raise Conflict(
            f"already stored with other content: {', '.join(changed[:10])}"
            + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
            + "; a Case changes by a new version, an Inbox Item through its workflow"
        )
    fresh = [r for r in records if r.doc_id not in existing]
    if len(fresh) == 1:
        store.put(fresh[0])
    elif fresh:
        report = store.put_many(fresh)
        if report.failed:
            failed = ", ".join(f"{f.record_id} ({f.error})" for f in report.failed[:10])
            raise StoreFailed(
                f"the engine refused {len(report.failed)} of {len(fresh)} records: {failed}; "
                "the others were stored"
            )
    return [r.id for r in records]


def _stored_versions(store: RecordStore, records: Sequence[Record]) -> dict[str, Record]:
    """The stored record for each of ``records`` whose document already exists."""
    out: dict[str, Record] = {}
    for kind in (Kind.case, Kind.inbox_item):
        ids = [r.doc_id for r in records if r.kind is kind]
        for doc in store.engine.mget(store.names.for_kind(kind), ids):
            out[str(doc["_id"])] = Record.model_validate(doc["_source"]["record"])
    return out


def read_record(
    store: RecordStore, principal: Principal, kind: KindName, record_id: str, *, mask_phi: bool
) -> dict[str, Any]:
    """The stored record (a Case's latest version), masked unless the caller sees PHI.

    Another organization's record is indistinguishable from a missing one: only the
    key's organizations are ever read (``service.tenancy``)."""
    record = tenancy.find(store, principal, kind, record_id).record
    data = record.model_dump(mode="json")
    if not principal.sees_phi(mask_phi):
        data = mask_record(data)
    return data
