"""Query builders (pure: source facts in, OpenSearch request bodies out; golden-tested).

Three kinds of query, every one a lookup of scoped retrieval keys
(``indexer.documents.retrieval_keys``: ``{organization}|{ct|pm}|{what}:{value}``
on the ``keys`` field, present only on searchable documents), so the scope -
M1 organization, M3/M4 clinical-trial flag, M7 searchable - costs no filter
clause of its own; M9 (kinds) and "never the source itself" remain as cheap
clauses:

- :func:`id_query` - every identifier of the source against any identifier
  of the candidate (M10, cross-field: ``id:`` keys hold every identifier kind).
- :func:`subject_query` - clinical-trial sources only (M12).
- :func:`tier_query` - Possible Matches of one M14 category ("tier"): records
  with an identifying value of that category (higher tiers' records too),
  optionally only those with at least *k* matching identifying values (the
  head of the tier in M14 order).

M5 (country) and M6 (New Info Date) are not asked of the engine: a date range
or a country list matches a large share of the index, and an embedded engine
reads every document a clause matches. Tier pages are therefore supersets of
the eligible records; ``matcher.rank.possible_eligible`` applies both rules,
and the paging in ``matcher.detect`` counts only eligible records.

Everything is filter context: the engine collects candidates, it never scores
them (BM25 differs between engines anyway). Every compared field is one named
clause, so ``matched_queries`` says what hit. Python ranks with the comparators.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rapidfuzz.distance import Levenshtein

from indexer.documents import (
    KEY_PRODUCERS,
    NO_COUNTRY,
    country_prefix,
    dob_prefixes,
    fold_key,
    scope_prefix,
    study_pair,
)
from indexer.fields import FIELDS, KEY_VALUES, FieldSpec, product_words
from indexer.fields import KeyKind as K
from matcher.compare import max_edits
from matcher.facts import Facts
from matcher.model import Category
from matcher.profiles import FIELD_BY_KEY, Profile

Query = dict[str, Any]

#: At most this many ID / Subject matches are fetched.
ID_LIMIT = 100
SUBJECT_LIMIT = 100

#: The field holding every scoped retrieval key of a searchable record.
KEYS = "keys"

#: A tier page counts its tier's records up to this many (``hits.total``), so detection
#: can fetch the rest of a tier in one page instead of growing pages blindly. The embedded
#: engine reads every matching record anyway, so the count costs it nothing.
TIER_TOTAL_LIMIT = 10_000


def scope_filter(
    src: Facts,
    *,
    exclude_ids: list[str],
    match_inbox_items: bool,
    kinds_by_index: bool = False,
) -> tuple[list[Query], list[Query]]:
    """(filter, must_not) clauses every query carries besides its keys: M9, not the source.

    ``kinds_by_index``: the searched indices already hold only the kinds M9
    allows (Cases alone when Inbox Items are not matched), so no kind clause
    is needed - it would match most of the index.
    """
    filters: list[Query] = []
    if not match_inbox_items and not kinds_by_index:
        filters.append({"term": {"kind": "case"}})
    must_not: list[Query] = [{"terms": {"record_id": sorted(set(exclude_ids))}}]
    return filters, must_not


def _scope(src: Facts) -> str:
    return scope_prefix(src.organization, src.clinical_trial)


def _keys(src: Facts, kind: str, values: list[str] | set[str] | frozenset[str]) -> Query:
    """Records holding any of ``values`` as ``kind`` in the source's scope."""
    scope = _scope(src)
    return {"terms": {KEYS: sorted(f"{scope}{kind}:{v}" for v in values)}}


def _key(src: Facts, kind: str, value: str) -> Query:
    return {"term": {KEYS: f"{_scope(src)}{kind}:{value}"}}


def in_countries(clause: Query, scope: str, countries: list[str]) -> Query:
    """``clause`` asked of the country-scoped keys of ``countries`` instead (M5, pure).

    Every key lookup ``{scope}{kind}:{value}`` becomes a lookup of
    ``{scope}@{country}|{kind}:{value}`` for each country; fuzzy lookups keep
    their edit distance on the value alone.
    """
    prefixes = [country_prefix(scope, c) for c in countries]
    return _rekeyed(clause, lambda key: [p + key.removeprefix(scope) for p in prefixes])


