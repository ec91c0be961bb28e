"""Storing and indexing records: Cases (every version) and Inbox Items.

The index is the system of record: each record is one document (``Record.doc_id``)
built by :func:`indexer.documents.build_document`, holding the record itself
under ``record``. Two aliases front the physical indices: ``{prefix}-cases`` and
``{prefix}-inbox-items`` (see :class:`IndexNames`); ``indexer.reindex`` swaps what
they point at.

Rules kept here:

* **I2** only the latest Case version is searchable. Storing version N marks
  every older live version ``superseded`` (conditionally, on its seq_no), and a
  version stored while a newer one exists is itself stored ``superseded``. The new
  version is written first, the old one superseded second, so a search never
  misses the case; both are visible together only until the second write.
* **I3** an Inbox Item whose state is promoted/duplicate/rejected/superseded is
  stored with ``searchable: false`` (``build_document`` decides from the state).

    >>> store = RecordStore(engine, IndexNames("casematch"))   # doctest: +SKIP
    >>> store.ensure_indices()                                 # doctest: +SKIP
    >>> stored = store.put(record)                             # doctest: +SKIP
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from indexer.documents import Document, build_document, load_mapping
from indexer.engine import BulkOp, Engine, EngineError, Refresh, VersionConflict
from indexer.names import NameVocabulary, name_keys
from indexer.records import Kind, Record, case_doc_key, doc_key, is_scoped_doc_id, is_valid_id

#: The refresh interval of a bulk load (:meth:`RecordStore.bulk_loading`).
BULK_REFRESH_INTERVAL = "1s"


class OutdatedStoreError(EngineError):
    """The store holds document ids of an older form; the message says what to run."""


@dataclass(frozen=True)
class IndexNames:
    """The names of casematch's aliases and auxiliary indices under one prefix.

    >>> names = IndexNames("casematch")
    >>> names.cases, names.inbox_items, names.aux("audit")
    ('casematch-cases', 'casematch-inbox-items', 'casematch-audit')
    """

    prefix: str

    @property
    def cases(self) -> str:
        return f"{self.prefix}-cases"

    @property
    def inbox_items(self) -> str:
        return f"{self.prefix}-inbox-items"

    @property
    def record_aliases(self) -> tuple[str, str]:
        return (self.cases, self.inbox_items)

    @property
    def name_vocabulary(self) -> str:
        """The index of every name key (``indexer.names``), searched by fuzzy name lookups."""
        return self.aux("name-vocabulary")

    def aux(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def for_kind(self, kind: Kind | str) -> str:
        return self.cases if str(kind) == Kind.case.value else self.inbox_items


@dataclass(frozen=True)
class StoredRecord:
    """A record as stored, with the seq_no/primary_term for an optimistic update."""

    record: Record
    seq_no: int
    primary_term: int

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> StoredRecord:
        return cls(
            record=Record.model_validate(hit["_source"]["record"]),
            seq_no=int(hit["_seq_no"]),
            primary_term=int(hit["_primary_term"]),
        )


@dataclass(frozen=True)
class StoreFailure:
    """A record the engine refused: its id and the engine's error type (no values)."""

    kind: str
    record_id: str
    error: str
    organization: str = ""


@dataclass
class BulkReport:
    """What :meth:`RecordStore.put_many` did, and where its time went."""

    stored: int = 0
    superseded: int = 0
    failed: list[StoreFailure] = field(default_factory=list)
    #: seconds spent per stage: build (documents + JSON), engine (bulk + journal), plan (mget)
    timings: dict[str, float] = field(default_factory=dict)


def _superseded(record: Record) -> Record:
    return record.model_copy(update={"state": "superseded"})


def _source(record: Record) -> bytes:
    return orjson.dumps(build_document(record))


