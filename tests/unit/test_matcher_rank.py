"""Ranking invariants on generated data (no engine): determinism, the cap, one section per record."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from benchmarks.generator import LabelledQuery, Population, generate_queries
from matcher import DetectionOptions
from matcher.facts import Facts, facts_from_record
from matcher.rank import listable_test, new_info_cutoff, rank_reference_facts
from tests.factories import record as make_record

TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def data() -> tuple[list[Facts], list[LabelledQuery]]:
    pop = Population(seed=21, n=400, today=TODAY)
    return [facts_from_record(r) for r in pop], list(generate_queries(22, pop, 12))


def _listing(d: object) -> list[tuple[str, str, int]]:
    from matcher import Detection

    assert isinstance(d, Detection)
    return [(str(s), m.record_id, m.rank) for s, ms in d.sections for m in ms]


def test_ranking_does_not_depend_on_the_order_candidates_arrive_in(
    data: tuple[list[Facts], list[LabelledQuery]],
) -> None:
    cases, queries = data
    shuffled = cases[:]
    random.Random(3).shuffle(shuffled)
    options = DetectionOptions(today=TODAY)
    for q in queries:
        assert _listing(rank_reference_facts(q.source, cases, options)) == _listing(
            rank_reference_facts(q.source, shuffled, options)
        )


@pytest.mark.parametrize("cap", [1, 2, 5])
def test_M26_cap_is_a_prefix_of_the_uncapped_order(
    data: tuple[list[Facts], list[LabelledQuery]], cap: int
) -> None:
    cases, queries = data
    for q in queries:
        full = rank_reference_facts(q.source, cases, DetectionOptions(today=TODAY))
        capped = rank_reference_facts(
            q.source, cases, DetectionOptions(today=TODAY, max_possible_matches=cap)
        )
        head = [m.record_id for m in full.sections.possible_matches][:cap]
        assert [m.record_id for m in capped.sections.possible_matches] == head
        assert capped.sections.id_matches == full.sections.id_matches


def test_M15_ranks_are_1_based_and_records_unique(
    data: tuple[list[Facts], list[LabelledQuery]],
) -> None:
    cases, queries = data
    for q in queries:
        d = rank_reference_facts(q.source, cases, DetectionOptions(today=TODAY))
        listed = [m.record_id for m in d.sections.all()]
        assert len(listed) == len(set(listed))
        for _, matches in d.sections:
            assert [m.rank for m in matches] == list(range(1, len(matches) + 1))


@pytest.mark.parametrize(
    ("today", "cutoff"),
    [(date(2025, 4, 1), date(2023, 4, 1)), (date(2024, 2, 29), date(2022, 2, 28))],
    ids=["plain", "leap-day"],
)
def test_M6_cutoff_is_two_years_before_today(today: date, cutoff: date) -> None:
    assert new_info_cutoff(today) == cutoff


@pytest.mark.parametrize(
    "options",
    [
        DetectionOptions(today=TODAY),
        DetectionOptions(today=TODAY, max_possible_matches=3, mask_phi=False),
        DetectionOptions(today=TODAY, profile="deep_22r1"),
        DetectionOptions(today=TODAY, profile="deep_22r3"),
    ],
    ids=["enhanced", "enhanced-cap3", "deep_22r1", "deep_22r3"],
)
def test_M6_skipping_unlistable_candidates_changes_no_detection(
    data: tuple[list[Facts], list[LabelledQuery]], options: DetectionOptions
) -> None:
    """What ``detect`` skips before evaluating (``listable_test``) is never listed or counted."""
    cases, queries = data
    skipped = 0
    for q in queries:
        full = rank_reference_facts(q.source, cases, options).model_dump()
        fast = rank_reference_facts(q.source, cases, options, prefilter=True).model_dump()
        full.pop("took_ms"), fast.pop("took_ms")
        assert fast == full, q.family
        src = facts_from_record(q.source)
        skipped += sum(not listable_test(src, TODAY)(c) for c in cases)
    assert skipped > len(cases)  # the data has old records the test really skips


def _facts(record_id: str, new_info_date: str | None, wwuid: str, **fields: object) -> Facts:
    base: dict[str, object] = {"new_info_date": new_info_date, "receipt_date": "2020-01-01"}
    base.update(fields)
    return facts_from_record(make_record(record_id, identifiers={"wwuid": wwuid}, **base))


@pytest.mark.parametrize(
    ("new_info_date", "wwuid", "trial", "listable"),
    [
        ("2025-06-01", "W-OTHER", False, True),
        (None, "W-OTHER", False, True),
        ("2023-12-31", "W-OTHER", False, False),
        ("2023-12-31", "W-SRC", False, True),
        ("2023-12-31", "W-OTHER", True, True),
    ],
    ids=["recent", "undated", "old-nothing-shared", "old-shared-id", "old-trial-source"],
)
def test_M6_an_old_record_is_listable_only_as_an_id_or_subject_match(
    new_info_date: str | None, wwuid: str, trial: bool, listable: bool
) -> None:
    extra: dict[str, object] = (
        {"study_type": "clinical_trial", "study_number": "S-1"} if trial else {}
    )
    src = _facts("II-SRC", "2026-01-10", "W-SRC", **extra)
    cand = _facts("C-1", new_info_date or "2020-01-01", wwuid, **extra)
    if new_info_date is None:  # no date at all (a record without receipt date)
        cand = replace(cand, new_info_date=None)
    assert listable_test(src, TODAY)(cand) is listable
