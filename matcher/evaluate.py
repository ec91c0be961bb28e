"""Comparing one candidate with the source: field results, category, counts and tags.

:func:`evaluate` is the hot path (it runs for every retrieved candidate), so it
computes only what ranking needs: one result per ranked field, the identifier
matches and the M12 subject tier. What ranking then asks of an
:class:`Evaluation` (the M14 count and score, the categories with a matching
identifying value) is summed once, when the Evaluation is made. The source's
side of the product and event comparisons is derived once per source and
profile (:class:`PreparedSource`), not once per candidate. The comparison table
is built later, only for the matches that are returned (``matcher.table``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from indexer.dates import PartialDate
from indexer.fields import FieldSpec, product_words
from matcher.bind import compare_field
from matcher.compare import (
    EXACT,
    NONE,
    PARTIAL,
    compare_dob,
    compare_exact,
    compare_name_rows,
    compare_onset,
    compare_product_reported,
)
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import CATEGORIES, Badge, Category, Result, Tag
from matcher.profiles import FIELD_BY_KEY, MRN_KINDS, RANKED_FIELDS, Profile

#: Score of one field result for the tie-break after the count (M14 "score").
RESULT_SCORE: dict[Result, int] = {"exact": 2, "partial": 1, "none": 0}

_CATEGORY_BIT: dict[Category, int] = {c: 1 << i for i, c in enumerate(CATEGORIES)}
#: Per ranked field, its category's bit if the field identifies (else 0).
_IDENTIFYING_BIT: dict[str, int] = {
    f.key: _CATEGORY_BIT[f.category] if f.identifying else 0 for f in RANKED_FIELDS
}
#: Every set of categories, by its bits (so an Evaluation makes no new set).
_CATEGORY_SETS: tuple[frozenset[Category], ...] = tuple(
    frozenset(c for c in CATEGORIES if bits & _CATEGORY_BIT[c])
    for bits in range(1 << len(CATEGORIES))
)


#: Ranked field keys, in the order of an Evaluation's ``values``.
_KEYS: tuple[str, ...] = tuple(f.key for f in RANKED_FIELDS)
_IDENTIFYING_BITS: tuple[int, ...] = tuple(_IDENTIFYING_BIT[key] for key in _KEYS)
#: Each ranked field's position in an Evaluation's ``values``.
RESULT_AT: dict[str, int] = {key: i for i, key in enumerate(_KEYS)}
#: (count, score, categories) per tuple of results, computed once each: candidates
#: share few distinct combinations, and summing 18 results costs more than a lookup.
_SUMS: dict[tuple[Result, ...], tuple[int, int, frozenset[Category]]] = {}
_SUMS_MAX = 1 << 14


def _sums(values: tuple[Result, ...]) -> tuple[int, int, frozenset[Category]]:
    """M14's count and score, and the categories with a matching identifying value."""
    found = _SUMS.get(values)
    if found is not None:
        return found
    if len(values) != len(_KEYS):
        raise ValueError(f"expected {len(_KEYS)} results (one per ranked field)")
    count = score = bits = 0
    for bit, result in zip(_IDENTIFYING_BITS, values, strict=True):
        if result != NONE:
            score += RESULT_SCORE[result]
            if bit:
                count += 1
                bits |= bit
    sums = count, score, _CATEGORY_SETS[bits]
    if len(_SUMS) >= _SUMS_MAX:
        _SUMS.clear()
    _SUMS[values] = sums
    return sums


