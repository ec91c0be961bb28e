"""Reindex (I4): rebuild every document into a new physical index, then swap the alias.

For each record alias (``{prefix}-cases``, ``{prefix}-inbox-items``), and the Inbound
Transmissions and audit entries (``{prefix}-transmissions``, ``{prefix}-audit``, copied as
they are under per-organization document ids, :data:`TRANSMISSIONS`, :data:`AUDIT`):

1. The alias points at ``{alias}-NNNNNN`` (the *source*). The *target* is the next
   number. Leftovers of earlier runs are settled first: an older, unaliased
   index is the source of a finished run and is deleted; a newer one is a target
   an interrupted run left half-built, and this run resumes it.
2. The source is made read-only (``index.blocks.write``) so that nothing written
   during the copy can be missed; searches keep being served from it, writers get
   :class:`~indexer.engine.EngineUnavailable` (503, retry) until the swap. An
   interrupted run leaves it read-only, which is what makes the resume safe; a
   run that fails verification unblocks it. A half-built target whose source is
   no longer read-only (e.g. the embedded engine was restarted) is rebuilt.
3. Documents are read in (organization, record id, version) order with
   ``search_after`` and rebuilt from ``_source.record`` with the *current*
   :func:`~indexer.documents.build_document` (so mapping and normalization changes
   apply), then bulk-written to the target under the record's *current* document id
   (:attr:`~indexer.records.Record.doc_id`). That is the migration of stores written
   before ids were unique per organization: their ``II-1`` / ``C-1~v2`` become
   ``ORG-A|II-1`` / ``ORG-A|C-1~v2``. A resumed run starts after the target's last
   record in the same order (an order both id forms share, unlike ``_id``).
4. The counts must match, else the run stops without swapping (source unblocked).
5. One ``update_aliases`` call moves the alias (atomic: a search sees the old index
   or the new one, never neither). The source is deleted after a short grace period.

Every write goes through :class:`~indexer.engine.Engine`, so the embedded
engine's journal follows the rebuild too.

    >>> report = reindex(engine, IndexNames("casematch"), progress=print)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from indexer.documents import build_document, load_mapping
from indexer.engine import BulkOp, Engine, EngineError
from indexer.names import NameVocabulary, name_keys
from indexer.records import Record, doc_key
from indexer.store import IndexNames

log = logging.getLogger("casematch.reindex")

#: ``progress(alias, copied, total)``
ReindexProgress = Callable[[str, int, int], None]

_SUFFIX = re.compile(r"-(\d{6})$")


class ReindexError(EngineError):
    """The rebuild could not be verified; the alias still points at the old index."""


@dataclass
class AliasReport:
    alias: str
    source: str
    target: str
    copied: int = 0
    resumed_from: int = 0
    source_count: int = 0
    target_count: int = 0
    seconds: float = 0.0


@dataclass
class ReindexReport:
    aliases: list[AliasReport] = field(default_factory=list)

    @property
    def copied(self) -> int:
        return sum(a.copied for a in self.aliases)


def _number(index: str) -> int:
    m = _SUFFIX.search(index)
    return int(m.group(1)) if m else 0


def _family(engine: Engine, alias: str) -> list[str]:
    """Physical indices named ``{alias}-NNNNNN``."""
    found = engine.indices(f"{alias}-*")
    return sorted(n for n in found if re.fullmatch(r"\d{6}", n[len(alias) + 1 :]))


@dataclass(frozen=True)
class Family:
    """How the documents behind one alias are rebuilt: the target's mapping, the copy order
    (unique per document in either id form, so the copy can resume after any document),
    the ``_source`` fields read, and the rebuild of one hit."""

    mapping: str
    order: tuple[str, ...]
    source: tuple[str, ...]
    rebuild: Callable[[dict[str, Any], str, set[str]], BulkOp]

    def sort(self, direction: str) -> list[dict[str, str]]:
        return [{name: direction} for name in self.order]


def _rebuild(hit: dict[str, Any], index: str, names: set[str]) -> BulkOp:
    """The document of a stored record as this version builds it, under the document id
    this version gives it (old ids are rewritten); its name keys go to ``names``."""
    record = Record.model_validate(hit["_source"]["record"])
    doc = build_document(record)
    names.update(name_keys(doc))
    return BulkOp("index", index, record.doc_id, orjson.dumps(doc))


def _keyed_copy(id_field: str) -> Callable[[dict[str, Any], str, set[str]], BulkOp]:
    """The same document under ``<organization>|<id_field>`` (transmissions, audit entries)."""

    def rebuild(hit: dict[str, Any], index: str, names: set[str]) -> BulkOp:
        src = hit["_source"]
        key = doc_key(str(src["organization"]), str(src[id_field]))
        return BulkOp("index", index, key, orjson.dumps(src))

    return rebuild


#: Cases and Inbox Items: rebuilt from the stored record (mapping and normalization
#: changes apply), in (organization, record id, version) order.
RECORDS = Family("records", ("organization", "record_id", "version"), ("record",), _rebuild)
#: Inbound Transmissions and audit entries: copied as they are, under per-organization ids.
TRANSMISSIONS = Family(
    "transmissions", ("organization", "transmission_id"), (), _keyed_copy("transmission_id")
)
AUDIT = Family("audit", ("organization", "entry_id"), (), _keyed_copy("entry_id"))


def reindex_alias(
    engine: Engine,
    alias: str,
    *,
    batch_size: int = 2000,
    progress: ReindexProgress | None = None,
    drop_grace_s: float = 1.0,
    stop_after: int | None = None,
    vocabulary: NameVocabulary | None = None,
    family: Family = RECORDS,
) -> AliasReport:
    """Rebuild the index behind one alias and swap it (see the module docstring).

    ``stop_after`` stops the copy after that many documents without swapping, as an
    interruption would (tests and operators use it to exercise the resume).
    """
    started = time.perf_counter()
    report, search_after = _target(engine, alias, family)
    source, target = report.source, report.target
    engine.set_write_block(source, True)
    swapped = False
    interrupted = True
    try:
        engine.refresh(source)
        report.source_count = engine.count(source)
        copy = _Copy(engine, report, family, batch_size, progress, vocabulary)
        if not copy.run(search_after, stop_after):
            return report  # as an interruption: the source stays read-only for the resume
        interrupted = False
        engine.refresh(target)
        report.target_count = engine.count(target)
        if report.target_count != report.source_count:
            raise ReindexError(
                f"{target} holds {report.target_count} documents, {source} {report.source_count}; "
                "nothing was swapped (re-run reindex)"
            )
        engine.update_aliases(
            [
                {"remove": {"index": source, "alias": alias}},
                {"add": {"index": target, "alias": alias}},
            ]
        )
        swapped = True
    except ReindexError:
        interrupted = False
        raise
    finally:
        if not swapped and not interrupted:
            engine.set_write_block(source, False)
    time.sleep(drop_grace_s)  # let searches that resolved the alias before the swap finish
    engine.delete_index(source)
    report.seconds = time.perf_counter() - started
    log.info(
        "reindexed %s: %s -> %s, %d documents in %.1f s",
        alias,
        source,
        target,
        report.target_count,
        report.seconds,
    )
    return report


def _target(engine: Engine, alias: str, family: Family) -> tuple[AliasReport, list[Any] | None]:
    """The alias's source index and the index to copy it into: a new one, or the copy an
    interrupted run left (resumed after its last document, unless the source took writes
    since); older leftovers are deleted. The report so far, and where the copy resumes."""
    targets = engine.alias_targets(alias)
    if len(targets) != 1:
        raise ReindexError(f"alias {alias} points at {len(targets)} indices; expected exactly one")
    (source,) = targets
    physical = _family(engine, alias)
    for name in physical:
        if _number(name) < _number(source):
            log.info("deleting %s, the source of an earlier reindex", name)
            engine.delete_index(name)
    newer = [n for n in physical if _number(n) > _number(source)]
    target = newer[-1] if newer else f"{alias}-{_number(source) + 1:06d}"
    for name in newer[:-1]:
        engine.delete_index(name)
    report = AliasReport(alias=alias, source=source, target=target)

    search_after: list[Any] | None = None
    if newer and not engine.write_blocked(source):
        # The source took writes since the interrupted copy: the copy may be stale.
        log.info("%s changed since %s was started; rebuilding it", source, target)
        engine.delete_index(target)
        newer = []
    if newer:
        # The interrupted copy's last writes may not be searchable yet (OpenSearch refreshes
        # on its interval; osmem showed every write at once): refresh before reading them.
        engine.refresh(target)
        last = engine.search(
            index=target, body={"size": 1, "sort": family.sort("desc"), "_source": False}
        )["hits"]["hits"]
        if last:
            search_after = list(last[0]["sort"])
            report.resumed_from = engine.count(target)
            log.info("resuming %s after %d documents", target, report.resumed_from)
    else:
        engine.create_index(target, load_mapping(family.mapping))
    return report, search_after


@dataclass
class _Copy:
    """The copy of a reindex: the source's documents, rebuilt, in batches into the target."""

    engine: Engine
    report: AliasReport
    family: Family
    batch_size: int
    progress: ReindexProgress | None
    vocabulary: NameVocabulary | None

    def run(self, search_after: list[Any] | None, stop_after: int | None) -> bool:
        """Copy from ``search_after`` to the end (True), or until ``stop_after`` documents
        were copied (False: stopped as an interruption would)."""
        report = self.report
        copied = report.resumed_from
        while True:
            body: dict[str, Any] = {
                "size": self.batch_size,
                "sort": self.family.sort("asc"),
                "_source": list(self.family.source) or True,
            }
            if search_after is not None:
                body["search_after"] = search_after
            hits = self.engine.search(index=report.source, body=body)["hits"]["hits"]
            if not hits:
                return True
            self.write(hits)
            copied += len(hits)
            report.copied += len(hits)
            search_after = list(hits[-1]["sort"])
            if self.progress is not None:
                self.progress(report.alias, copied, report.source_count)
            if stop_after is not None and report.copied >= stop_after:
                return False

    def write(self, hits: list[dict[str, Any]]) -> None:
        """Rebuild one batch of source documents and write them to the target."""
        source, target = self.report.source, self.report.target
        names: set[str] = set()
        try:
            ops = [self.family.rebuild(h, target, names) for h in hits]
        except ValidationError as exc:
            raise ReindexError(
                f"a stored record in {source} no longer validates ({exc.error_count()} errors); "
                "nothing was swapped"
            ) from None
        if self.vocabulary is not None:  # a changed normalization may bring new name keys
            self.vocabulary.remember(names)
        result = self.engine.bulk_ops(ops)
        if result.failed:
            kinds = sorted({i.error or str(i.status) for i in result.failed})
            raise ReindexError(
                f"the engine refused {len(result.failed)} rebuilt documents for {target} "
                f"({', '.join(kinds)}); nothing was swapped"
            )


def reindex(
    engine: Engine,
    names: IndexNames,
    *,
    batch_size: int = 2000,
    progress: ReindexProgress | None = None,
    drop_grace_s: float = 1.0,
) -> ReindexReport:
    """Rebuild the cases and inbox-items indices behind their aliases (I4), and the Inbound
    Transmissions and audit entries (their document ids, when a store predates ids unique
    per organization)."""
    report = ReindexReport()
    engine.ensure_index(names.name_vocabulary, load_mapping("names"))
    vocabulary = NameVocabulary(engine, names.name_vocabulary)
    families = [(alias, RECORDS) for alias in names.record_aliases]
    families += [(names.aux("transmissions"), TRANSMISSIONS), (names.aux("audit"), AUDIT)]
    for alias, family in families:
        engine.ensure_index(alias, load_mapping(family.mapping))
        report.aliases.append(
            reindex_alias(
                engine,
                alias,
                batch_size=batch_size,
                progress=progress,
                drop_grace_s=drop_grace_s,
                vocabulary=vocabulary,
                family=family,
            )
        )
    return report