class RecordStore:
    """Cases and Inbox Items in the engine, with the I2/I3 rules applied on write."""

    def __init__(self, engine: Engine, names: IndexNames) -> None:
        self.engine = engine
        self.names = names
        self.vocabulary = NameVocabulary(engine, names.name_vocabulary)

    def ensure_indices(self) -> None:
        """Create the physical indices and their aliases if they do not exist."""
        mapping = load_mapping()
        for alias in self.names.record_aliases:
            self.engine.ensure_index(alias, mapping)
        self.engine.ensure_index(self.names.name_vocabulary, load_mapping("names"))

    @contextlib.contextmanager
    def bulk_loading(self, refresh_interval: str = BULK_REFRESH_INTERVAL) -> Iterator[None]:
        """Widen the refresh interval of the record and name indices while a bulk load runs.

        At the mappings' 50 ms the engine refreshes tens of times a second during a load,
        which costs OpenSearch about half again as much CPU per document (measured 1.5 vs
        1.0 ms at 20,000 Cases). Meanwhile a ``refresh=wait_for`` write of a running server
        waits up to this interval. The mappings' interval is restored afterwards; a load
        that dies leaves the wider one, which the next load (or ``reindex``) resets.
        """
        indices = (*self.names.record_aliases, self.names.name_vocabulary)
        if self.engine.kind == "osmem":  # osmem makes every write searchable at once
            yield
            return
        for index in indices:
            self.engine.set_refresh_interval(index, refresh_interval)
        try:
            yield
        finally:
            for index, mapping in zip(indices, ("records", "records", "names"), strict=True):
                interval = load_mapping(mapping)["settings"]["refresh_interval"]
                self.engine.set_refresh_interval(index, interval)

    def drop_indices(self) -> None:
        """Delete every index under this store's prefix (a demo's or a test's own indices)."""
        for physical in self.engine.indices(f"{self.names.prefix}-*"):
            self.engine.delete_index(physical)

    def _write(self, index: str, doc_id: str, doc: Document, **kwargs: Any) -> dict[str, Any]:
        """Write one record document, its names first (``indexer.names``)."""
        self.vocabulary.remember(name_keys(doc), refresh=kwargs.get("refresh", "wait_for"))
        return self.engine.index(index, doc_id, doc, **kwargs)

    # -- reads ----------------------------------------------------------------------

    def get(self, kind: Kind | str, organization: str, record_id: str) -> StoredRecord | None:
        """``organization``'s Inbox Item by id, or the latest version of its Case by case id.

        Ids are unique per organization (docs/api.md "Tenancy"): the same id in another
        organization is another record. An id or organization outside the id grammar
        cannot be stored, so it is missing without asking the engine (and never reaches
        an engine URL).
        """
        if not (is_valid_id(record_id) and is_valid_id(organization)):
            return None
        if str(kind) == Kind.inbox_item.value:
            doc = self.engine.get(self.names.inbox_items, doc_key(organization, record_id))
            return StoredRecord.from_hit(doc) if doc else None
        versions = self.case_versions(organization, record_id)
        return versions[-1] if versions else None

    def get_case_version(
        self, organization: str, case_id: str, version: int
    ) -> StoredRecord | None:
        doc = self.engine.get(
            self.names.cases, doc_key(organization, case_doc_key(case_id, version))
        )
        return StoredRecord.from_hit(doc) if doc else None

    def case_versions(self, organization: str, case_id: str) -> list[StoredRecord]:
        """Every stored version of ``organization``'s Case, oldest first (searched, then
        checked realtime)."""
        res = self.engine.search(
            index=self.names.cases,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"record_id": case_id}},
                            {"term": {"organization": organization}},
                        ]
                    }
                },
                "sort": [{"version": "asc"}],
                "size": 1000,
                "seq_no_primary_term": True,
            },
        )
        found = {int(h["_source"]["version"]): h for h in res["hits"]["hits"]}
        # Realtime: a version written without a refresh is not searchable yet.
        top = max(found, default=0)
        ids = [
            doc_key(organization, case_doc_key(case_id, v))
            for v in range(1, top + 2)
            if v not in found
        ]
        for doc in self.engine.mget(self.names.cases, ids):
            found[int(doc["_source"]["version"])] = doc
        return [StoredRecord.from_hit(found[v]) for v in sorted(found)]

    def holders(self, kind: Kind | str, record_id: str, organizations: Iterable[str]) -> list[str]:
        """Which of ``organizations`` hold a record ``record_id`` of ``kind`` (sorted).

        The lookup behind a key of several organizations naming a record by id alone
        (``service.tenancy``): an Inbox Item by its document ids, a Case by its versions
        (searched, and version 1 realtime).
        """
        orgs = sorted({o for o in organizations if is_valid_id(o)})
        if not orgs or not is_valid_id(record_id):
            return []
        if str(kind) == Kind.inbox_item.value:
            docs = self.engine.mget(self.names.inbox_items, [doc_key(o, record_id) for o in orgs])
            return sorted({str(d["_source"]["organization"]) for d in docs})
        res = self.engine.search(
            self.names.cases,
            {
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"record_id": record_id}},
                            {"terms": {"organization": orgs}},
                        ]
                    }
                },
                "_source": ["organization"],
                "size": 1000,
            },
        )
        held = {str(h["_source"]["organization"]) for h in res["hits"]["hits"]}
        firsts = [doc_key(o, case_doc_key(record_id, 1)) for o in orgs if o not in held]
        held.update(
            str(d["_source"]["organization"]) for d in self.engine.mget(self.names.cases, firsts)
        )
        return sorted(held)

    def check_doc_ids(self) -> None:
        """Refuse a store written before ids were unique per organization, saying in one
        line what to run (:class:`OutdatedStoreError`)."""
        if self.legacy_doc_ids():
            raise OutdatedStoreError(
                f"the indices under '{self.names.prefix}' store record ids from before ids were "
                "unique per organization; run `casematch reindex` to rewrite them (the "
                "aliases swap when it is done, no downtime)"
            )

    def legacy_doc_ids(self) -> bool:
        """Whether the record, transmission or audit indices hold documents with ids from
        before ids were unique per organization (``II-1`` rather than ``ORG-A|II-1``);
        ``casematch reindex`` rewrites them."""
        aux = (self.names.aux("transmissions"), self.names.aux("audit"))
        for alias in (*self.names.record_aliases, *aux):
            if not self.engine.alias_targets(alias):
                continue
            # A store is written in one form or the other (a reindex swaps whole indices),
            # so any one document tells.
            res = self.engine.search(alias, {"size": 1, "_source": False})
            if any(not is_scoped_doc_id(str(h["_id"])) for h in res["hits"]["hits"]):
                return True
        return False

    def counts(self, organizations: Iterable[str] | None = None) -> dict[str, int]:
        """Documents per alias, and how many of them are searchable (of ``organizations`` only,
        when given)."""
        scope: list[dict[str, Any]] = []
        if organizations is not None:
            scope = [{"terms": {"organization": sorted(organizations)}}]
        out: dict[str, int] = {}
        for key, alias in (("cases", self.names.cases), ("inbox_items", self.names.inbox_items)):
            everything = {"bool": {"filter": scope}} if scope else None
            searchable = {"bool": {"filter": [*scope, {"term": {"searchable": True}}]}}
            out[key] = self.engine.count(alias, everything)
            out[f"{key}_searchable"] = self.engine.count(alias, searchable)
        return out

    def open_cases_with_identifiers(
        self, organization: str, identifiers: list[str]
    ) -> list[Record]:
        """Latest open versions of ``organization``'s Cases whose normalized Case Identifiers
        include one of ``identifiers`` (automated promotion, P11/P15), by case id."""
        res = self.engine.search(
            self.names.cases,
            {
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"organization": organization}},
                            {"term": {"kind": "case"}},
                            {"terms": {"ids.case_identifiers": identifiers}},
                        ],
                        "must_not": [{"term": {"state": "superseded"}}],
                    }
                },
                "size": 100,
                "_source": ["record"],
            },
        )
        latest: dict[str, Record] = {}
        for hit in res["hits"]["hits"]:
            rec = Record.model_validate(hit["_source"]["record"])
            cid = rec.case_id or rec.id
            if cid not in latest or latest[cid].version < rec.version:
                latest[cid] = rec
        return [latest[c] for c in sorted(latest)]

    def item_ids(
        self, *, organizations: Iterable[str], state: str, sources: Iterable[str], page: int = 500
    ) -> Iterator[tuple[str, str]]:
        """(organization, id) of Inbox Items of ``organizations`` in ``state`` from
        ``sources``, in id order."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {
                    "bool": {
                        "filter": [
                            {"terms": {"organization": sorted(organizations)}},
                            {"term": {"state": state}},
                            {"terms": {"source": sorted(sources)}},
                        ]
                    }
                },
                "sort": [{"record_id": "asc"}, {"organization": "asc"}],
                "size": page,
                "_source": ["record_id", "organization"],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.engine.search(self.names.inbox_items, body)["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield str(hit["_source"]["organization"]), str(hit["_source"]["record_id"])
            after = hits[-1]["sort"]

    def search_indices(self, include_inbox_items: bool) -> list[str]:
        """The aliases a detection searches."""
        if include_inbox_items:
            return [self.names.cases, self.names.inbox_items]
        return [self.names.cases]

    # -- writes ---------------------------------------------------------------------

    def put(self, record: Record, *, refresh: Refresh = "wait_for") -> StoredRecord:
        """Store one record (create or overwrite its document), applying I2 and I3."""
        if record.kind is not Kind.case:
            res = self._write(
                self.names.inbox_items, record.doc_id, build_document(record), refresh=refresh
            )
            return StoredRecord(record, int(res["_seq_no"]), int(res["_primary_term"]))
        case_id = record.case_id or record.id
        others = [
            v
            for v in self.case_versions(record.organization, case_id)
            if v.record.version != record.version
        ]
        if any(v.record.version > record.version for v in others) and record.state != "superseded":
            record = _superseded(record)
        older_live = [
            v
            for v in others
            if v.record.version < record.version and v.record.state != "superseded"
        ]
        res = self._write(
            self.names.cases,
            record.doc_id,
            build_document(record),
            refresh=False if older_live else refresh,
        )
        for old in older_live:
            self._supersede(old, refresh=refresh)
        return StoredRecord(record, int(res["_seq_no"]), int(res["_primary_term"]))

    def _supersede(self, old: StoredRecord, *, refresh: Refresh, attempts: int = 5) -> None:
        """Mark an older Case version superseded, re-reading it if it changed meanwhile."""
        current: StoredRecord | None = old
        for _ in range(attempts):
            if current is None or current.record.state == "superseded":
                return
            try:
                self._write(
                    self.names.cases,
                    current.record.doc_id,
                    build_document(_superseded(current.record)),
                    refresh=refresh,
                    if_seq_no=current.seq_no,
                    if_primary_term=current.primary_term,
                )
                return
            except VersionConflict:
                current = self.get_case_version(
                    current.record.organization,
                    current.record.case_id or current.record.id,
                    current.record.version,
                )
        raise VersionConflict(f"supersede {self.names.cases}/{old.record.doc_id}: kept changing")

    def replace(self, current: StoredRecord, new: Record) -> StoredRecord:
        """Optimistic update: write ``new`` only if ``current`` is still what is stored.

        For an Inbox Item, or a Case written as the same version, the document is
        replaced on ``current``'s seq_no. A Case written as a new version is created
        (op_type=create) and ``current`` is superseded on its seq_no; if ``current``
        changed meanwhile, the new version is withdrawn and VersionConflict raised.
        """
        index = self.names.for_kind(new.kind)
        if new.doc_id == current.record.doc_id:
            res = self._write(
                index,
                new.doc_id,
                build_document(new),
                if_seq_no=current.seq_no,
                if_primary_term=current.primary_term,
            )
            return StoredRecord(new, int(res["_seq_no"]), int(res["_primary_term"]))
        res = self._write(index, new.doc_id, build_document(new), op_type="create", refresh=False)
        try:
            self._write(
                index,
                current.record.doc_id,
                build_document(_superseded(current.record)),
                if_seq_no=current.seq_no,
                if_primary_term=current.primary_term,
            )
        except VersionConflict:
            self.engine.delete(index, new.doc_id)
            raise
        return StoredRecord(new, int(res["_seq_no"]), int(res["_primary_term"]))

    def put_many(
        self,
        records: Iterable[Record],
        *,
        chunk_size: int = 2000,
        refresh: bool = True,
        workers: int = 1,
    ) -> BulkReport:
        """Store many records fast (the load and bench path), applying I2 and I3.

        The calling thread builds and serializes documents while ``workers`` threads
        write chunks to the engine (and its journal), at most two chunks queued per
        worker. Records are routed to a worker by Case id (Inbox Item id) and each
        worker writes its chunks in order, so versions of one Case are resolved by
        one worker in arrival order and I2 holds whatever the chunking. One worker is
        the default: osmem-server indexes one bulk request per index at a time
        (measured: a second stream only waits), so more help on OpenSearch only.
        Returns when every chunk is written and journaled.
        """
        report = BulkReport(timings={"build": 0.0, "plan": 0.0, "engine": 0.0})
        lock = threading.Lock()
        pools = [
            concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"bulk{w}")
            for w in range(workers)
        ]
        buffers: list[list[tuple[Record, bytes]]] = [[] for _ in range(workers)]
        names: list[set[str]] = [set() for _ in range(workers)]
        pending: list[collections.deque[concurrent.futures.Future[None]]] = [
            collections.deque() for _ in range(workers)
        ]

        def submit(w: int) -> None:
            while len(pending[w]) >= 2:  # back-pressure: at most two chunks queued per worker
                pending[w].popleft().result()
            pending[w].append(
                pools[w].submit(self._write_chunk, buffers[w], names[w], report, lock)
            )
            buffers[w], names[w] = [], set()

        try:
            build_s = 0.0
            for record in records:
                t0 = time.perf_counter()
                doc = build_document(record)
                source = orjson.dumps(doc)
                build_s += time.perf_counter() - t0
                w = zlib.crc32((record.case_id or record.id).encode()) % workers
                buffers[w].append((record, source))
                names[w].update(name_keys(doc))
                if len(buffers[w]) >= chunk_size:
                    submit(w)
            report.timings["build"] = build_s
            for w in range(workers):
                if buffers[w]:
                    submit(w)
            for queue in pending:
                while queue:
                    queue.popleft().result()
        finally:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)
        if refresh:
            for alias in (*self.names.record_aliases, self.names.name_vocabulary):
                self.engine.refresh(alias)
        return report

    def _write_chunk(
        self,
        built: list[tuple[Record, bytes]],
        names: set[str],
        report: BulkReport,
        lock: threading.Lock,
    ) -> None:
        t0 = time.perf_counter()
        self.vocabulary.remember(names)  # before the records that hold them (indexer.names)
        built, supersede = self._plan_versions(built)
        t1 = time.perf_counter()
        ops = [
            BulkOp("index", self.names.for_kind(r.kind), r.doc_id, source) for r, source in built
        ]
        result = self.engine.bulk_ops(ops)
        ok_ids = {item.id for item in result.items if item.ok}
        # Supersede older versions only once the newer one is safely written.
        follow = [op for new_id, op in supersede if new_id in ok_ids]
        again = self.engine.bulk_ops(follow) if follow else None
        t2 = time.perf_counter()
        with lock:
            report.stored += len(ok_ids)
            for (record, _), item in zip(built, result.items, strict=True):
                if not item.ok:
                    report.failed.append(
                        StoreFailure(
                            record.kind.value,
                            record.id,
                            item.error or str(item.status),
                            record.organization,
                        )
                    )
            if again is not None:
                report.superseded += again.ok
                for item in again.failed:
                    report.failed.append(StoreFailure("case", item.id, f"supersede: {item.error}"))
            report.timings["plan"] += t1 - t0
            report.timings["engine"] += t2 - t1

    def _plan_versions(
        self, built: list[tuple[Record, bytes]]
    ) -> tuple[list[tuple[Record, bytes]], list[tuple[str, BulkOp]]]:
        """I2 for a chunk: which new versions are stale, which stored ones to supersede."""
        cases = [r for r, _ in built if r.kind is Kind.case]
        if not cases:
            return built, []
        # Cases are (organization, case id): ids are unique per organization only.
        newest: dict[tuple[str, str], int] = {}
        for r in cases:
            cid = (r.organization, r.case_id or r.id)
            newest[cid] = max(newest.get(cid, 0), r.version)
        ids = sorted(
            {
                doc_key(org, case_doc_key(case_id, v))
                for (org, case_id), top in newest.items()
                for v in range(1, top + 2)
            }
        )
        existing: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for doc in self.engine.mget(self.names.cases, ids):
            src = doc["_source"]
            existing.setdefault((str(src["organization"]), str(src["record_id"])), []).append(doc)
        for cid, docs in existing.items():
            newest[cid] = max([newest[cid], *(int(d["_source"]["version"]) for d in docs)])

        out: list[tuple[Record, bytes]] = []
        for r, source in built:
            if (
                r.kind is Kind.case
                and r.version < newest[(r.organization, r.case_id or r.id)]
                and r.state != "superseded"
            ):
                r = _superseded(r)
                source = _source(r)
            out.append((r, source))
        written = {r.doc_id for r, _ in out}
        supersede: list[tuple[str, BulkOp]] = []
        for (org, case_id), docs in existing.items():
            latest_id = doc_key(org, case_doc_key(case_id, newest[(org, case_id)]))
            for doc in docs:
                old = doc["_source"]
                if doc["_id"] in written or old["state"] == "superseded" or doc["_id"] == latest_id:
                    continue
                rec = _superseded(Record.model_validate(old["record"]))
                op = BulkOp(
                    "index",
                    self.names.cases,
                    doc["_id"],
                    _source(rec),
                    if_seq_no=int(doc["_seq_no"]),
                    if_primary_term=int(doc["_primary_term"]),
                )
                supersede.append((latest_id, op))
        return out, supersede
