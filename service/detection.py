"""Duplicate checks for the API and the CLI: options from Settings, then the matcher.

The matcher never reads Settings; this module turns them (and the caller's
permissions) into :class:`matcher.DetectionOptions`: the organization's
detection profile (M23-M25) and match-inbox-items choice, the M26 cap for the
source's study type, and PHI masking unless the caller may read PHI (M20).
A duplicate check changes nothing.

    >>> s = Settings(organizations={"ORG-A": {"detection_profile": "deep_22r3"}})
    >>> detection_options(s, Record(id="II-1", kind="inbox_item", organization="ORG-A"),
    ...                   show_phi=False).profile
    'deep_22r3'
"""

from __future__ import annotations

from indexer.engine import Engine
from indexer.records import Kind, Record
from indexer.store import RecordStore
from matcher import Detection, DetectionOptions, DetectionRun, detect
from matcher.linkage import MatchModel
from service import tenancy
from service.auth import Principal
from service.models import ModelCache
from service.settings import Settings


def detection_options(
    settings: Settings, source: Record, *, show_phi: bool, match_model: MatchModel | None = None
) -> DetectionOptions:
    """The options a detection for ``source`` runs with under ``settings`` (with the
    organization's match model, when it has one, for the matches' probabilities)."""
    org = source.organization
    return DetectionOptions(
        profile=settings.detection_profile(org),
        match_inbox_items=settings.match_inbox_items_for(org),
        max_possible_matches=settings.max_possible_matches(source.is_clinical_trial),
        mask_phi=not show_phi,
        match_model=match_model,
    )


def run_detection(
    engine: Engine,
    store: RecordStore,
    settings: Settings,
    source: Record,
    *,
    show_phi: bool,
    models: ModelCache | None = None,
) -> DetectionRun:
    """Detection for a record (stored or not), on the store's indices; with ``models``,
    the matches carry the organization's latest model's probabilities."""
    model = models.latest(source.organization) if models is not None else None
    options = detection_options(settings, source, show_phi=show_phi, match_model=model)
    return detect(engine, store.names, source, options)


def duplicate_check(
    engine: Engine,
    store: RecordStore,
    settings: Settings,
    principal: Principal,
    item_id: str,
    models: ModelCache | None = None,
) -> Detection:
    """Detection for a stored Inbox Item of the caller's organizations; changes nothing."""
    # Another organization's item is indistinguishable from a missing one.
    stored = tenancy.find(store, principal, Kind.inbox_item.value, item_id)
    run = run_detection(
        engine,
        store,
        settings,
        stored.record,
        show_phi=principal.sees_phi(settings.mask_phi),
        models=models,
    )
    return run.detection
