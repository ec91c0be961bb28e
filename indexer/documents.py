"""Building an index document from a record: one pure function, golden-tested.

The document carries the normalized values (N1-N7) that queries filter and
match on, and the record itself under ``record`` (stored, not indexed) so that
the matcher can explain a match and a reindex can rebuild every document from
the index alone. ``mappings/records.json`` is the schema of what is built here;
Cases and Inbox Items share it, so one search can cover both.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import orjson

from indexer.dates import PartialDate
from indexer.fields import (
    COUNTRY_SCOPED,
    DATE_COMPARATORS,
    FIELDS,
    GENERIC_FIELDS,
    ID_KINDS,
    IN_STUDY,
    KEY_VALUES,
    MRN_KINDS,
    STUDY_PAIRED,
    FieldSpec,
    KeyKind,
    product_words,
)
from indexer.normalize import (
    NORMALIZERS,
    event_key,
    name_tokens,
    normalize_code,
    normalize_country,
    normalize_id,
    normalize_initials,
    normalize_meddra_code,
    normalize_name,
    normalize_product,
    normalize_text,
)
from indexer.records import CLOSED_INBOX_STATES, Identifiers, Kind, Patient, Record, Reporter

Document = dict[str, Any]

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"

_ID_FIELDS = ID_KINDS
_MRN_FIELDS = MRN_KINDS
#: The key kind of each MRN kind's values.
MRN_KEY_KINDS: dict[str, KeyKind] = {kind: KeyKind(f"mrn_{kind}") for kind in MRN_KINDS}
#: ``reporter.country_key`` of a record without a primary reporter country.
NO_COUNTRY = "-"


@lru_cache(maxsize=8)
def load_mapping(name: str = "records") -> dict[str, Any]:
    """The index settings and mappings in ``mappings/<name>.json``."""
    path = MAPPINGS_DIR / f"{name}.json"
    with path.open(encoding="utf-8") as fh:
        body: dict[str, Any] = json.load(fh)
    return body


def is_searchable(kind: Kind | str, state: str) -> bool:
    """I2/I3/M7: superseded Case versions and closed Inbox Items leave the search results."""
    if state == "superseded":
        return False
    return not (str(kind) == Kind.inbox_item.value and state in CLOSED_INBOX_STATES)


def _omitted(reasons: dict[str, Any], field: str) -> bool:
    return field in reasons


def _date_doc(value: PartialDate | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {
        "value": str(value),
        "precision": value.precision,
        "gte": value.first_day.isoformat(),
        "lte": value.last_day.isoformat(),
    }


def _day(value: PartialDate | None) -> str | None:
    return value.first_day.isoformat() if value is not None else None


def _latest_day(value: PartialDate | None) -> str | None:
    """The last day a partial date may stand for: M6 excludes only what is surely old."""
    return value.last_day.isoformat() if value is not None else None


def build_document(record: Record) -> Document:
    """The index document for one record (pure: same record, same document)."""
    doc = normalized_document(record)
    doc["keys"] = retrieval_keys(doc)
    doc["match_view"] = match_view(doc)
    doc["record_view"] = record_view(doc["record"])
    return doc


def normalized_document(record: Record) -> Document:
    """The normalized values of an index document (N1-N7), without what is derived from
    them for the engine (retrieval keys, match view, record view).

    What the matcher compares a record by (``matcher.facts.facts_from_record``): a
    duplicate check reads its source through here, building no keys it never sends.
    """
    doc: Document = {
        "record_id": record.case_id if record.kind is Kind.case and record.case_id else record.id,
        "kind": record.kind.value,
        "organization": record.organization,
        "state": record.state,
        "searchable": is_searchable(record.kind, record.state),
        "version": record.version,
        "source": record.source.value,
        "report_type": normalize_code(record.report_type),
        "study_type": normalize_code(record.study_type),
        "clinical_trial": record.is_clinical_trial,
        "study": normalize_code(record.study),
        "study_number": normalize_code(record.study_number),
        "blinded": record.blinded or any(prod.blinded for prod in record.products),
        "receipt_date": _day(record.receipt_date),
        "new_info_date": _latest_day(record.new_info_date or record.receipt_date),
        "localization": record.localization,
        "ids": _ids_doc(record.identifiers),
        "patient": _patient_doc(record.patient),
        "reporter": _reporter_doc(record.reporter),
        "products": _products_doc(record),
        "events": _events_doc(record),
        "record": record.model_dump(mode="json", exclude_none=True),
    }
    return doc


def _ids_doc(ids: Identifiers) -> dict[str, Any]:
    """The identifiers, normalized (N4), by kind and all together."""
    id_doc: dict[str, Any] = {
        "case_identifiers": sorted({v for v in map(normalize_id, ids.case_identifiers) if v})
    }
    for name in _ID_FIELDS:
        id_doc[name] = normalize_id(getattr(ids, name))
    all_ids = set(id_doc["case_identifiers"])
    all_ids.update(v for k, v in id_doc.items() if k != "case_identifiers" and v)
    id_doc["all"] = sorted(all_ids)
    return id_doc


def _patient_doc(p: Patient) -> dict[str, Any]:
    """The patient's compared values, normalized; withheld values are absent."""
    po = p.reason_omitted
    first = None if _omitted(po, "first_name") else p.first_name
    last = None if _omitted(po, "last_name") else p.last_name
    mrn = {
        k: None
        if _omitted(po, f"mrn.{k}") or _omitted(po, "mrn")
        else normalize_code(getattr(p.mrn, k))
        for k in _MRN_FIELDS
    }
    patient_tokens = name_tokens(first, last)
    patient: dict[str, Any] = {
        "initials": None if _omitted(po, "initials") else normalize_initials(p.initials),
        "first_name": normalize_name(first),
        "last_name": normalize_name(last),
        "name_tokens": list(patient_tokens),
        "name_text": " ".join(patient_tokens) or None,
        "sex": None
        if _omitted(po, "sex") or p.sex is None or p.sex.value == "unknown"
        else p.sex.value,
        "dob": None if _omitted(po, "dob") else _date_doc(p.dob),
        "mrn": mrn,
        "mrn_all": sorted({v for v in mrn.values() if v}),
        "edc_subject": None if _omitted(po, "edc_subject") else normalize_code(p.edc_subject),
    }
    return patient