@dataclass(slots=True)
class Evaluation:
    """What one candidate shares with the source.

    ``values`` holds one result per ranked field in ``RANKED_FIELDS`` order
    (``results`` maps them by key): a tuple, as detection makes one per
    candidate and reads them by key only for the listed ones. ``count``,
    ``score`` and the identifying categories are derived from them when the
    Evaluation is made (ranking reads them many times).
    """

    facts: Facts
    values: tuple[Result, ...]
    id_matches: tuple[tuple[str, str, str], ...] = ()
    subject_tier: int | None = None
    country: Result = NONE
    src_country: str | None = None
    tag: Tag | None = None
    #: Matching identifying field values (M14's "number of matching field values").
    count: int = field(init=False, default=0)
    #: 2 per exact and 1 per partial result over every compared field (M14's tie-break).
    score: int = field(init=False, default=0)
    _identifying: frozenset[Category] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        self.count, self.score, self._identifying = _sums(self.values)

    @classmethod
    def of(cls, facts: Facts, results: Mapping[str, Result]) -> Evaluation:
        """An Evaluation from each ranked field's result by key."""
        return cls(facts, tuple(results[key] for key in _KEYS))

    @property
    def results(self) -> dict[str, Result]:
        """Each ranked field's result by key (``patient.initials``, ...)."""
        return dict(zip(_KEYS, self.values, strict=True))

    @property
    def wwuid_match(self) -> bool:
        return any(s == "wwuid" and c == "wwuid" for s, c, _ in self.id_matches)

    @property
    def badge(self) -> Badge | None:
        if not self.id_matches:
            return None
        return "WWUID" if self.wwuid_match else "ID"

    def matching(self) -> list[str]:
        return [k for k, r in zip(_KEYS, self.values, strict=True) if r != NONE]

    def categories(self) -> set[Category]:
        return {FIELD_BY_KEY[k].category for k in self.matching()}

    def identifying_categories(self) -> frozenset[Category]:
        """Categories with a matching identifying value (M13, M14)."""
        return self._identifying

    def top_category(self, profile: Profile) -> Category | None:
        for category in profile.category_order:
            if category in self._identifying:
                return category
        return None

    @property
    def patient_match(self) -> bool:
        """M5: an identifying patient field matches (exactly or partially)."""
        return "patient" in self._identifying


P = TypeVar("P", ProductFacts, EventFacts)


def _upto(items: tuple[P, ...], depth: int) -> Sequence[P]:
    """Products or events compared under a profile: rank 1 (primary) up to ``depth``."""
    if not items or (items[-1].rank <= depth and items[0].rank <= depth):
        return items  # documents list them by rank
    return [x for x in items if x.rank <= depth]


@dataclass(frozen=True, slots=True)
class PreparedSource:
    """The source's side of every comparison, derived once per source and profile depth.

    Products and events are compared as sets: a candidate value equal to *any*
    compared source value is an exact match, which is what comparing every
    (source, candidate) pair gives, without the pairs.
    """

    facts: Facts
    depth: int
    ids: dict[str, frozenset[str]]
    ids_all: frozenset[str]
    #: Whether the source has a patient / reporter name (else no name row can match).
    patient_names: bool
    reporter_names: bool
    #: (text, words) of every compared Product (Reported) text, for the token-similar test.
    reported_words: tuple[tuple[str, frozenset[str]], ...]
    product_ids: frozenset[str]
    reported: frozenset[str]
    study_products: frozenset[str]
    pt_codes: frozenset[str]
    #: Event countries and onset dates of the compared events (M24's event fields).
    event_countries: frozenset[str]
    onsets: tuple[PartialDate, ...]
    #: Verbatim texts of every compared event / of the uncoded ones (N7).
    event_texts: frozenset[str]
    uncoded_texts: frozenset[str]
    #: (PT code, verbatim text) of the coded events: coded on both sides -> same code first.
    coded_texts: frozenset[tuple[str, str]]
    #: Candidate Product (Reported) texts found token-similar (or not) to a compared source text.
    similar_texts: dict[str, bool] = field(default_factory=dict, compare=False)


def prepare_source(src: Facts, depth: int) -> PreparedSource:
    """The source-side sets :func:`evaluate` compares candidates with.

    Cached for the last source of each thread: one detection evaluates all its
    candidates against one source, and concurrent detections do not evict each other.
    """
    last: PreparedSource | None = getattr(_last, "prepared", None)
    if last is not None and last.facts is src and last.depth == depth:
        return last
    products = _upto(src.products, depth)
    events = _upto(src.events, depth)
    prepared = PreparedSource(
        facts=src,
        depth=depth,
        ids=src.ids,
        ids_all=src.ids_all,
        patient_names=src.first_name is not None or src.last_name is not None,
        reporter_names=src.reporter_first is not None or src.reporter_last is not None,
        reported_words=tuple(
            (p.product_reported, product_words(p.product_reported))
            for p in products
            if p.product_reported
        ),
        product_ids=frozenset(p.product for p in products if p.product),
        reported=frozenset(p.product_reported for p in products if p.product_reported),
        study_products=frozenset(p.study_product for p in products if p.study_product),
        pt_codes=frozenset(e.meddra_pt_code for e in events if e.meddra_pt_code is not None),
        event_countries=frozenset(e.country for e in events if e.country),
        onsets=tuple(e.onset for e in events if e.onset is not None),
        event_texts=frozenset(e.event_reported for e in events if e.event_reported),
        uncoded_texts=frozenset(
            e.event_reported for e in events if e.event_reported and e.meddra_pt_code is None
        ),
        coded_texts=frozenset(
            (e.meddra_pt_code, e.event_reported)
            for e in events
            if e.event_reported and e.meddra_pt_code is not None
        ),
    )
    _last.prepared = prepared
    return prepared


