"""Crash-safe, concurrency-safe execution of promotions that create Cases (P17).

An operation that creates Cases runs in three steps, each safe to repeat:

1. **Claim**: the Inbox Item moves to ``processing`` by an optimistic write on
   its seq_no, carrying the :class:`Plan` (``links.pending``). Of concurrent
   requests exactly one claim succeeds; that write is the commit point.
2. **Execute**: the Cases (ids derived from the item, ``op_type=create``) and
   Inbound Transmissions (deterministic ids) are written. A Case that already
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
from typing import Any, Literal

from pydantic import BaseModel, Field

from indexer.documents import build_document
from indexer.engine import EngineUnavailable, VersionConflict
from indexer.names import name_keys
from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from service.promotion.audit import AuditEntry, AuditLog, now_iso
from service.promotion.cases import new_case_from_item, with_placeholders
from service.promotion.errors import ConcurrentUpdateError, TransitionError
from service.promotion.followup import copy_patient_info, merge
from service.promotion.states import transition
from service.promotion.transmissions import (
    InboundTransmission,
    TransmissionStore,
    transmission_id,
)

PlanKind = Literal["initial", "copy", "follow_up", "multiple"]


class Plan(BaseModel):
    """What a claimed operation will create; stored on the item while it runs."""

    operation_id: str
    action: str
    actor: str
    at: str = Field(default_factory=now_iso)
    from_state: str
    kind: PlanKind
    case_ids: list[str]
    target_case_id: str | None = None
    target_version: int | None = None
    copy_sections: list[str] = Field(default_factory=list)
    method: Literal["smart", "override"] | None = None
    automation_message: str | None = None


def case_id_for(item_id: str, n: int | None = None) -> str:
    """The Case id an Inbox Item's promotion creates (deterministic, so a retry finds it)."""
    return f"CASE-{item_id}" if n is None else f"CASE-{item_id}-{n:03d}"


class RolledBack(Exception):  # noqa: N818 - internal signal, never leaves this module
    pass


