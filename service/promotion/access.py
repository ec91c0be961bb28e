"""Reading the records a promotion acts on, as the caller may see them.

The Inbox Item an action names is read within the caller's organizations only
(``service.tenancy``: another organization's item, or the same id there, is never
read; 404 as if missing) and any plan an interrupted operation left on it rolled
forward first; the records a decision targets are looked up within the item's
organization (M1: ids are unique per organization, another's record is "not found").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from matcher import Detection, DetectionOptions, detect
from service import tenancy
from service.auth import Principal
from service.promotion.plans import PlanRunner

RecordType = Literal["case", "inbox_item"]
Detector = Callable[[Record, DetectionOptions], Detection]


def matcher_detector(store: RecordStore) -> Detector:
    """Duplicate detection by the matcher on the store's indices."""

    def run(source: Record, options: DetectionOptions) -> Detection:
        return detect(store.engine, store.names, source, options).detection

    return run


class ItemAccess:
    """Loads Inbox Items for an action and looks up the records decisions target."""

    def __init__(self, store: RecordStore, runner: PlanRunner) -> None:
        self.store = store
        self.runner = runner

    def load_item(self, item_id: str, principal: Principal) -> StoredRecord:
        """The Inbox Item (404 for another organization, as if missing), an interrupted plan
        settled."""
        stored = tenancy.find(self.store, principal, "inbox_item", item_id)
        return self.runner.settle(stored)

    def visible(self, record_type: RecordType, record_id: str, organization: str) -> Record | None:
        """The latest version of ``organization``'s record ``record_id``; None when missing."""
        stored = self.store.get(record_type, organization, record_id)
        return None if stored is None else stored.record

    def exists(self, record_type: RecordType, organization: str, record_id: str) -> bool:
        return self.store.get(record_type, organization, record_id) is not None