def _reporter_doc(r: Reporter) -> dict[str, Any]:
    """The primary reporter's compared values, normalized; withheld values are absent."""
    ro = r.reason_omitted
    r_first = None if _omitted(ro, "first_name") else r.first_name
    r_last = None if _omitted(ro, "last_name") else r.last_name
    reporter_tokens = name_tokens(r_first, r_last)
    reporter: dict[str, Any] = {
        "first_name": normalize_name(r_first),
        "last_name": normalize_name(r_last),
        "name_tokens": list(reporter_tokens),
        "name_text": " ".join(reporter_tokens) or None,
        "qualification": None
        if _omitted(ro, "qualification") or r.qualification is None
        else r.qualification.value,
        "country": None if _omitted(ro, "country") else normalize_country(r.country),
    }
    # M5 as a positive filter: "same country or none" is one terms lookup, where
    # "no other country" would make the engine scan every document with a country.
    reporter["country_key"] = reporter["country"] or NO_COUNTRY
    return reporter


def _products_doc(record: Record) -> list[dict[str, Any]]:
    """The products in rank order, normalized."""
    return [
        {
            "product": normalize_code(prod.product),
            "product_reported": normalize_product(prod.product_reported),
            "product_text": normalize_product(prod.product_reported),
            "study_product": normalize_code(prod.study_product),
            "rank": prod.rank,
            "drug_role": prod.drug_role.value if prod.drug_role else None,
            "blinded": prod.blinded,
        }
        for prod in sorted(record.products, key=lambda x: x.rank)
    ]


def _events_doc(record: Record) -> list[dict[str, Any]]:
    """The events in rank order, normalized (N7)."""
    return [
        {
            "key": event_key(ev.meddra_pt_code, ev.event_reported, ev.meddra_pt),
            "meddra_pt_code": normalize_meddra_code(ev.meddra_pt_code),
            "event_reported": normalize_text(ev.event_reported) or normalize_text(ev.meddra_pt),
            "country": normalize_country(ev.country),
            "onset": _date_doc(ev.onset),
            "serious": bool(ev.seriousness),
            "rank": ev.rank,
        }
        for ev in sorted(record.events, key=lambda x: x.rank)
    ]


#: Stored record fields no comparison table shows, and the largest (narratives, attachments).
RECORD_VIEW_OMITS = frozenset({"narrative", "documents", "links"})


