"""Field comparators (M16-M17): pure functions from two normalized values to a result.

Every comparator returns ``"exact"``, ``"partial"`` or ``"none"`` and is
symmetric. Values arrive already normalized (N1-N7, as the index documents
store them); ``None`` means "no information" (N5) and never matches anything,
not even another ``None``.

    >>> compare_exact("h-991", "h-991"), compare_exact(None, None)
    ('exact', 'none')
    >>> compare_onset(PartialDate.parse("2024-03-05"), PartialDate.parse("2024-05-03"))
    'partial'
    >>> compare_name_rows(("jacob", "smith"), ("smith", "jacob"))
    ('partial', 'partial')
    >>> compare_name_rows(("smith", "john"), ("mary", "smith"))  # one cross pair, one credit
    ('none', 'partial')
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from indexer.dates import PartialDate
from indexer.fields import product_words
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
    """M17 for the *first* name row of two ``(first, last)`` pairs (``compare_name_rows``)."""
    return compare_name_rows(a, b, same_tokens)[0]


def _similar(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and similar_name(a, b)


def _direct(a: str | None, b: str | None) -> Result:
    if a is None or b is None:
        return NONE
    if a == b:
        return EXACT
    return PARTIAL if similar_name(a, b) else NONE


def name_cross_pairs(
    a: tuple[str | None, str | None], b: tuple[str | None, str | None]
) -> tuple[bool, bool]:
    """Whether ``a``'s first name is similar to ``b``'s last, and ``a``'s last to ``b``'s first."""
    return _similar(a[0], b[1]), _similar(a[1], b[0])


def compare_name_rows(
    a: tuple[str | None, str | None],
    b: tuple[str | None, str | None],
    same_tokens: bool | None = None,
) -> tuple[Result, Result]:
    """M17 for both name rows of two ``(first, last)`` pairs: what each row credits in ranking.

    Every name on each side is credited once. Two names pair either directly
    (first with first, last with last: exact when equal, partial when similar)
    or across (first with the other side's last: partial when similar, N3); the
    pairing with more credits wins, the direct one on a tie. A single cross-field
    pair credits one row only, the last-name row (so that ``Smith / John``
    credits *Mary Smith* with one partial name, *John Smith* with two); both
    cross pairs credit both rows. Rows still without a result are partial when
    both sides have a value there and both full names hold the same tokens in
    any order and split (N3). ``same_tokens`` may pass that last test
    precomputed (index documents carry the tokens). Symmetric:
    ``compare_name_rows(b, a) == compare_name_rows(a, b)``.
    """
    first, last, crossed = name_pairing(a, b, same_tokens)
    if crossed is None:
        return first, last
    return (PARTIAL, PARTIAL) if all(crossed) else (NONE, PARTIAL)


def name_pairing(
    a: tuple[str | None, str | None],
    b: tuple[str | None, str | None],
    same_tokens: bool | None = None,
) -> tuple[Result, Result, tuple[bool, bool] | None]:
    """The direct rows' own results and, when the cross pairing wins, which cross pairs match.

    ``(first, last, None)`` when the names pair directly; else ``(first, last,
    (a_first ~ b_last, a_last ~ b_first))`` with the direct results the
    comparison table shows beside its cross-field rows (:func:`compare_name_rows`).
    """
    first = _direct(a[0], b[0])
    last = _direct(a[1], b[1])
    crossed: tuple[bool, bool] | None = None
    if first is NONE or last is NONE:
        pairs = name_cross_pairs(a, b)
        if sum(pairs) > (first is not NONE) + (last is not NONE):
            crossed = pairs
    if (first is not NONE and last is not NONE) or (crossed is not None and all(crossed)):
        return first, last, crossed
    if same_tokens is None:
        same_tokens = _tokens(a) == _tokens(b)
    if same_tokens:  # N3 fills only rows with a value on both sides
        if first is NONE and a[0] is not None and b[0] is not None:
            first = PARTIAL
        if last is NONE and a[1] is not None and b[1] is not None:
            last = PARTIAL
        if crossed is not None and first is not NONE and last is not NONE:
            crossed = None  # the same tokens credit both rows anyway
    return first, last, crossed


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


class CodedText(Protocol):
    """An event as N7 compares it: its MedDRA PT code and verbatim text."""

    meddra_pt_code: str | None
    event_reported: str | None


def compare_event_text(a: CodedText, b: CodedText) -> Result:
    """N7: verbatim texts compared unless both events are coded, with different codes."""
    if a.meddra_pt_code and b.meddra_pt_code and a.meddra_pt_code != b.meddra_pt_code:
        return NONE
    return compare_exact(a.event_reported, b.event_reported)


#: Each comparator a field declaration may name (``indexer.fields.Comparator``), on two
#: values (``event_text``: two events). ``name`` compares two rows at once
#: (:func:`compare_name_rows`); ``window_date`` takes stored ``YYYY[-MM[-DD]]`` days.
COMPARATORS: dict[str, Callable[[Any, Any], Result]] = {
    "exact": compare_exact,
    "dob": compare_dob,
    "onset": compare_onset,
    "window_date": compare_window_days,
    "product_text": compare_product_reported,
    "event_text": compare_event_text,
}
