"""Seeded synthetic Cases and labelled Inbox Items for the demo, the tests and the benchmarks.

The public entry point; three uses:

- :func:`generate_cases` streams a realistic base population of Cases over
  several organizations (``benchmarks.generator_cases``). Record ``i`` is a
  pure function of ``(seed, i, organizations, today)``, so a million records
  stream in constant memory and chunking never changes the data;
  :func:`generate_case_dicts` is the same stream as JSON dicts, the fast path
  for NDJSON files.
- :func:`generate_queries` builds labelled Inbox Items from that population
  (``benchmarks.generator_queries``): true duplicates and follow-ups in many
  disguises and near misses the rules must exclude (M1, M3, M5, M6). Each
  :class:`LabelledQuery` names the records detection must return
  (``expected``) and those it must never return (``must_not_match``).
- :func:`sample_dataset` is a small fixed data set (300 Cases, 30 Inbox Items)
  for ``casematch demo`` and ``serve --sample``.

:func:`write_ndjson` writes records (or plain dicts) as NDJSON for bulk loads.
``python -m benchmarks.generator --help`` writes files and measures the rate.

    >>> day = date(2026, 1, 15)
    >>> pop = Population(seed=1, n=1000, today=day)
    >>> pop.case(42) == next(generate_cases(1, 1, start_index=42, today=day))
    True
    >>> q = next(generate_queries(1, pop, 1, families=["typo_name"]))
    >>> q.family, q.expected == [q.base_id], q.source.kind.value
    ('typo_name', True, 'inbox_item')
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from benchmarks.generator_cases import (
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
from benchmarks.generator_queries import (
    DUPLICATE_FAMILIES,
    FAMILIES,
    FAMILY_RULES,
    NEAR_MISS_FAMILIES,
    LabelledQuery,
    generate_queries,
)
from indexer.records import Record

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
    "Study",
    "case_dict",
    "company_code",
    "generate_case_dicts",
    "generate_cases",
    "generate_queries",
    "sample_dataset",
    "sample_population",
    "sample_queries",
    "studies",
    "write_ndjson",
]

# -- the sample data set and files -----------------------------------------------------

SAMPLE_CASES = 300
SAMPLE_ITEMS = 30


def sample_population(seed: int = 7, today: date | None = None) -> Population:
    return Population(seed=seed, n=SAMPLE_CASES, today=today or date.today())


def sample_queries(seed: int = 7, today: date | None = None) -> list[LabelledQuery]:
    """The 30 labelled Inbox Items of :func:`sample_dataset`, every family present."""
    return list(generate_queries(seed, sample_population(seed, today), SAMPLE_ITEMS))


def sample_dataset(seed: int = 7, today: date | None = None) -> tuple[list[Record], list[Record]]:
    """300 Cases and 30 Inbox Items with planted duplicates, for the demo and ``serve --sample``."""
    cases = list(sample_population(seed, today))
    items = [q.source for q in sample_queries(seed, today)]
    return cases, items


def write_ndjson(records: Iterable[Record | Mapping[str, Any]], path: str | Path) -> int:
    """Write one JSON object per line; return how many were written."""
    count = 0
    with Path(path).open("wb") as fh:
        for record in records:
            data = (
                record.model_dump(mode="json", exclude_none=True)
                if isinstance(record, Record)
                else record
            )
            fh.write(orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE))
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generator",
        description="Write a synthetic population (cases.ndjson) and labelled queries "
        "(queries.ndjson), and report the generation rate.",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, help="directory for the NDJSON files (omit to only measure)"
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="skip pydantic validation (raw dicts)"
    )
    args = parser.parse_args(argv)

    today = date.today()
    stream: Iterable[Record | RecordDict] = (
        generate_case_dicts(args.seed, args.cases, today=today)
        if args.no_validate
        else generate_cases(args.seed, args.cases, today=today)
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        count = write_ndjson(stream, args.out / "cases.ndjson")
    else:
        count = sum(1 for _ in stream)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"cases: {count} in {elapsed:.2f} s = {count / elapsed:,.0f} records/s "
        f"({count / cpu:,.0f} per CPU second; {'dicts' if args.no_validate else 'validated'})"
    )
    if args.queries:
        pop = Population(args.seed, args.cases, today=today)
        started = time.perf_counter()
        queries = generate_queries(args.seed, pop, args.queries)
        if args.out:
            n = write_ndjson((q.as_dict() for q in queries), args.out / "queries.ndjson")
        else:
            n = sum(1 for _ in queries)
        elapsed = time.perf_counter() - started
        print(f"queries: {n} in {elapsed:.2f} s = {n / elapsed:,.0f} queries/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
