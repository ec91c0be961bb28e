"""Manual promotion (P1-P2): detection first; no match makes a Case, matches are listed.

>>> promotion.manual.promote("II-1", principal, "op-1").outcome  # doctest: +SKIP
'case_created'
"""

from __future__ import annotations

from pydantic import TypeAdapter

from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from matcher import Detection, DetectionOptions
from service.auth import Principal
from service.detection import detection_options
from service.models import ModelCache
from service.promotion.access import Detector, ItemAccess
from service.promotion.errors import TransitionError
from service.promotion.ledger import ItemLedger
from service.promotion.outcomes import ItemOutcome, PotentialMatches, PromoteOutcome
from service.promotion.plans import Plan, PlanDraft, PlanRunner, case_id_for
from service.promotion.policy import OrgPolicy, not_promotable, unmet_prerequisites
from service.promotion.transmissions import (
    InboundTransmission,
    TransmissionStore,
    results_log,
    transmission_id,
)
from service.settings import Settings

PROMOTE_OUTCOME: TypeAdapter[PromoteOutcome] = TypeAdapter(PromoteOutcome)


class ManualPromotion:
    """``POST …/promote``: P1 checks, detection, then a Case or the potential matches."""

    def __init__(
        self,
        settings: Settings,
        store: RecordStore,
        access: ItemAccess,
        runner: PlanRunner,
        transmissions: TransmissionStore,
        detector: Detector,
        models: ModelCache | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.access = access
        self.runner = runner
        self.ledger = runner.ledger
        self.transmissions = transmissions
        self.detector = detector
        self.models = models

    def detection_options(self, item: Record, principal: Principal) -> DetectionOptions:
        model = self.models.latest(item.organization) if self.models is not None else None
        return detection_options(
            self.settings,
            item,
            show_phi=principal.sees_phi(self.settings.mask_phi),
            match_model=model,
        )

    def promote(
        self, item_id: str, principal: Principal, operation_id: str
    ) -> ItemOutcome | PotentialMatches:
        """P1-P2: detection; no match -> Case + Inbound Transmission; matches -> listed."""
        stored = self.access.load_item(item_id, principal)
        if (replay := ItemLedger.replayed(stored, operation_id, PROMOTE_OUTCOME)) is not None:
            return replay
        item = stored.record
        policy = OrgPolicy.of(self.settings, item.organization)
        if refused := not_promotable(item, "promote", policy) or unmet_prerequisites(item, policy):
            raise refused
        options = self.detection_options(item, principal)
        detection = self.detector(item, options)
        if detection.has_matches:
            fresh = self._unchanged_or_outcome(stored, "promote")
            if fresh is not None:
                return fresh
            tid = self._log_detection(item, detection, options, operation_id)
            return PotentialMatches(
                detection=detection, inbound_transmission_id=tid, state=item.state
            )
        draft = PlanDraft(action="promote", kind="initial", case_ids=[case_id_for(item.id)])
        plan = Plan.of(
            draft, operation_id=operation_id, actor=principal.key_id, from_state=item.state
        )
        return self.runner.run(stored, plan)

    def _unchanged_or_outcome(self, stored: StoredRecord, action: str) -> ItemOutcome | None:
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
        current = self.store.get("inbox_item", stored.record.organization, stored.record.id)
        if current is None or current.seq_no == stored.seq_no:
            return None
        current = self.runner.settle(current)
        before = stored.record.links.get("last_operation") or {}
        last = current.record.links.get("last_operation") or {}
        if last.get("operation_id") != before.get("operation_id"):
            outcome = self.ledger.last_outcome(current, action=action)
            if outcome is not None:
                return outcome
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
