"""Shared helpers of the promotion integration tests (records, principals, a service)."""

from __future__ import annotations

from typing import Any

from indexer.records import Record
from indexer.store import RecordStore
from service.auth import Principal
from service.promotion.workflows import PromotionService
from service.settings import Settings

WRITER = Principal(
    key_id="writer", organizations=frozenset({"ORG-A"}), permissions=frozenset({"promote"})
)
PHI_WRITER = Principal(
    key_id="phi-writer",
    organizations=frozenset({"ORG-A"}),
    permissions=frozenset({"promote", "read_phi"}),
)
OTHER_ORG = Principal(
    key_id="b-writer", organizations=frozenset({"ORG-B"}), permissions=frozenset({"promote"})
)


def item(record_id: str, **fields: Any) -> Record:
    """A complete, valid Inbox Item from the Intake API (unique identifiers per id)."""
    data: dict[str, Any] = {
        "id": record_id,
        "kind": "inbox_item",
        "organization": "ORG-A",
        "source": "intake_api",
        "receipt_date": "2025-03-01",
        "identifiers": {"case_identifiers": [f"CI-{record_id}"]},
        "patient": {"initials": "QX", "sex": "female", "dob": "1971-02"},
        "reporter": {"first_name": "Ola", "last_name": f"Nordmann{record_id}", "country": "NO"},
        "products": [{"product": f"PRD-{record_id}", "rank": 1, "drug_role": "suspect"}],
        "events": [{"event_reported": f"event {record_id}", "rank": 1}],
    }
    data.update(fields)
    return Record.model_validate(data)


#: A Case reporter in the item's country: an ID match from another reporter country is
#: excluded unless a patient field matches (M5 scopes every section).
SAME_COUNTRY = {"last_name": "Reporter", "country": "NO"}


def case(case_id: str, **fields: Any) -> Record:
    data: dict[str, Any] = {
        "id": case_id,
        "kind": "case",
        "organization": "ORG-A",
        "state": "in_progress",
        "receipt_date": "2025-01-10",
        "identifiers": {"case_identifiers": [f"CI-{case_id}"]},
        "patient": {"initials": "ZZ", "sex": "male", "dob": "1950"},
        "reporter": {"last_name": f"Reporter{case_id}", "country": "SE"},
        "products": [{"product": f"PRD-{case_id}", "rank": 1}],
        "events": [{"event_reported": f"event {case_id}", "rank": 1}],
    }
    data.update(fields)
    return Record.model_validate(data)


def service(store: RecordStore, **settings: Any) -> PromotionService:
    svc = PromotionService(store, Settings(index_prefix=store.names.prefix, **settings))
    svc.ensure_indices()
    return svc
