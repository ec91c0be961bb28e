"""Query builders (pure: source facts in, OpenSearch request bodies out; golden-tested).

Three kinds of query, all under the same scope filter (M1 organization, M3/M4
clinical-trial flag, M7 searchable, M9 kinds, never the source itself):

- :func:`id_query` - every identifier of the source against ``ids.all`` (M10,
  cross-field by construction: ``ids.all`` holds every identifier kind).
- :func:`subject_query` - clinical-trial sources only (M12).
- :func:`tier_query` - Possible Matches of one M14 category ("tier"): records
  with an identifying value of that category and none of a higher one, with
  M5 (country) and M6 (New Info Date) applied, optionally only those with at
  least *k* matching identifying values (the head of the tier in M14 order).

Everything is filter context: the engine collects candidates, it never scores
them (an embedded engine evaluates scored clauses over the whole index, and
BM25 differs between engines anyway). Every compared field is one named clause,
so ``matched_queries`` says what hit. Python ranks with the comparators.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from indexer.documents import NO_COUNTRY
from matcher.compare import max_edits
from matcher.facts import Facts
from matcher.model import Category
from matcher.profiles import FIELD_BY_KEY, Profile

Query = dict[str, Any]

#: At most this many ID / Subject matches are fetched.
ID_LIMIT = 100
SUBJECT_LIMIT = 100


def scope_filter(
    src: Facts,
    *,
    organization: str,
    exclude_ids: list[str],
    clinical_trial: bool,
    match_inbox_items: bool,
) -> tuple[list[Query], list[Query]]:
    """(filter, must_not) clauses every query carries: M1, M3/M4, M7, M9, not the source."""
    filters: list[Query] = [
        {"term": {"organization": organization}},
        {"term": {"searchable": True}},
        {"term": {"clinical_trial": clinical_trial}},
    ]
    if not match_inbox_items:
        filters.append({"term": {"kind": "case"}})
    must_not: list[Query] = [{"terms": {"record_id": sorted(set(exclude_ids))}}]
    return filters, must_not


def new_info_exclusion(cutoff_iso: str) -> Query:
    """M6 (a must_not clause): New Info Date more than two years before today.

    Records without a New Info Date are not excluded (nothing says they are old).
    """
    return {"range": {"new_info_date": {"lt": cutoff_iso}}}


def country_filter(country: str | None) -> Query | None:
    """M5 below the Patient tier: the same primary reporter country, or none on the candidate."""
    if country is None:
        return None
    return {"terms": {"reporter.country_key": [NO_COUNTRY, country]}}


def _search(
    filters: list[Query], must_not: list[Query], size: int, *, extra: Query | None = None
) -> Query:
    body: Query = {
        "query": {"bool": {"filter": filters, "must_not": must_not, **(extra or {})}},
        "size": size,
        "track_total_hits": False,
        "sort": _SORT,
    }
    return body


#: A stable order for pages (Python ranks; the engine only collects).
_SORT: list[Query] = [
    {"new_info_date": {"order": "desc", "missing": "_last"}},
    {"record_id": {"order": "asc"}},
]


def id_query(src: Facts, filters: list[Query], must_not: list[Query]) -> Query | None:
    """M10: any identifier of the source in any identifier field of the candidate."""
    if not src.ids_all:
        return None
    clause = {"terms": {"ids.all": sorted(src.ids_all), "_name": "ids"}}
    return _search([*filters, clause], must_not, ID_LIMIT)


def subject_query(src: Facts, filters: list[Query], must_not: list[Query]) -> Query | None:
    """M12 (clinical-trial sources): EDC subject; study number + MRN-Investigation / + initials."""
    should: list[Query] = []
    if src.edc_subject:
        should.append(
            {"term": {"patient.edc_subject": {"value": src.edc_subject, "_name": "subject.edc"}}}
        )
    if src.study_number:
        study = {"term": {"study_number": src.study_number}}
        mrn = src.mrn.get("investigation")
        if mrn:
            should.append(
                {
                    "bool": {
                        "filter": [study, {"term": {"patient.mrn.investigation": mrn}}],
                        "_name": "subject.mrn",
                    }
                }
            )
        if src.initials:
            should.append(
                {
                    "bool": {
                        "filter": [study, {"term": {"patient.initials": src.initials}}],
                        "_name": "subject.initials",
                    }
                }
            )
    if not should:
        return None
    clause = {"bool": {"should": should, "minimum_should_match": 1}}
    return _search([*filters, clause], must_not, SUBJECT_LIMIT)


# -- field clauses ------------------------------------------------------------


def _term(field: str, value: str) -> Query:
    return {"term": {field: value}}


def _fuzzy(field: str, value: str) -> Query | None:
    edits = max_edits(len(value))
    if edits == 0:
        return None
    return {"fuzzy": {field: {"value": value, "fuzziness": edits, "transpositions": False}}}


def _name_variants(
    prefix: str, this: str | None, other: str | None, mine: str, theirs: str
) -> tuple[list[Query], list[Query]]:
    """Exact and partial clauses for one name row (mirrors ``compare_name_field``)."""
    exact: list[Query] = []
    partial: list[Query] = []
    if this:
        exact.append(_term(f"{prefix}.{mine}", this))
        for fld in (mine, theirs):
            if fld != mine:
                partial.append(_term(f"{prefix}.{fld}", this))
            fz = _fuzzy(f"{prefix}.{fld}", this)
            if fz:
                partial.append(fz)
    if other:
        partial.append(_term(f"{prefix}.{mine}", other))
        fz = _fuzzy(f"{prefix}.{mine}", other)
        if fz:
            partial.append(fz)
    tokens = sorted({t for part in (this, other) if part for t in part.split()})
    if len(tokens) > 1:
        partial.append({"bool": {"filter": [_term(f"{prefix}.name_tokens", t) for t in tokens]}})
    return exact, partial


def _dob_clauses(src: Facts) -> tuple[list[Query], list[Query]]:
    """Equal, or one date containing the other, on the stored ``YYYY[-MM[-DD]]`` value.

    A less precise candidate contains the source when its value is a prefix of
    the source's (``1980``, ``1980-06`` for ``1980-06-02``); a more precise one
    is contained when the source's value is a prefix of its own. Keyword terms
    and a prefix: no date-range scans.
    """
    if src.dob is None:
        return [], []
    value = str(src.dob)
    exact = [_term("patient.dob.value", value)]
    shorter = [value[:n] for n in (4, 7) if n < len(value)]
    partial: list[Query] = []
    if shorter:
        partial.append({"terms": {"patient.dob.value": shorter}})
    if len(value) < 10:
        partial.append({"prefix": {"patient.dob.value": f"{value}-"}})
    return exact, partial


def _nested(path: str, clauses: list[Query]) -> Query:
    """Any product / event of the candidate. The profile's depth is applied by the comparators
    (a record has more than 11 products or events only rarely, so the engine need not)."""
    return {"nested": {"path": path, "query": _any(clauses)}}


def _product_clauses(src: Facts, profile: Profile, key: str) -> tuple[list[Query], list[Query]]:
    products = [p for p in src.products if p.rank <= profile.depth]
    if key == "product.product":
        values = sorted({p.product for p in products if p.product})
        return (
            [_nested("products", [{"terms": {"products.product": values}}])] if values else []
        ), []
    if key == "product.study_product":
        values = sorted({p.study_product for p in products if p.study_product})
        if not values or src.blinded:  # M8
            return [], []
        clause = _nested("products", [{"terms": {"products.study_product": values}}])
        return [{"bool": {"filter": [clause, {"term": {"blinded": False}}]}}], []
    texts = sorted({p.product_reported for p in products if p.product_reported})
    if not texts:
        return [], []
    exact = [_nested("products", [{"terms": {"products.product_reported": texts}}])]
    words = sorted({w for t in texts for w in t.split() if len(w) >= 3 and w.isalpha()})
    partial = [_nested("products", [{"terms": {"products.product_text": words}}])] if words else []
    return exact, partial


def _event_clauses(src: Facts, profile: Profile, key: str) -> tuple[list[Query], list[Query]]:
    events = [e for e in src.events if e.rank <= profile.depth]
    if key == "event.meddra_pt":
        codes = sorted({e.meddra_pt_code for e in events if e.meddra_pt_code})
        return (
            [_nested("events", [{"terms": {"events.meddra_pt_code": codes}}])] if codes else []
        ), []
    clauses: list[Query] = []
    for e in events:
        if not e.event_reported:
            continue
        if e.meddra_pt_code is None:
            clauses.append(_term("events.event_reported", e.event_reported))
        else:  # N7: when both sides are coded the codes decide; an uncoded candidate keys on text
            clauses.append(_term("events.key", f"txt:{e.event_reported}"))
            clauses.append(
                {
                    "bool": {
                        "filter": [
                            _term("events.event_reported", e.event_reported),
                            _term("events.meddra_pt_code", e.meddra_pt_code),
                        ]
                    }
                }
            )
    return ([_nested("events", clauses)] if clauses else []), []


def field_clauses(src: Facts, profile: Profile, key: str) -> tuple[list[Query], list[Query]]:
    """The engine's exact and partial clauses for one ranked field (empty: nothing to compare)."""
    if key == "patient.initials":
        return ([_term("patient.initials", src.initials)] if src.initials else []), []
    if key == "patient.dob":
        return _dob_clauses(src)
    if key.startswith("patient.mrn_"):
        value = src.mrn.get(key.removeprefix("patient.mrn_"))
        return (
            [_term(f"patient.mrn.{key.removeprefix('patient.mrn_')}", value)] if value else []
        ), []
    if key == "patient.sex":
        return ([_term("patient.sex", src.sex)] if src.sex else []), []
    if key == "patient.first_name":
        return _name_variants("patient", src.first_name, src.last_name, "first_name", "last_name")
    if key == "patient.last_name":
        return _name_variants("patient", src.last_name, src.first_name, "last_name", "first_name")
    if key == "study.study_number":
        return ([_term("study_number", src.study_number)] if src.study_number else []), []
    if key == "reporter.first_name":
        return _name_variants(
            "reporter", src.reporter_first, src.reporter_last, "first_name", "last_name"
        )
    if key == "reporter.last_name":
        return _name_variants(
            "reporter", src.reporter_last, src.reporter_first, "last_name", "first_name"
        )
    if key == "reporter.qualification":
        return (
            [_term("reporter.qualification", src.qualification)] if src.qualification else []
        ), []
    if key.startswith("product."):
        return _product_clauses(src, profile, key)
    if key.startswith("event."):
        return _event_clauses(src, profile, key)
    raise ValueError(f"no query for field {key!r}")


