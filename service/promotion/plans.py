"""Crash-safe, concurrency-safe execution of promotions that create Cases (P17).

An operation that creates Cases runs in three steps, each safe to repeat:

1. **Claim**: the Inbox Item moves to ``processing`` by an optimistic write on
   its seq_no, carrying the :class:`Plan` (``links.pending``). Of concurrent
   requests exactly one claim succeeds; that write is the commit point.
2. **Execute**: the writer of the plan's kind (:mod:`service.promotion.writers`,
   one per kind) writes the Cases (ids derived from the item, ``op_type=create``)
   and Inbound Transmissions (deterministic ids). A Case that already
   exists for this item is taken as written, so a retry continues where a
   failed attempt stopped.
3. **Finish**: the item moves to its final state with its links and the
   operation's outcome (``links.last_operation``), again on its seq_no; then
   the audit entries of that write are stored (they also stay on the item,
   ``links.audit``, and are re-written by the next operation on the item).

Whoever next touches an item found in ``processing`` with a plan - a retry,
a concurrent request that lost the claim, any later call - rolls the plan
forward (:meth:`PlanRunner.settle`). If the plan can no longer complete
(another operation took the follow-up version it meant to create), it is
rolled back: the item returns to the state it came from and the caller gets
409. An engine failure at any step surfaces as 503 and leaves a state from
which the next call completes the work; nothing is left half-done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from indexer.engine import VersionConflict
from indexer.store import StoredRecord
from service.promotion.audit import audit_entry, now_iso
from service.promotion.errors import ConcurrentUpdateError, TransitionError
from service.promotion.ledger import ItemLedger
from service.promotion.outcomes import ItemOutcome, outcome_json
from service.promotion.states import transition

if TYPE_CHECKING:
    from service.promotion.writers import PlanWriter, Written

PlanKind = Literal["initial", "copy", "follow_up", "multiple"]


class PlanDraft(BaseModel):
    """What an action will create, as a decider says it (no operation, actor or time yet)."""

    action: str
    kind: PlanKind
    case_ids: list[str]
    target_case_id: str | None = None
    target_version: int | None = None
    copy_sections: list[str] = Field(default_factory=list)
    method: Literal["smart", "override"] | None = None
    #: What the decider adds to the audit entry of the item's promotion (P18).
    audit_details: dict[str, Any] = Field(default_factory=dict)


class Plan(PlanDraft):
    """What a claimed operation will create; stored on the item while it runs."""

    operation_id: str
    actor: str
    at: str = Field(default_factory=now_iso)
    from_state: str
    automation_message: str | None = None

    @classmethod
    def of(cls, draft: PlanDraft, *, operation_id: str, actor: str, from_state: str) -> Plan:
        return cls(
            **draft.model_dump(), operation_id=operation_id, actor=actor, from_state=from_state
        )


def case_id_for(item_id: str, n: int | None = None) -> str:
    """The Case id an Inbox Item's promotion creates (deterministic, so a retry finds it)."""
    return f"CASE-{item_id}" if n is None else f"CASE-{item_id}-{n:03d}"


class RolledBack(Exception):  # noqa: N818 - internal signal, never leaves this module
    pass


