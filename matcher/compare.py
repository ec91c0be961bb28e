"""Field comparators (M16-M17): pure functions from two normalized values to a result.

Every comparator returns ``"exact"``, ``"partial"`` or ``"none"`` and is
symmetric. Values arrive already normalized (N1-N7, as the index documents
store them); ``None`` means "no information" (N5) and never matches anything,
not even another ``None``.

    >>> compare_exact("h-991", "h-991"), compare_exact(None, None)
    ('exact', 'none')
    >>> compare_onset(PartialDate.parse("2024-03-05"), PartialDate.parse("2024-05-03"))
    'partial'
    >>> compare_name_field(("jacob", "smith"), ("smith", "jacob"))
    'partial'
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from indexer.dates import PartialDate
from matcher.model import Result

#: rapidfuzz ``token_set_ratio`` at or above which two Product (Reported) texts partially match.
PRODUCT_SIMILARITY = 85.0
#: M17: receipt / new-info / onset dates within this many days partially match.
DATE_WINDOW_DAYS = 30

EXACT: Result = "exact"
PARTIAL: Result = "partial"
NONE: Result = "none"


def best(*results: Result) -> Result:
    """The strongest of several results (exact > partial > none)."""
    if EXACT in results:
        return EXACT
    if PARTIAL in results:
        return PARTIAL
    return NONE


def compare_exact(a: str | None, b: str | None) -> Result:
    """M16 for coded values (initials, MRN, sex, study number, product id, PT code, country)."""
    if a is None or b is None or not a or not b:
        return NONE
    return EXACT if a == b else NONE


def compare_any_exact(a: frozenset[str], b: frozenset[str]) -> Result:
    """Exact when the two sets share a value (cross-field identifiers, M10/M16)."""
    return EXACT if a and b and not a.isdisjoint(b) else NONE


def max_edits(length: int) -> int:
    """Typos tolerated in a name of ``length`` letters: none below 3, one up to 7, two from 8.

    Stricter than OpenSearch's ``AUTO`` (two from 6): a two-edit fuzzy
    expansion is much costlier for the engine and rarely right on short names.
    """
    if length < 3:
        return 0
    return 1 if length <= 7 else 2


@lru_cache(maxsize=65536)
def similar_name(a: str, b: str) -> bool:
    """Two single names are similar: equal, or within ``max_edits`` of the shorter (Levenshtein).

    The engine's fuzzy clause uses the same edit distance with the source term's
    length, so it retrieves at least every pair this function accepts. Cached:
    a source's names are compared with the same few hundred names again and again.
    """
    if a == b:
        return True
    la, lb = len(a), len(b)
    limit = max_edits(la if la < lb else lb)
    if limit == 0 or abs(la - lb) > limit:
        return False
    return Levenshtein.distance(a, b, score_cutoff=limit) <= limit


def compare_name_field(
    a: tuple[str | None, str | None],
    b: tuple[str | None, str | None],
    same_tokens: bool | None = None,
) -> Result:
    """M17 for the *first* name row of two ``(first, last)`` pairs (swap the pairs for the last row).

    Exact when the first names are equal; partial when they are similar, when a
    first name equals the other side's last name (cross-field, either way), or
    when both full names hold the same tokens in any order and split (N3).
    ``same_tokens`` may pass that last test precomputed (index documents carry the tokens).
    """
    a_first, a_last = a
    b_first, b_last = b
    if a_first is None or b_first is None:
        # A row without a value on one side can still match cross-field (N3).
        if a_first is not None and b_last is not None and a_first == b_last:
            return PARTIAL
        if b_first is not None and a_last is not None and b_first == a_last:
            return PARTIAL
        return NONE
    if a_first == b_first:
        return EXACT
    if similar_name(a_first, b_first):
        return PARTIAL
    if (b_last is not None and similar_name(a_first, b_last)) or (
        a_last is not None and similar_name(b_first, a_last)
    ):
        return PARTIAL
    if same_tokens is None:
        same_tokens = _tokens(a) == _tokens(b)
    return PARTIAL if same_tokens else NONE


def compare_name_rows(
    a: tuple[str | None, str | None],
    b: tuple[str | None, str | None],
    same_tokens: bool | None = None,
) -> tuple[Result, Result]:
    """Both name rows of two ``(first, last)`` pairs: ``compare_name_field`` for the first row
    and for the swapped pairs, with each cross-field pair compared once for both rows.
    """
    a_first, a_last = a
    b_first, b_last = b
    if a_first is None or a_last is None or b_first is None or b_last is None:
        return (
            compare_name_field(a, b, same_tokens),
            compare_name_field((a_last, a_first), (b_last, b_first), same_tokens),
        )
    first: Result | None = EXACT if a_first == b_first else None
    last: Result | None = EXACT if a_last == b_last else None
    if first is None and similar_name(a_first, b_first):
        first = PARTIAL
    if last is None and similar_name(a_last, b_last):
        last = PARTIAL
    if first is not None and last is not None:
        return first, last
    # The rows' cross-field pairs are the same two: a_first ~ b_last and b_first ~ a_last.
    if similar_name(a_first, b_last) or similar_name(b_first, a_last):
        return first or PARTIAL, last or PARTIAL
    if same_tokens is None:
        same_tokens = _tokens(a) == _tokens(b)
    rest: Result = PARTIAL if same_tokens else NONE
    return first or rest, last or rest


def _tokens(pair: tuple[str | None, str | None]) -> tuple[str, ...]:
    out: list[str] = []
    for part in pair:
        if part:
            out.extend(part.split())
    return tuple(sorted(out))


@lru_cache(maxsize=65536)
def compare_product_reported(a: str | None, b: str | None) -> Result:
    """M17: Product (Reported) texts, exact when equal, partial when token-similar (fuzzy).

    Cached: product texts repeat across candidates, and the fuzzy ratio is the
    costliest comparison (the table compares the pairs ranking compared).
    """
    if not a or not b:
        return NONE
    if a == b:
        return EXACT
    if fuzz.token_set_ratio(a, b) >= PRODUCT_SIMILARITY and _share_word(a, b):
        return PARTIAL
    return NONE


def _share_word(a: str, b: str) -> bool:
    """Token-similar product texts must share a word of 3+ letters (not only a dose or a unit).

    The engine finds candidates by those words (``terms`` on the analysed
    product text), so this keeps retrieval a superset of the comparison.
    """
    return not product_words(a).isdisjoint(b.split())


def product_words(text: str) -> frozenset[str]:
    """The words of 3+ letters of a product text, which similar texts must share."""
    return frozenset(t for t in text.split() if len(t) >= 3 and t.isalpha())


@lru_cache(maxsize=65536)
def span(value: PartialDate) -> tuple[int, int]:
    """The first and last day a partial date may stand for, as ordinals (cached: dates repeat)."""
    return value.first_day.toordinal(), value.last_day.toordinal()


def compare_dob(a: PartialDate | None, b: PartialDate | None) -> Result:
    """Date of birth: exact when equal at the same precision, partial when one contains the other."""
    if a is None or b is None or a.year != b.year:  # a partial date lies within its year
        return NONE
    if a is b or a == b:  # parsed dates are shared (``matcher.facts``): equal ones are often one
        return EXACT
    a0, a1 = span(a)
    b0, b1 = span(b)
    if (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1):
        return PARTIAL
    return NONE


def _days_apart(a: PartialDate, b: PartialDate) -> int:
    """Days between the nearest ends of two date spans (0 when they overlap)."""
    a0, a1 = span(a)
    b0, b1 = span(b)
    if a0 <= b1 and b0 <= a1:
        return 0
    return b0 - a1 if a1 < b0 else a0 - b1


def compare_window_date(a: PartialDate | None, b: PartialDate | None) -> Result:
    """M17 for Receipt Date and New Info Date: exact when equal, partial within 30 days or contained."""
    if a is None or b is None:
        return NONE
    if a == b:
        return EXACT
    if _days_apart(a, b) <= DATE_WINDOW_DAYS:  # containment included (0 days apart)
        return PARTIAL
    return NONE


def compare_window_days(a: str | None, b: str | None) -> Result:
    """:func:`compare_window_date` of two stored dates (``YYYY[-MM[-DD]]`` text).

    Full days, nearly every receipt and new-info date, are compared without
    making a :class:`PartialDate` of each (the comparison tables do it per listed match).
    """
    if not a or not b:
        return NONE
    if len(a) == 10 and len(b) == 10:
        if a == b:
            return EXACT
        apart = abs(date.fromisoformat(a).toordinal() - date.fromisoformat(b).toordinal())
        return PARTIAL if apart <= DATE_WINDOW_DAYS else NONE
    return compare_window_date(PartialDate.parse(a), PartialDate.parse(b))


def swapped_day_month(value: PartialDate) -> PartialDate | None:
    """The date with month and day swapped (``2024-03-05`` -> ``2024-05-03``), if that is a date."""
    if value.day is None or value.month is None or value.day > 12 or value.day == value.month:
        return None
    try:
        return PartialDate(value.year, value.day, value.month)
    except ValueError:
        return None


def compare_onset(a: PartialDate | None, b: PartialDate | None) -> Result:
    """M17 for Event Onset: exact; partial within 30 days, with day and month swapped, or contained."""
    result = compare_window_date(a, b)
    if result != NONE or a is None or b is None:
        return result
    swapped = swapped_day_month(a)
    return PARTIAL if swapped is not None and swapped == b else NONE


def within_days(a: date, b: date, days: int = DATE_WINDOW_DAYS) -> bool:
    return abs((a - b).days) <= days
