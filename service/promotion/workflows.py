"""The promotion service: manual promotion (P1-P5), decisions, promote to multiple
(P7-P9), automated promotion (P10-P16), resets and state changes, with the
results log (M22), the audit trail (P18) and idempotency (P17).

Routers call one method per endpoint with the caller's :class:`Principal` and
an operation id (from :class:`~service.promotion.idempotency.IdempotencyStore`).
Every method returns the JSON outcome of SPEC §7 or raises a typed error
(403/404/409/422); engine failures surface as ``EngineUnavailable`` (503).
Operations that create Cases go through :class:`~service.promotion.plans.PlanRunner`;
the others are one optimistic write of the Inbox Item plus its audit entries.

    >>> service = PromotionService(store, settings)            # doctest: +SKIP
    >>> service.ensure_indices()                               # doctest: +SKIP
    >>> service.promote("II-1", principal, "op-1")["outcome"]  # doctest: +SKIP
    'case_created'
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal

from indexer.engine import VersionConflict
from indexer.normalize import normalize_id
from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from matcher import Detection, DetectionOptions, detect
from service.auth import Principal
from service.detection import detection_options
from service.errors import NotFound, ServiceError
from service.promotion.audit import AuditEntry, AuditLog
from service.promotion.automated import AUTO_SOURCES, AutoDecision, decide_auto
from service.promotion.errors import (
    ActionRefusedError,
    ConcurrentUpdateError,
    InvalidRequestError,
    PrerequisitesError,
    TransitionError,
)
from service.promotion.followup import COPY_SECTIONS, UNSUPPORTED_COPY_SECTIONS
from service.promotion.idempotency import IdempotencyStore
from service.promotion.plans import Plan, PlanRunner, case_id_for
from service.promotion.rules import classify_seriousness, missing_prerequisites, validation_errors
from service.promotion.states import (
    DEFAULT_PROMOTABLE_STATES,
    FOLLOW_UP_REFUSED_CASE_STATES,
    is_in_flight,
    transition,
)
from service.promotion.transmissions import (
    InboundTransmission,
    TransmissionStore,
    results_log,
    transmission_id,
)
from service.settings import Settings

Detector = Callable[[Record, DetectionOptions], Detection]
DecisionAction = Literal[
    "create_new_case", "copy_patient_info", "mark_duplicate", "mark_follow_up", "merge_to_current"
]
#: Inbox Item states a person may set directly (the other states have their own actions).
MANUAL_ITEM_TARGETS: frozenset[str] = frozenset({"new", "triage", "verified", "rejected"})
MAX_MULTIPLE = 100


def matcher_detector(store: RecordStore) -> Detector:
    """Duplicate detection by the matcher on the store's indices."""

    def run(source: Record, options: DetectionOptions) -> Detection:
        return detect(store.engine, store.names, source, options).detection

    return run


