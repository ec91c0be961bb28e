"""Field comparators (M16-M17, N5): table-driven cases and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.dates import PartialDate
from indexer.normalize import normalize_initials, normalize_name, normalize_product
from matcher.compare import (
    compare_dob,
    compare_exact,
    compare_name_field,
    compare_name_rows,
    compare_onset,
    compare_product_reported,
    compare_window_date,
    compare_window_days,
    max_edits,
    similar_name,
    swapped_day_month,
)


def d(text: str) -> PartialDate:
    return PartialDate.parse(text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("h-991", "h-991", "exact"),
        ("h-991", "h-992", "none"),
        (None, "h-991", "none"),
        (None, None, "none"),
        ("", "", "none"),
    ],
    ids=["equal", "different", "one-missing", "both-missing", "empty"],
)
def test_compare_exact(a: str | None, b: str | None, expected: str) -> None:
    assert compare_exact(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (("jacob", "smith"), ("jacob", "smith"), "exact"),
        (("jacob", "smith"), ("smith", "jacob"), "partial"),  # cross-field (M17)
        (("jacob", "smith"), ("jakob", "smith"), "partial"),  # one typo
        (("jacob", "smith"), ("anna", "smith"), "none"),
        (("jacob smith", None), ("jacob", "smith"), "partial"),  # N3: split across fields
        ((None, "smith"), ("smith", None), "none"),  # one cross pair credits the last-name row
        ((None, "smith"), (None, "smith"), "none"),  # the first-name row has no value
        (("al", "x"), ("ab", "x"), "none"),  # two letters tolerate no typo
    ],
    ids=[
        "same",
        "swapped",
        "typo",
        "other",
        "full-name-one-field",
        "cross-missing",
        "no-first",
        "short",
    ],
)
def test_compare_name_field(
    a: tuple[str | None, str | None], b: tuple[str | None, str | None], expected: str
) -> None:
    assert compare_name_field(a, b) == expected
    assert compare_name_field(b, a) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("aspirin 100 mg", "aspirin 100 mg", "exact"),
        ("aspirin 100 mg", "aspirin", "partial"),
        ("aspirin 100 mg", "aspirin 100 mg tablets", "partial"),
        ("aspirin 100 mg", "asprin 100 mg", "none"),  # no shared word: the engine could not find it
        ("aspirin 100 mg", "ibuprofen 100 mg", "none"),
        ("100 mg", "100 mg tablet", "none"),  # a dose alone identifies no product
        (None, "aspirin", "none"),
    ],
    ids=["equal", "subset", "superset", "typo", "other-drug", "dose-only", "missing"],
)
def test_compare_product_reported(a: str | None, b: str | None, expected: str) -> None:
    assert compare_product_reported(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1980-06-02", "1980-06-02", "exact"),
        ("1980", "1980-06-02", "partial"),
        ("1980-06", "1980-06-02", "partial"),
        ("1980-06", "1980-07", "none"),
        ("1980-06-02", "1980-06-03", "none"),  # DOB has no 30-day window
    ],
    ids=["equal", "year-contains", "month-contains", "other-month", "next-day"],
)
def test_compare_dob(a: str, b: str, expected: str) -> None:
    assert compare_dob(d(a), d(b)) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2025-03-01", "2025-03-01", "exact"),
        ("2025-03-01", "2025-03-31", "partial"),
        ("2025-03-01", "2025-04-01", "none"),
        ("2025-03", "2025-03-15", "partial"),
        ("2025-01", "2025-03-02", "partial"),  # 29 days from the end of January
        ("2024", "2025-03-01", "none"),
    ],
    ids=["equal", "30-days", "31-days", "contains", "window-from-month-end", "far"],
)
def test_M17_receipt_and_new_info_dates_within_30_days(a: str, b: str, expected: str) -> None:
    assert compare_window_date(d(a), d(b)) == expected
    assert compare_window_date(d(b), d(a)) == expected
    assert compare_window_days(a, b) == compare_window_days(b, a) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2024-03-05", "2024-05-03", "partial"),
        ("2024-03-05", "2024-03-20", "partial"),
        ("2024-03-05", "2024-07-05", "none"),
        ("2024-03-13", "2024-13-03", None),
        ("2024-03", "2024-03-05", "partial"),
    ],
    ids=["day-month-swap", "within-30", "far", "no-13th-month", "contains"],
)
def test_M17_event_onset(a: str, b: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            d(b)
        assert swapped_day_month(d(a)) is None
        return
    assert compare_onset(d(a), d(b)) == expected


@pytest.mark.parametrize(
    ("length", "edits"), [(1, 0), (2, 0), (3, 1), (7, 1), (8, 2), (20, 2)], ids=str
)
def test_max_edits_by_name_length(length: int, edits: int) -> None:
    assert max_edits(length) == edits


# -- properties -----------------------------------------------------------------

names = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzéü -.'"), min_size=0, max_size=12
)
dates = st.builds(
    lambda y, m, day, p: (
        PartialDate(y, None, None)
        if p == 0
        else PartialDate(y, m, None)
        if p == 1
        else PartialDate(y, m, day)
    ),
    st.integers(1990, 2026),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 2),
)
NO_INFORMATION = ["UNK", "Unknown", "privacy", "PRIVACY", "MSK", "ASKU", "N/A", "", "  "]


@given(names, names, names, names)
def test_name_comparison_is_symmetric(a1: str, a2: str, b1: str, b2: str) -> None:
    a = (normalize_name(a1), normalize_name(a2))
    b = (normalize_name(b1), normalize_name(b2))
    assert compare_name_field(a, b) == compare_name_field(b, a)


@given(names, names, names, names, st.sampled_from([None, True, False]))
def test_compare_name_rows_is_symmetric(
    a1: str, a2: str, b1: str, b2: str, same: bool | None
) -> None:
    a = (normalize_name(a1), normalize_name(a2))
    b = (normalize_name(b1), normalize_name(b2))
    assert compare_name_rows(a, b, same) == compare_name_rows(b, a, same)
    assert compare_name_field(a, b, same) == compare_name_rows(a, b, same)[0]


@given(names, names)
def test_similar_name_is_symmetric(a: str, b: str) -> None:
    assert similar_name(a, b) == similar_name(b, a)


@given(names)
def test_normalization_is_idempotent(value: str) -> None:
    once = normalize_name(value)
    assert normalize_name(once) == once
    initials = normalize_initials(value)
    assert normalize_initials(initials) == initials


@given(names, names)
def test_a_name_matches_itself_unless_no_information(first: str, last: str) -> None:
    pair = (normalize_name(first), normalize_name(last))
    expected = "exact" if pair[0] is not None else "none"
    assert compare_name_field(pair, pair) == expected


@pytest.mark.parametrize("value", NO_INFORMATION)
def test_N5_no_information_never_matches_itself(value: str) -> None:
    assert compare_exact(normalize_initials(value), normalize_initials(value)) == "none"
    assert (
        compare_name_field((normalize_name(value), None), (normalize_name(value), None)) == "none"
    )


@given(names, names)
def test_product_comparison_is_symmetric(a: str, b: str) -> None:
    na, nb = normalize_product(a), normalize_product(b)
    assert compare_product_reported(na, nb) == compare_product_reported(nb, na)


@given(names)
def test_a_product_matches_itself_unless_no_information(value: str) -> None:
    n = normalize_product(value)
    assert compare_product_reported(n, n) == ("exact" if n else "none")


@given(dates, dates)
def test_date_comparisons_are_symmetric(a: PartialDate, b: PartialDate) -> None:
    assert compare_dob(a, b) == compare_dob(b, a)
    assert compare_window_date(a, b) == compare_window_date(b, a)
    assert compare_onset(a, b) == compare_onset(b, a)


@given(dates)
def test_a_date_matches_itself(a: PartialDate) -> None:
    assert compare_dob(a, a) == compare_window_date(a, a) == compare_onset(a, a) == "exact"


@given(st.one_of(st.none(), dates), st.one_of(st.none(), dates))
def test_M17_stored_dates_compare_as_their_partial_dates(
    a: PartialDate | None, b: PartialDate | None
) -> None:
    text_a = None if a is None else str(a)
    text_b = None if b is None else str(b)
    assert compare_window_days(text_a, text_b) == compare_window_date(a, b)


@given(st.one_of(st.none(), dates), st.one_of(st.none(), dates))
def test_dob_is_exact_when_equal_and_partial_when_one_contains_the_other(
    a: PartialDate | None, b: PartialDate | None
) -> None:
    if a is None or b is None:
        expected = "none"
    elif a == b:
        expected = "exact"
    else:
        expected = "partial" if a.contains(b) or b.contains(a) else "none"
    assert compare_dob(a, b) == expected