class PlanRunner:
    """Claims, executes, finishes and recovers plans; commits item writes with their audit."""

    def __init__(
        self, store: RecordStore, audit: AuditLog, transmissions: TransmissionStore
    ) -> None:
        self.store = store
        self.engine = store.engine
        self.audit = audit
        self.transmissions = transmissions

    # -- item writes ---------------------------------------------------------------

    def entry(
        self,
        record: Record,
        *,
        operation_id: str,
        actor: str,
        action: str,
        from_state: str | None,
        to_state: str | None,
        seq: int = 0,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        rid = record.case_id if record.kind.value == "case" and record.case_id else record.id
        if record.kind.value == "case":
            rid = f"{rid}~v{record.version}"
        return AuditEntry(
            entry_id=f"{operation_id}:{rid}:{action}:{seq}",
            actor=actor,
            organization=record.organization,
            record_type=record.kind.value,
            record_id=record.case_id
            if record.kind.value == "case" and record.case_id
            else record.id,
            action=action,
            from_state=from_state,
            to_state=to_state,
            operation_id=operation_id,
            details={
                **(details or {}),
                **({"version": record.version} if record.kind.value == "case" else {}),
            },
        )

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

    def reload(self, item_id: str) -> StoredRecord:
        stored = self.store.get("inbox_item", item_id)
        if stored is None:
            raise ConcurrentUpdateError(f"Inbox Item {item_id} disappeared during the operation")
        return stored

    # -- claim / execute / finish ------------------------------------------------------

    def claim(self, stored: StoredRecord, plan: Plan) -> StoredRecord:
        item = stored.record
        transition("inbox_item", item.state, "processing", record_id=item.id, action=plan.action)
        new = item.model_copy(
            update={"state": "processing", "links": {**item.links, "pending": plan.model_dump()}}
        )
        entry = self.entry(
            item,
            operation_id=plan.operation_id,
            actor=plan.actor,
            action=f"{plan.action}:claim",
            from_state=item.state,
            to_state="processing",
        )
        return self.commit(stored, new, [entry], defer_audit=True)

    def run(self, stored: StoredRecord, plan: Plan) -> dict[str, Any]:
        """Claim ``stored`` for ``plan`` and carry it out; a lost race sees the winner's outcome."""
        try:
            claimed = self.claim(stored, plan)
        except VersionConflict:
            fresh = self.reload(stored.record.id)
            pending = fresh.record.links.get("pending")
            if fresh.record.state == "processing" and pending:
                return self.execute(fresh, Plan.model_validate(pending))[1]
            last = fresh.record.links.get("last_operation") or {}
            if last.get("action") == plan.action and last.get("outcome"):
                return dict(last["outcome"])
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
        return self.reload(stored.record.id)

    def execute(self, stored: StoredRecord, plan: Plan) -> tuple[StoredRecord, dict[str, Any]]:
        item = stored.record
        try:
            cases, case_entries = self._write_cases(item, plan)
        except RolledBack as why:
            self._roll_back(stored, plan, str(why))
            raise ConcurrentUpdateError(str(why)) from None
        tids = self._write_transmissions(item, plan, cases)
        return self._finish(stored, plan, cases, tids, case_entries)

    # -- the writes of a plan ----------------------------------------------------------------

    def _case_links(self, item: Record, plan: Plan, tid: str, **more: Any) -> dict[str, Any]:
        return {
            "inbox_item_id": item.id,
            "inbound_transmission_id": tid,
            "operation_id": plan.operation_id,
            **more,
        }

    def _write_cases(self, item: Record, plan: Plan) -> tuple[list[Record], list[AuditEntry]]:
        entries: list[AuditEntry] = []
        if plan.kind == "follow_up":
            case = self._write_follow_up(item, plan)
            entries.append(
                self.entry(
                    case,
                    operation_id=plan.operation_id,
                    actor=plan.actor,
                    action="follow_up_created",
                    from_state=None,
                    to_state=case.state,
                    details={
                        "inbox_item_id": item.id,
                        "method": plan.method,
                        "previous_version": case.version - 1,
                    },
                )
            )
            return [case], entries
        if plan.kind == "multiple":
            cases = []
            first = plan.case_ids[0]
            for n, cid in enumerate(plan.case_ids, start=1):
                case = new_case_from_item(
                    item,
                    cid,
                    links=self._case_links(
                        item, plan, transmission_id(item.id, n), first_case_id=first
                    ),
                )
                case, filled = with_placeholders(case)
                cases.append(case)
                entries.append(
                    self.entry(
                        case,
                        operation_id=plan.operation_id,
                        actor=plan.actor,
                        action="created",
                        from_state=None,
                        to_state="new",
                        details={
                            "inbox_item_id": item.id,
                            "placeholders": filled,
                            "first_case_id": first,
                        },
                    )
                )
            self._create_cases(item, cases)
            return cases, entries
        tid = transmission_id(item.id)
        details: dict[str, Any] = {"inbox_item_id": item.id}
        if plan.kind == "copy":
            assert plan.target_case_id is not None and plan.target_version is not None
            matched = self.store.get_case_version(plan.target_case_id, plan.target_version)
            if matched is None:
                raise RolledBack(
                    f"Case {plan.target_case_id} version {plan.target_version} is gone"
                )
            case, copied = copy_patient_info(
                item, matched.record, plan.case_ids[0], plan.copy_sections
            )
            case = case.model_copy(
                update={"links": {**case.links, **self._case_links(item, plan, tid)}}
            )
            details.update(
                copied_from=f"{plan.target_case_id}~v{plan.target_version}", copied=copied
            )
        else:
            case = new_case_from_item(
                item, plan.case_ids[0], links=self._case_links(item, plan, tid)
            )
        self._create_cases(item, [case])
        action = "created_copying_patient_info" if plan.kind == "copy" else "created"
        entries.append(
            self.entry(
                case,
                operation_id=plan.operation_id,
                actor=plan.actor,
                action=action,
                from_state=None,
                to_state="new",
                details=details,
            )
        )
        return [case], entries

    def _create_cases(self, item: Record, cases: list[Record]) -> None:
        """Create version 1 of each Case unless this item already created it."""
        index = self.store.names.cases
        docs = [build_document(c) for c in cases]
        self.store.vocabulary.remember(
            (key for doc in docs for key in name_keys(doc)), refresh="wait_for"
        )
        result = self.engine.bulk(
            [
                {"_op_type": "create", "_index": index, "_id": c.doc_id, "_source": doc}
                for c, doc in zip(cases, docs, strict=True)
            ],
            refresh="wait_for",
        )
        for case, res in zip(cases, result.items, strict=True):
            if res.ok:
                continue
            if res.status != 409:
                raise EngineUnavailable(f"create case {index}/{case.doc_id}: {res.error}")
            existing = self.store.get_case_version(case.case_id or case.id, 1)
            if existing is None or existing.record.links.get("inbox_item_id") != item.id:
                raise RolledBack(f"Case {case.case_id} already exists and is not from {item.id}")

    def _write_follow_up(self, item: Record, plan: Plan, attempts: int = 5) -> Record:
        assert plan.target_case_id is not None and plan.target_version is not None and plan.method
        cid, version = plan.target_case_id, plan.target_version
        for _ in range(attempts):
            nxt = self.store.get_case_version(cid, version + 1)
            if nxt is not None:
                if nxt.record.links.get("operation_id") != plan.operation_id:
                    raise RolledBack(
                        f"Case {cid} received version {version + 1} from another operation; "
                        "review the Case and decide again"
                    )
                self.store.put(nxt.record)  # completes superseding the previous version (I2)
                return nxt.record
            target = self.store.get_case_version(cid, version)
            if target is None or target.record.state == "superseded":
                raise RolledBack(f"Case {cid} version {version} is no longer the latest version")
            new = merge(plan.method, target.record, item)
            links = {**new.links, **self._case_links(item, plan, transmission_id(item.id))}
            new = new.model_copy(update={"links": links})
            try:
                self.store.replace(target, new)
                return new
            except VersionConflict:
                continue
        raise ConcurrentUpdateError(f"Case {cid} kept changing; retry")

    def _write_transmissions(self, item: Record, plan: Plan, cases: list[Record]) -> list[str]:
        source = item.source.value
        if plan.kind == "multiple":
            first = cases[0].case_id
            ts = [
                InboundTransmission(
                    id=transmission_id(item.id, n),
                    organization=item.organization,
                    inbox_item_id=item.id,
                    source=source,
                    state="completed",
                    case_id=c.case_id,
                    case_version=c.version,
                    first_case_id=first,
                )
                for n, c in enumerate(cases, start=1)
            ]
            self.transmissions.create_many(ts)
            return [t.id for t in ts]
        case = cases[0]
        base = InboundTransmission(
            id=transmission_id(item.id),
            organization=item.organization,
            inbox_item_id=item.id,
            source=source,
        )
        assert case.case_id is not None
        self.transmissions.link_case(base, case.case_id, case.version)
        return [base.id]

    def _finish(
        self,
        stored: StoredRecord,
        plan: Plan,
        cases: list[Record],
        tids: list[str],
        case_entries: list[AuditEntry],
    ) -> tuple[StoredRecord, dict[str, Any]]:
        outcome = _outcome(plan, cases, tids)
        for _ in range(5):
            item = stored.record
            if (
                item.state != "processing"
                or (item.links.get("pending") or {}).get("operation_id") != plan.operation_id
            ):
                last = item.links.get("last_operation") or {}
                if last.get("operation_id") == plan.operation_id:
                    return stored, dict(last["outcome"])
                raise ConcurrentUpdateError(f"Inbox Item {item.id} changed during the promotion")
            links = {k: v for k, v in item.links.items() if k not in ("pending", "audit")}
            links.update(
                case_id=cases[0].case_id,
                inbound_transmission_id=tids[0],
                last_operation={
                    "operation_id": plan.operation_id,
                    "action": plan.action,
                    "outcome": outcome,
                },
            )
            if plan.kind == "multiple":
                links.update(case_ids=[c.case_id for c in cases], inbound_transmission_ids=tids)
            if plan.automation_message:
                links["automation_message"] = plan.automation_message
            final = item.model_copy(update={"state": "promoted", "links": links})
            entry = self.entry(
                item,
                operation_id=plan.operation_id,
                actor=plan.actor,
                action=plan.action,
                from_state="processing",
                to_state="promoted",
                seq=1,
                details={"case_ids": [c.case_id for c in cases], "from_state": plan.from_state},
            )
            try:
                return self.commit(stored, final, [entry, *case_entries]), outcome
            except VersionConflict:
                stored = self.reload(item.id)
        raise ConcurrentUpdateError(f"Inbox Item {stored.record.id} kept changing; retry")

    def _roll_back(self, stored: StoredRecord, plan: Plan, reason: str) -> None:
        for _ in range(5):
            item = stored.record
            if item.state != "processing":
                return
            links = {k: v for k, v in item.links.items() if k not in ("pending", "audit")}
            back = item.model_copy(update={"state": plan.from_state, "links": links})
            entry = self.entry(
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
                self.commit(stored, back, [entry])
                return
            except VersionConflict:
                stored = self.reload(item.id)


def _outcome(plan: Plan, cases: list[Record], tids: list[str]) -> dict[str, Any]:
    if plan.kind == "multiple":
        return {
            "outcome": "cases_created",
            "count": len(cases),
            "case_ids": [c.case_id for c in cases],
            "first_case_id": cases[0].case_id,
            "inbound_transmission_ids": tids,
            "state": "promoted",
        }
    case = cases[0]
    out: dict[str, Any] = {
        "outcome": "follow_up_created" if plan.kind == "follow_up" else "case_created",
        "case_id": case.case_id,
        "case_version": case.version,
        "inbound_transmission_id": tids[0],
        "state": "promoted",
    }
    if plan.kind == "follow_up":
        out["merge_method"] = plan.method
    return out
