"""Writes of an Inbox Item with their audit entries, and the item's operation record.

Every promotion action ends in an optimistic write of the Inbox Item (on its
seq_no) that records the operation and its outcome (``links.last_operation``)
and keeps the write's audit entries on the item (``links.audit``) until the
next write re-stores them (see :mod:`service.promotion.audit`). Actions that
change the item's state only describe the change as a :class:`StateChange`
(a value a pure decider can return) and :meth:`ItemLedger.apply` writes it.

    >>> StateChange(action="reset_to_new", to_state="new", outcome=Reset()).links
    {}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from indexer.engine import VersionConflict
from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from service.auth import Principal
from service.promotion.audit import AuditEntry, AuditLog, audit_entry
from service.promotion.errors import ConcurrentUpdateError
from service.promotion.outcomes import ITEM_OUTCOME, ItemOutcome, Reset, outcome_json
from service.promotion.states import transition

__all__ = ["ItemLedger", "Reset", "StateChange"]

T = TypeVar("T")


@dataclass(frozen=True)
class StateChange:
    """One state change of an Inbox Item: its new state, links, audit details and outcome."""

    action: str
    to_state: str
    outcome: ItemOutcome
    links: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] | None = None
    #: Links the change removes from the item.
    drop_links: tuple[str, ...] = ()


class ItemLedger:
    """Optimistic Inbox Item writes, each with its audit entries and operation record."""

    def __init__(self, store: RecordStore, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit

    def commit(
        self,
        current: StoredRecord,
        new: Record,
        entries: list[AuditEntry],
        *,
        defer_audit: bool = False,
    ) -> StoredRecord:
        """Write ``new`` over ``current`` on its seq_no (VersionConflict if it changed), then audit.

        The entries of this write stay on the item (``links.audit``); the audit write
        also repeats the previous write's entries (idempotent), so a deferred write
        (``defer_audit``, used by the claim) is stored by the next commit at the latest.
        """
        links = {**new.links, "audit": [e.model_dump(mode="json") for e in entries]}
        stored = self.store.replace(current, new.model_copy(update={"links": links}))
        if not defer_audit:
            previous = current.record.links.get("audit") or []
            self.audit.write([*previous, *entries])
        return stored

    def flush_audit(self, stored: StoredRecord) -> None:
        """Re-write the audit entries of the item's last write (idempotent)."""
        pending = stored.record.links.get("audit") or []
        if pending:
            self.audit.write(pending)

    def reload(self, item: Record) -> StoredRecord:
        """The stored ``item`` as it is now (the same organization's, by id)."""
        stored = self.store.get("inbox_item", item.organization, item.id)
        if stored is None:
            raise ConcurrentUpdateError(f"Inbox Item {item.id} disappeared during the operation")
        return stored

    @staticmethod
    def _recorded(
        stored: StoredRecord, operation_id: str | None, action: str | None
    ) -> dict[str, Any] | None:
        last = stored.record.links.get("last_operation") or {}
        if not last.get("outcome"):
            return None
        if operation_id is not None and last.get("operation_id") != operation_id:
            return None
        if action is not None and last.get("action") != action:
            return None
        outcome: dict[str, Any] = last["outcome"]
        return outcome

    @classmethod
    def last_outcome(
        cls, stored: StoredRecord, *, operation_id: str | None = None, action: str | None = None
    ) -> ItemOutcome | None:
        """The outcome the item's last operation recorded, if it was ``operation_id`` / ``action``."""
        recorded = cls._recorded(stored, operation_id, action)
        return None if recorded is None else ITEM_OUTCOME.validate_python(recorded)

    @classmethod
    def replayed(
        cls, stored: StoredRecord, operation_id: str, expected: TypeAdapter[T]
    ) -> T | None:
        """The outcome of ``operation_id`` if it already completed on this item (a retry).

        ``expected`` is the union the action answers; a recorded outcome outside it
        (never written by this action) is not a replay.
        """
        recorded = cls._recorded(stored, operation_id, None)
        if recorded is None:
            return None
        try:
            return expected.validate_python(recorded)
        except ValidationError:
            return None

    def apply(
        self, stored: StoredRecord, principal: Principal, operation_id: str, change: StateChange
    ) -> ItemOutcome:
        """One optimistic state change of the item, with its audit entry and outcome."""
        item = stored.record
        transition(
            "inbox_item", item.state, change.to_state, record_id=item.id, action=change.action
        )
        new_links = {k: v for k, v in item.links.items() if k not in {"audit", *change.drop_links}}
        new_links.update(change.links)
        new_links["last_operation"] = {
            "operation_id": operation_id,
            "action": change.action,
            "outcome": outcome_json(change.outcome),
        }
        entry = audit_entry(
            item,
            operation_id=operation_id,
            actor=principal.key_id,
            action=change.action,
            from_state=item.state,
            to_state=change.to_state,
            details=change.details,
        )
        new = item.model_copy(update={"state": change.to_state, "links": new_links})
        try:
            self.commit(stored, new, [entry])
        except VersionConflict:
            fresh = self.reload(item)
            replay = self.last_outcome(fresh, operation_id=operation_id)
            if replay is not None:
                return replay
            raise ConcurrentUpdateError(
                f"Inbox Item {item.id} changed concurrently (now '{fresh.record.state}'); "
                "re-read it and retry"
            ) from None
        return change.outcome
