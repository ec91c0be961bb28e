"""Sections and ranking (M5-M7, M10-M15, M26), shared by the engine path and the reference.

:func:`assign_sections` takes evaluated candidates and decides, from the
comparators alone (never ``_score``), which section each belongs to and in
which order: ID Matches before Subject Matches before Possible Matches (M15),
each record in one section only. :func:`rank_reference` is the brute-force
reference: the same rules over records in Python, with the exclusion filters
the engine queries apply and each field compared as the field registry declares
it (``matcher.reference``), for tests and quality benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, cast

from indexer.documents import is_searchable
from indexer.records import Record
from matcher.compare import NONE
from matcher.evaluate import Evaluation, evaluate, new_info_key
from matcher.facts import Facts, facts_from_record, with_record
from matcher.linkage import LEVEL_NAMES, MatchModel, probability_of_weight
from matcher.model import (
    Detection,
    DetectionOptions,
    FieldScore,
    Match,
    RecordType,
    Sections,
    Tag,
)
from matcher.profiles import Profile, get_profile
from matcher.reference import evaluate_by_registry
from matcher.table import TableBuilder

SortKey = tuple[int | str, ...]


def source_is_clinical_trial(source: Record, known_studies: frozenset[str] | None) -> bool:
    """M3/M4: the source's clinical-trial flag; a known Study makes it a clinical-trial record.

    When the Study is not known to the system (or there is no registry), the
    source's own Study Type decides (M4).
    """
    if known_studies is not None and source.study and source.study in known_studies:
        return True
    return source.is_clinical_trial


def new_info_cutoff(today: date) -> date:
    """M6: New Info Dates before this day are more than two years before today."""
    try:
        return today.replace(year=today.year - 2)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 2, day=28)


def possible_key(ev: Evaluation, profile: Profile) -> SortKey:
    """M14: top category, then number of matching values, then score, New Info Date, identifier.

    The number counts matching *identifying* values (``matcher.profiles``); the
    score adds 2 per exact and 1 per partial result over every compared field,
    supporting ones (sex, qualification) included. Every profile ranks by this
    key in its own category order (M24's "most similar first" included).
    """
    top = ev.top_category(profile)
    assert top is not None
    return (
        profile.category_rank(top),
        -ev.count,
        -ev.score,
        new_info_key(ev.facts.new_info_date),
        ev.facts.record_id,
        ev.facts.kind,
    )


def id_key(ev: Evaluation) -> SortKey:
    """M11: WWUID matches first, then the number of matching identifiers, then as M14."""
    return (
        0 if ev.wwuid_match else 1,
        -len(ev.id_matches),
        -ev.count,
        -ev.score,
        new_info_key(ev.facts.new_info_date),
        ev.facts.record_id,
        ev.facts.kind,
    )


def subject_key(ev: Evaluation) -> SortKey:
    """M12: EDC subject, then study number + MRN-Investigation, then study number + initials."""
    assert ev.subject_tier is not None
    return (
        ev.subject_tier,
        -ev.count,
        -ev.score,
        new_info_key(ev.facts.new_info_date),
        ev.facts.record_id,
        ev.facts.kind,
    )


def possible_eligible(ev: Evaluation, profile: Profile, cutoff: date) -> bool:
    """M13 (an identifying value matches), M6 (recent enough), M5 (country), M24 (tagged)."""
    if ev.top_category(profile) is None:
        return False
    nid = ev.facts.new_info_date
    if nid is not None and date.fromisoformat(nid) < cutoff:
        return False
    if country_excluded(ev):
        return False
    return not (profile.strict_tags and ev.tag is None)


def listable_test(src: Facts, today: date) -> Callable[[Facts], bool]:
    """A cheap test, run before :func:`evaluate`, of whether a candidate can be listed at all.

    A record whose New Info Date is before the M6 cutoff is no Possible Match, so for a
    postmarketing source (no Subject Matches) it can only be an ID Match, which needs a
    shared identifier. Any other candidate passes and is evaluated; skipping the rest
    changes no section, order or count (``Ranked.possible_total`` counts eligible ones).
    """
    if src.clinical_trial:  # a Subject Match is not limited by M6
        return _always
    cutoff = new_info_cutoff(today).isoformat()  # ISO days order as the dates do
    ids = src.ids_all

    def listable(cand: Facts) -> bool:
        day = cand.new_info_date
        return day is None or day >= cutoff or not ids.isdisjoint(cand.id_values)

    return listable


def _always(cand: Facts) -> bool:
    return True


def country_excluded(ev: Evaluation) -> bool:
    """M5: a different primary reporter country excludes, unless a patient field matches.

    Applied to every section, as the seed lists it among the exclusions that
    scope detection (only M6 is limited to Possible Matches): an identifier match
    from another reporter country stays when any patient field matches. A Subject
    Match always shares patient values (EDC subject, MRN-Investigation or initials).
    """
    return ev.country == NONE and _countries_differ(ev) and not ev.patient_match


def _countries_differ(ev: Evaluation) -> bool:
    return ev.src_country is not None and ev.facts.country is not None


@dataclass
class Ranked:
    id_matches: list[Evaluation] = field(default_factory=list)
    subject_matches: list[Evaluation] = field(default_factory=list)
    possible_matches: list[Evaluation] = field(default_factory=list)
    possible_total: int = 0


def assign_sections(
    src: Facts,
    evaluations: Iterable[Evaluation],
    profile: Profile,
    *,
    cap: int,
    today: date,
) -> Ranked:
    """M10-M15, M26: sections in order, one record in one section, possible matches capped."""
    cutoff = new_info_cutoff(today)
    ranked = Ranked()
    possible: list[tuple[SortKey, Evaluation]] = []
    for ev in evaluations:
        if country_excluded(ev):  # M5 scopes every section, like M1-M4 and M7
            continue
        if ev.id_matches:
            ranked.id_matches.append(ev)
        elif ev.subject_tier is not None and src.clinical_trial:
            ranked.subject_matches.append(ev)
        elif possible_eligible(ev, profile, cutoff):
            possible.append((possible_key(ev, profile), ev))
    ranked.id_matches.sort(key=id_key)
    ranked.subject_matches.sort(key=subject_key)
    possible.sort(key=lambda pair: pair[0])
    ranked.possible_total = len(possible)
    ranked.possible_matches = [ev for _, ev in possible[:cap]]
    return ranked


def to_detection(
    src: Facts,
    source: Record,
    ranked: Ranked,
    profile: Profile,
    options: DetectionOptions,
    took_ms: float = 0.0,
) -> Detection:
    """The Detection of SPEC §7, with status bars, comparison tables and masking (M18-M20)."""
    table = TableBuilder(src, mask=options.mask_phi, compared=profile.fields)
    model = options.match_model

    def matches(evs: list[Evaluation], section: str) -> list[Match]:
        out = []
        for rank, ev in enumerate(evs, start=1):
            scores = match_scores(model, src, ev.facts) if model is not None else None
            tag: Tag | None = ev.tag if profile.tags else None
            if profile.tags and section == "id_matches":
                tag = "likely"
            out.append(
                Match(
                    record_type=cast(RecordType, ev.facts.kind),
                    record_id=ev.facts.record_id,
                    rank=rank,
                    badge=ev.badge if section == "id_matches" else None,
                    tag=tag,
                    status=table.status(ev, subject=section == "subject_matches"),
                    comparison=table.rows(ev),
                    state=ev.facts.state,
                    header=table.header(ev.facts),
                    top_category=ev.top_category(profile),
                    matching_fields=ev.count,
                    **(scores or {}),
                )
            )
        return out

    return Detection(
        source_id=source.id,
        organization=source.organization,
        profile=profile.name,
        sections=Sections(
            id_matches=matches(ranked.id_matches, "id_matches"),
            subject_matches=matches(ranked.subject_matches, "subject_matches"),
            possible_matches=matches(ranked.possible_matches, "possible_matches"),
        ),
        took_ms=round(took_ms, 3),
    )


def match_scores(model: MatchModel, src: Facts, cand: Facts) -> dict[str, Any]:
    """A listed match's probability, match weight and per-field Bayes factors."""
    levels = model.levels(src, cand)
    factors = model.bayes_factors(levels)
    rows = []
    for spec, level, factor in zip(model.specs, levels, factors, strict=True):
        section, name = spec.row or (spec.group, spec.key.split(".", 1)[1])
        rows.append(
            FieldScore(
                section=section,
                field=name,
                level=LEVEL_NAMES[level],
                bayes_factor=factor,
                match_weight=math.log2(factor),
            )
        )
    weight = model.match_weight(levels)
    return {
        "probability": probability_of_weight(weight),
        "match_weight": weight,
        "bayes_factors": rows,
    }


def in_scope(source: Record, cand: Facts, options: DetectionOptions, clinical_trial: bool) -> bool:
    """M1, M3/M4, M7, M9 and self-exclusion: the filters every engine query carries."""
    if cand.organization != source.organization:
        return False
    if cand.record_id == source.id or cand.record_id == source.case_id:
        return False
    if cand.clinical_trial != clinical_trial:
        return False
    if not is_searchable(cand.kind, cand.state):
        return False
    return options.match_inbox_items or cand.kind == "case"


def rank_reference(
    source: Record, candidates: Iterable[Record], options: DetectionOptions
) -> Detection:
    """Brute force: every candidate record evaluated in Python under the same rules."""
    return rank_reference_facts(
        source,
        (facts_from_record(r) for r in candidates),
        options,
        evaluator=evaluate_by_registry,
    )


def rank_reference_facts(
    source: Record,
    candidates: Iterable[Facts],
    options: DetectionOptions,
    records: Mapping[tuple[str, str], dict[str, Any]] | None = None,
    *,
    prefilter: bool = False,
    evaluator: Callable[[Facts, Facts, Profile], Evaluation] = evaluate,
) -> Detection:
    """:func:`rank_reference` over candidates already read as facts (to reuse them across runs).

    ``records``: the stored records of candidates read from match views (by kind and
    record id), given to the listed matches for their tables as ``detect`` does.
    ``prefilter``: skip candidates that cannot be listed (:func:`listable_test`) instead
    of evaluating them, as ``detect`` does; the reference itself evaluates every one.
    ``evaluator``: the fast evaluation (default) or the registry-driven definition
    (``matcher.reference``), which :func:`rank_reference` uses.
    """
    profile = get_profile(options.profile)
    ct = source_is_clinical_trial(source, options.known_studies)
    src = _with_clinical_trial(facts_from_record(source), ct)
    listable = listable_test(src, options.on()) if prefilter else _always
    evs = [
        evaluator(src, cand, profile)
        for cand in candidates
        if in_scope(source, cand, options, ct) and listable(cand)
    ]
    ranked = assign_sections(
        src, evs, profile, cap=options.cap(clinical_trial=ct), today=options.on()
    )
    if records is not None:
        for ev in [*ranked.id_matches, *ranked.subject_matches, *ranked.possible_matches]:
            ev.facts = with_record(ev.facts, records[(ev.facts.kind, ev.facts.record_id)])
    return to_detection(src, source, ranked, profile, options)


def _with_clinical_trial(src: Facts, clinical_trial: bool) -> Facts:
    if src.clinical_trial == clinical_trial:
        return src
    return replace(src, clinical_trial=clinical_trial)