def with_study(clause: Query, scope: str, study: str) -> Query:
    """``clause`` asked of its keys paired with the folded ``study`` number instead (pure).

    Every key lookup ``{scope}{kind}:{value}`` becomes a lookup of
    ``{scope}s.{kind}:{study}|{value}`` (``indexer.documents.study_pair``): the records
    of that study holding the value. Fuzzy lookups keep their edit distance on the value.
    """
    return _rekeyed(clause, lambda key: [scope + study_pair(key.removeprefix(scope), study)])


def _rekeyed(clause: Query, keys: Callable[[str], list[str]]) -> Query:
    """``clause`` with every key lookup asked of ``keys(key)`` instead (any of them; pure).

    The new keys only insert text before the value, so a fuzzy lookup keeps its edit
    distance on the value: its prefix grows by what was inserted.
    """

    def leaf(node: Query) -> Query | None:
        if KEYS in node.get("term", ()):
            found = keys(node["term"][KEYS])
            return {"term": {KEYS: found[0]}} if len(found) == 1 else {"terms": {KEYS: found}}
        if KEYS in node.get("terms", ()):
            values = sorted(k for v in node["terms"][KEYS] for k in keys(v))
            return {"terms": {**node["terms"], KEYS: values}}
        spec = _fuzzy_spec(node)
        if spec is None:
            return None
        old = spec["value"]
        return _any(
            [
                {
                    "fuzzy": {
                        KEYS: {
                            **spec,
                            "value": key,
                            "prefix_length": spec["prefix_length"] + len(key) - len(old),
                        }
                    }
                }
                for key in keys(old)
            ]
        )

    out: Query = _rewrite(clause, leaf)
    return out


def _rewrite(node: Any, leaf: Callable[[Query], Query | None]) -> Any:
    """``node`` with every clause ``leaf`` answers for replaced by that answer (pure)."""
    if isinstance(node, list):
        return [_rewrite(item, leaf) for item in node]
    if not isinstance(node, dict):
        return node
    replaced = leaf(node)
    if replaced is not None:
        return replaced
    return {k: _rewrite(v, leaf) for k, v in node.items()}


def _fuzzy_spec(node: Query) -> Query | None:
    """The spec of a fuzzy lookup of retrieval keys, if ``node`` is one."""
    spec = node["fuzzy"].get(KEYS) if isinstance(node.get("fuzzy"), dict) else None
    return spec if isinstance(spec, dict) else None


def _search(
    filters: list[Query],
    must_not: list[Query],
    size: int,
    *,
    extra: Query | None = None,
    total: int | bool = False,
) -> Query:
    body: Query = {
        "query": {"bool": {"filter": filters, "must_not": must_not, **(extra or {})}},
        "size": size,
        "track_total_hits": total,
        "sort": _SORT,
    }
    return body


#: A stable order for pages (Python ranks; the engine only collects): undated, then newest
#: first, so a page that reaches a record M6 excludes holds every eligible one.
_SORT: list[Query] = [
    {"new_info_date": {"order": "desc", "missing": "_first"}},
    {"record_id": {"order": "asc"}},
    {"kind": {"order": "asc"}},  # a Case and an Inbox Item never tie: search_after is exact
]


def id_query(
    src: Facts, filters: list[Query], must_not: list[Query], profile: Profile | None = None
) -> Query | None:
    """M10: any identifier of the source in any identifier field of the candidate (none
    when ``profile`` does not compare identifiers)."""
    if not src.ids_all or (profile is not None and not profile.ids):
        return None
    clause = {**_keys(src, K.IDENTIFIER, src.ids_all)}
    clause["terms"] = {**clause["terms"], "_name": "ids"}
    return _search([*filters, clause], must_not, ID_LIMIT)


def subject_query(
    src: Facts, filters: list[Query], must_not: list[Query], profile: Profile | None = None
) -> Query | None:
    """M12 (clinical-trial sources): EDC subject; study number + MRN-Investigation / + initials,
    each only when ``profile`` compares its fields (``matcher.evaluate.subject_tier``)."""

    def compares(*keys: str) -> bool:
        return profile is None or all(profile.compares(key) for key in keys)

    should: list[Query] = []
    if src.edc_subject and compares("patient.edc_subject"):
        should.append(
            {
                "bool": {
                    "filter": [_key(src, K.EDC_SUBJECT, src.edc_subject)],
                    "_name": "subject.edc",
                }
            }
        )
    if src.study_number and compares("study.study_number"):
        study = fold_key(src.study_number)
        mrn = src.mrn.get("investigation")
        if mrn and compares("patient.mrn_investigation"):
            should.append(
                {
                    "bool": {
                        "filter": [_key(src, K.STUDY_MRN_INVESTIGATION, f"{study}|{mrn}")],
                        "_name": "subject.mrn",
                    }
                }
            )
        if src.initials and compares("patient.initials"):
            should.append(
                {
                    "bool": {
                        "filter": [_key(src, K.STUDY_INITIALS, f"{study}|{src.initials}")],
                        "_name": "subject.initials",
                    }
                }
            )
    if not should:
        return None
    clause = {"bool": {"should": should, "minimum_should_match": 1}}
    return _search([*filters, clause], must_not, SUBJECT_LIMIT)


