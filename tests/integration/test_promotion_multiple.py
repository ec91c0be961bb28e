"""Promote to multiple Cases on the embedded engine: P7-P9."""

from __future__ import annotations

import pytest

from indexer.store import RecordStore
from matcher import DetectionOptions, detect
from service.promotion.errors import ActionRefusedError, InvalidRequestError
from tests.integration.promotion_support import WRITER, item, service


def test_P7_creates_n_cases_each_with_a_transmission_linked_to_the_first(
    store: RecordStore,
) -> None:
    svc = service(store)
    store.put(item("II-1"))
    out = svc.promote_multiple("II-1", WRITER, "op-1", 3)
    assert out["count"] == 3 and out["first_case_id"] == "CASE-II-1-001"
    for n, cid in enumerate(out["case_ids"], start=1):
        created = store.get("case", "ORG-A", cid).record
        assert created.links["first_case_id"] == "CASE-II-1-001"
        assert created.links["inbox_item_id"] == "II-1"
        t = svc.transmission(f"IT-II-1-{n:03d}", WRITER)
        assert (t["case_id"], t["inbox_item_id"], t["first_case_id"]) == (
            cid,
            "II-1",
            "CASE-II-1-001",
        )
    stored = store.get("inbox_item", "ORG-A", "II-1").record
    assert stored.state == "promoted" and stored.links["case_ids"] == out["case_ids"]


def test_P7_skips_duplicate_detection(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-0"))
    svc.promote("II-0", WRITER, "op-0")  # CASE-II-0 shares every value with II-1 below
    store.put(item("II-1", identifiers={"case_identifiers": ["CI-II-0"]}))
    out = svc.promote_multiple("II-1", WRITER, "op-1", 2)
    assert out["outcome"] == "cases_created"


@pytest.mark.parametrize("count", [0, 101, -1])
def test_P7_count_between_1_and_100(store: RecordStore, count: int) -> None:
    svc = service(store)
    store.put(item("II-1"))
    with pytest.raises(InvalidRequestError):
        svc.promote_multiple("II-1", WRITER, "op-1", count)


def test_P7_one_hundred_cases(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-1"))
    assert svc.promote_multiple("II-1", WRITER, "op-1", 100)["count"] == 100
    assert store.get("case", "ORG-A", "CASE-II-1-100") is not None


def test_P7_not_available_for_e2b_imported_items(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-1", source="e2b"))
    with pytest.raises(ActionRefusedError, match="E2B"):
        svc.promote_multiple("II-1", WRITER, "op-1", 2)
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "new"


def test_P8_placeholders_make_cases_valid_and_never_match(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-1", patient={}, reporter={"country": "NO"}, events=[{"rank": 1}]))
    out = svc.promote_multiple("II-1", WRITER, "op-1", 2)
    created = store.get("case", "ORG-A", out["case_ids"][0]).record
    assert created.patient.initials == "PLACEHOLDER"
    assert created.reporter.last_name == "Placeholder reporter"
    assert created.events[0].event_reported == "Placeholder event"
    # Another blank record finds nothing through the placeholders (N5).
    probe = item(
        "II-2",
        patient={"initials": "PLACEHOLDER"},
        reporter={"last_name": "Placeholder reporter"},
        events=[{"event_reported": "Placeholder event"}],
        products=[{"product_reported": "x"}],
        identifiers={},
    )
    found = detect(store.engine, store.names, probe, DetectionOptions(mask_phi=False)).detection
    assert not {m.record_id for m in found.sections.all()} & set(out["case_ids"])


def test_P9_non_english_localization_creates_domestic_cases(store: RecordStore) -> None:
    svc = service(store)
    store.put(item("II-1", localization="ja"))
    store.put(item("II-2", localization="en-GB"))
    ja = svc.promote_multiple("II-1", WRITER, "op-1", 2)
    en = svc.promote_multiple("II-2", WRITER, "op-2", 1)
    assert {store.get("case", "ORG-A", c).record.localization for c in ja["case_ids"]} == {"ja"}
    assert store.get("case", "ORG-A", en["case_ids"][0]).record.localization == "global"