def _flat_any(clauses: list[Query]) -> Query:
    """Any of several named field clauses, as one flat ``should`` without repeated variants.

    Name rows share variants (a first name searched in both name fields), so a
    tier's membership would otherwise ask the engine for the same fuzzy
    expansion several times.
    """
    seen: dict[str, Query] = {}
    for clause in clauses:
        for variant in clause["bool"]["should"]:
            seen.setdefault(json.dumps(variant, sort_keys=True), variant)
    return _any(list(seen.values()))


def _any(clauses: list[Query]) -> Query:
    return (
        clauses[0]
        if len(clauses) == 1
        else {"bool": {"should": clauses, "minimum_should_match": 1}}
    )


def named_clause(key: str, exact: list[Query], partial: list[Query]) -> Query:
    """One field's membership clause (exact or partial variants), named for ``matched_queries``."""
    return {"bool": {"should": [*exact, *partial], "minimum_should_match": 1, "_name": key}}


def possible_clauses(src: Facts, profile: Profile) -> dict[str, Query]:
    """One named clause per ranked field the source has a value for."""
    out: dict[str, Query] = {}
    for spec in FIELD_BY_KEY.values():
        exact, partial = field_clauses(src, profile, spec.key)
        if exact or partial:
            out[spec.key] = named_clause(spec.key, exact, partial)
    return out


