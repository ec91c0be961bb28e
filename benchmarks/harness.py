"""What every benchmark needs around the product code: a throw-away engine and store,
bulk loading with a progress bar, a timed detection, and memory readings.

The engine is the one :func:`use_engine` chose (``casematch bench … --engine``): the local
OpenSearch node by default, or osmem, started on a temporary data directory that is removed
afterwards (a local node is stopped first), unless ``CASEMATCH_OPENSEARCH_URL`` names a
cluster. osmem's journal runs with ``synchronous=OFF`` because a benchmark's data is
disposable. ``CASEMATCH_NODE_HEAP`` sets the local node's heap (default 1g).

    >>> with bench_store("quality") as (engine, store):        # doctest: +SKIP
    ...     load(store, records, total=len(records), label="index Cases")
    ...     run, wall_ms = timed_detect(store, records[0], DetectionOptions())
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import psutil
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from indexer.engine import Engine, EngineConfig, open_engine
from indexer.localnode import LocalNode
from indexer.records import Record
from indexer.store import BulkReport, IndexNames, RecordStore
from matcher.model import DetectionOptions, DetectionRun

T = TypeVar("T")
stderr = Console(stderr=True, highlight=False)

BenchEngine = Literal["opensearch", "osmem"]
BENCH_ENGINES: tuple[BenchEngine, ...] = ("opensearch", "osmem")
_engine: list[BenchEngine] = ["opensearch"]


def use_engine(kind: BenchEngine) -> None:
    """The engine the following benchmark runs start (``--engine`` of ``casematch bench``)."""
    _engine[0] = kind


def current_engine() -> BenchEngine:
    return _engine[0]


def engine_config(data_dir: Path, *, kind: BenchEngine | None = None) -> EngineConfig:
    """How a benchmark reaches its engine: ``CASEMATCH_OPENSEARCH_URL``, else the chosen one."""
    return EngineConfig(
        opensearch_url=os.environ.get("CASEMATCH_OPENSEARCH_URL") or None,
        user=os.environ.get("CASEMATCH_OPENSEARCH_USER") or None,
        password=os.environ.get("CASEMATCH_OPENSEARCH_PASSWORD") or None,
        data_dir=data_dir,
        timeout_s=300.0,
        journal_synchronous="OFF",
        engine=kind or current_engine(),
        node_heap=os.environ.get("CASEMATCH_NODE_HEAP", "1g"),
    )


def stop_local_node(config: EngineConfig) -> None:
    """Stop the local node of a benchmark's data directory, if it started one."""
    if config.mode == "local":
        LocalNode(config.node_config()).stop()


def progress() -> Progress:
    """A rich progress bar on stderr: label, bar, done/total, elapsed, time left."""
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
    )


def tick(items: Iterable[T], bar: Progress, task: TaskID) -> Iterator[T]:
    """Yield ``items``, advancing ``task`` by one per item."""
    for item in items:
        yield item
        bar.advance(task)


@contextlib.contextmanager
def bench_engine(name: str) -> Iterator[Engine]:
    """An engine for one benchmark run, with its data directory removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"casematch-bench-{name}-"))
    config = engine_config(data_dir)
    try:
        with open_engine(config) as engine:
            yield engine
    finally:
        stop_local_node(config)
        shutil.rmtree(data_dir, ignore_errors=True)


def new_store(engine: Engine, name: str) -> RecordStore:
    """A store under a fresh index prefix (so runs never see each other's data)."""
    store = RecordStore(engine, IndexNames(f"bench-{name}-{uuid.uuid4().hex[:8]}"))
    store.ensure_indices()
    return store


#: A data directory kept between benchmark runs (``CASEMATCH_BENCH_DATA_DIR``): its local node
#: keeps running and its populations stay indexed, so ``latency`` and ``quality`` at 1,000,000
#: Cases load them once.
KEEP_ENV = "CASEMATCH_BENCH_DATA_DIR"


@contextlib.contextmanager
def bench_store(name: str, *, reuse: str | None = None) -> Iterator[tuple[Engine, RecordStore]]:
    """An engine and a fresh store; with ``CASEMATCH_BENCH_DATA_DIR`` set and a ``reuse`` key
    (a population's seed, size and date), the kept store of that population instead."""
    keep = os.environ.get(KEEP_ENV)
    if keep and reuse:
        with open_engine(engine_config(Path(keep))) as engine:
            store = RecordStore(engine, IndexNames(f"bench-{reuse}"))
            store.ensure_indices()
            yield engine, store
        return
    with bench_engine(name) as engine:
        yield engine, new_store(engine, name)


def indexed_cases(store: RecordStore) -> int:
    """How many Cases a (kept) store already holds."""
    store.engine.refresh(store.names.cases)
    return store.engine.count(store.names.cases)


def engine_facts(engine: Engine) -> dict[str, Any]:
    facts: dict[str, Any] = {"kind": engine.kind, "mode": engine.mode, "version": engine.version}
    node = engine.node
    if node is not None:
        facts["heap"] = node.config.heap
    return facts


def load(
    store: RecordStore,
    records: Iterable[Record],
    *,
    total: int,
    label: str,
    chunk_size: int = 1000,
) -> tuple[BulkReport, float]:
    """Bulk-store ``records`` with a progress bar; returns the report and wall seconds."""
    with progress() as bar:
        task = bar.add_task(label, total=total)
        started = time.perf_counter()
        with store.bulk_loading():
            report = store.put_many(tick(records, bar, task), chunk_size=chunk_size, refresh=True)
        wall = time.perf_counter() - started
    if report.failed:
        raise RuntimeError(
            f"{len(report.failed)} of {total} records were not stored; first: {report.failed[0]}"
        )
    return report, wall


def timed_detect(
    store: RecordStore, source: Record, options: DetectionOptions
) -> tuple[DetectionRun, float]:
    """One duplicate check as the service runs it, with its wall time in milliseconds."""
    from matcher import detect

    started = time.perf_counter()
    run = detect(store.engine, store.names, source, options)
    return run, (time.perf_counter() - started) * 1000


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), in MiB; NaN if it is gone."""
    try:
        return float(psutil.Process(pid or os.getpid()).memory_info().rss) / 2**20
    except psutil.Error:
        return float("nan")


def engine_rss_mb(engine: Engine) -> float:
    """Resident memory of the engine process: the local node's JVM or osmem (NaN on a cluster)."""
    pid = engine.process_pid
    return rss_mb(pid) if pid else float("nan")