_last = threading.local()


def evaluate(src: Facts, cand: Facts, profile: Profile) -> Evaluation:
    """Compare one candidate with the source under ``profile`` (pure).

    The hot path of detection: M16's exact comparisons are written out
    (``a and a == b``: no value never matches, not even another no value).
    """
    prep = prepare_source(src, profile.depth)
    if prep.patient_names and (cand.first_name is not None or cand.last_name is not None):
        patient_first, patient_last = compare_name_rows(
            (src.first_name, src.last_name),
            (cand.first_name, cand.last_name),
            src.patient_name is not None and src.patient_name == cand.patient_name,
        )
    else:
        patient_first = patient_last = NONE
    if prep.reporter_names and (cand.reporter_first is not None or cand.reporter_last is not None):
        reporter_first, reporter_last = compare_name_rows(
            (src.reporter_first, src.reporter_last),
            (cand.reporter_first, cand.reporter_last),
            src.reporter_name is not None and src.reporter_name == cand.reporter_name,
        )
    else:
        reporter_first = reporter_last = NONE
    value = src.initials
    initials = EXACT if value and value == cand.initials else NONE
    value = src.mrn_investigation
    mrn_investigation = EXACT if value and value == cand.mrn_investigation else NONE
    value = src.study_number
    study_number = EXACT if value and value == cand.study_number else NONE
    value = src.mrn_gp
    mrn_gp = EXACT if value and value == cand.mrn_gp else NONE
    value = src.mrn_specialist
    mrn_specialist = EXACT if value and value == cand.mrn_specialist else NONE
    value = src.mrn_hospital
    mrn_hospital = EXACT if value and value == cand.mrn_hospital else NONE
    value = src.sex
    sex = EXACT if value and value == cand.sex else NONE
    value = src.qualification
    qualification = EXACT if value and value == cand.qualification else NONE
    reported, product, study_product = _compare_products(prep, cand, profile.depth)
    verbatim, meddra = _compare_events(prep, cand, profile.depth)
    values: tuple[Result, ...] = (  # _HAND_KEYS order
        initials,
        patient_first,
        patient_last,
        sex,
        compare_dob(src.dob, cand.dob),
        mrn_gp,
        mrn_specialist,
        mrn_hospital,
        mrn_investigation,
        study_number,
        reporter_first,
        reporter_last,
        qualification,
        reported,
        product,
        study_product,
        verbatim,
        meddra,
    )
    if _PLAN is not None:  # the registry declares fields this code has no lines for
        values = _merged(values, src, cand, profile)
    elif profile.skipped:  # fields the profile does not compare (``FieldSpec.profiles``)
        values = _skipped(values, profile.skipped)
    value = src.country
    ev = Evaluation(  # by position: facts, values, id_matches, subject_tier, country, src_country
        cand,
        values,
        _id_matches(prep, cand) if profile.ids else (),
        subject_tier(src, cand, values, edc=profile.edc) if src.clinical_trial else None,
        EXACT if value and value == cand.country else NONE,
        value,
    )
    if profile.tags:
        ev.tag = tag_for(src, cand, ev, profile)
    return ev


#: The ranked fields :func:`evaluate` compares by hand, in the order it lists their results.
_HAND_KEYS: tuple[str, ...] = (
    "patient.initials",
    "patient.first_name",
    "patient.last_name",
    "patient.sex",
    "patient.dob",
    "patient.mrn_gp",
    "patient.mrn_specialist",
    "patient.mrn_hospital",
    "patient.mrn_investigation",
    "study.study_number",
    "reporter.first_name",
    "reporter.last_name",
    "reporter.qualification",
    "product.product_reported",
    "product.product",
    "product.study_product",
    "event.event_reported",
    "event.meddra_pt",
)