def record_view(record: dict[str, Any]) -> str:
    """The stored record as a listed match's comparison table reads it, as one JSON string
    in a stored-only field (pure).

    Detection fetches it for the matches it lists: asking the engine for one string
    costs it half of what filtering the ``record`` object (``_source`` includes and
    excludes) does.
    """
    return orjson.dumps({k: v for k, v in record.items() if k not in RECORD_VIEW_OMITS}).decode()


# -- the match view ---------------------------------------------------------------
#
# Retrieval reads many candidates and lists few. Every candidate is compared, so
# each hit must carry what the comparators read - but not the stored record, the
# date ranges or the search-only fields: those make a hit ten times larger, and
# an engine's time and the JSON decoding grow with the bytes returned. The match
# view is that subset as one compact JSON array in a stored-only field; the
# record is fetched afterwards for the matches that are listed.

#: How a view slot's value is written and read: as it is, a date (``YYYY[-MM[-DD]]``
#: written, ``PartialDate`` read), normalized text, the identifiers, a list of items
#: (products, events: one list of item slots each) or the generic fields' values.
Codec = Literal["value", "date", "text", "ids", "items", "generic"]


@dataclass(frozen=True, slots=True)
class ViewSlot:
    """One position of a match view: the value of ``matcher.facts.Facts.<name>``."""

    #: The attribute of ``matcher.facts.Facts`` (or of its products' / events') it fills.
    name: str
    #: Where its value is in an index document (a product's / event's, for item slots).
    path: str
    codec: Codec = "value"
    #: For ``items``: the slots of each item.
    items: tuple[ViewSlot, ...] = ()


#: What every view carries besides the registry's fields: scope and state (M1, M3, M7, M9),
#: M8's blinding, the tie-break date (M14), the names' tokens (N3) and M24's age group.
_RECORD_SLOTS: tuple[ViewSlot, ...] = (
    ViewSlot("record_id", "record_id"),
    ViewSlot("kind", "kind"),
    ViewSlot("state", "state"),
    ViewSlot("organization", "organization"),
    ViewSlot("clinical_trial", "clinical_trial"),
    ViewSlot("blinded", "blinded"),
    ViewSlot("study", "study"),
    ViewSlot("new_info_date", "new_info_date"),
    ViewSlot("patient_name", "patient.name_text"),
    ViewSlot("reporter_name", "reporter.name_text"),
    ViewSlot("age_group", "record.patient.age_group", "text"),
)
#: The slot of each item field group: the view's list of products / events.
_ITEM_LISTS = {"product": "products", "event": "events"}


def _slot(spec: FieldSpec) -> ViewSlot:
    """The view slot of one registry field (of an item, for product and event fields)."""
    codec: Codec = "date" if spec.comparator in DATE_COMPARATORS else "value"
    if spec.group in _ITEM_LISTS:
        return ViewSlot(spec.fact.split(".", 1)[1], spec.path.split(".", 1)[1], codec)
    return ViewSlot(spec.fact, spec.path, codec)


def view_layout(fields: tuple[FieldSpec, ...]) -> tuple[ViewSlot, ...]:
    """The match view's slots for a registry, after the version (pure).

    The record's own slots, then every field the view carries in registry order: a
    value per field, one slot for the identifiers (at the identifiers field), one list
    per item group (products, events: at its first field, each item holding its
    group's fields and its rank), and the generic fields' values last.
    """
    slots = list(_RECORD_SLOTS)
    for spec in fields:
        if not spec.view or spec.normalizer is not None:
            continue
        if spec.group == "identifiers":
            slots.append(ViewSlot("id_values", "ids", "ids"))
        elif spec.group in _ITEM_LISTS:
            what = _ITEM_LISTS[spec.group]
            if all(s.name != what for s in slots):
                items = [_slot(f) for f in fields if f.group == spec.group and f.view]
                slots.append(ViewSlot(what, what, "items", (*items, ViewSlot("rank", "rank"))))
        else:
            slots.append(_slot(spec))
    slots.append(ViewSlot("extra", "record", "generic"))
    names = [s.name for s in slots]
    if len(set(names)) != len(names):
        raise ValueError(f"two match-view slots fill the same value: {names}")
    return tuple(slots)