def tier_query(
    clauses: dict[str, Query],
    profile: Profile,
    category: Category,
    *,
    filters: list[Query],
    must_not: list[Query],
    cutoff_iso: str,
    country: str | None,
    size: int,
    min_identifying: int = 1,
    exclude_higher: bool = True,
) -> Query | None:
    """Possible Matches whose highest matching category is ``category`` (M13-M14), M5 and M6 applied.

    ``min_identifying`` asks only for records with at least that many matching
    identifying values in this category or below (M14's count): the head of
    the tier. Pure filter context, no scoring: the engine only collects the
    records, Python orders them. ``exclude_higher=False`` keeps records that
    also match a higher category (a superset: cheaper, for union searches).
    """
    rank = profile.category_rank(category)

    def identifying(pred: Callable[[int], bool]) -> list[Query]:
        return [
            q
            for k, q in clauses.items()
            if FIELD_BY_KEY[k].identifying and pred(profile.category_rank(FIELD_BY_KEY[k].category))
        ]

    own = identifying(lambda r: r == rank)
    if not own:
        return None
    higher = identifying(lambda r: r < rank)
    counted = identifying(lambda r: r >= rank)
    tier_filters = [*filters, _flat_any(own)]
    tier_must_not = [*must_not, new_info_exclusion(cutoff_iso)]
    if higher and exclude_higher:
        tier_must_not.append(_flat_any(higher))
    if category != "patient":
        cf = country_filter(country)
        if cf is not None:
            tier_filters.append(cf)
    if min_identifying > 1:
        if len(counted) < min_identifying:
            return None
        tier_filters.append({"bool": {"should": counted, "minimum_should_match": min_identifying}})
    return _search(tier_filters, tier_must_not, size)


def distinguishing(body: Query, filters: list[Query], must_not: list[Query]) -> Query:
    """What sets one search apart from the scope: its own filters and exclusions, as one clause."""
    query = body["query"]["bool"]
    clause: Query = {"bool": {"filter": query["filter"][len(filters) :]}}
    extra = [c for c in query["must_not"] if c not in must_not]
    if extra:
        clause["bool"]["must_not"] = extra
    return clause


def union_query(
    parts: list[Query], filters: list[Query], must_not: list[Query], size: int
) -> Query:
    """Several searches as one: records matching any of ``parts`` (see :func:`distinguishing`).

    When the page is not full it holds every record each part would have
    returned, so one round trip and one search can stand for many.
    """
    clause = {"bool": {"should": parts, "minimum_should_match": 1}}
    return _search([*filters, clause], must_not, size)
