"""The name vocabulary on a real engine: every write path fills it, detection reads it.

Fuzzy name lookups are expanded in the vocabulary (``indexer.names``), so a name
missing from it is a partial name match (M17) lost. Each writer of record
documents must therefore add the names first: single puts, optimistic
replaces, bulk loads, reindex and the Cases promotion creates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from indexer.engine import Engine
from indexer.names import name_keys
from indexer.records import Record
from indexer.reindex import reindex
from indexer.store import RecordStore
from matcher import DetectionOptions, detect
from tests.integration.promotion_support import WRITER, item, service

MakeRecord = Callable[..., Record]


def vocabulary(store: RecordStore) -> set[str]:
    index = store.names.name_vocabulary
    store.engine.refresh(index)
    res = store.engine.client.search(index=index, body={"size": 10_000, "_source": False})
    return {str(hit["_id"]) for hit in res["hits"]["hits"]}


def indexed_names(store: RecordStore) -> set[str]:
    """The name keys of every document in the records indices."""
    out: set[str] = set()
    for alias in store.names.record_aliases:
        store.engine.refresh(alias)
        res = store.engine.client.search(index=alias, body={"size": 10_000, "_source": ["keys"]})
        out.update(k for hit in res["hits"]["hits"] for k in name_keys(hit["_source"]))
    return out


def forget(store: RecordStore) -> None:
    """Empty the vocabulary (and what this process remembers writing to it)."""
    for key in vocabulary(store):
        store.engine.delete(store.names.name_vocabulary, key, refresh=False)
    store.vocabulary = type(store.vocabulary)(store.engine, store.names.name_vocabulary)
    assert not vocabulary(store)


def named(record_id: str, first: str, last: str, **fields: object) -> Record:
    return item(
        record_id,
        patient={"first_name": first, "last_name": last},
        **fields,
    )


def test_every_write_path_adds_the_names_first(store: RecordStore) -> None:
    store.put(named("II-1", "Maria", "Lopez"))
    current = store.get("inbox_item", "ORG-A", "II-1")
    assert current is not None
    store.replace(current, named("II-1", "Marta", "Lopez"))
    store.put_many([named(f"II-{n}", f"Name{n}", "Bulk") for n in range(2, 6)])
    names = indexed_names(store)
    assert (
        "ORG-A|pm|patient_first_name:marta" in names
        and "ORG-A|pm|patient_first_name:name5" in names
    )
    assert names <= vocabulary(store)
    assert "ORG-A|pm|patient_first_name:maria" in vocabulary(store), "the vocabulary only grows"


def test_I4_reindex_restores_missing_names(engine: Engine, store: RecordStore) -> None:
    store.put_many([named(f"II-{n}", f"Name{n}", "Reindexed") for n in range(3)])
    forget(store)
    reindex(engine, store.names, drop_grace_s=0.0)
    assert indexed_names(store) <= vocabulary(store)
    assert "ORG-A|pm|patient_last_name:reindexed" in vocabulary(store)


def test_P2_a_promoted_case_adds_its_names(store: RecordStore) -> None:
    svc = service(store)
    store.put(named("II-1", "Ingrid", "Solberg"))
    forget(store)
    assert svc.promote("II-1", WRITER, "op-1")["outcome"] == "case_created"
    assert "ORG-A|pm|patient_first_name:ingrid" in vocabulary(store)


def test_M17_a_misspelt_name_is_found_through_the_vocabulary(store: RecordStore) -> None:
    case = named("C-1", "Katarina", "Johansson", kind="case", state="in_progress")
    store.put(case)
    source = named("II-9", "Katharina", "Johanson", reporter={"country": "NO"})
    options = DetectionOptions(today=date(2025, 6, 1))
    found = detect(store.engine, store.names, source, options).detection.sections
    assert [m.record_id for m in found.possible_matches] == ["C-1"]
    first_name = next(r for r in found.possible_matches[0].comparison if r.field == "first_name")
    assert first_name.result == "partial"

    forget(store)  # without the vocabulary the misspelt names find nothing
    found = detect(store.engine, store.names, source, options).detection.sections
    assert found.possible_matches == []


@pytest.mark.parametrize("refresh", [False, "wait_for"], ids=["no-refresh", "wait-for"])
def test_remember_writes_each_key_once(store: RecordStore, refresh: bool | str) -> None:
    keys = ["ORG-A|pm|patient_first_name:ada", "ORG-A|pm|patient_last_name:lovelace"]
    assert store.vocabulary.remember(keys, refresh=refresh) == 2  # type: ignore[arg-type]
    assert store.vocabulary.remember(keys) == 0
    fresh = type(store.vocabulary)(store.engine, store.names.name_vocabulary)
    assert fresh.remember(keys) == 0, "already in the index: 409 is fine"
    assert set(keys) <= vocabulary(store)