#: The match view's layout, derived once from the registry: position ``i + 1`` of a view
#: holds ``VIEW_LAYOUT[i]`` (position 0 is the version). The document builder writes it and
#: ``matcher.facts.facts_from_view`` reads it, so the two cannot disagree.
VIEW_LAYOUT: tuple[ViewSlot, ...] = view_layout(FIELDS)

#: Bumped when the view's meaning changes beyond its layout (3: study pairs,
#: :func:`study_pair`; 4: readable key kinds from ``indexer.fields``, product words as
#: queries ask for them; 5: the layout and the keys derived from the registry). The
#: version also carries a digest of the layout and of how every key kind is made
#: (``KEY_VALUES``, the generic fields' keys and normalizers), so a registry change that
#: moves a slot or changes a key asks for a reindex by itself. Detection refuses
#: candidates of another version and asks for a reindex, which rebuilds every
#: document: a search for keys an older document lacks would miss it silently.
MATCH_VIEW_LAYOUT = 5


def _view_digest() -> str:
    generic = [(f.key, f.normalizer, f.keys if f.identifying else ()) for f in GENERIC_FIELDS]
    text = repr((VIEW_LAYOUT, sorted(KEY_VALUES.items()), generic))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


MATCH_VIEW_VERSION: str = f"{MATCH_VIEW_LAYOUT}.{_view_digest()}"


def _getter(path: str) -> Callable[[Any], Any]:
    """What reads ``path`` (dotted) from an index document, which holds every normalized
    value (``None`` where there is none); in its stored ``record``, which omits empty
    values, a missing part reads as ``None``."""
    parts = tuple(path.split("."))
    if parts[0] != "record":
        if len(parts) == 1:
            return itemgetter(parts[0])
        if len(parts) == 2:
            first, second = parts
            return lambda doc: doc[first][second]
        if len(parts) == 3:
            first, second, third = parts
            return lambda doc: doc[first][second][third]

    def get(node: Any) -> Any:
        for part in parts:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    return get


def _date_value(value: Any) -> str | None:
    """A document date (``{"value": ..., "gte": ...}``) as a view holds it."""
    return value["value"] if isinstance(value, dict) else None


def _writer(slot: ViewSlot) -> Callable[[Document], Any]:
    """What reads one slot's value from an index document, as a view holds it."""
    get = _getter(slot.path)
    if slot.codec == "date":
        return lambda doc: _date_value(get(doc))
    if slot.codec == "text":

        def text(doc: Document) -> str | None:
            value = get(doc)
            return normalize_text(value) if isinstance(value, str) else None

        return text
    if slot.codec == "ids":

        def ids(doc: Document) -> list[str | None]:
            found = get(doc)
            return [*(found[name] for name in _ID_FIELDS), *found["case_identifiers"]]

        return ids
    if slot.codec == "generic":
        return lambda doc: generic_values(get(doc) or {})
    if slot.codec == "items":
        fields = tuple(_writer(item) for item in slot.items)
        return lambda doc: [[read(item) for read in fields] for item in get(doc) or ()]
    return get


_WRITERS: tuple[Callable[[Document], Any], ...] = tuple(_writer(s) for s in VIEW_LAYOUT)


def view_values(doc: Document) -> list[Any]:
    """The values of an index document's match view, in :data:`VIEW_LAYOUT` order (pure)."""
    return [write(doc) for write in _WRITERS]


def match_view(doc: Document) -> str:
    """The compared values of an index document as one compact, flat JSON array (pure):
    the version, then one value per slot of :data:`VIEW_LAYOUT`.

    Flat, so that reading a candidate (which detection does for every hit) builds no
    other object than the values.
    """
    view = [MATCH_VIEW_VERSION, *view_values(doc)]
    return json.dumps(view, ensure_ascii=False, separators=(",", ":"))


def generic_values(record: dict[str, Any]) -> list[Any]:
    """The normalized values of the registry's generic fields (``indexer.fields.GENERIC_FIELDS``,
    in that order) from a stored record's JSON (pure)."""
    out: list[Any] = []
    for spec in GENERIC_FIELDS:
        node: Any = record
        for part in spec.path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out.append(NORMALIZERS[spec.normalizer or ""](node))
    return out


