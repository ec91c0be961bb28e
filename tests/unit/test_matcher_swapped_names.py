"""M17/N3: a cross-field name pair credits one name row, never both (issue 13's ranking defect).

An item written ``Smith / John`` (first and last name swapped) shares one name
with *Mary Smith* and two with *John Smith*; it must rank them as ``John / Smith``
does, and no comparison-table row may call two dissimilar names partial.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.records import Record
from matcher import DetectionOptions
from matcher.compare import compare_name_rows
from matcher.rank import rank_reference
from tests.conftest import make_record

TODAY = date(2026, 1, 15)
NO_PATIENT_EXTRAS = {"initials": None, "sex": None, "dob": None}


def _person(record_id: str, first: str | None, last: str | None, **extra: object) -> Record:
    """A record that shares only its patient name (and the defaults' reporter, product, event)."""
    return make_record(
        record_id,
        kind="case",
        patient={"first_name": first, "last_name": last},
        reporter={"first_name": "Ada", "last_name": f"R{record_id[-2:]}", "country": "US"},
        products=[],
        events=[],
        identifiers={},
        **extra,
    )


CANDIDATES = [
    _person("CASE-01", "Mary", "Smith", new_info_date="2025-12-30"),
    _person("CASE-02", "John", "Smith", new_info_date="2025-01-02"),
    _person("CASE-03", "John", "Doe", new_info_date="2025-11-20"),
    _person("CASE-04", "Natalia", "Sokolova", new_info_date="2025-12-01"),
    _person("CASE-05", "Sokolova", "Ivana", new_info_date="2025-12-24"),
]
#: A candidate with a typo in both names: in swapped order its names and John Smith's are
#: both cross-field partials (M17), so only the counts can agree, not the scores.
TYPO = _person("CASE-06", "Jon", "Smyth", new_info_date="2025-10-01")


def _ranking(first: str, last: str, typo: bool = False) -> list[tuple[str, str, int]]:
    source = _person("II-99", first, last)
    candidates = [*CANDIDATES, TYPO] if typo else CANDIDATES
    detection = rank_reference(source, candidates, DetectionOptions(today=TODAY))
    return [
        (section, m.record_id, m.matching_fields)
        for section, matches in detection.sections
        for m in matches
    ]


@pytest.mark.parametrize(
    ("first", "last"),
    [("John", "Smith"), ("Natalia", "Sokolova"), ("Mary", "Smith")],
    ids=["john-smith", "natalia-sokolova", "mary-smith"],
)
def test_M17_swapped_name_order_ranks_the_same_records_the_same_way(first: str, last: str) -> None:
    assert _ranking(last, first) == _ranking(first, last)


def test_M17_swapped_name_order_lists_the_same_records_with_the_same_counts() -> None:
    assert sorted(_ranking("Smith", "John", typo=True)) == sorted(
        _ranking("John", "Smith", typo=True)
    )


def test_M17_swapped_item_ranks_the_full_name_above_a_shared_surname() -> None:
    listing = [record_id for _, record_id, _ in _ranking("Smith", "John")]
    assert listing.index("CASE-02") < listing.index("CASE-01")


def test_M17_no_table_row_calls_two_dissimilar_names_partial() -> None:
    source = _person("II-99", "Sokolova", "Natalia")
    detection = rank_reference(source, CANDIDATES, DetectionOptions(today=TODAY, mask_phi=False))
    shown = {
        (row.field, row.source, row.match, row.result)
        for match in detection.sections.all()
        for row in match.comparison
        if row.section == "patient" and "name" in row.field
    }
    assert ("first_name", "Sokolova", "Natalia", "partial") not in shown
    assert ("last_name", "Natalia", "Sokolova", "partial") not in shown
    assert ("first_name~last_name", "Sokolova", "Sokolova", "partial") in shown


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (("smith", "john"), ("mary", "smith"), ("none", "partial")),
        (("smith", "john"), ("john", "smith"), ("partial", "partial")),
        (("john", "smith"), ("mary", "smith"), ("none", "exact")),
        ((None, "smith"), ("smith", None), ("none", "partial")),
        (("jon", "smith"), ("john", "jon"), ("partial", "none")),
    ],
    ids=["one-cross-pair", "both-cross-pairs", "direct", "cross-missing", "direct-wins-a-tie"],
)
def test_M17_a_cross_pair_credits_one_row(
    a: tuple[str | None, str | None],
    b: tuple[str | None, str | None],
    expected: tuple[str, str],
) -> None:
    assert compare_name_rows(a, b) == expected
    assert compare_name_rows(b, a) == expected


names = st.sampled_from([None, "john", "jon", "smith", "smyth", "mary", "mary ann", "ann"])


@given(names, names, names, names)
def test_M17_names_credit_at_most_one_row_per_name(
    a1: str | None, a2: str | None, b1: str | None, b2: str | None
) -> None:
    """Each side's names are credited at most once (N3's same-token rule aside)."""
    rows = compare_name_rows((a1, a2), (b1, b2), same_tokens=False)
    credited = sum(r != "none" for r in rows)
    assert credited <= min(
        sum(v is not None for v in (a1, a2)), sum(v is not None for v in (b1, b2))
    )
