"""The comparable view of one record: its normalized values, read once from an index document.

The source and every candidate go through the same path: a record becomes an
index document (``indexer.documents.build_document``, N1-N7) and the document
becomes :class:`Facts`. The engine returns documents, the brute-force
reference builds them in Python, so both rank on identical values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.dates import PartialDate
from indexer.documents import Document, build_document
from indexer.normalize import normalize_text
from indexer.records import Record

#: The ``_source`` fields the matcher needs from the engine (normalized values + the record).
SOURCE_FIELDS: list[str] = [
    "record_id",
    "kind",
    "state",
    "organization",
    "clinical_trial",
    "study",
    "study_number",
    "blinded",
    "receipt_date",
    "new_info_date",
    "report_type",
    "ids",
    "patient",
    "reporter",
    "products",
    "events",
    "record",
]


@dataclass(frozen=True, slots=True)
class ProductFacts:
    product: str | None
    product_reported: str | None
    study_product: str | None
    rank: int
    display: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventFacts:
    meddra_pt_code: str | None
    event_reported: str | None
    country: str | None
    onset: PartialDate | None
    rank: int
    display: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Facts:
    """Normalized values of one record, plus its stored record for display."""

    record_id: str
    kind: str
    state: str
    organization: str
    clinical_trial: bool
    blinded: bool
    study_number: str | None
    report_type: str | None
    study: str | None
    receipt_date: PartialDate | None
    new_info: PartialDate | None
    new_info_date: str | None  # ISO day, for the tie-break
    ids: dict[str, frozenset[str]]
    ids_all: frozenset[str]
    initials: str | None
    first_name: str | None
    last_name: str | None
    sex: str | None
    dob: PartialDate | None
    mrn: dict[str, str | None]
    edc_subject: str | None
    reporter_first: str | None
    reporter_last: str | None
    qualification: str | None
    country: str | None
    age_group: str | None
    products: tuple[ProductFacts, ...]
    events: tuple[EventFacts, ...]
    record: dict[str, Any]

    @property
    def wwuid(self) -> str | None:
        return _one(self.ids.get("wwuid"))


def _one(values: frozenset[str] | None) -> str | None:
    return next(iter(values)) if values else None


def _date(doc: dict[str, Any] | None) -> PartialDate | None:
    if not doc:
        return None
    return PartialDate.parse(doc["value"])


def _text(value: Any) -> str | None:
    return normalize_text(value) if isinstance(value, str) else None


def _day(value: str | None) -> PartialDate | None:
    return PartialDate.parse(value) if value else None


_ID_KINDS = ("wwuid", "uid", "external_system_uid", "case_vault_global_id", "event_vault_global_id")


def facts_from_document(doc: Document) -> Facts:
    """The comparable view of an index document (as stored or as returned in ``_source``)."""
    ids_doc = doc.get("ids") or {}
    ids: dict[str, frozenset[str]] = {
        "case_identifier": frozenset(ids_doc.get("case_identifiers") or ())
    }
    for kind in _ID_KINDS:
        value = ids_doc.get(kind)
        ids[kind] = frozenset((value,)) if value else frozenset()
    patient = doc.get("patient") or {}
    reporter = doc.get("reporter") or {}
    record = doc.get("record") or {}
    raw_products = {p.get("rank", 1): p for p in record.get("products") or ()}
    raw_events = {e.get("rank", 1): e for e in record.get("events") or ()}
    products = tuple(
        ProductFacts(
            product=p.get("product"),
            product_reported=p.get("product_reported"),
            study_product=p.get("study_product"),
            rank=p.get("rank", 1),
            display=raw_products.get(p.get("rank", 1), {}),
        )
        for p in doc.get("products") or ()
    )
    events = tuple(
        EventFacts(
            meddra_pt_code=e.get("meddra_pt_code"),
            event_reported=e.get("event_reported"),
            country=e.get("country"),
            onset=_date(e.get("onset")),
            rank=e.get("rank", 1),
            display=raw_events.get(e.get("rank", 1), {}),
        )
        for e in doc.get("events") or ()
    )
    return Facts(
        record_id=doc["record_id"],
        kind=doc["kind"],
        state=doc["state"],
        organization=doc["organization"],
        clinical_trial=bool(doc.get("clinical_trial")),
        blinded=bool(doc.get("blinded")),
        study_number=doc.get("study_number"),
        report_type=doc.get("report_type"),
        study=doc.get("study"),
        receipt_date=_day(record.get("receipt_date")),
        new_info=_day(record.get("new_info_date") or record.get("receipt_date")),
        new_info_date=doc.get("new_info_date"),
        ids=ids,
        ids_all=frozenset(ids_doc.get("all") or ()),
        initials=patient.get("initials"),
        first_name=patient.get("first_name"),
        last_name=patient.get("last_name"),
        sex=patient.get("sex"),
        dob=_date(patient.get("dob")),
        mrn=dict(patient.get("mrn") or {}),
        edc_subject=patient.get("edc_subject"),
        reporter_first=reporter.get("first_name"),
        reporter_last=reporter.get("last_name"),
        qualification=reporter.get("qualification"),
        country=reporter.get("country"),
        age_group=_text((record.get("patient") or {}).get("age_group")),
        products=products,
        events=events,
        record=record,
    )


def facts_from_record(record: Record) -> Facts:
    """The comparable view of a record: the same values its index document carries."""
    return facts_from_document(build_document(record))
