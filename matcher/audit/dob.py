"""Date-of-birth levels of many pairs at once, in numpy, equal to ``linkage.field_level``.

At 100,000 generated Cases the date of birth is the field with the most distinct pairs of
values among the candidate pairs (2.6 million of 5 million; names have a few hundred
thousand), and comparing each through ``linkage.field_level`` costs about half of the
audit's comparison time. A date is three small integers, so the ``dob`` comparator
(``matcher.compare.compare_dob``) and its typo level (``linkage.close_dates``) are
written here over arrays: one row per distinct date (an encoder code), one element per
pair. ``tests/unit/test_audit_dob.py`` checks every level against ``field_level``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.dates import PartialDate
from matcher import linkage
from matcher.audit.common import IntArray, LevelArray

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class DateTable:
    """Dates by code: parts (0 where unknown), first and last day (ordinals), digits."""

    known: BoolArray
    year: IntArray
    month: IntArray
    day: IntArray
    first: IntArray
    last: IntArray
    #: ``YYYYMMDD`` as eight digits (full dates; zeros otherwise).
    digits: npt.NDArray[np.int8]

    @classmethod
    def of(cls, dates: Sequence[PartialDate | None]) -> DateTable:
        n = len(dates)
        known = np.zeros(n, dtype=bool)
        parts = np.zeros((n, 5), dtype=np.int64)
        digits = np.zeros((n, 8), dtype=np.int8)
        for k, value in enumerate(dates):
            if value is None:
                continue
            known[k] = True
            parts[k] = (
                value.year,
                value.month or 0,
                value.day or 0,
                value.first_day.toordinal(),
                value.last_day.toordinal(),
            )
            if value.day is not None:
                digits[k] = [int(c) for c in f"{value.year:04d}{value.month:02d}{value.day:02d}"]
        year, month, day, first, last = (parts[:, c].copy() for c in range(5))
        return cls(known, year, month, day, first, last, digits)


def _one_typo(x: npt.NDArray[np.int8], y: npt.NDArray[np.int8]) -> BoolArray:
    """Rows of equal length one edit apart: one digit changed or two adjacent ones swapped
    (optimal string alignment distance 1, as ``linkage.close_numbers``)."""
    differ = x != y
    count = differ.sum(axis=1)
    swapped = np.zeros(len(x), dtype=bool)
    for i in range(x.shape[1] - 1):
        swapped |= (
            differ[:, i] & differ[:, i + 1] & (x[:, i] == y[:, i + 1]) & (x[:, i + 1] == y[:, i])
        )
    out: BoolArray = (count == 1) | ((count == 2) & swapped)
    return out


def dob_levels(table: DateTable, a: IntArray, b: IntArray, *, typos: bool) -> LevelArray:
    """The level of each pair of date codes (``a[k]``, ``b[k]``) for the ``dob`` comparator:
    ``EXACT`` when equal, ``PARTIAL`` when one contains the other (same year), ``CLOSE``
    (with ``typos``) for full dates a typo apart or with day and month swapped, ``NONE``
    otherwise, ``NULL`` when either is unknown."""
    t = table
    out = np.full(len(a), linkage.NULL, dtype=np.int8)
    known = t.known[a] & t.known[b]
    same_year = t.year[a] == t.year[b]
    exact = known & same_year & (t.month[a] == t.month[b]) & (t.day[a] == t.day[b])
    fa, la, fb, lb = t.first[a], t.last[a], t.first[b], t.last[b]
    within = ((fa <= fb) & (lb <= la)) | ((fb <= fa) & (la <= lb))
    partial = known & ~exact & same_year & within
    rest = np.flatnonzero(known & ~exact & ~partial)
    out[rest] = linkage.NONE
    if typos and len(rest):
        ra, rb = a[rest], b[rest]
        full = (t.day[ra] > 0) & (t.day[rb] > 0)
        swap = (
            (t.year[ra] == t.year[rb])
            & (t.day[ra] <= 12)
            & (t.day[ra] != t.month[ra])
            & (t.month[rb] == t.day[ra])
            & (t.day[rb] == t.month[ra])
        )
        close = full & (swap | _one_typo(t.digits[ra], t.digits[rb]))
        out[rest[close]] = linkage.CLOSE
    out[partial] = linkage.PARTIAL
    out[exact] = linkage.EXACT
    return out
