"""Promote to multiple Cases (P7-P9): N Cases from one item, no detection, linked to the first.

>>> promotion.multiple.promote_multiple("II-1", principal, "op-1", 3).count  # doctest: +SKIP
3
"""

from __future__ import annotations

from pydantic import TypeAdapter

from indexer.records import Record
from service.auth import Principal
from service.errors import ServiceError
from service.promotion.access import ItemAccess
from service.promotion.errors import ActionRefusedError, InvalidRequestError
from service.promotion.ledger import ItemLedger
from service.promotion.outcomes import CreatedOutcome, ItemOutcome
from service.promotion.plans import Plan, PlanDraft, PlanRunner, case_id_for
from service.promotion.policy import OrgPolicy, not_promotable, unmet_prerequisites
from service.settings import Settings

MAX_MULTIPLE = 100
MULTIPLE_OUTCOME: TypeAdapter[CreatedOutcome] = TypeAdapter(CreatedOutcome)


def plan_multiple(item: Record, count: int, policy: OrgPolicy) -> PlanDraft | ServiceError:
    """P7: the Cases to create, or why the item cannot be promoted to several."""
    if item.source.value == "e2b":
        return ActionRefusedError(
            f"Inbox Item {item.id} was imported from E2B: promote to multiple Cases is not "
            "available for E2B-imported items"
        )
    if refused := not_promotable(item, "promote_multiple", policy) or unmet_prerequisites(
        item, policy
    ):
        return refused
    return PlanDraft(
        action="promote_multiple",
        kind="multiple",
        case_ids=[case_id_for(item.id, n) for n in range(1, count + 1)],
    )


class MultiplePromotion:
    """``POST …/promote-multiple``."""

    def __init__(self, settings: Settings, access: ItemAccess, runner: PlanRunner) -> None:
        self.settings = settings
        self.access = access
        self.runner = runner

    def promote_multiple(
        self, item_id: str, principal: Principal, operation_id: str, count: int
    ) -> ItemOutcome:
        """P7: N Cases with a transmission each, no detection, linked to the first."""
        if not 1 <= count <= MAX_MULTIPLE:
            raise InvalidRequestError("count", f"between 1 and {MAX_MULTIPLE}", count)
        stored = self.access.load_item(item_id, principal)
        if (replay := ItemLedger.replayed(stored, operation_id, MULTIPLE_OUTCOME)) is not None:
            return replay
        item = stored.record
        draft = plan_multiple(item, count, OrgPolicy.of(self.settings, item.organization))
        if isinstance(draft, ServiceError):
            raise draft
        plan = Plan.of(
            draft, operation_id=operation_id, actor=principal.key_id, from_state=item.state
        )
        return self.runner.run(stored, plan)
