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
    VIEW_LAYOUT,
    Document,
    ViewSlot,
    normalized_document,
    view_values,
)
from indexer.fields import GENERIC_FIELDS, ID_KINDS, MRN_KINDS
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
    times as long to construct. Each field but ``record`` is one slot of the
    match view (``indexer.documents.VIEW_LAYOUT``, which names them), held in
    the view's order so that :func:`facts_from_view` passes runs of values on as
    they are (any order works; it is written from the layout at import, and
    fails then if the fields and the slots do not fit).

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
    study: str | None
    new_info_date: str | None  # ISO day, for the tie-break
    #: The patient's sorted name tokens joined by spaces (N3), ``None`` without a name.
    patient_name: str | None
    #: The reporter's sorted name tokens joined by spaces (N3), ``None`` without a name.
    reporter_name: str | None
    age_group: str | None
    #: Normalized identifiers (N4): one per kind of ``ID_KINDS``, then the case identifiers.
    id_values: list[str | None]
    report_type: str | None
    initials: str | None
    first_name: str | None
    last_name: str | None
    sex: str | None
    dob: PartialDate | None
    mrn_gp: str | None
    mrn_specialist: str | None
    mrn_hospital: str | None
    mrn_investigation: str | None
    edc_subject: str | None
    study_number: str | None
    reporter_first: str | None
    reporter_last: str | None
    qualification: str | None
    country: str | None
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


def _day(value: str | None) -> PartialDate | None:
    return _parse(value) if value else None


def facts_from_document(doc: Document) -> Facts:
    """The comparable view of an index document (as stored or as returned in ``_source``):
    its match view's values (``indexer.documents.view_values``) read as a candidate's are,
    with the stored record."""
    return _facts([MATCH_VIEW_VERSION, *view_values(doc)], doc.get("record") or {})


def view_facts(doc: Document) -> Facts:
    """The comparable view of an index document as its match view gives it: equal to
    ``facts_from_view(match_view(doc))`` (``record`` empty), without the JSON in between.

    What a bulk reader that holds documents (the audit benchmark) keeps per record: the
    stored record is most of a document's memory and nothing compared reads it.
    """
    return _facts([MATCH_VIEW_VERSION, *view_values(doc)], {})


class StaleMatchViewError(ValueError):
    """A document's match view has another layout than this code reads: reindex."""


# -- reading a view by its layout ---------------------------------------------------
#
# ``indexer.documents.VIEW_LAYOUT`` names, per position of a view after the version, the
# attribute of ``Facts`` (or of a product's / event's) it fills. The function that reads a
# view is written from it once, at import, as ``dataclasses`` writes ``__init__``: one
# expression per field of ``Facts`` at its slot's position. Detection reads about 1,300
# views per check at a million Cases, and a loop over the slots cost 30% more per view
# than the positions written out (``benchmarks/microbench.py``, the ``views`` part).

#: Each slot's position in a view (the version is at 0).
_SLOT_AT: dict[str, int] = {slot.name: i for i, slot in enumerate(VIEW_LAYOUT, start=1)}
_SLOT: dict[str, ViewSlot] = {slot.name: slot for slot in VIEW_LAYOUT}
#: Codecs whose values ``Facts`` holds as the view does.
_AS_IS = frozenset({"value", "text", "ids"})
_ITEM_CLASSES: dict[str, type[ProductFacts] | type[EventFacts]] = {
    "products": ProductFacts,
    "events": EventFacts,
}


def _fit(names: list[str], cls: type[Any], where: str) -> None:
    """``cls`` must have one field per slot (``record`` aside: it is never in a view)."""
    wanted = [f.name for f in fields(cls) if f.name != "record"]
    if sorted(names) != sorted(wanted):
        raise TypeError(
            f"{cls.__name__} does not fit the match view's {where} "
            f"(indexer.documents.VIEW_LAYOUT): slots {sorted(names)}, fields {sorted(wanted)}"
        )


def _expr(slot: ViewSlot, at: str) -> str:
    """The expression reading ``slot``'s value, held in ``at`` (a name)."""
    if slot.codec == "date":
        return f"(_parse({at}) if {at} else None)"
    if slot.codec == "generic":
        return f"_extra({at})"
    if slot.codec == "items":
        cls = _ITEM_CLASSES[slot.name]
        names = [s.name for s in slot.items]
        _fit(names, cls, slot.name)
        args = ", ".join(
            _expr(slot.items[names.index(f.name)], f"i{names.index(f.name)}") for f in fields(cls)
        )
        unpack = ", ".join(f"i{i}" for i in range(len(names)))
        return f"tuple([{cls.__name__}({args}) for {unpack} in {at}])"
    return at


