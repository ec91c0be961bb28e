"""Building an index document from a record: one pure function, golden-tested.

The document carries the normalized values (N1-N7) that queries filter and
match on, and the record itself under ``record`` (stored, not indexed) so that
the matcher can explain a match and a reindex can rebuild every document from
the index alone. ``mappings/records.json`` is the schema of what is built here;
Cases and Inbox Items share it, so one search can cover both.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from indexer.dates import PartialDate
from indexer.fields import (
    COUNTRY_SCOPED,
    GENERIC_FIELDS,
    ID_KINDS,
    IN_STUDY,
    MRN_KINDS,
    STUDY_PAIRED,
    KeyKind,
    product_words,
)
from indexer.fields import KeyKind as K
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
from indexer.records import CLOSED_INBOX_STATES, Kind, Record

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
    ids = record.identifiers
    id_doc: dict[str, Any] = {
        "case_identifiers": sorted({v for v in map(normalize_id, ids.case_identifiers) if v})
    }
    for name in _ID_FIELDS:
        id_doc[name] = normalize_id(getattr(ids, name))
    all_ids = set(id_doc["case_identifiers"])
    all_ids.update(v for k, v in id_doc.items() if k != "case_identifiers" and v)
    id_doc["all"] = sorted(all_ids)

    p = record.patient
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

    r = record.reporter
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

    products = [
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
    events = [
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
        "ids": id_doc,
        "patient": patient,
        "reporter": reporter,
        "products": products,
        "events": events,
        "record": record.model_dump(mode="json", exclude_none=True),
    }
    return doc


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

#: Bumped when the layout below changes, or the retrieval keys detection relies on do
#: (3: study pairs, :func:`study_pair`; 4: readable key kinds from ``indexer.fields``,
#: product words as queries ask for them). Detection refuses candidates of another version
#: and asks for a reindex, which rebuilds every document: a search for keys an older
#: document lacks would miss it silently. The generic fields of the registry
#: (``indexer.fields.GENERIC_FIELDS``) extend the version by their keys, normalizers and key
#: kinds, so declaring, changing or removing one asks for a reindex by itself.
MATCH_VIEW_LAYOUT = 4
MATCH_VIEW_VERSION: int | str = (
    f"{MATCH_VIEW_LAYOUT}+"
    + ",".join(
        f"{f.key}:{f.normalizer}:{'/'.join(f.keys) if f.identifying else ''}"
        for f in GENERIC_FIELDS
    )
    if GENERIC_FIELDS
    else MATCH_VIEW_LAYOUT
)


def match_view(doc: Document) -> str:
    """The compared values of an index document as one compact, flat JSON array (pure).

    Layout, by position: version; record_id, kind, state, organization,
    clinical_trial, blinded, study_number, report_type, study, new_info_date;
    patient initials, first_name, last_name, name_text, sex, MRN gp, specialist,
    hospital, investigation, edc_subject, age_group; reporter first_name,
    last_name, name_text, qualification, country; patient dob; identifiers
    ``[wwuid, uid, external_system_uid, case_vault_global_id,
    event_vault_global_id, *case_identifiers]``; products ``[[product,
    product_reported, study_product, rank], ...]``; events ``[[meddra_pt_code,
    event_reported, country, onset, rank], ...]``. Flat and in the order
    ``matcher.facts.Facts`` holds them, so that reading a candidate (which
    detection does for every hit) builds no other object than the values.
    """
    ids, patient, reporter = doc["ids"], doc["patient"], doc["reporter"]
    dob = patient["dob"]
    mrn = patient["mrn"]
    age_group = (doc["record"].get("patient") or {}).get("age_group")
    view = [
        MATCH_VIEW_VERSION,
        doc["record_id"],
        doc["kind"],
        doc["state"],
        doc["organization"],
        doc["clinical_trial"],
        doc["blinded"],
        doc["study_number"],
        doc["report_type"],
        doc["study"],
        doc["new_info_date"],
        patient["initials"],
        patient["first_name"],
        patient["last_name"],
        patient["name_text"],
        patient["sex"],
        *(mrn[kind] for kind in _MRN_FIELDS),
        patient["edc_subject"],
        normalize_text(age_group) if isinstance(age_group, str) else None,
        reporter["first_name"],
        reporter["last_name"],
        reporter["name_text"],
        reporter["qualification"],
        reporter["country"],
        dob["value"] if dob else None,
        [*(ids[name] for name in _ID_FIELDS), *ids["case_identifiers"]],
        [
            [p["product"], p["product_reported"], p["study_product"], p["rank"]]
            for p in doc["products"]
        ],
        [
            [
                e["meddra_pt_code"],
                e["event_reported"],
                e["country"],
                e["onset"]["value"] if e["onset"] else None,
                e["rank"],
            ]
            for e in doc["events"]
        ],
        generic_values(doc["record"]),
    ]
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


def retrieval_keys(doc: Document) -> list[str]:
    """The scoped retrieval keys of an index document (empty when it is not searchable)."""
    if not doc["searchable"]:
        return []
    out: set[str] = set()

    def add(kind: KeyKind, value: str | None) -> None:
        if value:
            out.add(f"{kind.value}:{value}")

    for value in doc["ids"]["all"]:
        add(K.IDENTIFIER, value)
    patient = doc["patient"]
    study = fold_key(doc["study_number"]) if doc["study_number"] else None
    add(K.STUDY_NUMBER, study)
    add(K.PATIENT_INITIALS, patient["initials"])
    add(K.PATIENT_FIRST_NAME, patient["first_name"])
    add(K.PATIENT_LAST_NAME, patient["last_name"])
    for token in patient["name_tokens"]:
        add(K.PATIENT_NAME_TOKEN, token)
    if patient["dob"]:
        add(K.PATIENT_DOB, patient["dob"]["value"])
        for prefix in dob_prefixes(patient["dob"]["value"]):
            add(K.PATIENT_DOB_WITHIN, prefix)
    for kind, value in patient["mrn"].items():
        add(MRN_KEY_KINDS[kind], value)
    add(K.EDC_SUBJECT, patient["edc_subject"])
    if study:
        if patient["mrn"].get("investigation"):
            add(K.STUDY_MRN_INVESTIGATION, f"{study}|{patient['mrn']['investigation']}")
        if patient["initials"]:
            add(K.STUDY_INITIALS, f"{study}|{patient['initials']}")
    reporter = doc["reporter"]
    add(K.REPORTER_FIRST_NAME, reporter["first_name"])
    add(K.REPORTER_LAST_NAME, reporter["last_name"])
    for token in reporter["name_tokens"]:
        add(K.REPORTER_NAME_TOKEN, token)
    for prod in doc["products"]:
        add(K.PRODUCT, prod["product"])
        if not doc["blinded"]:  # M8: a blinded record is never found by its study product
            add(K.STUDY_PRODUCT, prod["study_product"])
        add(K.PRODUCT_REPORTED, prod["product_reported"])
        for word in sorted(product_words(prod["product_text"] or "")):
            add(K.PRODUCT_WORD, word)
    for ev in doc["events"]:
        add(K.MEDDRA_PT, ev["meddra_pt_code"])
        add(K.EVENT_REPORTED, ev["event_reported"])
        add(K.EVENT_KEY, ev["key"])
        if ev["event_reported"] and ev["meddra_pt_code"]:
            add(K.EVENT_REPORTED_CODED, f"{ev['event_reported']}|{ev['meddra_pt_code']}")
    for spec, value in zip(GENERIC_FIELDS, generic_values(doc["record"]), strict=True):
        if spec.identifying and spec.keys and isinstance(value, str):
            add(spec.keys[0], value)
    if study:
        out.update([study_pair(key, study) for key in out if key_kind(key) in STUDY_PAIRED])
    scope = scope_prefix(doc["organization"], doc["clinical_trial"])
    # M5: below the Patient tier a record is found only from the same reporter country or
    # none, so those keys are also held under the record's country.
    in_country = country_prefix(scope, doc["reporter"]["country_key"])
    keys = [scope + key for key in out]
    keys.extend(in_country + key for key in out if key_kind(key) in COUNTRY_SCOPED)
    return sorted(keys)


def key_kind(key: str) -> str:
    """The kind of a retrieval key, scoped or not: ``patient_first_name`` for
    ``ORG-A|pm|@FR|patient_first_name:marie``."""
    return key.split(":", 1)[0].rsplit("|", 1)[-1]
