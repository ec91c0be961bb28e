"""Normalization rules N1-N7 (SPEC §3): table-driven cases and property tests."""

from __future__ import annotations

import random
from typing import Any

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.documents import build_document
from indexer.normalize import (
    NO_INFORMATION,
    event_key,
    is_no_information,
    name_tokens,
    normalize_code,
    normalize_country,
    normalize_id,
    normalize_initials,
    normalize_meddra_code,
    normalize_name,
    normalize_text,
)
from indexer.records import Record

# -- N1 text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("J.-P. O'Neil", "jp oneil"),
        ("jp oneil", "jp oneil"),
        ("  José   NÚÑEZ ", "jose nunez"),
        ("O’Brien", "obrien"),
        ("Müller", "muller"),
        ("Größer", "grosser"),
        ("Łukasz Wałęsa", "lukasz walesa"),
        ("Søren Kierkegård", "soren kierkegard"),
        ("Çağlar Öztürk", "caglar ozturk"),
        ("Nguyễn Thị Hương", "nguyen thi huong"),
        ("Иванов", "ivanov"),
        ("Smith-Jones", "smith jones"),
        ("Al-Sayed", "al sayed"),
        ("Ben\tAli\n", "ben ali"),
        ("ﬁnn", "finn"),
        ("Severe headache!!", "severe headache"),
        ("Aspirin 100mg/5ml", "aspirin 100mg 5ml"),
    ],
    ids=[
        "initials-hyphen-apostrophe",
        "already-normal",
        "accents-case-spaces",
        "curly-apostrophe",
        "umlaut",
        "sharp-s",
        "polish",
        "nordic",
        "turkish",
        "vietnamese",
        "cyrillic",
        "hyphenated-name",
        "arabic-prefix",
        "tabs-newlines",
        "ligature",
        "exclamation",
        "slash",
    ],
)
def test_N1_text_is_ascii_folded_and_unpunctuated(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("J.-P. O'Neil", "jp oneil"),
        ("JOSÉ NÚÑEZ", "jose nunez"),
        ("D'Angelo", "DAngelo"),
        ("Zoë", "zoe"),
    ],
    ids=["spec-example", "accents", "apostrophe", "diaeresis"],
)
def test_N1_equivalent_spellings_normalize_equal(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


def test_N1_name_is_text_normalization() -> None:
    assert normalize_name("  O'Néil ") == "oneil"
    assert normalize_name(None) is None


# -- N2 initials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["J.S.", "j s", "JS", "j.s", "J-S", " J . S . ", "J. S.", "j_s"],
    ids=[
        "dotted",
        "spaced-lower",
        "plain",
        "one-dot",
        "hyphen",
        "loose",
        "dot-space",
        "underscore",
    ],
)
def test_N2_initials_compare_without_separators(raw: str) -> None:
    assert normalize_initials(raw) == "js"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("J.-P.M.", "jpm"), ("É.L.", "el"), ("jpm", "jpm")],
    ids=["three-letters", "accented", "lowercase"],
)
def test_N2_initials_letters(raw: str, expected: str) -> None:
    assert normalize_initials(raw) == expected


def test_N2_different_initials_differ() -> None:
    assert normalize_initials("J.S.") != normalize_initials("S.J.")


# -- N3 person names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Jacob", "Smith"),
        ("Smith", "Jacob"),
        ("Jacob Smith", None),
        (None, "Smith Jacob"),
        ("JACOB", "smith"),
        ("  Jacob ", " Smith. "),
    ],
    ids=["first-last", "swapped", "full-in-first", "full-in-last-reversed", "case", "padding"],
)
def test_N3_names_are_order_and_field_independent(first: str | None, last: str | None) -> None:
    assert name_tokens(first, last) == ("jacob", "smith")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("José", "Núñez"), ("Jose Nunez", None)),
        (("Jean-Pierre", "Lefèvre"), ("Lefevre", "Jean Pierre")),
        (("Mary Ann", "O'Neil"), ("ONeil", "Ann Mary")),
    ],
    ids=["accented-split-vs-one-field", "hyphenated-first", "two-first-names"],
)
def test_N3_full_name_in_one_field_equals_tokens_in_two(
    a: tuple[str | None, str | None], b: tuple[str | None, str | None]
) -> None:
    assert name_tokens(*a) == name_tokens(*b)


