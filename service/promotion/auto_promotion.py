"""Automated promotion (P10-P16): one item, or a run over every ``new`` item.

The decisions are pure (:mod:`service.promotion.automated`); this module reads
what they need (the organization's open Cases sharing a Case Identifier, the
transmission profile) and carries the decision out.

    >>> promotion.automated.run(principal).processed  # doctest: +SKIP
    12
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

from pydantic import TypeAdapter

from indexer.normalize import normalize_id
from indexer.records import Record
from indexer.store import RecordStore
from matcher.facts import facts_from_record
from service.auth import Principal
from service.errors import ServiceError
from service.models import ModelCache
from service.promotion.access import ItemAccess
from service.promotion.automated import (
    AUTO_SOURCES,
    auto_refusal,
    auto_step,
    decide_auto,
    missing_information_change,
)
from service.promotion.ledger import ItemLedger, StateChange
from service.promotion.outcomes import AutoOutcome, AutoRunSummary, ItemOutcome
from service.promotion.plans import Plan, PlanRunner
from service.promotion.rules import classify_seriousness, validation_errors
from service.promotion.transmissions import InboundTransmission, TransmissionStore, transmission_id
from service.settings import Settings, TransmissionProfile

AUTO_OUTCOME: TypeAdapter[AutoOutcome] = TypeAdapter(AutoOutcome)
AUTO_RUN_OUTCOME: TypeAdapter[AutoRunSummary] = TypeAdapter(AutoRunSummary)


class AutomatedPromotion:
    """``POST …/auto-promote`` for one item and ``POST /v1/auto-promote`` for a run."""

    def __init__(
        self,
        settings: Settings,
        store: RecordStore,
        access: ItemAccess,
        runner: PlanRunner,
        transmissions: TransmissionStore,
        models: ModelCache | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.access = access
        self.runner = runner
        self.ledger = runner.ledger
        self.transmissions = transmissions
        self.models = models

    def matching_open_cases(self, item: Record) -> list[Record]:
        """Latest open versions of the organization's Cases sharing a Case Identifier (P11, P15)."""
        ids = sorted({v for v in map(normalize_id, item.identifiers.case_identifiers) if v})
        if not ids:
            return []
        return self.store.open_cases_with_identifiers(item.organization, ids)

    def match_probability(
        self, item: Record, matches: list[Record], profile: TransmissionProfile
    ) -> float | None:
        """The organization's match model's probability that ``item`` and its one match are
        the same report; ``None`` without a gate, a single match or a trained model."""
        if profile.follow_up_probability is None or len(matches) != 1 or self.models is None:
            return None
        model = self.models.latest(item.organization)
        if model is None:
            return None
        a, b = facts_from_record(item), facts_from_record(matches[0])
        return model.probability(model.levels(a, b))

    def auto_promote(self, item_id: str, principal: Principal, operation_id: str) -> ItemOutcome:
        """P10-P16 for one Inbox Item in state ``new``."""
        stored = self.access.load_item(item_id, principal)
        if (replay := ItemLedger.replayed(stored, operation_id, AUTO_OUTCOME)) is not None:
            return replay
        item = stored.record
        profile_name = item.transmission_profile or "default"
        profile = self.settings.transmission_profile(profile_name)
        if refused := auto_refusal(item, profile_name, profile):
            raise refused
        if errors := validation_errors(item):  # P10
            base = InboundTransmission(
                id=transmission_id(item.id),
                organization=item.organization,
                inbox_item_id=item.id,
                source=item.source.value,
            )
            self.transmissions.mark_validation_error(base, errors)
            return self.ledger.apply(
                stored, principal, operation_id, missing_information_change(errors, base.id)
            )
        org = self.settings.organization(item.organization)
        matches = self.matching_open_cases(item)
        decision = decide_auto(
            matches,
            classify_seriousness(item),
            profile,
            org_prohibited_follow_up_states=frozenset(org.prohibited_follow_up_states),
            probability=self.match_probability(item, matches, profile),
        )
        step = auto_step(item, decision)
        if isinstance(step, StateChange):
            return self.ledger.apply(stored, principal, operation_id, step)
        plan = Plan.of(
            step, operation_id=operation_id, actor=principal.key_id, from_state=item.state
        )
        return self.runner.run(stored, plan)

    def pending_items(
        self, organizations: Iterable[str], *, page: int = 500
    ) -> Iterator[tuple[str, str]]:
        """(organization, id) of Inbox Items in state ``new`` from automated sources, in id
        order."""
        return self.store.item_ids(
            organizations=organizations, state="new", sources=AUTO_SOURCES, page=page
        )

    def run(
        self,
        principal: Principal,
        *,
        organizations: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> AutoRunSummary:
        """One automated-promotion run over every ``new`` item from an automated source.

        Items already in ``promotion_failed`` or ``missing_information`` are not
        retried (P16). Returns how many items ended in each state, and how many
        were refused (e.g. a profile without auto-promote) by HTTP status.
        """
        named = list(organizations or ())
        for org in sorted(set(named)):  # an organization the key lacks is 403, never skipped
            principal.check_organization(org)
        orgs = sorted(set(named or principal.organizations))
        ids = list(self.pending_items(orgs))
        if limit is not None:
            ids = ids[:limit]
        by_state: dict[str, int] = {}
        refused: dict[str, int] = {}
        for org, item_id in ids:
            try:
                # Within the item's organization: ids are unique per organization only.
                out = self.auto_promote(
                    item_id, principal.narrowed(org), f"auto-{uuid.uuid4().hex}"
                )
            except ServiceError as exc:
                refused[str(exc.status_code)] = refused.get(str(exc.status_code), 0) + 1
                continue
            by_state[out.state] = by_state.get(out.state, 0) + 1
        return AutoRunSummary(processed=len(ids), by_state=by_state, refused=refused)
