"""The reads behind the item and Case pages, over the app's promotion components
(:class:`service.promotion.service.Promotion`, ``app.state.promotion``).

Another organization's record is *not found* here (404, SPEC §7: tenants cannot
learn of each other), never "forbidden". Values are masked by
:func:`service.ui.views.shown_record` unless the caller may see PHI; detections
are masked by the matcher itself (M20).
"""

from __future__ import annotations

from typing import Any, Literal

from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from matcher import Detection, Match
from service import tenancy
from service.auth import Principal
from service.detection import run_detection
from service.errors import NotFound
from service.promotion.service import Promotion
from service.promotion.transmissions import InboundTransmission, transmission_id
from service.settings import Settings
from service.ui.views import shown_record

#: Inbox Item states whose detection the page no longer runs (the item is closed).
CLOSED_STATES = frozenset({"promoted", "duplicate", "rejected", "superseded"})
#: The most Inbound Transmissions a Case page lists.
MAX_TRANSMISSIONS = 200


def load_item(promotion: Promotion, principal: Principal, item_id: str) -> StoredRecord:
    """The caller's Inbox Item (an interrupted promotion settled first), else 404, as
    every promotion action loads it."""
    return promotion.lifecycle.access.load_item(item_id, principal)


def load_case_versions(
    store: RecordStore, principal: Principal, case_id: str
) -> list[StoredRecord]:
    """Every version of the caller's Case, oldest first, else 404 (422 when several of the
    key's organizations hold the id: ``service.tenancy``)."""
    org = tenancy.locate(
        principal, "case", case_id, lambda orgs: store.holders("case", case_id, orgs)
    )
    versions = store.case_versions(org, case_id)
    if not versions:
        raise NotFound("case", case_id)
    return versions


def detection_for(
    promotion: Promotion, settings: Settings, principal: Principal, stored: StoredRecord
) -> Detection | None:
    """The item's Detection (masked per caller), or None for a closed item."""
    if stored.record.state in CLOSED_STATES:
        return None
    run = run_detection(
        promotion.store.engine,
        promotion.store,
        settings,
        stored.record,
        show_phi=principal.sees_phi(settings.mask_phi),
        models=promotion.models,
    )
    return run.detection


def find_match(detection: Detection | None, key: str) -> Match | None:
    """The listed match named ``case:ID`` or ``inbox_item:ID``, if listed."""
    if detection is None or ":" not in key:
        return None
    record_type, record_id = key.split(":", 1)
    for m in detection.sections.all():
        if m.record_type == record_type and m.record_id == record_id:
            return m
    return None


def match_key(m: Match) -> str:
    return f"{m.record_type}:{m.record_id}"


def item_transmissions(
    promotion: Promotion, principal: Principal, item: Record
) -> list[dict[str, Any]]:
    """The item's Inbound Transmissions: its own (``IT-<id>``, where the results logs are)
    and those its promotion created, read by id (realtime: no refresh, no search)."""
    ids = [transmission_id(item.id)]
    for key in ("inbound_transmission_id", "inbound_transmission_ids"):
        value = item.links.get(key)
        for tid in value if isinstance(value, list) else [value]:
            if isinstance(tid, str) and tid not in ids:
                ids.append(tid)
    found = []
    for tid in ids[:MAX_TRANSMISSIONS]:
        try:  # as GET /v1/inbound-transmissions/{id} reads it
            transmission = promotion.reads.transmission(tid, principal)
        except NotFound:  # not written yet (or another organization's)
            continue
        found.append(transmission.model_dump(mode="json"))
    return found


def case_transmissions(
    promotion: Promotion, principal: Principal, case_id: str
) -> list[dict[str, Any]]:
    """The Inbound Transmissions linked to a Case (M22: with their results logs)."""
    engine, index = promotion.store.engine, promotion.transmissions.index
    engine.refresh(index)
    res = engine.search(
        index, transmissions_query("case_id", case_id, sorted(principal.organizations))
    )
    return [_payload(h) for h in res["hits"]["hits"]]


def transmissions_query(by: str, value: str, organizations: list[str]) -> dict[str, Any]:
    """Transmissions whose ``by`` field is ``value``, of the caller's organizations."""
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {by: value}},
                    {"terms": {"organization": organizations}},
                ]
            }
        },
        "sort": [{"created_at": "asc"}, {"transmission_id": "asc"}],
        "size": MAX_TRANSMISSIONS,
    }


def _payload(hit: dict[str, Any]) -> dict[str, Any]:
    return InboundTransmission.model_validate(hit["_source"]["payload"]).model_dump(mode="json")


def audit_trail(
    promotion: Promotion,
    principal: Principal,
    record_type: Literal["case", "inbox_item"],
    record_id: str,
) -> list[dict[str, Any]]:
    """The record's audit trail (P18) as the API reads it, as JSON for the templates."""
    entries = promotion.reads.audit_trail(record_type, record_id, principal)
    return [e.model_dump(mode="json") for e in entries]


def shown(stored: StoredRecord, principal: Principal, settings: Settings) -> dict[str, Any]:
    """A stored record's JSON as the caller may see it."""
    return shown_record(
        stored.record.model_dump(mode="json"), sees_phi=principal.sees_phi(settings.mask_phi)
    )