# -- field clauses ------------------------------------------------------------

#: Key kinds of the name fields (``indexer.documents.retrieval_keys``).
_NAME_KINDS: dict[tuple[str, str], str] = {
    **{(f.group, f.key.split(".")[1]): f.keys[0] for f in FIELDS if f.comparator == "name"},
    **{(f.group, "name_tokens"): f.keys[1] for f in FIELDS if f.comparator == "name"},
}


def _fuzzy(src: Facts, kind: str, value: str) -> Query | None:
    """Keys within the comparator's edit distance of ``value``; the scoped prefix is fixed."""
    edits = max_edits(len(value))
    if edits == 0:
        return None
    prefix = f"{_scope(src)}{kind}:"
    return {
        "fuzzy": {
            KEYS: {
                "value": prefix + value,
                "fuzziness": edits,
                "prefix_length": len(prefix),
                "transpositions": False,
            }
        }
    }


def _name_variants(
    src: Facts, who: str, this: str | None, other: str | None, mine: str, theirs: str
) -> tuple[list[Query], list[Query]]:
    """Exact and partial clauses for one name row (mirrors ``compare_name_field``)."""
    exact: list[Query] = []
    partial: list[Query] = []
    own, swapped = _NAME_KINDS[(who, mine)], _NAME_KINDS[(who, theirs)]
    if this:
        exact.append(_key(src, own, this))
        for kind in (own, swapped):
            if kind != own:
                partial.append(_key(src, kind, this))
            fz = _fuzzy(src, kind, this)
            if fz:
                partial.append(fz)
    if other:
        partial.append(_key(src, own, other))
        fz = _fuzzy(src, own, other)
        if fz:
            partial.append(fz)
    tokens = sorted({t for part in (this, other) if part for t in part.split()})
    if len(tokens) > 1:
        kind = _NAME_KINDS[(who, "name_tokens")]
        partial.append({"bool": {"filter": [_key(src, kind, t) for t in tokens]}})
    return exact, partial


def _dob_clauses(src: Facts) -> tuple[list[Query], list[Query]]:
    """Equal, or one date containing the other, on the stored ``YYYY[-MM[-DD]]`` value.

    A less precise candidate contains the source when its value is a prefix of
    the source's (``1980``, ``1980-06`` for ``1980-06-02``): ``pdob:`` keys; a
    more precise one is contained when the source's value is a prefix of its
    own: the candidate's ``pdobc:`` keys. Keys only: no date-range scans.
    """
    if src.dob is None:
        return [], []
    value = str(src.dob)
    exact = [_key(src, K.PATIENT_DOB, value)]
    shorter = dob_prefixes(value)
    partial: list[Query] = []
    if shorter:
        partial.append(_keys(src, K.PATIENT_DOB, shorter))
    if len(value) < 10:
        partial.append(_key(src, K.PATIENT_DOB_WITHIN, value))
    return exact, partial


def _product_clauses(src: Facts, profile: Profile, key: str) -> tuple[list[Query], list[Query]]:
    """Any product of the candidate (its depth is applied by the comparators)."""
    products = [p for p in src.products if p.rank <= profile.depth]
    if key == "product.product":
        values = {p.product for p in products if p.product}
        return ([_keys(src, K.PRODUCT, values)] if values else []), []
    if key == "product.study_product":
        values = {p.study_product for p in products if p.study_product}
        if not values or src.blinded:  # M8 (a blinded candidate has no ``sprod:`` keys)
            return [], []
        return [_keys(src, K.STUDY_PRODUCT, values)], []
    texts = {p.product_reported for p in products if p.product_reported}
    if not texts:
        return [], []
    exact = [_keys(src, K.PRODUCT_REPORTED, texts)]
    words = {w for t in texts for w in product_words(t)}
    partial = [_keys(src, K.PRODUCT_WORD, words)] if words else []
    return exact, partial


