"""``matcher.audit.dob``: date-of-birth levels in numpy equal ``linkage.field_level``'s."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import random

import numpy as np
import pytest

from indexer.dates import PartialDate
from indexer.fields import FIELD_BY_KEY
from matcher import linkage
from matcher.audit.dob import DateTable, dob_levels
from matcher.audit.encoding import _BLANK
from matcher.facts import Facts

DOB = FIELD_BY_KEY["patient.dob"]

DATES = {
    "none": None,
    "year": "1980",
    "other-year": "1981",
    "month": "1980-06",
    "day": "1980-06-05",
    "same-day-again": "1980-06-05",
    "day-month-swapped": "1980-05-06",
    "digit-changed": "1980-06-08",
    "adjacent-digits-swapped": "1908-06-05",
    "year-digit": "1990-06-05",
    "two-digits": "1991-06-05",
    "day-equals-month": "1980-06-06",
    "day-over-12": "1980-06-25",
    "month-over-12-as-day": "1980-12-06",
    "leap-day": "1980-02-29",
    "other-month": "1980-07",
    "first-of-year": "1980-01-01",
    "december": "1980-12",
}


def _facts(value: PartialDate | None) -> Facts:
    out = copy.copy(_BLANK)
    out.dob = value
    return out


def _dates(texts: list[str | None]) -> list[PartialDate | None]:
    return [PartialDate.parse(t) if t else None for t in texts]


def _check(dates: list[PartialDate | None], typos: bool) -> None:
    spec = DOB if typos == DOB.typos else dataclasses.replace(DOB, typos=typos)
    pairs = np.array(list(itertools.product(range(len(dates)), repeat=2)), dtype=np.int64)
    got = dob_levels(DateTable.of(dates), pairs[:, 0], pairs[:, 1], typos=typos)
    want = [linkage.field_level(spec, _facts(dates[i]), _facts(dates[j])) for i, j in pairs]
    for (i, j), level, expected in zip(pairs.tolist(), got.tolist(), want, strict=True):
        assert level == expected, (dates[i], dates[j])


@pytest.mark.parametrize("typos", [True, False], ids=["with-typos", "without-typos"])
def test_dob_levels_of_every_pair_of_the_table_equal_field_level(typos: bool) -> None:
    _check(_dates(list(DATES.values())), typos)


def test_dob_levels_of_random_nearby_dates_equal_field_level() -> None:
    rng = random.Random(5)
    texts: list[str | None] = [None]
    for _ in range(150):
        year = rng.choice((1979, 1980, 1981, 1908, 1890))
        precision = rng.choice(("year", "month", "day", "day", "day"))
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        texts.append(
            f"{year}"
            if precision == "year"
            else f"{year}-{month:02d}"
            if precision == "month"
            else f"{year}-{month:02d}-{day:02d}"
        )
    _check(_dates(texts), DOB.typos)
