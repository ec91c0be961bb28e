"""E2B-style partial dates: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.

A :class:`PartialDate` keeps its precision, so that a year-only date of birth
``1980`` *contains* ``1980-06-02`` without being equal to it (SPEC §2). It is a
real pydantic type: records declare ``dob: PartialDate | None`` and get
parsing, validation and JSON serialisation for free.

    >>> d = PartialDate.parse("1980-06")
    >>> d.precision, d.first_day.isoformat(), d.last_day.isoformat()
    ('month', '1980-06-01', '1980-06-30')
    >>> d.contains(PartialDate.parse("1980-06-02"))
    True
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

Precision = Literal["year", "month", "day"]

_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

#: Sets a field of a frozen dataclass (for :meth:`PartialDate.from_iso`).
_set = object.__setattr__


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A calendar date known to the year, the month or the day.

    Dates order chronologically by their first day; a coarser date comes before
    a finer one that starts on the same day (``1980`` < ``1980-01`` < ``1980-01-01``).
    """

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        # Messages never repeat the value: a date of birth is PHI (M21).
        if not 1 <= self.year <= 9999:
            raise ValueError("the year must be between 0001 and 9999")
        if self.month is None and self.day is not None:
            raise ValueError("a day needs a month")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError("the month must be between 01 and 12")
        if self.day is not None:
            assert self.month is not None
            last = calendar.monthrange(self.year, self.month)[1]
            if not 1 <= self.day <= last:
                raise ValueError("the day does not exist in that month")

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; raise ``ValueError`` otherwise."""
        m = _PATTERN.match(text.strip())
        if not m:
            raise ValueError("expected a date as YYYY, YYYY-MM or YYYY-MM-DD")
        y, mo, d = m.groups()
        return cls(int(y), int(mo) if mo else None, int(d) if d else None)

    @classmethod
    def from_iso(cls, text: str) -> PartialDate:
        """A date in the form this code writes (an index document's ``YYYY[-MM[-DD]]``).

        Equal to :meth:`parse` of the same text, without the pattern match and the
        calendar checks for text this code made from a validated date (candidates
        are read by the thousand); any other length is parsed and checked.
        """
        n = len(text)
        if n not in (4, 7, 10) or not text[:4].isdigit():
            return cls.parse(text)
        made = object.__new__(cls)
        _set(made, "year", int(text[:4]))
        _set(made, "month", int(text[5:7]) if n > 4 else None)
        _set(made, "day", int(text[8:10]) if n > 7 else None)
        return made

    @classmethod
    def of(cls, value: date) -> PartialDate:
        return cls(value.year, value.month, value.day)

    @property
    def precision(self) -> Precision:
        if self.day is not None:
            return "day"
        if self.month is not None:
            return "month"
        return "year"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month or 1, self.day or 1)

    @property
    def last_day(self) -> date:
        if self.day is not None:
            assert self.month is not None
            return date(self.year, self.month, self.day)
        month = self.month or 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def as_date(self) -> date | None:
        """The exact date when the precision is a day, else ``None``."""
        return self.first_day if self.day is not None else None

    def contains(self, other: PartialDate) -> bool:
        """True when every day ``other`` may stand for lies inside this date's span."""
        return self.first_day <= other.first_day and other.last_day <= self.last_day

    def overlaps(self, other: PartialDate) -> bool:
        return self.first_day <= other.last_day and other.first_day <= self.last_day

    def _sort_key(self) -> tuple[int, int, int]:
        return (self.year, self.month or 0, self.day or 0)

    def __lt__(self, other: PartialDate) -> bool:
        return self._sort_key() < other._sort_key()

    def __le__(self, other: PartialDate) -> bool:
        return self._sort_key() <= other._sort_key()

    def __gt__(self, other: PartialDate) -> bool:
        return self._sort_key() > other._sort_key()

    def __ge__(self, other: PartialDate) -> bool:
        return self._sort_key() >= other._sort_key()

    def __str__(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> PartialDate:
            if isinstance(value, PartialDate):
                return value
            if isinstance(value, date):
                return cls.of(value)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise PydanticCustomError(
                    "partial_date_type", "expected a date string as YYYY, YYYY-MM or YYYY-MM-DD"
                )
            try:
                return cls.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("partial_date", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
            json_schema_input_schema=core_schema.str_schema(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$"),
        )