def _event_clauses(src: Facts, profile: Profile, key: str) -> tuple[list[Query], list[Query]]:
    events = [e for e in src.events if e.rank <= profile.depth]
    if key == "event.meddra_pt":
        codes = {e.meddra_pt_code for e in events if e.meddra_pt_code}
        return ([_keys(src, K.MEDDRA_PT, codes)] if codes else []), []
    reported: set[str] = set()
    uncoded: set[str] = set()
    coded: set[str] = set()
    for e in events:
        if not e.event_reported:
            continue
        if e.meddra_pt_code is None:
            reported.add(e.event_reported)
        else:  # N7: when both sides are coded the codes decide; an uncoded candidate keys on text
            uncoded.add(f"txt:{e.event_reported}")
            coded.add(f"{e.event_reported}|{e.meddra_pt_code}")
    clauses = [
        _keys(src, kind, values)
        for kind, values in (
            (K.EVENT_REPORTED, reported),
            (K.EVENT_KEY, uncoded),
            (K.EVENT_REPORTED_CODED, coded),
        )
        if values
    ]
    return ([_any(clauses)] if clauses else []), []


def field_clauses(src: Facts, profile: Profile, key: str) -> tuple[list[Query], list[Query]]:
    """The engine's exact and partial clauses for one ranked field (empty: nothing to compare).

    The clause shapes follow the field's registry declaration: its comparator (names ask
    for their variants, dates of birth for the dates they may lie within, exact fields for
    their first key kind's values, made as the index makes them) and, for products and
    events, its group. Only identifying fields retrieve (M13); the others (sex,
    qualification) have no keys.
    """
    spec = FIELD_BY_KEY[key]
    if not spec.identifying:
        return [], []
    if spec.normalizer is not None:  # a generic field: its exact value, by its first key kind
        value = src.extra.get(key)
        if not (isinstance(value, str) and value and spec.keys):
            return [], []
        return [_key(src, spec.keys[0], value)], []
    if spec.group == "product":
        return _product_clauses(src, profile, key)
    if spec.group == "event":
        return _event_clauses(src, profile, key)
    if spec.comparator == "name":
        partner = _NAME_PARTNER[key]
        return _name_variants(
            src,
            spec.group,
            getattr(src, spec.fact),
            getattr(src, partner.fact),
            _field_name(spec),
            _field_name(partner),
        )
    if spec.comparator == "dob":
        return _dob_clauses(src)
    if spec.comparator == "exact" and spec.keys:
        kind = spec.keys[0]
        produce = KEY_PRODUCERS[KEY_VALUES[kind].produce]
        return [_key(src, kind, v) for v in produce(getattr(src, spec.fact), None) if v], []
    raise ValueError(f"no query for field {key!r}")


def _field_name(spec: FieldSpec) -> str:
    return spec.key.split(".", 1)[1]