def _reader_source() -> str:
    """The source of the function reading a view's values (the version first) as ``Facts``:
    runs of values taken as they are, in order, are passed on as one slice; the others
    are read into a local first."""
    _fit(list(_SLOT), Facts, "layout")
    lines: list[str] = []
    args: list[str] = []
    run: list[int] = []  # positions of the current run of values taken as they are

    def close_run() -> None:
        if run:
            args.append(f"*values[{run[0]}:{run[-1] + 1}]")
            run.clear()

    for f in fields(Facts):
        if f.name == "record":
            continue
        slot, at = _SLOT[f.name], _SLOT_AT[f.name]
        if slot.codec in _AS_IS and (not run or at == run[-1] + 1):
            run.append(at)
            continue
        close_run()
        if slot.codec in _AS_IS:
            run.append(at)
        else:
            lines.append(f"    v{at} = values[{at}]")
            args.append(_expr(slot, f"v{at}"))
    close_run()
    body = [*lines, f"    return Facts({', '.join(args)}, record)"]
    view = [*lines, f"    return Facts({', '.join(args)}, {{}})"]
    return "\n".join(
        [
            "def read(values, record):",
            *body,
            "",
            "def facts_from_view(view):",
            "    values = _loads(view)",
            "    if values[0] != _VERSION:",
            "        raise _stale(values[0])",
            *view,
            "",
        ]
    )


#: The generic fields' keys, in the order their values are listed.
_GENERIC_KEYS = tuple(f.key for f in GENERIC_FIELDS)
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _extra(values: list[Any]) -> Mapping[str, Any]:
    """The generic fields' values by key (one shared empty mapping when there are none)."""
    return dict(zip(_GENERIC_KEYS, values, strict=True)) if _GENERIC_KEYS else _NO_EXTRA


#: What reads views and documents (printed by ``python -c "from matcher.facts import
#: READER_SOURCE; print(READER_SOURCE)"``).
READER_SOURCE = _reader_source()


def _stale(version: object) -> StaleMatchViewError:
    return StaleMatchViewError(f"match view version {version}, expected {MATCH_VIEW_VERSION}")


def _compile() -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "Facts": Facts,
        "ProductFacts": ProductFacts,
        "EventFacts": EventFacts,
        "_parse": _parse,
        "_extra": _extra,
        "_loads": orjson.loads,
        "_VERSION": MATCH_VIEW_VERSION,
        "_stale": _stale,
    }
    exec(compile(READER_SOURCE, "<matcher.facts match-view reader>", "exec"), namespace)
    return namespace


_READERS = _compile()
#: ``Facts`` from a view's values (the version first) and a stored record.
_facts: Callable[[list[Any], dict[str, Any]], Facts] = _READERS["read"]
#: The comparable view of a candidate from its ``match_view`` (``indexer.documents``).
#:
#: Equal to :func:`facts_from_document` of the same document except for ``record``, which
#: is empty: only listed matches need it (:func:`with_record`). Raises
#: :class:`StaleMatchViewError` for a view of another version. Detection reads every hit
#: through here, so it is written from the layout (:data:`READER_SOURCE`): one call, no
#: loop over the slots, runs of values passed on as slices.
facts_from_view: Callable[[str], Facts] = _READERS["facts_from_view"]
facts_from_view.__module__ = __name__
#: ``Facts`` called with its fields by position (``with_record``).
_make_facts: Callable[..., Facts] = Facts


def with_record(facts: Facts, record: dict[str, Any]) -> Facts:
    """``facts`` with its stored record, for the comparison table of a listed match."""
    return _make_facts(*_ALL_BUT_RECORD(facts), record)


#: Every field of ``Facts`` but the last, ``record`` (``dataclasses.replace`` is ten times slower).
_ALL_BUT_RECORD = attrgetter(*(f.name for f in fields(Facts)[:-1]))


def facts_from_record(record: Record) -> Facts:
    """The comparable view of a record: the same values its index document carries."""
    return facts_from_document(normalized_document(record))
