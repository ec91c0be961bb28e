"""Comparing one candidate with the source: field results, category, counts and tags.

:func:`evaluate` is the hot path (it runs for every retrieved candidate), so it
computes only what ranking needs: one result per ranked field, the identifier
matches and the M12 subject tier. The comparison table is built later, only
for the matches that are returned (``matcher.table``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from matcher.compare import (
    EXACT,
    NONE,
    PARTIAL,
    best,
    compare_dob,
    compare_exact,
    compare_name_field,
    compare_onset,
    compare_product_reported,
)
from matcher.facts import EventFacts, Facts, ProductFacts
from matcher.model import Badge, Category, Result, Tag
from matcher.profiles import FIELD_BY_KEY, MRN_KINDS, Profile

#: Score of one field result for the tie-break after the count (M14 "score").
RESULT_SCORE: dict[Result, int] = {"exact": 2, "partial": 1, "none": 0}


@dataclass(slots=True)
class Evaluation:
    """What one candidate shares with the source."""

    facts: Facts
    results: dict[str, Result]
    id_matches: list[tuple[str, str, str]] = field(default_factory=list)
    subject_tier: int | None = None
    country: Result = NONE
    src_country: str | None = None
    tag: Tag | None = None

    @property
    def wwuid_match(self) -> bool:
        return any(s == "wwuid" and c == "wwuid" for s, c, _ in self.id_matches)

    @property
    def badge(self) -> Badge | None:
        if not self.id_matches:
            return None
        return "WWUID" if self.wwuid_match else "ID"

    def matching(self) -> list[str]:
        return [k for k, r in self.results.items() if r != NONE]

    @property
    def count(self) -> int:
        """Matching identifying field values (M14's "number of matching field values")."""
        return sum(1 for k, r in self.results.items() if r != NONE and FIELD_BY_KEY[k].identifying)

    @property
    def score(self) -> int:
        return sum(RESULT_SCORE[r] for r in self.results.values())

    def categories(self) -> set[Category]:
        return {FIELD_BY_KEY[k].category for k, r in self.results.items() if r != NONE}

    def identifying_categories(self) -> set[Category]:
        return {
            FIELD_BY_KEY[k].category
            for k, r in self.results.items()
            if r != NONE and FIELD_BY_KEY[k].identifying
        }

    def top_category(self, profile: Profile) -> Category | None:
        cats = self.identifying_categories()
        for category in profile.category_order:
            if category in cats:
                return category
        return None

    @property
    def patient_match(self) -> bool:
        """M5: an identifying patient field matches (exactly or partially)."""
        return "patient" in self.identifying_categories()


P = TypeVar("P", ProductFacts, EventFacts)
_MRN_KEYS = tuple((kind, f"patient.mrn_{kind}") for kind in MRN_KINDS)


def _upto(items: tuple[P, ...], depth: int) -> Sequence[P]:
    """Products or events compared under a profile: rank 1 (primary) up to ``depth``."""
    if not items or max(items[0].rank, items[-1].rank) <= depth:
        return items  # documents list them by rank
    return [x for x in items if x.rank <= depth]


def evaluate(src: Facts, cand: Facts, profile: Profile) -> Evaluation:
    """Compare one candidate with the source under ``profile`` (pure)."""
    results: dict[str, Result] = {}
    results["patient.initials"] = compare_exact(src.initials, cand.initials)
    results["patient.dob"] = compare_dob(src.dob, cand.dob)
    for kind, key in _MRN_KEYS:
        results[key] = compare_exact(src.mrn.get(kind), cand.mrn.get(kind))
    results["patient.sex"] = compare_exact(src.sex, cand.sex)
    same = bool(src.patient_tokens) and src.patient_tokens == cand.patient_tokens
    results["patient.first_name"] = compare_name_field(
        (src.first_name, src.last_name), (cand.first_name, cand.last_name), same
    )
    results["patient.last_name"] = compare_name_field(
        (src.last_name, src.first_name), (cand.last_name, cand.first_name), same
    )
    results["study.study_number"] = compare_exact(src.study_number, cand.study_number)
    same = bool(src.reporter_tokens) and src.reporter_tokens == cand.reporter_tokens
    results["reporter.first_name"] = compare_name_field(
        (src.reporter_first, src.reporter_last), (cand.reporter_first, cand.reporter_last), same
    )
    results["reporter.last_name"] = compare_name_field(
        (src.reporter_last, src.reporter_first), (cand.reporter_last, cand.reporter_first), same
    )
    results["reporter.qualification"] = compare_exact(src.qualification, cand.qualification)

    product, reported, study_product = NONE, NONE, NONE
    compare_study_products = not (src.blinded or cand.blinded)  # M8
    for sp in _upto(src.products, profile.depth):
        for cp in _upto(cand.products, profile.depth):
            if product is NONE:
                product = compare_exact(sp.product, cp.product)
            if reported != EXACT:
                reported = best(
                    reported, compare_product_reported(sp.product_reported, cp.product_reported)
                )
            if compare_study_products and study_product is NONE:
                study_product = compare_exact(sp.study_product, cp.study_product)
    results["product.product_reported"] = reported
    results["product.product"] = product
    results["product.study_product"] = study_product

    verbatim, meddra = NONE, NONE
    for se in _upto(src.events, profile.depth):
        for ce in _upto(cand.events, profile.depth):
            both_coded = se.meddra_pt_code is not None and ce.meddra_pt_code is not None
            if both_coded:
                if se.meddra_pt_code == ce.meddra_pt_code:
                    meddra = EXACT
                    if verbatim is NONE:
                        verbatim = compare_exact(se.event_reported, ce.event_reported)
            elif verbatim is NONE:  # N7: uncoded on one side -> compare verbatim text
                verbatim = compare_exact(se.event_reported, ce.event_reported)
    results["event.event_reported"] = verbatim
    results["event.meddra_pt"] = meddra

    ev = Evaluation(facts=cand, results=results)
    ev.country = compare_exact(src.country, cand.country)
    ev.src_country = src.country
    ev.id_matches = id_matches(src, cand)
    ev.subject_tier = subject_tier(src, cand, results)
    if profile.tags:
        ev.tag = tag_for(src, cand, ev, profile)
    return ev


def id_matches(src: Facts, cand: Facts) -> list[tuple[str, str, str]]:
    """M10: every (source kind, candidate kind, value) whose identifiers are equal, cross-field."""
    if src.ids_all.isdisjoint(cand.ids_all):
        return []
    out: list[tuple[str, str, str]] = []
    for s_kind, s_values in src.ids.items():
        for c_kind, c_values in cand.ids.items():
            for value in sorted(s_values & c_values):
                out.append((s_kind, c_kind, value))
    return out


def subject_tier(src: Facts, cand: Facts, results: dict[str, Result]) -> int | None:
    """M12: 1 EDC subject equal; 2 study number + MRN-Investigation; 3 study number + initials."""
    if not src.clinical_trial:
        return None
    if compare_exact(src.edc_subject, cand.edc_subject) == EXACT:
        return 1
    if results["study.study_number"] == EXACT:
        if results["patient.mrn_investigation"] == EXACT:
            return 2
        if results["patient.initials"] == EXACT:
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


def _event_fields(src: Facts, cand: Facts, depth: int) -> int:
    """Distinct event field kinds matching across compared events (M24 "any 2 event fields")."""
    kinds: set[str] = set()
    for se in _upto(src.events, depth):
        for ce in _upto(cand.events, depth):
            if compare_exact(se.event_reported, ce.event_reported) == EXACT:
                kinds.add("reported")
            if compare_exact(se.meddra_pt_code, ce.meddra_pt_code) == EXACT:
                kinds.add("meddra")
            if compare_exact(se.country, ce.country) == EXACT:
                kinds.add("country")
            if compare_onset(se.onset, ce.onset) != NONE:
                kinds.add("onset")
    return len(kinds)


def tag_for(src: Facts, cand: Facts, ev: Evaluation, profile: Profile) -> Tag | None:
    """M24/M25: ``likely``, ``possible`` or ``None`` (not listed under deep_22r1)."""
    r = ev.results
    mrn = any(r[f"patient.mrn_{k}"] == EXACT for k in MRN_KINDS)
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
    patient_fields = sum(
        r[k] != NONE
        for k in (
            "patient.initials",
            "patient.dob",
            "patient.sex",
            "patient.first_name",
            "patient.last_name",
        )
    ) + (compare_exact(src.age_group, cand.age_group) != NONE)
    patient = mrn or patient_fields >= 2
    events = _event_fields(src, cand, profile.depth) >= 2
    criteria = sum((primary_product, patient, events))
    if criteria == 3:
        return "likely"
    reporter_fields = sum(
        x != NONE
        for x in (
            r["reporter.first_name"],
            r["reporter.last_name"],
            r["reporter.qualification"],
            ev.country,
        )
    )
    secondary = (
        patient_fields >= 1 or mrn or _primary_event_fields(src, cand) >= 1 or reporter_fields >= 3
    )
    if criteria >= 2 and secondary:
        return "possible"
    return None


def new_info_key(value: str | None) -> int:
    """Sort key putting the most recent New Info Date first and missing dates last."""
    return -date.fromisoformat(value).toordinal() if value else 1


__all__ = ["EXACT", "NONE", "PARTIAL", "Evaluation", "evaluate", "new_info_key"]
