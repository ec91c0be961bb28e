"""Shared helpers of the promotion integration tests: a promotion service on the test's indices.

Records come from :mod:`tests.factories` and callers from :mod:`tests.keys`; ``item``,
``case`` and the principals are imported here under the names these tests have always used.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from indexer.store import RecordStore
from service.auth import Principal
from service.promotion.access import Detector
from service.promotion.decisions import DecisionAction, DecisionRequest
from service.promotion.outcomes import outcome_json
from service.promotion.service import Promotion
from service.settings import Settings
from tests.factories import in_flight_case as case
from tests.factories import intake_item as item
from tests.keys import OTHER_ORG, PHI_WRITER, WRITER

__all__ = ["OTHER_ORG", "PHI_WRITER", "SAME_COUNTRY", "WRITER", "AsJson", "case", "item", "service"]

#: A Case reporter in the item's country: an ID match from another reporter country is
#: excluded unless a patient field matches (M5 scopes every section).
SAME_COUNTRY = {"last_name": "Reporter", "country": "NO"}


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
