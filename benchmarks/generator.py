"""Write the synthetic data set to NDJSON files and measure the generation rate.

The generator itself is product code (:mod:`service.sample`: ``casematch demo``
and ``serve --sample`` use it); this module re-exports it for the benchmarks
and adds what only a benchmark needs: :func:`write_ndjson` for bulk-load files
and ``python -m benchmarks.generator --help``.
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

from indexer.records import Record
from service.sample import (
    DEFAULT_ORGANIZATIONS,
    DUPLICATE_FAMILIES,
    FAMILIES,
    FAMILY_RULES,
    NEAR_MISS_FAMILIES,
    SAMPLE_CASES,
    SAMPLE_ITEMS,
    LabelledQuery,
    Population,
    RecordDict,
    Study,
    case_dict,
    company_code,
    generate_case_dicts,
    generate_cases,
    generate_queries,
    sample_dataset,
    sample_population,
    sample_queries,
    studies,
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
