"""Shared helpers of the promotion integration tests (records, principals, a service)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from indexer.records import Record
from indexer.store import RecordStore
from service.auth import Principal
from service.promotion.access import Detector
from service.promotion.decisions import DecisionAction, DecisionRequest
from service.promotion.outcomes import outcome_json
from service.promotion.service import Promotion
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


class AsJson:
    """The promotion components, each action answering the JSON the API answers.

    The rule tests assert on outcomes as a caller sees them (SPEC §7): every call
    goes to the real component and its typed outcome is dumped exactly as the
    router stores and answers it (:func:`service.promotion.outcomes.outcome_json`).
    """

    def __init__(self, promotion: Promotion) -> None:
        self.promotion = promotion

    def promote(self, item_id: str, principal: Principal, op: str) -> dict[str, Any]:
        return outcome_json(self.promotion.manual.promote(item_id, principal, op))

    def decide(
        self,
        item_id: str,
        principal: Principal,
        op: str,
        *,
        action: DecisionAction,
        target_id: str | None = None,
        target_type: Literal["case", "inbox_item"] | None = None,
        copy: list[str] | None = None,
    ) -> dict[str, Any]:
        request = DecisionRequest(action, target_id, target_type, tuple(copy or ()))
        return outcome_json(self.promotion.decisions.decide(item_id, principal, op, request))

    def promote_multiple(
        self, item_id: str, principal: Principal, op: str, count: int
    ) -> dict[str, Any]:
        return outcome_json(self.promotion.multiple.promote_multiple(item_id, principal, op, count))

    def auto_promote(self, item_id: str, principal: Principal, op: str) -> dict[str, Any]:
        return outcome_json(self.promotion.automated.auto_promote(item_id, principal, op))

    def auto_promote_run(self, principal: Principal, **options: Any) -> dict[str, Any]:
        return outcome_json(self.promotion.automated.run(principal, **options))

    def unmark_follow_up(self, item_id: str, principal: Principal, op: str) -> dict[str, Any]:
        return outcome_json(self.promotion.lifecycle.unmark_follow_up(item_id, principal, op))

    def reset_to_new(self, item_id: str, principal: Principal, op: str) -> dict[str, Any]:
        return outcome_json(self.promotion.lifecycle.reset_to_new(item_id, principal, op))

    def set_item_state(
        self, item_id: str, principal: Principal, op: str, to_state: str
    ) -> dict[str, Any]:
        return outcome_json(
            self.promotion.lifecycle.set_item_state(item_id, principal, op, to_state)
        )

    def set_case_state(
        self, case_id: str, principal: Principal, op: str, to_state: str
    ) -> dict[str, Any]:
        return outcome_json(
            self.promotion.lifecycle.set_case_state(case_id, principal, op, to_state)
        )

    def transmission(self, tid: str, principal: Principal) -> dict[str, Any]:
        return outcome_json(self.promotion.reads.transmission(tid, principal))

    def audit_trail(
        self, record_type: Literal["case", "inbox_item"], record_id: str, principal: Principal
    ) -> list[dict[str, Any]]:
        entries: list[BaseModel] = list(
            self.promotion.reads.audit_trail(record_type, record_id, principal)
        )
        return [outcome_json(e) for e in entries]


def service(store: RecordStore, *, detector: Detector | None = None, **settings: Any) -> AsJson:
    """The store's promotion components (aux indices ensured), answering JSON."""
    promotion = Promotion(
        store, Settings(index_prefix=store.names.prefix, **settings), detector=detector
    )
    promotion.ensure_indices()
    return AsJson(promotion)