#: Each name field's partner: the other name field of its group (first <-> last, N3).
_NAME_PARTNER: dict[str, FieldSpec] = {
    f.key: partner
    for f in FIELDS
    if f.comparator == "name"
    for partner in FIELDS
    if partner.comparator == "name" and partner.group == f.group and partner.key != f.key
}


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
    """One named clause per ranked field of the profile the source has a value for."""
    out: dict[str, Query] = {}
    for spec in FIELD_BY_KEY.values():
        if not profile.compares(spec.key):
            continue
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
    size: int,
    scope: str,
    country: str | None,
    min_identifying: int = 1,
    study: str | None = None,
) -> Query | None:
    """Records with a matching identifying value of ``category``: its tier of Possible
    Matches (M13-M14), whose highest matching category is ``category``, and records of
    higher tiers that match it too.

    Higher tiers are not excluded here: their keys would be read a second time (reporter
    names and study numbers match many records), and Python gives every record its own
    tier (``Evaluation.top_category``) whichever page brought it. A page is then a
    superset of its tier, which the paging in ``matcher.detect`` allows: a page that is
    not full holds every record of the tier it asks for.

    M5 is asked of the country-scoped keys of the tier's own values (``scope``
    is the source's key scope, ``country`` its primary reporter country); M6
    is applied in Python on the page, which holds a superset of the eligible
    records.

    ``min_identifying`` asks only for records with at least that many matching
    identifying values in this category or below (M14's count): the head of
    the tier. The head of the Study tier asks the lower values paired with the
    source's folded ``study`` number instead (``indexer.documents.study_pair``): the
    study number alone matches every record of the study. Pure filter context, no
    scoring: the engine only collects the
    records, Python orders them. The page counts the records it stands for (up to
    :data:`TIER_TOTAL_LIMIT`), so the rest of a full page can be fetched in one more page.
    """
    rank = profile.category_rank(category)
    # M5: below the Patient tier every record shares the source's reporter country or has
    # none, so each clause asks the country-scoped keys: far fewer records.
    local = category != "patient" and country is not None

    def identifying(pred: Callable[[int], bool], paired: str | None = None) -> list[Query]:
        out: list[Query] = []
        for k, q in clauses.items():
            spec = FIELD_BY_KEY[k]
            if not spec.identifying or not pred(profile.category_rank(spec.category)):
                continue
            if paired is not None:
                q = with_study(q, scope, paired)
            if local:
                assert country is not None
                q = in_countries(q, scope, [NO_COUNTRY, country])
            out.append(q)
        return out

    own = identifying(lambda r: r == rank)
    if not own:
        return None
    counted = identifying(lambda r: r >= rank)
    if len(counted) < min_identifying:
        return None
    if category == "study" and study is not None and min_identifying > 1 and len(own) == 1:
        # The study number and min_identifying - 1 lower values: the lower values' keys
        # paired with the study number say both, and match only records of the study.
        lower = identifying(lambda r: r > rank, paired=study)
        need = min_identifying - 1
        return _search([*filters, _at_least(lower, need)], must_not, size, total=TIER_TOTAL_LIMIT)
    tier_filters = [*filters]
    if min_identifying == 1 or min_identifying <= len(counted) - len(own):
        # Else the count alone implies a value of this category: its keys are read once.
        tier_filters.append(_flat_any(own))
    if min_identifying > 1:
        tier_filters.append(_at_least(counted, min_identifying))
    return _search(tier_filters, must_not, size, total=TIER_TOTAL_LIMIT)


def _at_least(clauses: list[Query], count: int) -> Query:
    """Records matching at least ``count`` of the field clauses (one named clause per field)."""
    return {"bool": {"should": clauses, "minimum_should_match": count}}


# -- fuzzy lookups through the name vocabulary --------------------------------------


def fuzzy_lookups(body: Query) -> list[Query]:
    """Every fuzzy lookup of retrieval keys in a request body (the ``fuzzy.keys`` specs)."""
    found: list[Query] = []

    def leaf(node: Query) -> Query | None:
        spec = _fuzzy_spec(node)
        if spec is not None:
            found.append(spec)
        return None if spec is None else node

    _rewrite(body, leaf)
    return found


def lookup_id(spec: Query) -> str:
    """A fuzzy lookup's identity, to expand each one once per detection."""
    return json.dumps(spec, sort_keys=True)


def vocabulary_query(specs: list[Query], field: str, size: int) -> Query:
    """The name-vocabulary search for the keys near any of ``specs`` (``indexer.names``)."""
    should = [{"fuzzy": {field: spec}} for spec in specs]
    return {
        "query": {"bool": {"should": should, "minimum_should_match": 1}},
        "size": size,
        "track_total_hits": False,
        "_source": False,
        "sort": [{field: "asc"}],
    }


def expansions(specs: list[Query], keys: list[str]) -> dict[str, list[str]]:
    """Which of ``keys`` each fuzzy lookup matches, by the engine's rule (pure).

    A key matches when it shares the lookup's first ``prefix_length``
    characters and lies within ``fuzziness`` edits (Levenshtein; lookups here
    never count transpositions). Unlike the engine, no expansion limit: a
    superset is always safe, since the comparators decide.
    """
    out: dict[str, list[str]] = {}
    for spec in specs:
        value, limit, fixed = spec["value"], int(spec["fuzziness"]), int(spec["prefix_length"])
        head = value[:fixed]
        out[lookup_id(spec)] = [
            key
            for key in keys
            if key.startswith(head)
            and abs(len(key) - len(value)) <= limit
            and Levenshtein.distance(key, value, score_cutoff=limit) <= limit
        ]
    return out


def expand_fuzzy(body: Query, expanded: dict[str, list[str] | None]) -> Query:
    """``body`` with every expanded fuzzy lookup replaced by a lookup of its keys (pure)."""

    def leaf(node: Query) -> Query | None:
        spec = _fuzzy_spec(node)
        if spec is None:
            return None
        keys = expanded.get(lookup_id(spec))
        return node if keys is None else {"terms": {KEYS: keys}}

    out: Query = _rewrite(body, leaf)
    return out
