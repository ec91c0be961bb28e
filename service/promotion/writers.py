"""One writer per plan kind: the Cases, Inbound Transmissions and audit entries a plan writes.

:class:`~service.promotion.plans.PlanRunner` claims the item, asks the writer
of the plan's kind to write, and finishes the item with the links and the
outcome the writer names. Each writer is safe to run again for the same plan
(a retry continues where a failed attempt stopped): Case ids derive from the
item, ``create`` refuses a second version 1, and transmission ids are
deterministic. A writer raises :class:`~service.promotion.plans.RolledBack`
when the plan can no longer complete; the runner then rolls the item back.

    >>> sorted(plan_writers(store, transmissions))  # doctest: +SKIP
    ['copy', 'follow_up', 'initial', 'multiple']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, get_args

from indexer.documents import build_document
from indexer.engine import EngineUnavailable, VersionConflict
from indexer.names import name_keys
from indexer.records import Record
from indexer.store import RecordStore
from service.promotion.audit import AuditEntry, audit_entry
from service.promotion.cases import new_case_from_item, with_placeholders
from service.promotion.errors import ConcurrentUpdateError
from service.promotion.followup import copy_patient_info, merge
from service.promotion.outcomes import CaseCreated, CasesCreated, FollowUpCreated, PlanOutcome
from service.promotion.plans import Plan, PlanKind, RolledBack
from service.promotion.transmissions import (
    InboundTransmission,
    TransmissionStore,
    transmission_id,
)


@dataclass(frozen=True)
class Written:
    """What a writer wrote: the Cases (in plan order), transmission ids and audit entries."""

    cases: list[Record]
    transmission_ids: list[str]
    entries: list[AuditEntry]


class PlanWriter(ABC):
    """Writes the records of one plan kind."""

    kind: PlanKind

    def __init__(self, store: RecordStore, transmissions: TransmissionStore) -> None:
        self.store = store
        self.transmissions = transmissions

    @abstractmethod
    def write(self, item: Record, plan: Plan) -> Written:
        """Write the plan's Cases, then its Inbound Transmissions."""

    @abstractmethod
    def outcome(self, plan: Plan, written: Written) -> PlanOutcome:
        """The outcome the action answers once the item is finished."""

    def item_links(self, written: Written) -> dict[str, Any]:
        """Links the finished item carries to what was written."""
        return {
            "case_id": written.cases[0].case_id,
            "inbound_transmission_id": written.transmission_ids[0],
        }

    # -- shared writes ---------------------------------------------------------------------

    @staticmethod
    def case_links(item: Record, plan: Plan, tid: str, **more: Any) -> dict[str, Any]:
        return {
            "inbox_item_id": item.id,
            "inbound_transmission_id": tid,
            "operation_id": plan.operation_id,
            **more,
        }

    def create_cases(self, item: Record, cases: list[Record]) -> None:
        """Create version 1 of each Case unless this item already created it."""
        index = self.store.names.cases
        docs = [build_document(c) for c in cases]
        self.store.vocabulary.remember(
            (key for doc in docs for key in name_keys(doc)), refresh="wait_for"
        )
        result = self.store.engine.bulk(
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
            existing = self.store.get_case_version(case.organization, case.case_id or case.id, 1)
            if existing is None or existing.record.links.get("inbox_item_id") != item.id:
                raise RolledBack(f"Case {case.case_id} already exists and is not from {item.id}")

    def link_transmission(self, item: Record, case: Record) -> str:
        """The item's Inbound Transmission, completed with its Case."""
        base = InboundTransmission(
            id=transmission_id(item.id),
            organization=item.organization,
            inbox_item_id=item.id,
            source=item.source.value,
        )
        assert case.case_id is not None
        self.transmissions.link_case(base, case.case_id, case.version)
        return base.id

    @staticmethod
    def single_case_outcome(written: Written) -> CaseCreated:
        case = written.cases[0]
        assert case.case_id is not None
        return CaseCreated(
            case_id=case.case_id,
            case_version=case.version,
            inbound_transmission_id=written.transmission_ids[0],
        )


class InitialCaseWriter(PlanWriter):
    """P1/P3 create_new_case/P13: version 1 of a new Case made from the item."""

    kind: PlanKind = "initial"

    def write(self, item: Record, plan: Plan) -> Written:
        tid = transmission_id(item.id)
        case = new_case_from_item(item, plan.case_ids[0], links=self.case_links(item, plan, tid))
        self.create_cases(item, [case])
        entry = audit_entry(
            case,
            operation_id=plan.operation_id,
            actor=plan.actor,
            action="created",
            from_state=None,
            to_state="new",
            details={"inbox_item_id": item.id},
        )
        return Written([case], [self.link_transmission(item, case)], [entry])

    def outcome(self, plan: Plan, written: Written) -> PlanOutcome:
        return self.single_case_outcome(written)


class CopyCaseWriter(PlanWriter):
    """P3 copy_patient_info: a new Case taking the chosen sections of a matched Case version."""

    kind: PlanKind = "copy"

    def write(self, item: Record, plan: Plan) -> Written:
        assert plan.target_case_id is not None and plan.target_version is not None
        tid = transmission_id(item.id)
        matched = self.store.get_case_version(
            item.organization, plan.target_case_id, plan.target_version
        )
        if matched is None:
            raise RolledBack(f"Case {plan.target_case_id} version {plan.target_version} is gone")
        case, copied = copy_patient_info(item, matched.record, plan.case_ids[0], plan.copy_sections)
        case = case.model_copy(update={"links": {**case.links, **self.case_links(item, plan, tid)}})
        self.create_cases(item, [case])
        entry = audit_entry(
            case,
            operation_id=plan.operation_id,
            actor=plan.actor,
            action="created_copying_patient_info",
            from_state=None,
            to_state="new",
            details={
                "inbox_item_id": item.id,
                "copied_from": f"{plan.target_case_id}~v{plan.target_version}",
                "copied": copied,
            },
        )
        return Written([case], [self.link_transmission(item, case)], [entry])

    def outcome(self, plan: Plan, written: Written) -> PlanOutcome:
        return self.single_case_outcome(written)


class FollowUpWriter(PlanWriter):
    """P3 merge_to_current, P15: the next version of an existing Case, merged with the item."""

    kind: PlanKind = "follow_up"

    def write(self, item: Record, plan: Plan) -> Written:
        case = self.write_version(item, plan)
        entry = audit_entry(
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
        return Written([case], [self.link_transmission(item, case)], [entry])

    def write_version(self, item: Record, plan: Plan, attempts: int = 5) -> Record:
        """Write version n+1 of the target Case, or find it written by this plan already."""
        assert plan.target_case_id is not None and plan.target_version is not None and plan.method
        cid, version = plan.target_case_id, plan.target_version
        for _ in range(attempts):
            nxt = self.store.get_case_version(item.organization, cid, version + 1)
            if nxt is not None:
                if nxt.record.links.get("operation_id") != plan.operation_id:
                    raise RolledBack(
                        f"Case {cid} received version {version + 1} from another operation; "
                        "review the Case and decide again"
                    )
                self.store.put(nxt.record)  # completes superseding the previous version (I2)
                return nxt.record
            target = self.store.get_case_version(item.organization, cid, version)
            if target is None or target.record.state == "superseded":
                raise RolledBack(f"Case {cid} version {version} is no longer the latest version")
            new = merge(plan.method, target.record, item)
            links = {**new.links, **self.case_links(item, plan, transmission_id(item.id))}
            new = new.model_copy(update={"links": links})
            try:
                self.store.replace(target, new)
                return new
            except VersionConflict:
                continue
        raise ConcurrentUpdateError(f"Case {cid} kept changing; retry")

    def outcome(self, plan: Plan, written: Written) -> PlanOutcome:
        case = written.cases[0]
        assert case.case_id is not None and plan.method is not None
        return FollowUpCreated(
            case_id=case.case_id,
            case_version=case.version,
            inbound_transmission_id=written.transmission_ids[0],
            merge_method=plan.method,
        )


class MultipleCasesWriter(PlanWriter):
    """P7-P9: N new Cases, each with its own Inbound Transmission, linked to the first."""

    kind: PlanKind = "multiple"

    def write(self, item: Record, plan: Plan) -> Written:
        first = plan.case_ids[0]
        cases: list[Record] = []
        entries: list[AuditEntry] = []
        for n, cid in enumerate(plan.case_ids, start=1):
            links = self.case_links(item, plan, transmission_id(item.id, n), first_case_id=first)
            case, filled = with_placeholders(new_case_from_item(item, cid, links=links))
            cases.append(case)
            entries.append(
                audit_entry(
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
        self.create_cases(item, cases)
        return Written(cases, self._write_transmissions(item, cases), entries)

    def _write_transmissions(self, item: Record, cases: list[Record]) -> list[str]:
        transmissions = [
            InboundTransmission(
                id=transmission_id(item.id, n),
                organization=item.organization,
                inbox_item_id=item.id,
                source=item.source.value,
                state="completed",
                case_id=c.case_id,
                case_version=c.version,
                first_case_id=cases[0].case_id,
            )
            for n, c in enumerate(cases, start=1)
        ]
        self.transmissions.create_many(transmissions)
        return [t.id for t in transmissions]

    def item_links(self, written: Written) -> dict[str, Any]:
        return {
            **super().item_links(written),
            "case_ids": [c.case_id for c in written.cases],
            "inbound_transmission_ids": written.transmission_ids,
        }

    def outcome(self, plan: Plan, written: Written) -> PlanOutcome:
        ids = [c.case_id for c in written.cases if c.case_id is not None]
        return CasesCreated(
            count=len(written.cases),
            case_ids=ids,
            first_case_id=ids[0],
            inbound_transmission_ids=written.transmission_ids,
        )


WRITERS: tuple[type[PlanWriter], ...] = (
    InitialCaseWriter,
    CopyCaseWriter,
    FollowUpWriter,
    MultipleCasesWriter,
)


def plan_writers(
    store: RecordStore, transmissions: TransmissionStore
) -> dict[PlanKind, PlanWriter]:
    """The writer of every plan kind, keyed by kind."""
    writers = {cls.kind: cls(store, transmissions) for cls in WRITERS}
    missing = set(get_args(PlanKind)) - set(writers)
    if missing:  # a new kind without its writer is a programming error, found at start-up
        raise RuntimeError(f"no writer for plan kind(s) {sorted(missing)}")
    return writers
