"""The comparable view of one record: its normalized values, read once from an index document.

The source and every candidate go through the same path: a record becomes an
index document (``indexer.documents.build_document``, N1-N7) and the document
becomes :class:`Facts`. The engine returns documents, the brute-force
reference builds them in Python, so both rank on identical values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import orjson

from indexer.dates import PartialDate
from indexer.documents import MATCH_VIEW_VERSION, Document, build_document
from indexer.normalize import normalize_text
from indexer.records import Record

#: Large stored values no comparison shows.
SOURCE_EXCLUDES: list[str] = ["record.narrative", "record.documents", "record.links"]

#: What retrieval asks of every candidate: its compared values only (see :func:`facts_from_view`).
VIEW_SOURCE: dict[str, list[str]] = {"includes": ["match_view"]}

#: What is fetched for a listed match: the stored record its comparison table shows.
RECORD_SOURCE: dict[str, list[str]] = {"includes": ["record"], "excludes": SOURCE_EXCLUDES}


@dataclass(slots=True)
class ProductFacts:
    product: str | None
    product_reported: str | None
    study_product: str | None
    rank: int


@dataclass(slots=True)
class EventFacts:
    meddra_pt_code: str | None
    event_reported: str | None
    country: str | None
    onset: PartialDate | None
    rank: int


@dataclass(slots=True)
class Facts:
    """Normalized values of one record, plus its stored record for display.

    Never changed once made (``with_record`` makes a new one). Not ``frozen``:
    detection builds one per candidate, and a frozen dataclass takes four
    times as long to construct.

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
    age_group: str | None
    products: tuple[ProductFacts, ...]
    events: tuple[EventFacts, ...]
    #: The stored record, for display; empty when read from a match view (see ``with_record``).
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
_MRN_KINDS = ("gp", "specialist", "hospital", "investigation")


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
        age_group=_age_group(doc.get("record") or {}),
        products=products,
        events=events,
        record=doc.get("record") or {},
    )


def _age_group(record: dict[str, Any]) -> str | None:
    value = (record.get("patient") or {}).get("age_group")
    return normalize_text(value) if isinstance(value, str) else None


class StaleMatchViewError(ValueError):
    """A document's match view has another layout than this code reads: reindex."""


def facts_from_view(view: str) -> Facts:
    """The comparable view of a candidate from its ``match_view`` (``indexer.documents``).

    Equal to :func:`facts_from_document` of the same document except for
    ``record``, which is empty: only listed matches need it (:func:`with_record`).
    """
    (
        version,
        record_id,
        kind,
        state,
        organization,
        clinical_trial,
        blinded,
        study_number,
        report_type,
        study,
        new_info_date,
        ids,
        patient,
        reporter,
        products,
        events,
    ) = orjson.loads(view)
    if version != MATCH_VIEW_VERSION:
        raise StaleMatchViewError(f"match view version {version}, expected {MATCH_VIEW_VERSION}")
    case_identifiers = ids[0]
    ids_doc: dict[str, Any] = {"case_identifiers": case_identifiers}
    ids_doc.update(zip(_ID_KINDS, ids[1:], strict=True))
    all_ids = frozenset(case_identifiers).union(v for v in ids[1:] if v)
    ids_doc["all"] = sorted(all_ids)
    initials, first, last, tokens, sex, dob, mrn, edc, age_group = patient
    r_first, r_last, r_tokens, qualification, country = reporter
    return Facts(
        record_id=record_id,
        kind=kind,
        state=state,
        organization=organization,
        clinical_trial=bool(clinical_trial),
        blinded=bool(blinded),
        study_number=study_number,
        report_type=report_type,
        study=study,
        new_info_date=new_info_date,
        ids_doc=ids_doc,
        ids_all=all_ids,
        initials=initials,
        first_name=first,
        last_name=last,
        patient_tokens=tuple(tokens),
        sex=sex,
        dob=_parse(dob) if dob else None,
        mrn=dict(zip(_MRN_KINDS, mrn, strict=True)),
        edc_subject=edc,
        reporter_first=r_first,
        reporter_last=r_last,
        reporter_tokens=tuple(r_tokens),
        qualification=qualification,
        country=country,
        age_group=age_group,
        products=tuple(ProductFacts(p[0], p[1], p[2], p[3]) for p in products),
        events=tuple(
            EventFacts(e[0], e[1], e[2], _parse(e[3]) if e[3] else None, e[4]) for e in events
        ),
        record={},
    )


def with_record(facts: Facts, record: dict[str, Any]) -> Facts:
    """``facts`` with its stored record, for the comparison table of a listed match."""
    return replace(facts, record=record)


def facts_from_record(record: Record) -> Facts:
    """The comparable view of a record: the same values its index document carries."""
    return facts_from_document(build_document(record))