def test_N3_different_names_differ() -> None:
    assert name_tokens("Jacob", "Smith") != name_tokens("Jacob", "Smyth")


def test_N3_no_name_is_no_tokens() -> None:
    assert name_tokens(None, None) == () and name_tokens("UNK", "Privacy") == ()


# -- N4 identifiers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("  US-ACME-0001 ", "us-acme-0001", True),
        ("US-ACME-0001", "US ACME 0001", False),
        ("US-ACME-0001", "US-ACME-001", False),
        ("ACME/2024/1", "ACME-2024-1", False),
        ("É-1", "E-1", False),
    ],
    ids=[
        "trim-and-case",
        "spaces-differ",
        "zero-padding-differs",
        "separators-differ",
        "accents-kept",
    ],
)
def test_N4_identifiers_are_exact_after_trim_and_casefold(a: str, b: str, equal: bool) -> None:
    assert (normalize_id(a) == normalize_id(b)) is equal


def test_N4_codes_use_identifier_normalization() -> None:
    assert normalize_code(" PRD-0001 ") == "prd-0001"


# -- N5 no information ---------------------------------------------------------------

SPEC_N5_VALUES = ["Unknown", "UNK", "Privacy", "PRIVACY", "MSK", "ASKU", "NI", "N/A", "", "   "]


@pytest.mark.parametrize("value", SPEC_N5_VALUES, ids=[repr(v) for v in SPEC_N5_VALUES])
def test_N5_no_information_initials_never_match(value: str) -> None:
    assert normalize_initials(value) is None
    assert normalize_text(value) is None
    assert normalize_name(value) is None


@pytest.mark.parametrize(
    "value",
    ["", "UNK", "unknown", "ASKU", "NI", "N/A", "NA", "MSK"],
    ids=["empty", "unk", "unknown", "asku", "ni", "n-slash-a", "na", "msk"],
)
def test_N5_no_information_identifiers_never_match(value: str) -> None:
    assert normalize_id(value) is None


@pytest.mark.parametrize(
    "value",
    ["Placeholder", "PLACEHOLDER-1", "placeholder patient", "Placeholder Reporter"],
    ids=["plain", "numbered", "patient", "reporter"],
)
def test_N5_placeholders_never_match(value: str) -> None:
    assert normalize_text(value) is None and normalize_initials(value) is None


def test_N5_reason_omitted_field_is_not_matchable_in_the_document() -> None:
    record = Record.model_validate(
        {
            "id": "II-1",
            "kind": "inbox_item",
            "organization": "ORG-A",
            "patient": {
                "initials": "JS",
                "first_name": "Jacob",
                "sex": "male",
                "dob": "1980",
                "mrn": {"hospital": "H-1"},
                "reason_omitted": {
                    "initials": "privacy",
                    "first_name": "masked",
                    "sex": "unknown",
                    "dob": "asked_but_unknown",
                    "mrn": "privacy",
                },
            },
            "reporter": {
                "last_name": "Smith",
                "country": "US",
                "reason_omitted": {"country": "masked"},
            },
        }
    )
    doc = build_document(record)
    patient = doc["patient"]
    assert patient["initials"] is None and patient["first_name"] is None
    assert patient["name_tokens"] == [] and patient["sex"] is None and patient["dob"] is None
    assert patient["mrn_all"] == []
    assert doc["reporter"]["country"] is None and doc["reporter"]["last_name"] == "smith"


# -- N6 countries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("United States", "US"),
        ("USA", "US"),
        ("US", "US"),
        ("us", "US"),
        ("U.S.A.", "US"),
        ("840", "US"),
        ("United States of America", "US"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("GBR", "GB"),
        ("Germany", "DE"),
        ("deu", "DE"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("Viet Nam", "VN"),
        ("Côte d'Ivoire", "CI"),
        ("NI", "NI"),
        ("NA", "NA"),
    ],
    ids=lambda v: str(v),
)
def test_N6_countries_normalize_to_iso_alpha2(raw: str, expected: str) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "Unknown", "N/A", "XX", "Atlantis", "EU", "12"],
    ids=["none", "empty", "unknown", "n-slash-a", "xx", "fiction", "region", "bad-number"],
)
def test_N6_unknown_countries_never_match(raw: str | None) -> None:
    assert normalize_country(raw) is None


