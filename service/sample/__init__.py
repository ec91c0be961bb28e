"""Seeded synthetic Cases and labelled Inbox Items: the sample data of the product.

``casematch demo`` and ``casematch serve --sample`` (what ``make run`` does)
load a realistic data set, so generating one is product functionality; it
lives here, below the CLI, and needs nothing beyond the product's own
dependencies. The benchmarks build their large data sets on the same code
(``benchmarks/generator.py`` writes it to files).

- :func:`generate_cases` streams a realistic base population of Cases over
  several organizations (:mod:`service.sample.cases`). Record ``i`` is a
  pure function of ``(seed, i, organizations, today)``, so a million records
  stream in constant memory and chunking never changes the data;
  :func:`generate_case_dicts` is the same stream as JSON dicts, the fast path
  for NDJSON files.
- :func:`generate_queries` builds labelled Inbox Items from that population
  (:mod:`service.sample.queries`): true duplicates and follow-ups in many
  disguises and near misses the rules must exclude (M1, M3, M5, M6). Each
  :class:`LabelledQuery` names the records detection must return
  (``expected``) and those it must never return (``must_not_match``).
- :func:`sample_dataset` is a small fixed data set (300 Cases, 30 Inbox Items)
  for ``casematch demo`` and ``serve --sample``.

    >>> day = date(2026, 1, 15)
    >>> pop = Population(seed=1, n=1000, today=day)
    >>> pop.case(42) == next(generate_cases(1, 1, start_index=42, today=day))
    True
    >>> q = next(generate_queries(1, pop, 1, families=["typo_name"]))
    >>> q.family, q.expected == [q.base_id], q.source.kind.value
    ('typo_name', True, 'inbox_item')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from indexer.records import Record
from service.sample.cases import (
    DEFAULT_ORGANIZATIONS,
    Population,
    RecordDict,
    Study,
    case_dict,
    company_code,
    generate_case_dicts,
    generate_cases,
    studies,
)
from service.sample.queries import (
    DUPLICATE_FAMILIES,
    FAMILIES,
    FAMILY_RULES,
    NEAR_MISS_FAMILIES,
    LabelledQuery,
    generate_queries,
)

__all__ = [
    "DEFAULT_ORGANIZATIONS",
    "DUPLICATE_FAMILIES",
    "FAMILIES",
    "FAMILY_RULES",
    "NEAR_MISS_FAMILIES",
    "SAMPLE_CASES",
    "SAMPLE_ITEMS",
    "LabelledQuery",
    "Population",
    "RecordDict",
    "SampleData",
    "Study",
    "case_dict",
    "company_code",
    "generate_case_dicts",
    "generate_cases",
    "generate_queries",
    "sample_data",
    "sample_dataset",
    "sample_population",
    "sample_queries",
    "studies",
]

SAMPLE_CASES = 300
SAMPLE_ITEMS = 30


def sample_population(seed: int = 7, today: date | None = None) -> Population:
    return Population(seed=seed, n=SAMPLE_CASES, today=today or date.today())


def sample_queries(seed: int = 7, today: date | None = None) -> list[LabelledQuery]:
    """The 30 labelled Inbox Items of :func:`sample_dataset`, every family present."""
    return list(generate_queries(seed, sample_population(seed, today), SAMPLE_ITEMS))


@dataclass(frozen=True)
class SampleData:
    """The sample data set of one seed: Cases, and labelled Inbox Items with their truth."""

    seed: int
    cases: list[Record]
    queries: list[LabelledQuery]

    @property
    def items(self) -> list[Record]:
        return [q.source for q in self.queries]

    @property
    def records(self) -> list[Record]:
        """The Cases, then the Inbox Items (the order to load them in)."""
        return [*self.cases, *self.items]

    @property
    def organizations(self) -> list[str]:
        return sorted({r.organization for r in self.cases})


def sample_data(seed: int = 7, today: date | None = None) -> SampleData:
    """:func:`sample_dataset` with its labels, generated once."""
    population = sample_population(seed, today)
    queries = list(generate_queries(seed, population, SAMPLE_ITEMS))
    return SampleData(seed=seed, cases=list(population), queries=queries)


def sample_dataset(seed: int = 7, today: date | None = None) -> tuple[list[Record], list[Record]]:
    """300 Cases and 30 Inbox Items with planted duplicates, for the demo and ``serve --sample``."""
    cases = list(sample_population(seed, today))
    items = [q.source for q in sample_queries(seed, today)]
    return cases, items
