"""Lifecycle actions (P5, P16, SPEC §1): unmark a follow-up, reset a failed item, set states.

The Inbox Item actions are pure functions from the item to a
:class:`~service.promotion.ledger.StateChange` or a refusal;
:class:`Lifecycle` loads the item and writes the change. A Case's state
change is a write of the Case's latest version with its audit entry.

    >>> reset_change(item).outcome  # doctest: +SKIP
    Reset(outcome='reset', state='new')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from pydantic import TypeAdapter

from indexer.engine import VersionConflict
from indexer.records import Record
from indexer.store import RecordStore
from service import tenancy
from service.auth import Principal
from service.errors import ServiceError
from service.promotion.access import ItemAccess
from service.promotion.audit import AuditLog, audit_entry
from service.promotion.errors import ConcurrentUpdateError, InvalidRequestError, TransitionError
from service.promotion.ledger import ItemLedger, StateChange
from service.promotion.outcomes import (
    CaseStateChanged,
    ItemOutcome,
    ItemStateChanged,
    Reset,
    Unmarked,
)
from service.promotion.states import transition

#: Inbox Item states a person may set directly (the other states have their own actions).
MANUAL_ITEM_TARGETS: frozenset[str] = frozenset({"new", "triage", "verified", "rejected"})
UNMARK_OUTCOME: TypeAdapter[Unmarked] = TypeAdapter(Unmarked)
RESET_OUTCOME: TypeAdapter[Reset] = TypeAdapter(Reset)
ITEM_STATE_OUTCOME: TypeAdapter[ItemStateChanged] = TypeAdapter(ItemStateChanged)
CASE_STATE_OUTCOME: TypeAdapter[CaseStateChanged] = TypeAdapter(CaseStateChanged)
#: Failed states an item leaves by an explicit reset only (P16).
FAILED_STATES: frozenset[str] = frozenset({"promotion_failed", "missing_information"})


def unmark_change(item: Record) -> StateChange | ServiceError:
    """P5: back to the state the item had before it was marked (a promoted item never)."""
    if item.state != "marked_as_follow_up":
        return TransitionError(
            "inbox_item", item.id, item.state, "(prior state)", "unmark follow-up"
        )
    prior = item.links.get("prior_state") or "new"
    if prior not in {"new", "triage", "verified"}:
        prior = "new"
    return StateChange(
        action="unmark_follow_up",
        to_state=prior,
        drop_links=("follow_up_of", "prior_state", "automation_message"),
        details={"was_follow_up_of": item.links.get("follow_up_of")},
        outcome=Unmarked(state=prior),
    )


def reset_change(item: Record) -> StateChange | ServiceError:
    """P16: a ``promotion_failed`` / ``missing_information`` item back to ``new``."""
    if item.state not in FAILED_STATES:
        return TransitionError("inbox_item", item.id, item.state, "new", "reset to new")
    return StateChange(
        action="reset_to_new",
        to_state="new",
        drop_links=("automation_message", "failed_case_id", "follow_up_of", "prior_state"),
        details={"automation_message": item.links.get("automation_message")},
        outcome=Reset(),
    )


def item_state_change(to_state: str) -> StateChange:
    """Triage, verify, reject or return to new (the state machine decides if allowed)."""
    return StateChange(
        action=f"set_state:{to_state}",
        to_state=to_state,
        outcome=ItemStateChanged(state=to_state),
    )


class Lifecycle:
    """Unmark, reset and manual state changes of Inbox Items; Case state changes."""

    def __init__(
        self, store: RecordStore, access: ItemAccess, ledger: ItemLedger, audit: AuditLog
    ) -> None:
        self.store = store
        self.access = access
        self.ledger = ledger
        self.audit = audit

    def _write(
        self,
        item_id: str,
        principal: Principal,
        operation_id: str,
        expected: TypeAdapter[Any],
        change_of: Callable[[Record], StateChange | ServiceError],
    ) -> ItemOutcome:
        """Load the item, replay a completed retry, else write the change it allows."""
        stored = self.access.load_item(item_id, principal)
        if (replay := ItemLedger.replayed(stored, operation_id, expected)) is not None:
            return cast(ItemOutcome, replay)
        change = change_of(stored.record)
        if isinstance(change, ServiceError):
            raise change
        return self.ledger.apply(stored, principal, operation_id, change)

    def unmark_follow_up(
        self, item_id: str, principal: Principal, operation_id: str
    ) -> ItemOutcome:
        """P5: back to the state the item had before it was marked (a promoted item never)."""
        return self._write(item_id, principal, operation_id, UNMARK_OUTCOME, unmark_change)

    def reset_to_new(self, item_id: str, principal: Principal, operation_id: str) -> ItemOutcome:
        """P16: a person sends a failed item back to ``new``."""
        return self._write(item_id, principal, operation_id, RESET_OUTCOME, reset_change)

    def set_item_state(
        self, item_id: str, principal: Principal, operation_id: str, to_state: str
    ) -> ItemOutcome:
        """Triage, verify, reject or return an item to new (other states have their actions)."""
        if to_state not in MANUAL_ITEM_TARGETS:
            raise InvalidRequestError(
                "to",
                f"set one of {', '.join(sorted(MANUAL_ITEM_TARGETS))}; other states are "
                "reached through promote, decision, auto-promote or reset",
                to_state,
            )
        return self._write(
            item_id,
            principal,
            operation_id,
            ITEM_STATE_OUTCOME,
            lambda _: item_state_change(to_state),
        )

    def set_case_state(
        self, case_id: str, principal: Principal, operation_id: str, to_state: str
    ) -> CaseStateChanged:
        """Move the latest version of a Case along its lifecycle (supersede is by follow-up only)."""
        stored = tenancy.find(self.store, principal, "case", case_id)
        case = stored.record
        if to_state == "superseded":
            raise InvalidRequestError(
                "to", "a Case version is superseded by its next version only", to_state
            )
        transition(
            "case", case.state, to_state, record_id=case_id, action=f"set state to {to_state}"
        )
        new = case.model_copy(update={"state": to_state})
        try:
            self.store.replace(stored, new)
        except VersionConflict:
            raise ConcurrentUpdateError(
                f"Case {case_id} changed concurrently; re-read it and retry"
            ) from None
        entry = audit_entry(
            case,
            operation_id=operation_id,
            actor=principal.key_id,
            action="set_state",
            from_state=case.state,
            to_state=to_state,
        )
        self.audit.write([entry])
        return CaseStateChanged(case_id=case_id, case_version=case.version, state=to_state)