@pytest.mark.parametrize("country", list(pycountry.countries), ids=lambda c: str(c.alpha_2))
def test_N6_every_iso_3166_country_by_code_and_name(country: Any) -> None:
    alpha_2 = country.alpha_2
    for spelling in (alpha_2, country.alpha_3, country.numeric, country.name):
        assert normalize_country(spelling) == alpha_2, spelling


# -- N7 MedDRA events ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (("10019211", "severe headache", "Headache"), ("10019211", "head pain", None), True),
        (("10019211", "headache", "Headache"), ("10028813", "headache", "Nausea"), False),
        ((None, "Severe Headache!", None), (None, "severe  headache", None), True),
        ((None, None, "Headache"), (None, "headache", None), True),
        (("1001921", "headache", None), (None, "Headache", None), True),
    ],
    ids=[
        "same-code-different-verbatim",
        "different-code-same-verbatim",
        "uncoded-verbatim",
        "pt-term-fallback",
        "invalid-code-is-uncoded",
    ],
)
def test_N7_events_compare_by_code_else_text(
    a: tuple[str | None, str | None, str | None],
    b: tuple[str | None, str | None, str | None],
    equal: bool,
) -> None:
    assert (event_key(*a) == event_key(*b)) is equal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10019211", "10019211"),
        (" 10019211 ", "10019211"),
        ("1001921", None),
        ("ABCDEFGH", None),
        (None, None),
    ],
    ids=["code", "padded", "seven-digits", "letters", "none"],
)
def test_N7_meddra_code_is_eight_digits(raw: str | None, expected: str | None) -> None:
    assert normalize_meddra_code(raw) == expected


def test_N7_event_without_anything_has_no_key() -> None:
    assert event_key(None, None, None) is None and event_key(None, "UNK") is None


# -- properties ----------------------------------------------------------------------

_NO_INFO_PARTS = {part for value in NO_INFORMATION for part in value.split()}
_word = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzéüøłçñ"), min_size=2, max_size=8
).filter(lambda w: normalize_text(w) not in _NO_INFO_PARTS and not w.startswith("placeholder"))


@settings(deadline=None)  # no timed assertions in tests
@given(st.text(max_size=40))
def test_N1_normalize_text_is_idempotent(value: str) -> None:
    once = normalize_text(value)
    assert once is None or normalize_text(once) == once


@settings(deadline=None)  # no timed assertions in tests
@given(
    st.lists(
        st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZÉØ"),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.sampled_from(["", " ", ".", ". ", "-", " - ", "_"]), min_size=4, max_size=4),
)
def test_N2_initials_are_separator_insensitive(letters: list[str], seps: list[str]) -> None:
    separated = "".join(letter + sep for letter, sep in zip(letters, seps, strict=False))
    assert normalize_initials(separated) == normalize_initials("".join(letters))


@settings(deadline=None)  # no timed assertions in tests
@given(
    st.lists(_word, min_size=1, max_size=5), st.randoms(use_true_random=False), st.integers(0, 5)
)
def test_N3_name_tokens_are_order_and_split_independent(
    words: list[str], rnd: random.Random, split: int
) -> None:
    shuffled = list(words)
    rnd.shuffle(shuffled)
    at = split % (len(shuffled) + 1)
    first, last = " ".join(shuffled[:at]) or None, " ".join(shuffled[at:]) or None
    assert name_tokens(first, last) == name_tokens(" ".join(words), None)


_no_info = st.sampled_from([*sorted(NO_INFORMATION), "N/A", "UNK", "PRIVACY", "Placeholder"])


@settings(deadline=None)  # no timed assertions in tests
@given(
    _no_info, st.sampled_from(["", " ", "  ", "\t"]), st.sampled_from(["", ".", " "]), st.booleans()
)
def test_N5_no_information_never_produces_a_matchable_value(
    value: str, pad: str, suffix: str, upper: bool
) -> None:
    raw = pad + (value.upper() if upper else value) + suffix + pad
    assert normalize_text(raw) is None
    assert normalize_initials(raw) is None
    assert normalize_name(raw) is None
    assert name_tokens(raw, raw) == ()
    assert is_no_information(normalize_text(raw))


def test_N3_no_information_token_is_dropped_wherever_it_stands() -> None:
    assert name_tokens("Jacob UNK", None) == name_tokens("Jacob", "UNK") == ("jacob",)


def test_module_examples_hold() -> None:
    import doctest

    import indexer.normalize as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
