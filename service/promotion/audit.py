"""The audit trail (P18): who changed which record's state, when, from what, and why.

Entries live in the aux index ``{prefix}-audit`` (``mappings/audit.json``);
searchable fields are keywords, the full entry sits in ``payload`` (not
indexed). Entry ids are deterministic (operation id + position; stored under the
record's organization, :func:`indexer.records.doc_key`), so writing
the same entries twice is harmless: the workflows keep the entries of an
Inbox Item's last write on the item (``links.audit``) and re-write them on the
next operation, which repairs a crash between the item write and this one.
Entries carry ids, states, field *names* and section names, never PHI values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from indexer.documents import load_mapping
from indexer.engine import Engine
from indexer.records import Record, doc_key
from indexer.store import IndexNames


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditEntry(BaseModel):
    """One state change or copy, as recorded."""

    entry_id: str
    at: str = Field(default_factory=now_iso)
    actor: str
    organization: str
    record_type: str
    record_id: str
    action: str
    from_state: str | None = None
    to_state: str | None = None
    operation_id: str
    details: dict[str, Any] = Field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        keys = (
            "entry_id",
            "organization",
            "record_type",
            "record_id",
            "action",
            "from_state",
            "to_state",
            "actor",
            "operation_id",
            "at",
        )
        return {**{k: data[k] for k in keys}, "payload": data}


def audit_entry(
    record: Record,
    *,
    operation_id: str,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    seq: int = 0,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """The entry for one change of ``record`` (a Case's entry names its version)."""
    is_case = record.kind.value == "case"
    record_id = record.case_id if is_case and record.case_id else record.id
    rid = f"{record_id}~v{record.version}" if is_case else record_id
    return AuditEntry(
        entry_id=f"{operation_id}:{rid}:{action}:{seq}",
        actor=actor,
        organization=record.organization,
        record_type=record.kind.value,
        record_id=record_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        operation_id=operation_id,
        details={**(details or {}), **({"version": record.version} if is_case else {})},
    )


class AuditLog:
    """Write and read audit entries in ``{prefix}-audit``."""

    def __init__(self, engine: Engine, names: IndexNames) -> None:
        self.engine = engine
        self.index = names.aux("audit")

    def ensure_index(self) -> None:
        self.engine.ensure_index(self.index, load_mapping("audit"))

    def write(self, entries: list[AuditEntry] | list[dict[str, Any]]) -> None:
        """Store entries (idempotent: the same entry id overwrites itself with the same body)."""
        parsed = [e if isinstance(e, AuditEntry) else AuditEntry.model_validate(e) for e in entries]
        if not parsed:
            return
        result = self.engine.bulk(
            [
                {
                    "_op_type": "index",
                    "_index": self.index,
                    "_id": doc_key(e.organization, e.entry_id),
                    "_source": e.document(),
                }
                for e in parsed
            ],
            refresh=False,
        )
        failed = result.failed
        if failed:
            from indexer.engine import EngineUnavailable

            raise EngineUnavailable(
                f"audit write: {len(failed)} entries refused ({failed[0].error})"
            )

    def for_record(
        self, organization: str, record_id: str, *, size: int = 1000
    ) -> list[AuditEntry]:
        """Every entry of ``organization``'s record ``record_id``, oldest first."""
        self.engine.refresh(self.index)
        res = self.engine.search(
            index=self.index,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"record_id": record_id}},
                            {"term": {"organization": organization}},
                        ]
                    }
                },
                "sort": [{"at": "asc"}, {"entry_id": "asc"}],
                "size": size,
            },
        )
        return [AuditEntry.model_validate(h["_source"]["payload"]) for h in res["hits"]["hits"]]