class PlanRunner:
    """Claims, executes, finishes and recovers plans; the writes of each kind are its writer's."""

    def __init__(self, ledger: ItemLedger, writers: Mapping[PlanKind, PlanWriter]) -> None:
        self.ledger = ledger
        self.writers = writers

    def claim(self, stored: StoredRecord, plan: Plan) -> StoredRecord:
        item = stored.record
        transition("inbox_item", item.state, "processing", record_id=item.id, action=plan.action)
        new = item.model_copy(
            update={"state": "processing", "links": {**item.links, "pending": plan.model_dump()}}
        )
        entry = audit_entry(
            item,
            operation_id=plan.operation_id,
            actor=plan.actor,
            action=f"{plan.action}:claim",
            from_state=item.state,
            to_state="processing",
        )
        return self.ledger.commit(stored, new, [entry], defer_audit=True)

    def run(self, stored: StoredRecord, plan: Plan) -> ItemOutcome:
        """Claim ``stored`` for ``plan`` and carry it out; a lost race sees the winner's outcome."""
        try:
            claimed = self.claim(stored, plan)
        except VersionConflict:
            fresh = self.ledger.reload(stored.record)
            pending = fresh.record.links.get("pending")
            if fresh.record.state == "processing" and pending:
                return self.execute(fresh, Plan.model_validate(pending))[1]
            last = self.ledger.last_outcome(fresh, action=plan.action)
            if last is not None:
                return last
            raise TransitionError(
                "inbox_item", fresh.record.id, fresh.record.state, "processing", plan.action
            ) from None
        return self.execute(claimed, plan)[1]

    def settle(self, stored: StoredRecord) -> StoredRecord:
        """Roll forward a plan left by an interrupted or concurrent operation."""
        pending = stored.record.links.get("pending")
        if stored.record.state != "processing" or not pending:
            return stored
        with contextlib.suppress(ConcurrentUpdateError):  # rolled back to its prior state
            self.execute(stored, Plan.model_validate(pending))
        return self.ledger.reload(stored.record)

    def execute(self, stored: StoredRecord, plan: Plan) -> tuple[StoredRecord, ItemOutcome]:
        writer = self.writers[plan.kind]
        try:
            written = writer.write(stored.record, plan)
        except RolledBack as why:
            self._roll_back(stored, plan, str(why))
            raise ConcurrentUpdateError(str(why)) from None
        return self._finish(stored, plan, writer, written)

    def _finish(
        self, stored: StoredRecord, plan: Plan, writer: PlanWriter, written: Written
    ) -> tuple[StoredRecord, ItemOutcome]:
        outcome = writer.outcome(plan, written)
        for _ in range(5):
            item = stored.record
            if (
                item.state != "processing"
                or (item.links.get("pending") or {}).get("operation_id") != plan.operation_id
            ):
                last = self.ledger.last_outcome(stored, operation_id=plan.operation_id)
                if last is not None:
                    return stored, last
                raise ConcurrentUpdateError(f"Inbox Item {item.id} changed during the promotion")
            links = {k: v for k, v in item.links.items() if k not in ("pending", "audit")}
            links.update(writer.item_links(written))
            links["last_operation"] = {
                "operation_id": plan.operation_id,
                "action": plan.action,
                "outcome": outcome_json(outcome),
            }
            if plan.automation_message:
                links["automation_message"] = plan.automation_message
            final = item.model_copy(update={"state": "promoted", "links": links})
            entry = audit_entry(
                item,
                operation_id=plan.operation_id,
                actor=plan.actor,
                action=plan.action,
                from_state="processing",
                to_state="promoted",
                seq=1,
                details={
                    "case_ids": [c.case_id for c in written.cases],
                    "from_state": plan.from_state,
                    **plan.audit_details,
                },
            )
            try:
                return self.ledger.commit(stored, final, [entry, *written.entries]), outcome
            except VersionConflict:
                stored = self.ledger.reload(item)
        raise ConcurrentUpdateError(f"Inbox Item {stored.record.id} kept changing; retry")

    def _roll_back(self, stored: StoredRecord, plan: Plan, reason: str) -> None:
        for _ in range(5):
            item = stored.record
            if item.state != "processing":
                return
            links = {k: v for k, v in item.links.items() if k not in ("pending", "audit")}
            back = item.model_copy(update={"state": plan.from_state, "links": links})
            entry = audit_entry(
                item,
                operation_id=plan.operation_id,
                actor=plan.actor,
                action=f"{plan.action}:rolled_back",
                from_state="processing",
                to_state=plan.from_state,
                seq=2,
                details={"reason": reason},
            )
            try:
                self.ledger.commit(stored, back, [entry])
                return
            except VersionConflict:
                stored = self.ledger.reload(item)
