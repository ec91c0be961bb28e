"""I4: reindex builds a new physical index, verifies it, swaps the alias atomically, resumes."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from benchmarks.generator import generate_cases
from indexer.engine import Engine, EngineUnavailable
from indexer.records import Record
from indexer.reindex import reindex, reindex_alias
from indexer.store import IndexNames, RecordStore

MakeRecord = Callable[..., Record]


def _load(store: RecordStore, n: int, record_factory: MakeRecord) -> None:
    report = store.put_many(generate_cases(3, n), chunk_size=200)
    assert report.stored == n
    store.put(record_factory("II-1"))
    store.put(record_factory("II-2", state="rejected"))


def test_I4_reindex_while_searches_run(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    _load(store, 600, record_factory)
    before = store.counts()
    stop = threading.Event()
    searches = 0
    failures: list[BaseException] = []
    totals: set[int] = set()

    def search_continuously() -> None:
        nonlocal searches
        while not stop.is_set():
            try:
                res = engine.client.search(
                    index=index_names.cases,
                    body={"query": {"term": {"searchable": True}}, "size": 1},
                    track_total_hits=True,
                )
                totals.add(res["hits"]["total"]["value"])
                searches += 1
            except BaseException as exc:  # every failure is a test failure
                failures.append(exc)

    thread = threading.Thread(target=search_continuously)
    thread.start()
    try:
        report = reindex(engine, index_names, batch_size=100, drop_grace_s=0.2)
    finally:
        stop.set()
        thread.join()

    assert failures == []
    assert searches > 0
    assert totals == {before["cases_searchable"]}  # never a half-built index
    assert engine.alias_targets(index_names.cases) == [f"{index_names.cases}-000002"]
    assert engine.alias_targets(index_names.inbox_items) == [f"{index_names.inbox_items}-000002"]
    assert not engine.index_exists(f"{index_names.cases}-000001")
    assert store.counts() == before
    by_alias = {a.alias: a for a in report.aliases}
    assert by_alias[index_names.cases].source_count == 600
    assert by_alias[index_names.cases].target_count == 600
    assert by_alias[index_names.inbox_items].target_count == 2


def test_I4_rebuilt_documents_keep_the_record(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    store.put(record_factory("C-1", kind="case"))
    store.put(record_factory("C-1", kind="case", version=2))
    before = engine.get(index_names.cases, "ORG-A|C-1~v1")
    reindex(engine, index_names, drop_grace_s=0)
    after = engine.get(index_names.cases, "ORG-A|C-1~v1")
    assert before is not None and after is not None
    assert after["_source"] == before["_source"]
    assert after["_index"] == f"{index_names.cases}-000002"
    assert [v.record.state for v in store.case_versions("ORG-A", "C-1")] == ["superseded", "new"]


def test_I4_interrupted_reindex_keeps_old_index_serving_and_resumes(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    _load(store, 300, record_factory)
    alias = index_names.cases
    partial = reindex_alias(engine, alias, batch_size=50, stop_after=100, drop_grace_s=0)
    assert partial.copied == 100
    # Interrupted: the alias still serves the old, complete index; writes wait.
    assert engine.alias_targets(alias) == [f"{alias}-000001"]
    assert engine.count(alias) == 300
    with pytest.raises(EngineUnavailable, match="reindex"):
        store.put(record_factory("C-NEW", kind="case"))

    resumed = reindex_alias(engine, alias, batch_size=50, drop_grace_s=0)
    assert resumed.resumed_from == 100
    assert resumed.copied == 200
    assert resumed.target_count == 300
    assert engine.alias_targets(alias) == [f"{alias}-000002"]
    store.put(record_factory("C-NEW", kind="case"))  # writable again after the swap
    assert engine.count(alias) == 301


def test_I4_stale_target_is_rebuilt_when_the_source_took_writes(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    _load(store, 120, record_factory)
    alias = index_names.cases
    reindex_alias(engine, alias, batch_size=50, stop_after=50, drop_grace_s=0)
    # The block was lifted (as a restart of the embedded engine does) and a write landed.
    engine.set_write_block(f"{alias}-000001", False)
    store.put(record_factory("C-LATE", kind="case"))

    report = reindex_alias(engine, alias, batch_size=50, drop_grace_s=0)
    assert report.resumed_from == 0
    assert report.target_count == 121
    assert engine.get(alias, "ORG-A|C-LATE~v1") is not None


def test_I4_reindex_can_run_twice(
    engine: Engine, store: RecordStore, index_names: IndexNames, record_factory: MakeRecord
) -> None:
    store.put(record_factory("II-3"))
    reindex(engine, index_names, drop_grace_s=0)
    reindex(engine, index_names, drop_grace_s=0)
    assert engine.alias_targets(index_names.inbox_items) == [f"{index_names.inbox_items}-000003"]
    assert engine.get(index_names.inbox_items, "ORG-A|II-3") is not None
