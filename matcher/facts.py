"""The comparable view of one record: its normalized values, read once from an index document.

The source and every candidate go through the same path: a record becomes an
index document (``indexer.documents.build_document``, N1-N7) and the document
becomes :class:`Facts`. The engine returns documents, the brute-force
reference builds them in Python, so both rank on identical values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any

import orjson

from indexer.dates import PartialDate
from indexer.documents import (
    MATCH_VIEW_VERSION,
    Document,
    generic_values,
    normalized_document,
)
from indexer.fields import GENERIC_FIELDS, ID_KINDS, MRN_KINDS
from indexer.normalize import normalize_text
from indexer.records import Record

#: What retrieval asks of every candidate: its compared values only (see :func:`facts_from_view`).
#: How a search asks for candidates' match views: from doc values, not ``_source`` (parsing a
#: whole ``_source`` to filter out one field cost OpenSearch 2-3x more per hit).
VIEW_FETCH: dict[str, Any] = {"_source": False, "docvalue_fields": ["match_view"]}

#: What is fetched for a listed match: the stored record its comparison table shows, as one
#: string (``indexer.documents.record_view``).
RECORD_SOURCE: dict[str, list[str]] = {"includes": ["record_view"]}


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
    times as long to construct. The fields from ``record_id`` to ``country``
    are in the order of the match view (``indexer.documents.match_view``), which
    :func:`facts_from_view` passes on as they are.

    Only what ranking needs is held; what else a caller asks for (identifiers by
    kind, the MRNs as a mapping, name tokens, details dates, display values) is
    derived on demand, for the source or the listed matches.
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
    initials: str | None
    first_name: str | None
    last_name: str | None
    #: The patient's sorted name tokens joined by spaces (N3), ``None`` without a name.
    patient_name: str | None
    sex: str | None
    mrn_gp: str | None
    mrn_specialist: str | None
    mrn_hospital: str | None
    mrn_investigation: str | None
    edc_subject: str | None
    age_group: str | None
    reporter_first: str | None
    reporter_last: str | None
    #: The reporter's sorted name tokens joined by spaces (N3), ``None`` without a name.
    reporter_name: str | None
    qualification: str | None
    country: str | None
    dob: PartialDate | None
    #: Normalized identifiers (N4): one per kind of ``ID_KINDS``, then the case identifiers.
    id_values: list[str | None]
    products: tuple[ProductFacts, ...]
    events: tuple[EventFacts, ...]
    #: The generic fields' normalized values by key (``indexer.fields.GENERIC_FIELDS``).
    extra: Mapping[str, Any]
    #: The stored record, for display; empty when read from a match view (see ``with_record``).
    record: dict[str, Any]

    @property
    def ids_all(self) -> frozenset[str]:
        """Every identifier of the record, whatever its kind (M10 matches across kinds)."""
        return frozenset(value for value in self.id_values if value)

    @property
    def ids_doc(self) -> dict[str, Any]:
        """The identifiers as the index document holds them (``ids``)."""
        doc: dict[str, Any] = {"case_identifiers": self.id_values[len(ID_KINDS) :]}
        doc.update(zip(ID_KINDS, self.id_values, strict=False))
        doc["all"] = sorted(self.ids_all)
        return doc

    @property
    def ids(self) -> dict[str, frozenset[str]]:
        """Identifier values per kind (``case_identifier``, ``wwuid``, ...), normalized (N4)."""
        values = self.id_values
        out = {"case_identifier": frozenset(v for v in values[len(ID_KINDS) :] if v)}
        for kind, value in zip(ID_KINDS, values, strict=False):
            out[kind] = frozenset((value,)) if value else frozenset()
        return out

    @property
    def wwuid(self) -> str | None:
        return self.id_values[0]

    @property
    def mrn(self) -> dict[str, str | None]:
        """The patient's MRNs by kind (``gp``, ``specialist``, ``hospital``, ``investigation``)."""
        return dict(
            zip(
                MRN_KINDS,
                (self.mrn_gp, self.mrn_specialist, self.mrn_hospital, self.mrn_investigation),
                strict=True,
            )
        )

    @property
    def patient_tokens(self) -> tuple[str, ...]:
        return tuple(self.patient_name.split()) if self.patient_name else ()

    @property
    def reporter_tokens(self) -> tuple[str, ...]:
        return tuple(self.reporter_name.split()) if self.reporter_name else ()

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
    return PartialDate.from_iso(value)


