"""I4 + M1: a store written before ids were unique per organization is refused at start
and migrated by ``casematch reindex``.

The old store is written the old way: every document under its bare record id
(``II-1``, ``C-1~v2``), as earlier versions did. Opening it says in one line what to
run; the reindex rewrites every id to ``ORG|id`` (resuming after an interruption in
an order both forms share) and afterwards every record is readable by its URL.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from benchmarks.generator import generate_cases
from indexer.documents import build_document, load_mapping
from indexer.engine import BulkOp, Engine
from indexer.records import Kind, Record, case_doc_key, is_scoped_doc_id
from indexer.reindex import reindex, reindex_alias
from indexer.store import IndexNames, OutdatedStoreError, RecordStore
from service.app import Services, create_app
from service.promotion.audit import AuditEntry, AuditLog, audit_entry
from service.promotion.transmissions import InboundTransmission
from service.settings import ApiKey, Settings
from tests.factories import record

KEYS = {
    "a": ApiKey(organizations=["ORG-A"], permissions=["read_matches"], name="a"),
    "b": ApiKey(organizations=["ORG-B"], permissions=["read_matches"], name="b"),
}


def _old_doc_id(r: Record) -> str:
    """The document id earlier versions gave a record (one namespace for all organizations)."""
    return case_doc_key(r.case_id or r.id, r.version) if r.kind is Kind.case else r.id


def _write_old_store(store: RecordStore) -> list[Record]:
    """Cases (with versions) and Inbox Items of two organizations, stored the old way."""
    cases = [
        c.model_copy(update={"organization": "ORG-A" if n % 2 else "ORG-B"})
        for n, c in enumerate(generate_cases(5, 120))
    ]
    items = [record(f"II-{n}", organization="ORG-A" if n % 3 else "ORG-B") for n in range(40)]
    records = [*cases, *items]
    ops = [
        BulkOp(
            "index",
            store.names.for_kind(r.kind),
            _old_doc_id(r),
            orjson.dumps(build_document(r)),
        )
        for r in records
    ]
    # The item's Inbound Transmission and audit entry, under their old ids too.
    transmissions, audit = store.names.aux("transmissions"), store.names.aux("audit")
    store.engine.ensure_index(transmissions, load_mapping("transmissions"))
    store.engine.ensure_index(audit, load_mapping("audit"))
    for r in items[:5]:
        t = InboundTransmission(
            id=f"IT-{r.id}", organization=r.organization, inbox_item_id=r.id, source="intake_api"
        )
        ops.append(BulkOp("index", transmissions, t.id, orjson.dumps(t.document())))
        e = _entry(r)
        ops.append(BulkOp("index", audit, e.entry_id, orjson.dumps(e.document())))
    result = store.engine.bulk_ops(ops)
    assert not result.failed
    for alias in (*store.names.record_aliases, transmissions, audit):
        store.engine.refresh(alias)
    return records


def _entry(r: Record) -> AuditEntry:
    return audit_entry(
        r, operation_id="op-old", actor="k", action="set_state", from_state="new", to_state="triage"
    )


def _all_ids(engine: Engine, alias: str) -> list[str]:
    engine.refresh(alias)
    hits = engine.search(alias, {"size": 1000, "_source": False})["hits"]["hits"]
    return [str(h["_id"]) for h in hits]


def _latest(records: list[Record]) -> dict[tuple[str, str, str], int]:
    """(kind, organization, id) -> the latest version, as the URLs answer them."""
    out: dict[tuple[str, str, str], int] = {}
    for r in records:
        key = (r.kind.value, r.organization, r.case_id or r.id)
        out[key] = max(out.get(key, 0), r.version)
    return out


def test_I4_an_old_store_is_refused_at_start_in_one_line_naming_reindex(
    store: RecordStore,
) -> None:
    assert not store.legacy_doc_ids()  # an empty store, and a new one, are current
    _write_old_store(store)
    assert store.legacy_doc_ids()
    # open_services (every command but `casematch reindex`) makes this call; the CLI
    # prints the message as its one line and exits 2.
    with pytest.raises(OutdatedStoreError) as refused:
        store.check_doc_ids()
    message = str(refused.value)
    assert "\n" not in message and "casematch reindex" in message


def test_I4_M1_reindex_rewrites_old_ids_and_every_record_is_readable_by_its_url(
    engine: Engine, store: RecordStore, index_names: IndexNames, tmp_path: Path
) -> None:
    records = _write_old_store(store)
    # Interrupted part-way through the cases, then resumed: the resume order is the
    # same in both id forms, so nothing is copied twice or skipped.
    first = reindex_alias(engine, index_names.cases, batch_size=50, stop_after=100)
    assert first.copied == 100
    report = reindex(engine, index_names, batch_size=50, drop_grace_s=0)
    cases_report = report.aliases[0]
    assert cases_report.resumed_from == 100
    assert cases_report.target_count == cases_report.source_count
    assert not store.legacy_doc_ids()
    store.check_doc_ids()  # no longer refused
    aux = (index_names.aux("transmissions"), index_names.aux("audit"))
    for alias in (*index_names.record_aliases, *aux):
        ids = _all_ids(engine, alias)
        assert ids and all(is_scoped_doc_id(i) for i in ids), alias
    assert len(_all_ids(engine, index_names.cases)) + len(
        _all_ids(engine, index_names.inbox_items)
    ) == len(records)

    settings = Settings(index_prefix=index_names.prefix, data_dir=tmp_path, api_keys=KEYS)
    app = create_app(settings, services=Services(settings=settings, engine=engine, store=store))
    with TestClient(app) as client:
        for (kind, org, rid), version in sorted(_latest(records).items()):
            path = "cases" if kind == "case" else "inbox-items"
            key = "a" if org == "ORG-A" else "b"
            res = client.get(f"/v1/{path}/{rid}", headers={"X-API-Key": key})
            assert res.status_code == 200, (kind, org, rid, res.text)
            body = res.json()
            assert (body["organization"], body["version"]) == (org, version)
            other = client.get(
                f"/v1/{path}/{rid}", headers={"X-API-Key": "b" if key == "a" else "a"}
            )
            assert other.status_code == 404
        # The transmissions and audit trails of the old store, by their URLs; an entry
        # written again (as the workflows repeat an item's last entries) is still one.
        items = [r for r in records if r.kind is Kind.inbox_item][:5]
        AuditLog(engine, index_names).write([_entry(r) for r in items])
        for r in items:
            key = {"X-API-Key": "a" if r.organization == "ORG-A" else "b"}
            got = client.get(f"/v1/inbound-transmissions/IT-{r.id}", headers=key)
            assert got.status_code == 200 and got.json()["inbox_item_id"] == r.id
            trail = client.get(f"/v1/inbox-items/{r.id}/audit", headers=key).json()
            assert [e["operation_id"] for e in trail] == ["op-old"], trail