class PromotionService:
    """Promotion workflows over one record store (see the module docstring)."""

    def __init__(
        self, store: RecordStore, settings: Settings, *, detector: Detector | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.engine = store.engine
        self.audit = AuditLog(store.engine, store.names)
        self.transmissions = TransmissionStore(store.engine, store.names)
        self.idempotency = IdempotencyStore(store.engine, store.names)
        self.runner = PlanRunner(store, self.audit, self.transmissions)
        self.detector = detector or matcher_detector(store)

    def ensure_indices(self) -> None:
        """Create the aux indices (transmissions, audit, idempotency) if missing."""
        self.audit.ensure_index()
        self.transmissions.ensure_index()
        self.idempotency.ensure_index()

    # -- loading ---------------------------------------------------------------------

    def load_item(self, item_id: str, principal: Principal) -> StoredRecord:
        """The Inbox Item (404 for another organization, as if missing), an interrupted plan settled."""
        stored = self.store.get("inbox_item", item_id)
        # Another organization's item is indistinguishable from a missing one.
        if stored is None or not principal.may_access(stored.record.organization):
            raise NotFound("inbox_item", item_id)
        return self.runner.settle(stored)

    def _target_case(self, case_id: str, organization: str) -> StoredRecord:
        """The latest version of a Case of the same organization (M1: others are invisible)."""
        stored = self.store.get("case", case_id)
        if stored is None or stored.record.organization != organization:
            raise NotFound("case", case_id)
        return stored

    def _target_item(self, item_id: str, organization: str) -> StoredRecord:
        stored = self.store.get("inbox_item", item_id)
        if stored is None or stored.record.organization != organization:
            raise NotFound("inbox_item", item_id)
        return stored

    @staticmethod
    def _replayed(stored: StoredRecord, operation_id: str) -> dict[str, Any] | None:
        """The outcome of ``operation_id`` if it already completed on this item (a retry)."""
        last = stored.record.links.get("last_operation") or {}
        if last.get("operation_id") == operation_id and last.get("outcome"):
            return dict(last["outcome"])
        return None

    def _check_promotable(self, item: Record, action: str) -> None:
        org = self.settings.organization(item.organization)
        allowed = org.promotable_states or list(DEFAULT_PROMOTABLE_STATES)
        if item.state not in allowed:
            raise TransitionError("inbox_item", item.id, item.state, "processing", action)

    def _check_prerequisites(self, item: Record) -> None:
        org = self.settings.organization(item.organization)
        minimum = (
            org.require_minimum_case_criteria
            if org.require_minimum_case_criteria is not None
            else self.settings.require_minimum_case_criteria
        )
        missing = missing_prerequisites(item, minimum_case_criteria=minimum)
        if missing:
            raise PrerequisitesError(item.id, missing)

    def _plan(self, item: Record, principal: Principal, operation_id: str, **fields: Any) -> Plan:
        return Plan(
            operation_id=operation_id, actor=principal.key_id, from_state=item.state, **fields
        )

    def _single_write(
        self,
        stored: StoredRecord,
        principal: Principal,
        operation_id: str,
        *,
        action: str,
        to_state: str,
        links: dict[str, Any],
        outcome: dict[str, Any],
        details: dict[str, Any] | None = None,
        drop_links: Iterable[str] = (),
    ) -> dict[str, Any]:
        """One optimistic state change of the item, with its audit entry and outcome."""
        item = stored.record
        transition("inbox_item", item.state, to_state, record_id=item.id, action=action)
        new_links = {k: v for k, v in item.links.items() if k not in {"audit", *drop_links}}
        new_links.update(links)
        new_links["last_operation"] = {
            "operation_id": operation_id,
            "action": action,
            "outcome": outcome,
        }
        entry = self.runner.entry(
            item,
            operation_id=operation_id,
            actor=principal.key_id,
            action=action,
            from_state=item.state,
            to_state=to_state,
            details=details,
        )
        new = item.model_copy(update={"state": to_state, "links": new_links})
        try:
            self.runner.commit(stored, new, [entry])
        except VersionConflict:
            fresh = self.runner.reload(item.id)
            replay = self._replayed(fresh, operation_id)
            if replay is not None:
                return replay
            raise ConcurrentUpdateError(
                f"Inbox Item {item.id} changed concurrently (now '{fresh.record.state}'); "
                "re-read it and retry"
            ) from None
        return outcome

    # -- P1-P2 promote ---------------------------------------------------------------------

    def detection_options(self, item: Record, principal: Principal) -> DetectionOptions:
        return detection_options(
            self.settings, item, show_phi=principal.sees_phi(self.settings.mask_phi)
        )

    def promote(self, item_id: str, principal: Principal, operation_id: str) -> dict[str, Any]:
        """P1-P2: detection; no match -> Case + Inbound Transmission; matches -> listed."""
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        item = stored.record
        self._check_promotable(item, "promote")
        self._check_prerequisites(item)
        options = self.detection_options(item, principal)
        detection = self.detector(item, options)
        if detection.has_matches:
            fresh = self._unchanged_or_outcome(stored, "promote")
            if fresh is not None:
                return fresh
            tid = self._log_detection(item, detection, options, operation_id)
            return {
                "outcome": "potential_matches",
                "detection": detection.model_dump(mode="json"),
                "inbound_transmission_id": tid,
                "state": item.state,
            }
        plan = self._plan(
            item,
            principal,
            operation_id,
            action="promote",
            kind="initial",
            case_ids=[case_id_for(item.id)],
        )
        return self.runner.run(stored, plan)

    def _unchanged_or_outcome(self, stored: StoredRecord, action: str) -> dict[str, Any] | None:
        """After a detection: if a concurrent request promoted the item meanwhile, its outcome.

        Returning matches writes nothing to the item, so no seq_no check guards it
        the way the claim guards creating a Case. The item is re-read (realtime)
        instead: a concurrent promotion claims the item before it writes its Case,
        so a detection that saw that Case always finds the seq_no moved on. Its
        matches are then stale (they list the Case made from this very item): the
        caller gets the promotion's outcome (rolled forward first if still in
        flight), or 409 if the item moved on otherwise. An unchanged seq_no means
        the detection completed before any concurrent write: its matches stand.
        """
        current = self.store.get("inbox_item", stored.record.id)
        if current is None or current.seq_no == stored.seq_no:
            return None
        current = self.runner.settle(current)
        before = stored.record.links.get("last_operation") or {}
        last = current.record.links.get("last_operation") or {}
        if (
            last.get("action") == action
            and last.get("outcome")
            and last.get("operation_id") != before.get("operation_id")
        ):
            return dict(last["outcome"])
        if current.record.state != stored.record.state:
            raise TransitionError(
                "inbox_item", current.record.id, current.record.state, "processing", action
            )
        return None

    def _log_detection(
        self, item: Record, detection: Detection, options: DetectionOptions, operation_id: str
    ) -> str:
        """M22: store the results log on the item's Inbound Transmission."""
        used = {
            "profile": options.profile,
            "match_inbox_items": options.match_inbox_items,
            "max_possible_matches": options.max_possible_matches,
            "mask_phi": self.settings.mask_phi,
        }
        base = InboundTransmission(
            id=transmission_id(item.id),
            organization=item.organization,
            inbox_item_id=item.id,
            source=item.source.value,
        )
        self.transmissions.add_results_log(base, results_log(detection, used, operation_id))
        return base.id

    # -- P3-P5 decisions -----------------------------------------------------------------------

    def decide(
        self,
        item_id: str,
        principal: Principal,
        operation_id: str,
        *,
        action: DecisionAction,
        target_id: str | None = None,
        target_type: Literal["case", "inbox_item"] | None = None,
        copy: list[str] | None = None,
    ) -> dict[str, Any]:
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        item = stored.record
        if action == "merge_to_current":
            return self._merge_to_current(stored, principal, operation_id, target_id)
        if item.state != "marked_as_follow_up" or action != "mark_duplicate":
            self._check_promotable(item, action)
        if action == "create_new_case":
            plan = self._plan(
                item,
                principal,
                operation_id,
                action=action,
                kind="initial",
                case_ids=[case_id_for(item.id)],
            )
            return self.runner.run(stored, plan)
        if action == "copy_patient_info":
            return self._copy_patient_info(stored, principal, operation_id, target_id, copy or [])
        if action == "mark_duplicate":
            return self._mark_duplicate(stored, principal, operation_id, target_id, target_type)
        return self._mark_follow_up(stored, principal, operation_id, target_id)

    def _require_target(self, target_id: str | None, action: str) -> str:
        if not target_id:
            raise InvalidRequestError("target_id", f"{action} needs the id of the matched record")
        return target_id

    def _refuse_follow_up(self, case: Record, action: str) -> None:
        """P4: void/nullified/voiding/nullifying/deleted, or a state the settings prohibit."""
        org = self.settings.organization(case.organization)
        label = f"Case {case.case_id} is in state '{case.state}'"
        if case.state in FOLLOW_UP_REFUSED_CASE_STATES:
            raise ActionRefusedError(f"{label}: {action} is refused for a Case in that state")
        if case.state in set(org.prohibited_follow_up_states):
            raise ActionRefusedError(
                f"{label}, which the organization's settings prohibit for {action}"
            )

    def _copy_patient_info(
        self,
        stored: StoredRecord,
        principal: Principal,
        operation_id: str,
        target_id: str | None,
        sections: list[str],
    ) -> dict[str, Any]:
        item = stored.record
        target = self._target_case(
            self._require_target(target_id, "copy_patient_info"), item.organization
        )
        for section in sections:
            if section in UNSUPPORTED_COPY_SECTIONS:
                raise InvalidRequestError(
                    "copy",
                    f"'{section}' is not held by casematch records; "
                    f"copyable sections: {', '.join(COPY_SECTIONS)}",
                    section,
                )
            if section not in COPY_SECTIONS:
                raise InvalidRequestError(
                    "copy", f"unknown section; allowed: {', '.join(COPY_SECTIONS)}", section
                )
        plan = self._plan(
            item,
            principal,
            operation_id,
            action="copy_patient_info",
            kind="copy",
            case_ids=[case_id_for(item.id)],
            target_case_id=target.record.case_id,
            target_version=target.record.version,
            copy_sections=sections,
        )
        return self.runner.run(stored, plan)

    def _mark_duplicate(
        self,
        stored: StoredRecord,
        principal: Principal,
        operation_id: str,
        target_id: str | None,
        target_type: Literal["case", "inbox_item"] | None,
    ) -> dict[str, Any]:
        item = stored.record
        tid = self._require_target(target_id, "mark_duplicate")
        if target_type is None:
            target_type = "inbox_item" if self.store.get("inbox_item", tid) else "case"
        if target_type == "inbox_item":
            if tid == item.id:
                raise InvalidRequestError("target_id", "an Inbox Item cannot duplicate itself", tid)
            self._target_item(tid, item.organization)
        else:
            self._target_case(tid, item.organization)
        link = {"record_type": target_type, "record_id": tid}
        return self._single_write(
            stored,
            principal,
            operation_id,
            action="mark_duplicate",
            to_state="duplicate",
            links={"duplicate_of": link},
            details={"duplicate_of": link},
            outcome={"outcome": "marked_duplicate", "duplicate_of": link, "state": "duplicate"},
        )

    def _mark_follow_up(
        self, stored: StoredRecord, principal: Principal, operation_id: str, target_id: str | None
    ) -> dict[str, Any]:
        item = stored.record
        if not self.settings.organization(item.organization).allow_mark_follow_up:
            raise ActionRefusedError("mark as follow-up is not enabled for this organization")
        target = self._target_case(
            self._require_target(target_id, "mark_follow_up"), item.organization
        ).record
        self._refuse_follow_up(target, "mark as follow-up")
        if not is_in_flight(target.state):
            raise ActionRefusedError(
                f"Case {target.case_id} is in state '{target.state}': mark as follow-up needs an "
                "in-flight Case; use merge_to_current to create a follow-up version"
            )
        return self._single_write(
            stored,
            principal,
            operation_id,
            action="mark_follow_up",
            to_state="marked_as_follow_up",
            links={"follow_up_of": target.case_id, "prior_state": item.state},
            details={"follow_up_of": target.case_id, "case_version": target.version},
            outcome={
                "outcome": "marked_follow_up",
                "case_id": target.case_id,
                "state": "marked_as_follow_up",
            },
        )

    def _merge_to_current(
        self, stored: StoredRecord, principal: Principal, operation_id: str, target_id: str | None
    ) -> dict[str, Any]:
        item = stored.record
        target_id = target_id or item.links.get("follow_up_of")
        if item.state != "marked_as_follow_up":
            self._check_promotable(item, "merge_to_current")
        target = self._target_case(
            self._require_target(target_id, "merge_to_current"), item.organization
        ).record
        self._refuse_follow_up(target, "follow-up")
        plan = self._plan(
            item,
            principal,
            operation_id,
            action="merge_to_current",
            kind="follow_up",
            case_ids=[target.case_id or target.id],
            target_case_id=target.case_id,
            target_version=target.version,
            method="smart",
        )
        return self.runner.run(stored, plan)

    def unmark_follow_up(
        self, item_id: str, principal: Principal, operation_id: str
    ) -> dict[str, Any]:
        """P5: back to the state the item had before it was marked (a promoted item never)."""
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        item = stored.record
        if item.state != "marked_as_follow_up":
            raise TransitionError(
                "inbox_item", item.id, item.state, "(prior state)", "unmark follow-up"
            )
        prior = item.links.get("prior_state") or "new"
        if prior not in {"new", "triage", "verified"}:
            prior = "new"
        return self._single_write(
            stored,
            principal,
            operation_id,
            action="unmark_follow_up",
            to_state=prior,
            links={},
            drop_links=("follow_up_of", "prior_state", "automation_message"),
            details={"was_follow_up_of": item.links.get("follow_up_of")},
            outcome={"outcome": "unmarked", "state": prior},
        )

    # -- P7-P9 promote to multiple ------------------------------------------------------------

    def promote_multiple(
        self, item_id: str, principal: Principal, operation_id: str, count: int
    ) -> dict[str, Any]:
        """P7: N Cases with a transmission each, no detection, linked to the first."""
        if not 1 <= count <= MAX_MULTIPLE:
            raise InvalidRequestError("count", f"between 1 and {MAX_MULTIPLE}", count)
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        item = stored.record
        if item.source.value == "e2b":
            raise ActionRefusedError(
                f"Inbox Item {item.id} was imported from E2B: promote to multiple Cases is not "
                "available for E2B-imported items"
            )
        self._check_promotable(item, "promote_multiple")
        self._check_prerequisites(item)
        plan = self._plan(
            item,
            principal,
            operation_id,
            action="promote_multiple",
            kind="multiple",
            case_ids=[case_id_for(item.id, n) for n in range(1, count + 1)],
        )
        return self.runner.run(stored, plan)

    # -- P10-P16 automated promotion ---------------------------------------------------------------

    def matching_open_cases(self, item: Record) -> list[Record]:
        """Latest open versions of the organization's Cases sharing a Case Identifier (P11, P15)."""
        ids = sorted({v for v in map(normalize_id, item.identifiers.case_identifiers) if v})
        if not ids:
            return []
        res = self.engine.search(
            index=self.store.names.cases,
            body=case_identifier_query(item.organization, ids),
        )
        latest: dict[str, Record] = {}
        for hit in res["hits"]["hits"]:
            rec = Record.model_validate(hit["_source"]["record"])
            cid = rec.case_id or rec.id
            if cid not in latest or latest[cid].version < rec.version:
                latest[cid] = rec
        return [latest[c] for c in sorted(latest)]

    def auto_promote(self, item_id: str, principal: Principal, operation_id: str) -> dict[str, Any]:
        """P10-P16 for one Inbox Item in state ``new``."""
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        item = stored.record
        if item.source.value not in AUTO_SOURCES:
            raise ActionRefusedError(
                f"Inbox Item {item.id} has source '{item.source.value}': automated promotion is for "
                f"{', '.join(sorted(AUTO_SOURCES))}"
            )
        profile_name = item.transmission_profile or "default"
        profile = self.settings.transmission_profile(profile_name)
        if not profile.auto_promote:
            raise ActionRefusedError(
                f"transmission profile '{profile_name}' does not enable auto-promote"
            )
        if item.state != "new":  # P16: failed items wait for an explicit reset
            hint = (
                " (reset it to new first)"
                if item.state in {"promotion_failed", "missing_information"}
                else ""
            )
            raise TransitionError(
                "inbox_item", item.id, item.state, "processing", f"auto-promote{hint}"
            )
        errors = validation_errors(item)
        if errors:  # P10
            base = InboundTransmission(
                id=transmission_id(item.id),
                organization=item.organization,
                inbox_item_id=item.id,
                source=item.source.value,
            )
            self.transmissions.mark_validation_error(base, errors)
            message = "validation failed: " + "; ".join(errors)
            return self._single_write(
                stored,
                principal,
                operation_id,
                action="auto_promote",
                to_state="missing_information",
                links={"automation_message": message, "inbound_transmission_id": base.id},
                details={"validation_errors": errors},
                outcome={
                    "outcome": "missing_information",
                    "state": "missing_information",
                    "automation_message": message,
                    "validation_errors": errors,
                    "inbound_transmission_id": base.id,
                },
            )
        org = self.settings.organization(item.organization)
        decision = decide_auto(
            self.matching_open_cases(item),
            classify_seriousness(item),
            profile,
            org_prohibited_follow_up_states=frozenset(org.prohibited_follow_up_states),
        )
        return self._apply_auto(stored, principal, operation_id, decision)

    def _apply_auto(
        self, stored: StoredRecord, principal: Principal, operation_id: str, decision: AutoDecision
    ) -> dict[str, Any]:
        item = stored.record
        details = {
            "decision": decision.outcome,
            "case_id": decision.case_id,
            "merge_method": decision.method,
            "seriousness": decision.seriousness,
        }
        if decision.outcome == "initial_case":
            plan = self._plan(
                item,
                principal,
                operation_id,
                action="auto_promote",
                kind="initial",
                case_ids=[case_id_for(item.id)],
            )
            return self.runner.run(stored, plan)
        if decision.outcome == "follow_up_case":
            assert decision.case_id is not None and decision.method in ("smart", "override")
            plan = self._plan(
                item,
                principal,
                operation_id,
                action="auto_promote",
                kind="follow_up",
                case_ids=[decision.case_id],
                target_case_id=decision.case_id,
                target_version=decision.case_version,
                method=decision.method,
            )
            return self.runner.run(stored, plan)
        links: dict[str, Any] = {"automation_message": decision.message}
        outcome: dict[str, Any] = {
            "outcome": decision.outcome,
            "state": decision.outcome,
            "automation_message": decision.message,
        }
        if decision.case_id:
            key = "follow_up_of" if decision.outcome == "marked_as_follow_up" else "failed_case_id"
            links[key] = decision.case_id
            outcome["case_id"] = decision.case_id
        if decision.outcome == "marked_as_follow_up":
            links["prior_state"] = item.state
        return self._single_write(
            stored,
            principal,
            operation_id,
            action="auto_promote",
            to_state=decision.outcome,
            links=links,
            outcome=outcome,
            details=details,
        )

    def pending_auto_items(self, organizations: Iterable[str], *, page: int = 500) -> Iterable[str]:
        """Ids of Inbox Items in state ``new`` from automated sources (P16: failed ones are not)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {
                    "bool": {
                        "filter": [
                            {"terms": {"organization": sorted(organizations)}},
                            {"term": {"state": "new"}},
                            {"terms": {"source": sorted(AUTO_SOURCES)}},
                        ]
                    }
                },
                "sort": [{"record_id": "asc"}],
                "size": page,
                "_source": ["record_id"],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.engine.search(index=self.store.names.inbox_items, body=body)["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield str(hit["_source"]["record_id"])
            after = hits[-1]["sort"]

    # -- P16 reset, manual state changes ---------------------------------------------------------------

    def reset_to_new(self, item_id: str, principal: Principal, operation_id: str) -> dict[str, Any]:
        """P16: a person sends a ``promotion_failed`` / ``missing_information`` item back to new."""
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        item = stored.record
        if item.state not in {"promotion_failed", "missing_information"}:
            raise TransitionError("inbox_item", item.id, item.state, "new", "reset to new")
        return self._single_write(
            stored,
            principal,
            operation_id,
            action="reset_to_new",
            to_state="new",
            links={},
            drop_links=("automation_message", "failed_case_id", "follow_up_of", "prior_state"),
            details={"automation_message": item.links.get("automation_message")},
            outcome={"outcome": "reset", "state": "new"},
        )

    def set_item_state(
        self, item_id: str, principal: Principal, operation_id: str, to_state: str
    ) -> dict[str, Any]:
        """Triage, verify, reject or return an item to new (other states have their actions)."""
        if to_state not in MANUAL_ITEM_TARGETS:
            raise InvalidRequestError(
                "to",
                f"set one of {', '.join(sorted(MANUAL_ITEM_TARGETS))}; other states are "
                "reached through promote, decision, auto-promote or reset",
                to_state,
            )
        stored = self.load_item(item_id, principal)
        if (replay := self._replayed(stored, operation_id)) is not None:
            return replay
        return self._single_write(
            stored,
            principal,
            operation_id,
            action=f"set_state:{to_state}",
            to_state=to_state,
            links={},
            outcome={"outcome": "state_changed", "state": to_state},
        )

    def set_case_state(
        self, case_id: str, principal: Principal, operation_id: str, to_state: str
    ) -> dict[str, Any]:
        """Move the latest version of a Case along its lifecycle (supersede is by follow-up only)."""
        stored = self.store.get("case", case_id)
        if stored is None or not principal.may_access(stored.record.organization):
            raise NotFound("case", case_id)
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
        entry = self.runner.entry(
            case,
            operation_id=operation_id,
            actor=principal.key_id,
            action="set_state",
            from_state=case.state,
            to_state=to_state,
        )
        self.audit.write([entry])
        return {
            "outcome": "state_changed",
            "case_id": case_id,
            "case_version": case.version,
            "state": to_state,
        }

    # -- reads -----------------------------------------------------------------------------------

    def transmission(self, tid: str, principal: Principal) -> dict[str, Any]:
        found = self.transmissions.get(tid)
        if found is None or not principal.may_access(found.organization):
            raise NotFound("inbound_transmission", tid)
        return found.model_dump(mode="json")

    def audit_trail(
        self, record_type: str, record_id: str, principal: Principal
    ) -> list[dict[str, Any]]:
        stored = self.store.get(record_type, record_id)
        if stored is None or not principal.may_access(stored.record.organization):
            raise NotFound(record_type, record_id)
        if record_type == "inbox_item":
            self.runner.flush_audit(stored)
        return [e.model_dump(mode="json") for e in self.audit.for_record(record_id)]


def case_identifier_query(organization: str, identifiers: list[str]) -> dict[str, Any]:
    """Cases of ``organization`` whose normalized Case Identifiers include one of ``identifiers``."""
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"organization": organization}},
                    {"term": {"kind": "case"}},
                    {"terms": {"ids.case_identifiers": identifiers}},
                ],
                "must_not": [{"term": {"state": "superseded"}}],
            }
        },
        "size": 100,
        "_source": ["record"],
    }


def auto_promote_pending(
    service: PromotionService,
    principal: Principal,
    *,
    organizations: Iterable[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """One automated-promotion run over every ``new`` item from an automated source.

    Items already in ``promotion_failed`` or ``missing_information`` are not
    retried (P16). Returns how many items ended in each state, and how many
    were refused (e.g. a profile without auto-promote) by HTTP status.
    """
    named = list(organizations or ())
    for org in sorted(set(named)):  # an organization the key lacks is 403, never skipped
        principal.check_organization(org)
    orgs = sorted(set(named or principal.organizations))
    ids = list(service.pending_auto_items(orgs))
    if limit is not None:
        ids = ids[:limit]
    by_state: dict[str, int] = {}
    refused: dict[str, int] = {}
    for item_id in ids:
        try:
            out = service.auto_promote(item_id, principal, f"auto-{uuid.uuid4().hex}")
        except ServiceError as exc:
            refused[str(exc.status_code)] = refused.get(str(exc.status_code), 0) + 1
            continue
        by_state[out["state"]] = by_state.get(out["state"], 0) + 1
    return {"processed": len(ids), "by_state": by_state, "refused": refused}


__all__ = [
    "AuditEntry",
    "PromotionService",
    "auto_promote_pending",
    "case_identifier_query",
    "matcher_detector",
]