def _plan() -> tuple[tuple[int, FieldSpec], ...] | None:
    """How to lay out the registry's ranked fields from the hand-written results: per field,
    its position among them (or -1: compared by its declaration, ``matcher.bind``). ``None``
    when the hand-written results already are the registry's, in its order (the fast path)."""
    if [f.key for f in RANKED_FIELDS] == list(_HAND_KEYS):
        return None
    return tuple((_HAND_KEYS.index(f.key) if f.key in _HAND_KEYS else -1, f) for f in RANKED_FIELDS)


_PLAN = _plan()


def _merged(
    hand: tuple[Result, ...], src: Facts, cand: Facts, profile: Profile
) -> tuple[Result, ...]:
    """The registry's ranked results: hand-written ones where there are, declared ones else."""
    assert _PLAN is not None
    return tuple(
        NONE
        if spec.key not in profile.fields
        else hand[at]
        if at >= 0
        else compare_field(spec, src, cand, profile.depth)
        for at, spec in _PLAN
    )


def _skipped(values: tuple[Result, ...], skipped: tuple[int, ...]) -> tuple[Result, ...]:
    """``values`` with no result (``none``) at the ``skipped`` positions."""
    out = list(values)
    for at in skipped:
        out[at] = NONE
    return tuple(out)


def _compare_products(
    prep: PreparedSource, cand: Facts, depth: int
) -> tuple[Result, Result, Result]:
    """Product (Reported), Product and Study Product: the best over every compared pair."""
    products = _upto(cand.products, depth)
    product = reported = study_product = NONE
    for cp in products:
        if cp.product and cp.product in prep.product_ids:
            product = EXACT
        if cp.product_reported and cp.product_reported in prep.reported:
            reported = EXACT
        if cp.study_product and cp.study_product in prep.study_products:
            study_product = EXACT
    if reported is NONE and prep.reported:  # no equal text: is any pair token-similar (M17)?
        reported = _similar_reported(prep, products)
    if prep.facts.blinded or cand.blinded:  # M8: study products of blinded cases
        study_product = NONE
    return reported, product, study_product


def _similar_reported(prep: PreparedSource, cand: Sequence[ProductFacts]) -> Result:
    """Partial when any pair of texts is token-similar (remembered per candidate text)."""
    known = prep.similar_texts
    for cp in cand:
        text = cp.product_reported
        if not text:
            continue
        similar = known.get(text)
        if similar is None:
            similar = known[text] = _similar_to_source(prep, text)
        if similar:
            return PARTIAL
    return NONE


def _similar_to_source(prep: PreparedSource, text: str) -> bool:
    """Whether a compared source text is token-similar (only texts sharing a word can be)."""
    tokens = text.split()
    for source_text, words in prep.reported_words:
        if not words.isdisjoint(tokens) and compare_product_reported(source_text, text) != NONE:
            return True
    return False


def _compare_events(prep: PreparedSource, cand: Facts, depth: int) -> tuple[Result, Result]:
    """Verbatim text and MedDRA PT; N7: texts are compared unless both events are coded
    differently."""
    verbatim = meddra = NONE
    for ce in _upto(cand.events, depth):
        code, text = ce.meddra_pt_code, ce.event_reported
        if code is not None and code in prep.pt_codes:
            meddra = EXACT
        if text and verbatim is NONE:
            if code is None:
                same_text = text in prep.event_texts
            else:
                same_text = text in prep.uncoded_texts or (code, text) in prep.coded_texts
            if same_text:
                verbatim = EXACT
    return verbatim, meddra


def _id_matches(prep: PreparedSource, cand: Facts) -> tuple[tuple[str, str, str], ...]:
    """M10: every (source kind, candidate kind, value) whose identifiers are equal, cross-field."""
    if prep.ids_all.isdisjoint(cand.id_values):
        return ()
    out: list[tuple[str, str, str]] = []
    for s_kind, s_values in prep.ids.items():
        for c_kind, c_values in cand.ids.items():
            for value in sorted(s_values & c_values):
                out.append((s_kind, c_kind, value))
    return tuple(out)


#: Positions in an Evaluation's ``values`` (``RANKED_FIELDS`` order).
_INITIALS = RESULT_AT["patient.initials"]
_MRN_INVESTIGATION = RESULT_AT["patient.mrn_investigation"]
_STUDY_NUMBER = RESULT_AT["study.study_number"]


