"""Storing and indexing records: I1 (mapping), I2 (latest Case version), I3 (closed items)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from indexer.documents import build_document, load_mapping
from indexer.engine import Engine, VersionConflict
from indexer.records import Record
from indexer.store import IndexNames, RecordStore

MakeRecord = Callable[..., Record]


def _searchable_ids(engine: Engine, index: str) -> list[str]:
    engine.refresh(index)
    hits = engine.client.search(
        index=index,
        body={"query": {"term": {"searchable": True}}, "size": 100, "_source": False},
    )["hits"]["hits"]
    return sorted(h["_id"] for h in hits)


def test_I1_indices_are_created_from_the_mapping_file(
    engine: Engine, store: RecordStore, index_names: IndexNames
) -> None:
    for alias in index_names.record_aliases:
        (physical,) = engine.alias_targets(alias)
        assert physical == f"{alias}-000001"
        mapping = engine.client.indices.get_mapping(index=physical)[physical]["mappings"]
        expected = load_mapping()["mappings"]["properties"]
        assert set(mapping["properties"]) == set(expected)
        # Kept in the document, read by nothing in the engine: stored, not indexed.
        products = mapping["properties"]["products"]
        assert products.get("type", "object") == "object"
        assert str(products.get("enabled")).lower() == "false"


def test_I1_document_holds_normalized_fields_and_the_record(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    record = record_factory(
        "II-7",
        patient={"initials": "J.S.", "first_name": "José", "last_name": "O'Neil"},
        reporter={"country": "United States"},
    )
    store.put(record)
    doc = engine.get(index_names.inbox_items, "ORG-A|II-7")
    assert doc is not None
    assert doc["_source"] == build_document(record)
    # Normalized at index time; retrieval reads the normalized values as scoped keys.
    assert doc["_source"]["patient"]["initials"] == "js"
    assert doc["_source"]["reporter"]["country"] == "US"
    initials_keys = [k for k in doc["_source"]["keys"] if k.endswith(":js")]
    assert initials_keys
    hits = engine.search(
        index_names.inbox_items,
        {
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"keys": initials_keys[0]}},
                        {"term": {"organization": "ORG-A"}},
                    ]
                }
            }
        },
    )["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["ORG-A|II-7"]
    assert Record.model_validate(hits[0]["_source"]["record"]) == record


def test_I2_new_case_version_supersedes_the_previous(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    store.put(record_factory("C-1", kind="case", state="approved"))
    stored = store.put(record_factory("C-1", kind="case", version=2, state="in_progress"))
    assert stored.record.version == 2
    assert _searchable_ids(engine, index_names.cases) == ["ORG-A|C-1~v2"]
    versions = store.case_versions("ORG-A", "C-1")
    assert [(v.record.version, v.record.state) for v in versions] == [
        (1, "superseded"),
        (2, "in_progress"),
    ]
    latest = store.get("case", "ORG-A", "C-1")
    assert latest is not None and latest.record.version == 2


def test_I2_an_older_version_stored_late_is_superseded_at_once(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    store.put(record_factory("C-2", kind="case", version=2))
    store.put(record_factory("C-2", kind="case", version=1))
    assert _searchable_ids(engine, index_names.cases) == ["ORG-A|C-2~v2"]
    v1 = store.get_case_version("ORG-A", "C-2", 1)
    assert v1 is not None and v1.record.state == "superseded"


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
@pytest.mark.parametrize("chunk_size", [1, 2, 50], ids=["chunk-1", "chunk-2", "chunk-50"])
def test_I2_bulk_load_keeps_only_the_latest_version_searchable(
    engine: Engine,
    store: RecordStore,
    index_names: IndexNames,
    record_factory: MakeRecord,
    chunk_size: int,
    workers: int,
) -> None:
    store.put(record_factory("C-3", kind="case", version=1))
    records = [
        record_factory("C-3", kind="case", version=3),
        record_factory("C-4", kind="case", version=1),
        record_factory("C-3", kind="case", version=2),  # arrives after v3
        record_factory("C-4", kind="case", version=2),
        record_factory("C-5", kind="case", version=1),
    ]
    report = store.put_many(records, chunk_size=chunk_size, workers=workers)
    assert report.stored == 5 and report.failed == []
    assert _searchable_ids(engine, index_names.cases) == [
        "ORG-A|C-3~v3",
        "ORG-A|C-4~v2",
        "ORG-A|C-5~v1",
    ]
    assert [v.record.state for v in store.case_versions("ORG-A", "C-3")] == [
        "superseded",
        "superseded",
        "new",
    ]


@pytest.mark.parametrize(
    ("state", "searchable"),
    [
        ("new", True),
        ("triage", True),
        ("marked_as_follow_up", True),
        ("promoted", False),
        ("duplicate", False),
        ("rejected", False),
        ("superseded", False),
    ],
    ids=lambda v: str(v),
)
def test_I3_inbox_item_leaves_search_when_closed(
    engine: Engine,
    store: RecordStore,
    index_names: IndexNames,
    record_factory: MakeRecord,
    state: str,
    searchable: bool,
) -> None:
    stored = store.put(record_factory("II-9"))
    store.replace(stored, stored.record.model_copy(update={"state": state}))
    assert _searchable_ids(engine, index_names.inbox_items) == (
        ["ORG-A|II-9"] if searchable else []
    )
    again = store.get("inbox_item", "ORG-A", "II-9")
    assert again is not None and again.record.state == state


def test_replace_with_a_stale_seq_no_is_a_version_conflict(
    store: RecordStore, record_factory: MakeRecord
) -> None:
    first = store.put(record_factory("II-10"))
    store.replace(first, first.record.model_copy(update={"state": "triage"}))
    with pytest.raises(VersionConflict):
        store.replace(first, first.record.model_copy(update={"state": "rejected"}))
    current = store.get("inbox_item", "ORG-A", "II-10")
    assert current is not None and current.record.state == "triage"


def test_I2_replace_with_a_new_case_version_is_optimistic(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    v1 = store.put(record_factory("C-6", kind="case"))
    store.replace(v1, record_factory("C-6", kind="case", version=2))
    assert _searchable_ids(engine, index_names.cases) == ["ORG-A|C-6~v2"]
    with pytest.raises(VersionConflict):  # v1 changed (superseded) since it was read
        store.replace(v1, record_factory("C-6", kind="case", version=3))
    assert store.get_case_version("ORG-A", "C-6", 3) is None
    assert _searchable_ids(engine, index_names.cases) == ["ORG-A|C-6~v2"]


def test_counts_report_documents_and_searchable_ones(
    store: RecordStore, record_factory: MakeRecord
) -> None:
    store.put(record_factory("C-7", kind="case"))
    store.put(record_factory("C-7", kind="case", version=2))
    store.put(record_factory("II-11", state="rejected"))
    counts: dict[str, Any] = store.counts()
    assert counts == {
        "cases": 2,
        "cases_searchable": 1,
        "inbox_items": 1,
        "inbox_items_searchable": 0,
    }
