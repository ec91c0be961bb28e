"""Inbound Transmissions and their results logs (M22), in ``{prefix}-transmissions``.

An Inbound Transmission records how a report arrived and links the Inbox
Item to the Case made from it. Its id is deterministic (``IT-<item id>``, and
``IT-<item id>-<n>`` for promote-to-multiple), so creating it twice is one
transmission. Like record ids, transmission ids are unique per organization:
the document id is ``<organization>|IT-<item id>`` (:func:`indexer.records.doc_key`). Duplicate detection's results log is attached to it whenever a
detection returns matches, and stays with it when the Case is linked later.

A results log holds which sections, which records, their badges, ranks, tags
and per-field match *status* (exact / partial / none), the time and the
settings used; it holds no field values, so it carries no PHI (M20, M21).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from indexer.documents import load_mapping
from indexer.engine import Engine, VersionConflict
from indexer.records import doc_key, is_valid_id
from indexer.store import IndexNames
from matcher.model import Detection
from service.promotion.audit import now_iso

TransmissionState = Literal["received", "completed", "validation_error"]


class InboundTransmission(BaseModel):
    id: str
    organization: str
    inbox_item_id: str
    source: str
    state: TransmissionState = "received"
    case_id: str | None = None
    case_version: int | None = None
    first_case_id: str | None = None
    validation_errors: list[str] = Field(default_factory=list)
    results_logs: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)

    @property
    def doc_id(self) -> str:
        """The stored document id: the id within the organization."""
        return doc_key(self.organization, self.id)

    def document(self) -> dict[str, Any]:
        return {
            "transmission_id": self.id,
            "organization": self.organization,
            "inbox_item_id": self.inbox_item_id,
            "case_id": self.case_id,
            "state": self.state,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "payload": self.model_dump(mode="json"),
        }


def transmission_id(item_id: str, n: int | None = None) -> str:
    return f"IT-{item_id}" if n is None else f"IT-{item_id}-{n:03d}"


def results_log(
    detection: Detection, settings_used: dict[str, Any], operation_id: str
) -> dict[str, Any]:
    """M22: what a detection returned, without values."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for name in ("id_matches", "subject_matches", "possible_matches"):
        sections[name] = [
            {
                "record_type": m.record_type,
                "record_id": m.record_id,
                "rank": m.rank,
                "badge": m.badge,
                "tag": m.tag,
                "state": m.state,
                "status": m.status.model_dump(),
                "fields": [
                    {"section": row.section, "field": row.field, "result": row.result}
                    for row in m.comparison
                ],
            }
            for m in getattr(detection.sections, name)
        ]
    return {
        "at": now_iso(),
        "operation_id": operation_id,
        "profile": detection.profile,
        "took_ms": detection.took_ms,
        "settings": settings_used,
        "counts": {k: len(v) for k, v in sections.items()},
        "sections": sections,
    }


class TransmissionStore:
    """Create, update (optimistically) and read Inbound Transmissions."""

    def __init__(self, engine: Engine, names: IndexNames) -> None:
        self.engine = engine
        self.index = names.aux("transmissions")

    def ensure_index(self) -> None:
        self.engine.ensure_index(self.index, load_mapping("transmissions"))

    def get(self, organization: str, tid: str) -> InboundTransmission | None:
        if not (is_valid_id(organization) and is_valid_id(tid)):
            return None
        doc = self.engine.get(self.index, doc_key(organization, tid))
        return InboundTransmission.model_validate(doc["_source"]["payload"]) if doc else None

    def holders(self, tid: str, organizations: list[str]) -> list[str]:
        """Which of ``organizations`` hold a transmission ``tid``."""
        if not is_valid_id(tid):
            return []
        keys = [doc_key(o, tid) for o in organizations if is_valid_id(o)]
        return sorted(
            {str(d["_source"]["organization"]) for d in self.engine.mget(self.index, keys)}
        )

    def upsert(
        self,
        initial: InboundTransmission,
        change: Callable[[InboundTransmission], InboundTransmission | None],
        *,
        attempts: int = 10,
    ) -> InboundTransmission:
        """Create ``initial`` if absent, then apply ``change`` (None = nothing to change).

        The change is written on the stored seq_no and re-applied to a fresh read
        on conflict, so concurrent updates (two results logs) are never lost.
        """
        doc: dict[str, Any] | None = None
        for attempt in range(attempts):
            # Most transmissions are new: try to create first, read only on a conflict.
            doc = None if attempt == 0 else self.engine.get(self.index, initial.doc_id)
            if doc is None:
                fresh = change(initial) or initial
                try:
                    self.engine.index(
                        self.index, fresh.doc_id, fresh.document(), op_type="create", refresh=False
                    )
                    return fresh
                except VersionConflict:
                    continue
            current = InboundTransmission.model_validate(doc["_source"]["payload"])
            updated = change(current)
            if updated is None:
                return current
            updated = updated.model_copy(update={"updated_at": now_iso()})
            try:
                self.engine.index(
                    self.index,
                    updated.doc_id,
                    updated.document(),
                    if_seq_no=int(doc["_seq_no"]),
                    if_primary_term=int(doc["_primary_term"]),
                    refresh=False,
                )
                return updated
            except VersionConflict:
                continue
        raise VersionConflict(f"transmission {self.index}/{initial.id}: kept changing")

    def add_results_log(
        self, initial: InboundTransmission, log: dict[str, Any]
    ) -> InboundTransmission:
        def change(t: InboundTransmission) -> InboundTransmission | None:
            if any(x.get("operation_id") == log["operation_id"] for x in t.results_logs):
                return None
            return t.model_copy(update={"results_logs": [*t.results_logs, log]})

        return self.upsert(initial, change)

    def link_case(
        self,
        initial: InboundTransmission,
        case_id: str,
        version: int,
        first_case_id: str | None = None,
    ) -> InboundTransmission:
        def change(t: InboundTransmission) -> InboundTransmission | None:
            if t.state == "completed" and t.case_id == case_id and t.case_version == version:
                return None
            return t.model_copy(
                update={
                    "state": "completed",
                    "case_id": case_id,
                    "case_version": version,
                    "first_case_id": first_case_id,
                }
            )

        return self.upsert(initial, change)

    def mark_validation_error(
        self, initial: InboundTransmission, errors: list[str]
    ) -> InboundTransmission:
        def change(t: InboundTransmission) -> InboundTransmission | None:
            if t.state == "validation_error" and t.validation_errors == errors:
                return None
            return t.model_copy(update={"state": "validation_error", "validation_errors": errors})

        return self.upsert(initial, change)

    def create_many(self, transmissions: list[InboundTransmission]) -> None:
        """Create transmissions that do not exist yet (promote-to-multiple), in one bulk."""
        if not transmissions:
            return
        result = self.engine.bulk(
            [
                {
                    "_op_type": "create",
                    "_index": self.index,
                    "_id": t.doc_id,
                    "_source": t.document(),
                }
                for t in transmissions
            ],
            refresh=False,
        )
        refused = [i for i in result.failed if i.status != 409]
        if refused:
            from indexer.engine import EngineUnavailable

            raise EngineUnavailable(
                f"transmission write: {len(refused)} refused ({refused[0].error})"
            )