# -- retrieval keys -------------------------------------------------------------
#
# One keyword field, ``keys``, holds every value duplicate-check retrieval asks
# for, each prefixed by its scope ``{organization}|{ct|pm}|`` (M1, M3) and by
# what it is (``patient_initials:``, ``identifier:`` any identifier, ...; the kinds are
# ``indexer.fields.KeyKind``, and each field's declaration names the kinds it produces). A query
# then needs no broad organization / searchable / clinical-trial filter, which
# an engine may evaluate by reading every document in scope. Documents that
# leave the search results (M7) carry no keys at all.


def scope_prefix(organization: str, clinical_trial: bool) -> str:
    """The scope every retrieval key of a record starts with (M1 organization, M3/M4 study type)."""
    return f"{organization}|{'ct' if clinical_trial else 'pm'}|"


def study_pair(key: str, study: str) -> str:
    """The key ``{kind}:{value}`` paired with a study number: ``in_study.{kind}:{study}|{value}``.

    A study number matches every record of its study (thousands); the head of the
    Study tier (the study number and a lower value, M14) is then a lookup of the
    records that hold both, not of the whole study (``matcher.queries.tier_query``).
    """
    kind, value = key.split(":", 1)
    return f"{IN_STUDY}{kind}:{study}|{value}"


def country_prefix(scope: str, country_key: str) -> str:
    """A scope narrowed to one primary reporter country (``NO_COUNTRY`` for none)."""
    return f"{scope}@{country_key}|"


