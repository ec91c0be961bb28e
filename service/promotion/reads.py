"""Reads of what promotion wrote: Inbound Transmissions (M22) and audit trails (P18)."""

from __future__ import annotations

from typing import Literal

from indexer.store import RecordStore
from service import tenancy
from service.auth import Principal
from service.errors import NotFound
from service.promotion.audit import AuditEntry, AuditLog
from service.promotion.ledger import ItemLedger
from service.promotion.transmissions import InboundTransmission, TransmissionStore


class PromotionReads:
    """Transmissions and audit trails, as the caller's organizations may see them."""

    def __init__(
        self,
        store: RecordStore,
        transmissions: TransmissionStore,
        audit: AuditLog,
        ledger: ItemLedger,
    ) -> None:
        self.store = store
        self.transmissions = transmissions
        self.audit = audit
        self.ledger = ledger

    def transmission(self, tid: str, principal: Principal) -> InboundTransmission:
        """The caller's transmission ``tid`` (404 when none of its organizations holds it,
        422 when several do: ``service.tenancy``)."""
        kind = "inbound_transmission"
        org = tenancy.locate(
            principal, kind, tid, lambda orgs: self.transmissions.holders(tid, orgs)
        )
        found = self.transmissions.get(org, tid)
        if found is None:
            raise NotFound(kind, tid)
        return found

    def audit_trail(
        self, record_type: Literal["case", "inbox_item"], record_id: str, principal: Principal
    ) -> list[AuditEntry]:
        """Every entry of the record, oldest first (an item's last write's entries flushed first)."""
        stored = tenancy.find(self.store, principal, record_type, record_id)
        if record_type == "inbox_item":
            self.ledger.flush_audit(stored)
        return self.audit.for_record(stored.record.organization, record_id)
