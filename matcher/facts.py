"""The comparable view of one record: its normalized values, read once from an index document.

The source and every candidate go through the same path: a record becomes an
index document (``indexer.documents.build_document``, N1-N7) and the document
becomes :class:`Facts`. The engine returns documents, the brute-force
reference builds them in Python, so both rank on identical values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
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

#: Large stored values no comparison shows.
SOURCE_EXCLUDES: list[str] = ["record.narrative", "record.documents", "record.links"]


@dataclass(frozen=True, slots=True)
class ProductFacts:
    product: str | None
    product_reported: str | None
    study_product: str | None
    rank: int


@dataclass(frozen=True, slots=True)
class EventFacts:
    meddra_pt_code: str | None
    event_reported: str | None
    country: str | None
    onset: PartialDate | None
    rank: int


@dataclass(frozen=True, slots=True)
class Facts:
    """Normalized values of one record, plus its stored record for display.

    Only what ranking needs is read eagerly; the rest (identifier kinds, the
    details dates, display values) is derived on demand for listed matches.
    """

    record_id: str
    kind: str
    state: str
    organization: str
    clinical_trial: bool
    blinded: bool
    study_number: str | None
    report_type: str | None
    study: str | None
    new_info_date: str | None  # ISO day, for the tie-break
    ids_doc: dict[str, Any]
    ids_all: frozenset[str]
    initials: str | None
    first_name: str | None
    last_name: str | None
    patient_tokens: tuple[str, ...]
    sex: str | None
    dob: PartialDate | None
    mrn: dict[str, str | None]
    edc_subject: str | None
    reporter_first: str | None
    reporter_last: str | None
    reporter_tokens: tuple[str, ...]
    qualification: str | None
    country: str | None
    products: tuple[ProductFacts, ...]
    events: tuple[EventFacts, ...]
    record: dict[str, Any]

    @property
    def ids(self) -> dict[str, frozenset[str]]:
        """Identifier values per kind (``case_identifier``, ``wwuid``, ...), normalized (N4)."""
        out = {"case_identifier": frozenset(self.ids_doc.get("case_identifiers") or ())}
        for kind in _ID_KINDS:
            value = self.ids_doc.get(kind)
            out[kind] = frozenset((value,)) if value else frozenset()
        return out

    @property
    def wwuid(self) -> str | None:
        value = self.ids_doc.get("wwuid")
        return value if isinstance(value, str) else None

    @property
    def receipt_date(self) -> PartialDate | None:
        return _day(self.record.get("receipt_date"))

    @property
    def new_info(self) -> PartialDate | None:
        return _day(self.record.get("new_info_date") or self.record.get("receipt_date"))

    @property
    def age_group(self) -> str | None:
        value = (self.record.get("patient") or {}).get("age_group")
        return normalize_text(value) if isinstance(value, str) else None

    def display(self, what: str, rank: int) -> dict[str, Any]:
        """The stored product / event (``what``: ``products`` or ``events``) of this rank."""
        for item in self.record.get(what) or ():
            if item.get("rank", 1) == rank:
                found: dict[str, Any] = item
                return found
        return {}


@lru_cache(maxsize=65536)
def _parse(value: str) -> PartialDate:
    return PartialDate.parse(value)


def _date(doc: dict[str, Any] | None) -> PartialDate | None:
    if not doc:
        return None
    return _parse(doc["value"])


def _day(value: str | None) -> PartialDate | None:
    return _parse(value) if value else None


_ID_KINDS = ("wwuid", "uid", "external_system_uid", "case_vault_global_id", "event_vault_global_id")


def facts_from_document(doc: Document) -> Facts:
    """The comparable view of an index document (as stored or as returned in ``_source``)."""
    ids_doc = doc.get("ids") or {}
    patient = doc.get("patient") or {}
    reporter = doc.get("reporter") or {}
    products = tuple(
        ProductFacts(p.get("product"), p.get("product_reported"), p.get("study_product"), p["rank"])
        for p in doc.get("products") or ()
    )
    events = tuple(
        EventFacts(
            e.get("meddra_pt_code"),
            e.get("event_reported"),
            e.get("country"),
            _date(e.get("onset")),
            e["rank"],
        )
        for e in doc.get("events") or ()
    )
    dob = patient.get("dob")
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
        new_info_date=doc.get("new_info_date"),
        ids_doc=ids_doc,
        ids_all=frozenset(ids_doc.get("all") or ()),
        initials=patient.get("initials"),
        first_name=patient.get("first_name"),
        last_name=patient.get("last_name"),
        patient_tokens=tuple(patient.get("name_tokens") or ()),
        sex=patient.get("sex"),
        dob=_parse(dob["value"]) if dob else None,
        mrn=patient.get("mrn") or {},
        edc_subject=patient.get("edc_subject"),
        reporter_first=reporter.get("first_name"),
        reporter_last=reporter.get("last_name"),
        reporter_tokens=tuple(reporter.get("name_tokens") or ()),
        qualification=reporter.get("qualification"),
        country=reporter.get("country"),
        products=products,
        events=events,
        record=doc.get("record") or {},
    )


def facts_from_record(record: Record) -> Facts:
    """The comparable view of a record: the same values its index document carries."""
    return facts_from_document(build_document(record))
