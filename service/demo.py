"""The sample data behind ``casematch demo`` and ``casematch serve --sample``.

The data set is :func:`benchmarks.generator.sample_dataset` (300 Cases over
three organizations and 30 Inbox Items with planted duplicates, follow-ups and
near misses), the same for the same seed. ``serve --sample`` loads it into an
empty store only, so a restart on the same data directory keeps what the API
wrote. ``demo`` loads it into a fresh store, prints the counts, then runs
duplicate detection on every sample Inbox Item and prints what was found.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from benchmarks.generator import sample_dataset
from indexer.records import Kind, Record
from indexer.store import RecordStore
from service.app import Services


def sample_records(seed: int) -> list[Record]:
    """The sample Cases, then the sample Inbox Items."""
    cases, items = sample_dataset(seed)
    return [*cases, *items]


def first_inbox_item_id(records: Sequence[Record]) -> str:
    return next((r.id for r in records if r.kind is Kind.inbox_item), "II-1")


def load_if_empty(store: RecordStore, records: Sequence[Record]) -> int:
    """Load ``records`` unless the store already holds any; how many were loaded."""
    counts = store.counts()
    if counts["cases"] or counts["inbox_items"]:
        return 0
    return load(store, records)


def load(store: RecordStore, records: Sequence[Record]) -> int:
    """Store ``records``; raises if the engine refused any (sample data must load whole)."""
    report = store.put_many(records)
    if report.failed:
        first = report.failed[0]
        raise RuntimeError(
            f"the engine refused {len(report.failed)} sample records "
            f"(first: {first.kind} {first.record_id}: {first.error})"
        )
    return report.stored


def counts_table(store: RecordStore) -> Table:
    counts = store.counts()
    table = Table(title="indexed records")
    table.add_column("index")
    table.add_column("documents", justify="right")
    table.add_column("searchable", justify="right")
    for key, name in (("cases", store.names.cases), ("inbox_items", store.names.inbox_items)):
        table.add_row(name, str(counts[key]), str(counts[f"{key}_searchable"]))
    return table


def run_demo(services: Services, *, seed: int, console: Console) -> None:
    """Generate, load, count; then detect on every sample Inbox Item and report."""
    records = sample_records(seed)
    organizations = sorted({r.organization for r in records})
    console.print(
        f"generated {sum(r.kind is Kind.case for r in records)} Cases and "
        f"{sum(r.kind is Kind.inbox_item for r in records)} Inbox Items "
        f"(seed {seed}, organizations {', '.join(organizations)})"
    )
    loaded = load(services.store, records)
    console.print(f"loaded {loaded} records into the {services.engine.kind} engine")
    console.print(counts_table(services.store))
