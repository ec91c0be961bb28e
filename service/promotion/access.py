"""Reading the records a promotion acts on, as the caller may see them.

The Inbox Item an action names is read with its organization checked (403
for another organization's) and any plan an interrupted operation left on it
rolled forward first; the records a decision targets are visible only within
the item's organization (M1: another organization's record is "not found").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from indexer.records import Record
from indexer.store import RecordStore, StoredRecord
from matcher import Detection, DetectionOptions, detect
from service.auth import Principal
from service.errors import NotFound
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
        stored = self.store.get("inbox_item", item_id)
        # Another organization's item is indistinguishable from a missing one.
        if stored is None or not principal.may_access(stored.record.organization):
            raise NotFound("inbox_item", item_id)
        return self.runner.settle(stored)

    def visible(self, record_type: RecordType, record_id: str, organization: str) -> Record | None:
        """The latest version of a record of ``organization``; None when missing or another's."""
        stored = self.store.get(record_type, record_id)
        if stored is None or stored.record.organization != organization:
            return None
        return stored.record

    def exists(self, record_type: RecordType, record_id: str) -> bool:
        return self.store.get(record_type, record_id) is not None