def subject_tier(
    src: Facts, cand: Facts, values: tuple[Result, ...], *, edc: bool = True
) -> int | None:
    """M12: 1 EDC subject equal; 2 study number + MRN-Investigation; 3 study number + initials.

    ``values``: the candidate's results in ``RANKED_FIELDS`` order (``Evaluation.values``);
    ``edc``: whether the profile compares EDC subjects (``Profile.edc``).
    """
    if not src.clinical_trial:
        return None
    if edc and src.edc_subject and src.edc_subject == cand.edc_subject:
        return 1
    if values[_STUDY_NUMBER] == EXACT:
        if values[_MRN_INVESTIGATION] == EXACT:
            return 2
        if values[_INITIALS] == EXACT:
            return 3
    return None


def _primary_event_fields(src: Facts, cand: Facts) -> int:
    if not src.events or not cand.events:
        return 0
    se, ce = src.events[0], cand.events[0]
    return sum(
        r != NONE
        for r in (
            compare_exact(se.event_reported, ce.event_reported),
            compare_exact(se.meddra_pt_code, ce.meddra_pt_code),
            compare_exact(se.country, ce.country),
            compare_onset(se.onset, ce.onset),
        )
    )


def event_kinds_match(prep: PreparedSource, cand: Facts, enough: int = 2) -> bool:
    """M24 "any 2 event fields": at least ``enough`` event field kinds (verbatim text, PT code,
    country, onset) match, each in any pair of compared events."""
    reported = meddra = country = onset = False
    for ce in _upto(cand.events, prep.depth):
        reported = reported or bool(ce.event_reported and ce.event_reported in prep.event_texts)
        meddra = meddra or bool(ce.meddra_pt_code and ce.meddra_pt_code in prep.pt_codes)
        country = country or bool(ce.country and ce.country in prep.event_countries)
        if not onset and ce.onset is not None:
            onset = any(compare_onset(day, ce.onset) != NONE for day in prep.onsets)
        if reported + meddra + country + onset >= enough:
            return True
    return False


_MRN_RESULTS = tuple(f"patient.mrn_{kind}" for kind in MRN_KINDS)
_PATIENT_RESULTS = (
    "patient.initials",
    "patient.dob",
    "patient.sex",
    "patient.first_name",
    "patient.last_name",
)


def tag_for(src: Facts, cand: Facts, ev: Evaluation, profile: Profile) -> Tag | None:
    """M24/M25: ``likely``, ``possible`` or ``None`` (not listed under deep_22r1)."""
    r = ev.results
    mrn = any(r[key] == EXACT for key in _MRN_RESULTS)
    if profile.name == "deep_22r3":
        if ev.id_matches or mrn or compare_exact(src.study, cand.study) == EXACT:
            return "likely"
        return "possible" if ev.identifying_categories() else None
    # deep_22r1
    if ev.id_matches:
        return "likely"
    primary_product = False
    if src.products and cand.products:
        sp, cp = src.products[0], cand.products[0]
        primary_product = (
            compare_exact(sp.product, cp.product) == EXACT
            or compare_product_reported(sp.product_reported, cp.product_reported) != NONE
            or (
                not (src.blinded or cand.blinded)
                and compare_exact(sp.study_product, cp.study_product) == EXACT
            )
        )
    patient_fields = sum(r[key] != NONE for key in _PATIENT_RESULTS) + (
        compare_exact(src.age_group, cand.age_group) != NONE
    )
    patient = mrn or patient_fields >= 2
    if not (primary_product or patient):
        return None  # at most one of the three criteria
    events = event_kinds_match(prepare_source(src, profile.depth), cand)
    criteria = primary_product + patient + events
    if criteria == 3:
        return "likely"
    if criteria < 2:
        return None
    if patient_fields >= 1 or mrn:
        return "possible"
    reporter_fields = sum(
        x != NONE
        for x in (
            r["reporter.first_name"],
            r["reporter.last_name"],
            r["reporter.qualification"],
            ev.country,
        )
    )
    if reporter_fields >= 3 or _primary_event_fields(src, cand) >= 1:
        return "possible"
    return None


def new_info_key(value: str | None) -> int:
    """Sort key putting the most recent New Info Date first and missing dates last."""
    return -date.fromisoformat(value).toordinal() if value else 1


__all__ = ["EXACT", "NONE", "PARTIAL", "Evaluation", "evaluate", "new_info_key"]