def _date(doc: dict[str, Any] | None) -> PartialDate | None:
    if not doc:
        return None
    return _parse(doc["value"])


def _day(value: str | None) -> PartialDate | None:
    return _parse(value) if value else None


def facts_from_document(doc: Document) -> Facts:
    """The comparable view of an index document (as stored or as returned in ``_source``)."""
    ids_doc = doc.get("ids") or {}
    patient = doc.get("patient") or {}
    reporter = doc.get("reporter") or {}
    mrn = patient.get("mrn") or {}
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
        initials=patient.get("initials"),
        first_name=patient.get("first_name"),
        last_name=patient.get("last_name"),
        patient_name=" ".join(patient.get("name_tokens") or ()) or None,
        sex=patient.get("sex"),
        mrn_gp=mrn.get("gp"),
        mrn_specialist=mrn.get("specialist"),
        mrn_hospital=mrn.get("hospital"),
        mrn_investigation=mrn.get("investigation"),
        edc_subject=patient.get("edc_subject"),
        age_group=_age_group(doc.get("record") or {}),
        reporter_first=reporter.get("first_name"),
        reporter_last=reporter.get("last_name"),
        reporter_name=" ".join(reporter.get("name_tokens") or ()) or None,
        qualification=reporter.get("qualification"),
        country=reporter.get("country"),
        dob=_parse(dob["value"]) if dob else None,
        id_values=[
            *(ids_doc.get(kind) for kind in ID_KINDS),
            *(ids_doc.get("case_identifiers") or ()),
        ],
        products=products,
        events=events,
        extra=_extra(generic_values(doc.get("record") or {})),
        record=doc.get("record") or {},
    )


def _age_group(record: dict[str, Any]) -> str | None:
    value = (record.get("patient") or {}).get("age_group")
    return normalize_text(value) if isinstance(value, str) else None


class StaleMatchViewError(ValueError):
    """A document's match view has another layout than this code reads: reindex."""


#: Positions in a match view (``indexer.documents.match_view``): the values ``Facts`` takes
#: as they are (``record_id`` to ``country``), then the date of birth, identifiers,
#: products, events and the generic fields' values.
_PLAIN_END, _DOB, _IDS, _PRODUCTS, _EVENTS, _GENERIC = 27, 27, 28, 29, 30, 31


def facts_from_view(view: str) -> Facts:
    """The comparable view of a candidate from its ``match_view`` (``indexer.documents``).

    Equal to :func:`facts_from_document` of the same document except for
    ``record``, which is empty: only listed matches need it (:func:`with_record`).
    Detection reads every hit through here, so it builds nothing it need not.
    """
    values = orjson.loads(view)
    if values[0] != MATCH_VIEW_VERSION:
        raise StaleMatchViewError(f"match view version {values[0]}, expected {MATCH_VIEW_VERSION}")
    dob = values[_DOB]
    return _make_facts(
        *values[1:_PLAIN_END],
        _parse(dob) if dob else None,
        values[_IDS],
        tuple([ProductFacts(*p) for p in values[_PRODUCTS]]),
        tuple(
            [
                EventFacts(code, text, country, _parse(onset) if onset else None, rank)
                for code, text, country, onset, rank in values[_EVENTS]
            ]
        ),
        _extra(values[_GENERIC]),
        {},
    )


#: The generic fields' keys, in the order their values are listed.
_GENERIC_KEYS = tuple(f.key for f in GENERIC_FIELDS)
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _extra(values: list[Any]) -> Mapping[str, Any]:
    """The generic fields' values by key (one shared empty mapping when there are none)."""
    return dict(zip(_GENERIC_KEYS, values, strict=True)) if _GENERIC_KEYS else _NO_EXTRA


#: ``Facts`` called with its fields by position (a type checker cannot count a view's values).
_make_facts: Callable[..., Facts] = Facts


def with_record(facts: Facts, record: dict[str, Any]) -> Facts:
    """``facts`` with its stored record, for the comparison table of a listed match."""
    return _make_facts(*_ALL_BUT_RECORD(facts), record)


#: Every field of ``Facts`` but the last, ``record`` (``dataclasses.replace`` is ten times slower).
_ALL_BUT_RECORD = attrgetter(*(f.name for f in fields(Facts)[:-1]))


def facts_from_record(record: Record) -> Facts:
    """The comparable view of a record: the same values its index document carries."""
    return facts_from_document(normalized_document(record))