def fold_key(value: str) -> str:
    """A coded value as the ``folded`` normalizer compares it (lowercase, accents removed)."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def dob_prefixes(value: str) -> list[str]:
    """The less precise dates a ``YYYY[-MM[-DD]]`` value lies within (``1980``, ``1980-06``)."""
    return [value[:n] for n in (4, 7) if n < len(value)]


#: What makes a key kind's values of one source value (``study``: the record's folded
#: study number, if it has one); ``None`` and empty values make no key.
Producer = Callable[[Any, str | None], Iterable[str | None]]
#: The functions of ``indexer.fields.Producer``, by name.
KEY_PRODUCERS: dict[str, Producer] = {
    "value": lambda value, study: (value,),
    "folded": lambda value, study: (fold_key(value) if value else None,),
    "dates_within": lambda value, study: dob_prefixes(value) if value else (),
    "words": lambda value, study: sorted(product_words(value or "")),
    "in_study": lambda value, study: (f"{study}|{value}" if study and value else None,),
    "coded_text": lambda event, study: (
        f"{event['event_reported']}|{event['meddra_pt_code']}"
        if event["event_reported"] and event["meddra_pt_code"]
        else None,
    ),
}


def _walk(path: str) -> Callable[[Any], list[Any]]:
    """What lists every value at ``path`` in a document, walking the lists on the way
    (depth first, in document order; a path ending at a missing key gives ``None``)."""
    parts = tuple(path.split("."))

    def walk(node: Any) -> list[Any]:
        level = _flat(node, []) if isinstance(node, list) else [node]
        for part in parts:
            found: list[Any] = []
            for item in level:
                if isinstance(item, dict):
                    value = item.get(part)
                    if isinstance(value, list):
                        _flat(value, found)
                    else:
                        found.append(value)
            level = found
        return level

    return walk


def _flat(items: list[Any], out: list[Any]) -> list[Any]:
    """``out`` extended by ``items``, nested lists flattened in order."""
    for item in items:
        if isinstance(item, list):
            _flat(item, out)
        else:
            out.append(item)
    return out


def unproduced_kinds(fields: tuple[FieldSpec, ...]) -> list[str]:
    """The key kinds ``fields`` declare that nothing makes values for (empty when all are).

    A kind needs an entry in ``indexer.fields.KEY_VALUES`` naming one of
    :data:`KEY_PRODUCERS`; a generic field's first kind holds its normalized value.
    """
    missing: list[str] = []
    for spec in fields:
        for i, kind in enumerate(spec.keys):
            if spec.normalizer is not None and i == 0:
                continue
            how = KEY_VALUES.get(kind)
            if how is None or how.produce not in KEY_PRODUCERS:
                missing.append(f"{spec.key}: {kind}")
    return missing


#: One step of :func:`retrieval_keys`: a key kind, what walks an index document to its
#: source values, what makes its key values of each, and whether a blinded record holds none.
KeyStep = tuple[str, Callable[[Any], list[Any]], Producer, bool]


def key_plan(fields: tuple[FieldSpec, ...]) -> tuple[KeyStep, ...]:
    """Per key kind of the registry's (non-generic) fields, once, in registry order: the
    kind, what walks to its source values, what makes its values, and whether a blinded
    record holds none (M8: the kind of a field hidden when blinded)."""
    if missing := unproduced_kinds(fields):
        raise ValueError(f"key kinds without a producer (indexer.fields.KEY_VALUES): {missing}")
    kinds = dict.fromkeys(k for f in fields if f.normalizer is None for k in f.keys)
    hidden = {k for f in fields if f.hidden_when_blinded for k in f.keys}
    return tuple(
        (
            str(kind),
            _walk(KEY_VALUES[kind].source),
            KEY_PRODUCERS[KEY_VALUES[kind].produce],
            kind in hidden,
        )
        for kind in kinds
    )


_KEY_PLAN = key_plan(FIELDS)


def retrieval_keys(doc: Document, kinds: frozenset[str] | None = None) -> list[str]:
    """The scoped retrieval keys of an index document (empty when it is not searchable).

    Every key kind the registry's fields declare, its values made as ``KEY_VALUES``
    says; each generic field's value under its first kind. With ``kinds``, only the keys
    of those kinds (``key_kind``): the same as filtering all of them, without making
    the others (the audit blocks on a few kinds of a record's keys).
    """
    if not doc["searchable"]:
        return []
    plan, generic, pairs_wanted = _key_plan_for(kinds)
    out: dict[str, str] = {}  # key -> its kind (what ``key_kind`` reads of it)
    study = fold_key(doc["study_number"]) if doc["study_number"] else None
    blinded = doc["blinded"]
    for kind, walk, produce, hidden, kind_of_key in plan:
        if hidden and blinded:  # M8: a blinded record is never found by its study product
            continue
        for source in walk(doc):
            for value in produce(source, study):
                if value:
                    out[f"{kind}:{value}"] = kind_of_key
    if generic:
        for spec, value in zip(GENERIC_FIELDS, generic_values(doc["record"]), strict=True):
            if spec.identifying and spec.keys and isinstance(value, str) and value:
                out[f"{spec.keys[0]}:{value}"] = key_kind(spec.keys[0])
    if study and pairs_wanted:
        paired = [key for key, kind in out.items() if kind in STUDY_PAIRED]
        out.update((pair, key_kind(pair)) for pair in (study_pair(k, study) for k in paired))
    scope = scope_prefix(doc["organization"], doc["clinical_trial"])
    # M5: below the Patient tier a record is found only from the same reporter country or
    # none, so those keys are also held under the record's country.
    in_country = country_prefix(scope, doc["reporter"]["country_key"])
    if kinds is None:
        keys = [scope + key for key in out]
        keys.extend(in_country + key for key, kind in out.items() if kind in COUNTRY_SCOPED)
    else:
        keys = [scope + key for key, kind in out.items() if kind in kinds]
        keys.extend(
            in_country + key
            for key, kind in out.items()
            if kind in COUNTRY_SCOPED and kind in kinds
        )
    return sorted(keys)


#: The steps of :func:`retrieval_keys` for some kinds: each step with the kind
#: ``key_kind`` reads of its keys; whether generic fields' keys and study pairs are made.
KeyPlan = tuple[tuple[tuple[str, Callable[[Any], list[Any]], Producer, bool, str], ...], bool, bool]


@lru_cache(maxsize=64)
def _key_plan_for(kinds: frozenset[str] | None) -> KeyPlan:
    """The steps that make the keys of ``kinds`` (all: ``None``) and the keys study
    pairs of those kinds are made of."""
    steps = tuple((*step, key_kind(step[0])) for step in _KEY_PLAN)
    if kinds is None:
        return steps, True, True
    pairs_wanted = any(key_kind(IN_STUDY + k) in kinds for k in STUDY_PAIRED)

    def wanted(kind: str) -> bool:
        return kind in kinds or (pairs_wanted and kind in STUDY_PAIRED)

    generic = any(wanted(key_kind(spec.keys[0])) for spec in GENERIC_FIELDS if spec.keys)
    return tuple(s for s in steps if wanted(s[4])), generic, pairs_wanted


def key_kind(key: str) -> str:
    """The kind of a retrieval key, scoped or not: ``patient_first_name`` for
    ``ORG-A|pm|@FR|patient_first_name:marie``."""
    return key.split(":", 1)[0].rsplit("|", 1)[-1]
