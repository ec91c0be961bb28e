"""PartialDate: E2B partial dates keep their precision (SPEC §2)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from indexer.dates import PartialDate


@pytest.mark.parametrize(
    ("text", "precision", "first", "last"),
    [
        ("1980", "year", "1980-01-01", "1980-12-31"),
        ("1980-06", "month", "1980-06-01", "1980-06-30"),
        ("1980-06-02", "day", "1980-06-02", "1980-06-02"),
        ("2024-02", "month", "2024-02-01", "2024-02-29"),
        ("2023-02", "month", "2023-02-01", "2023-02-28"),
        (" 2024-03-05 ", "day", "2024-03-05", "2024-03-05"),
    ],
    ids=["year", "month", "day", "leap-february", "plain-february", "surrounding-spaces"],
)
def test_parse_keeps_precision_and_span(text: str, precision: str, first: str, last: str) -> None:
    d = PartialDate.parse(text)
    assert d.precision == precision
    assert d.first_day == date.fromisoformat(first)
    assert d.last_day == date.fromisoformat(last)


@pytest.mark.parametrize(
    "text",
    ["1980", "1980-06", "1980-06-02", "0001-01-01", "9999-12-31"],
    ids=["year", "month", "day", "earliest", "latest"],
)
def test_str_round_trips(text: str) -> None:
    assert str(PartialDate.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "80",
        "1980-6",
        "1980-06-2",
        "1980/06/02",
        "02-06-1980",
        "1980-06-02T10:00",
        "19800602",
        "year 1980",
        "1980-",
    ],
    ids=[
        "empty",
        "two-digit-year",
        "one-digit-month",
        "one-digit-day",
        "slashes",
        "day-first",
        "with-time",
        "compact",
        "words",
        "trailing-dash",
    ],
)
def test_parse_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY, YYYY-MM or YYYY-MM-DD"):
        PartialDate.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0000", "year must be between"),
        ("1980-00", "month must be between"),
        ("1980-13", "month must be between"),
        ("1980-02-30", "day does not exist"),
        ("2023-02-29", "day does not exist"),
        ("1980-04-31", "day does not exist"),
        ("1980-01-00", "day does not exist"),
    ],
    ids=[
        "year-zero",
        "month-zero",
        "month-13",
        "feb-30",
        "feb-29-non-leap",
        "april-31",
        "day-zero",
    ],
)
def test_parse_rejects_impossible_dates_without_repeating_them(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        PartialDate.parse(text)
    assert text not in str(info.value)  # a date of birth is PHI (M21)


def test_a_day_needs_a_month() -> None:
    with pytest.raises(ValueError, match="a day needs a month"):
        PartialDate(1980, None, 2)


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("1980", "1980-06-02", True),
        ("1980", "1980-06", True),
        ("1980-06", "1980-06-30", True),
        ("1980-06", "1980-07-01", False),
        ("1980-06-02", "1980", False),
        ("1980-06-02", "1980-06-02", True),
        ("1980", "1981", False),
        ("1980-06", "1980", False),
    ],
    ids=[
        "year-contains-day",
        "year-contains-month",
        "month-contains-last-day",
        "month-excludes-next-month",
        "day-does-not-contain-year",
        "day-contains-itself",
        "other-year",
        "month-does-not-contain-its-year",
    ],
)
def test_contains_respects_precision(outer: str, inner: str, expected: bool) -> None:
    assert PartialDate.parse(outer).contains(PartialDate.parse(inner)) is expected


def test_year_only_partially_matches_but_is_not_equal_to_a_full_date() -> None:
    year, full = PartialDate.parse("1980"), PartialDate.parse("1980-06-02")
    assert year != full
    assert year.contains(full) and year.overlaps(full) and full.overlaps(year)


def test_overlaps_is_false_for_disjoint_spans() -> None:
    assert not PartialDate.parse("1980-06").overlaps(PartialDate.parse("1980-07"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1980-06-02", date(1980, 6, 2)), ("1980-06", None), ("1980", None)],
    ids=["day", "month", "year"],
)
def test_as_date_only_for_day_precision(text: str, expected: date | None) -> None:
    assert PartialDate.parse(text).as_date() == expected


def test_of_a_date_is_day_precision() -> None:
    assert PartialDate.of(date(2024, 3, 5)) == PartialDate(2024, 3, 5)


def test_ordering_is_chronological_then_by_precision() -> None:
    dates = [PartialDate.parse(t) for t in ("1981", "1980-06-02", "1980-06", "1980")]
    assert [str(d) for d in sorted(dates)] == ["1980", "1980-06", "1980-06-02", "1981"]


class _Holder(BaseModel):
    when: PartialDate | None = None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1980-06", "1980-06"),
        (date(2024, 3, 5), "2024-03-05"),
        (1980, "1980"),
        (PartialDate(1999), "1999"),
        (None, None),
    ],
    ids=["string", "date", "int-year", "instance", "none"],
)
def test_pydantic_validation_and_json_serialization(raw: object, expected: str | None) -> None:
    holder = _Holder.model_validate({"when": raw})
    assert holder.model_dump(mode="json") == {"when": expected}


@pytest.mark.parametrize(
    "raw", [True, 19.8, ["1980"], {"year": 1980}], ids=["bool", "float", "list", "dict"]
)
def test_pydantic_rejects_non_string_input(raw: object) -> None:
    with pytest.raises(ValidationError, match="expected a date string"):
        _Holder.model_validate({"when": raw})


def test_pydantic_reports_impossible_date() -> None:
    with pytest.raises(ValidationError, match="month must be between"):
        _Holder.model_validate({"when": "2020-14"})


def test_json_schema_documents_the_format() -> None:
    schema = _Holder.model_json_schema()
    options = schema["properties"]["when"]["anyOf"]
    assert {"pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$", "type": "string"} in options


def test_module_examples_hold() -> None:
    import doctest

    import indexer.dates as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("text", ["1980", "1980-06", "1980-06-02", "2024-02-29", "0001-01-01"])
def test_from_iso_reads_what_parse_reads(text: str) -> None:
    assert PartialDate.from_iso(text) == PartialDate.parse(text)
    assert PartialDate.from_iso(text).precision == PartialDate.parse(text).precision


@pytest.mark.parametrize("text", ["19800", "1980-6", "80-06-02", "abcd"])
def test_from_iso_checks_any_other_form_as_parse_does(text: str) -> None:
    with pytest.raises(ValueError):
        PartialDate.from_iso(text)
