"""The promotion benchmark: manual promotion throughput and latency, and one automated run.

Two measurements on the embedded engine (or ``CASEMATCH_OPENSEARCH_URL``), both through
:class:`service.promotion.service.Promotion`'s components exactly as the API calls them:

* :func:`measure_promotion`: ``n_cases`` generated Cases are loaded, then ``n_items``
  labelled Inbox Items (duplicates, follow-ups and near misses of those Cases) are
  stored and promoted one after another. Each promote runs duplicate detection and
  either creates a Case + Inbound Transmission or returns the potential matches
  (storing the results log). Reported: items/s, p50/p90/p99 latency per outcome.
* :func:`measure_auto_promotion`: ``n_items`` generated Inbox Items from automated
  sources are promoted by one automated run (P10-P16) against the same Cases; reported
  items/s, latency percentiles and how many items ended in each state.

``run_promotion_bench`` runs both and writes ``result.json`` + ``report.md``
(``casematch bench promotion``).
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.generator import Population, generate_queries
from benchmarks.harness import bench_store, engine_facts, engine_rss_mb, load, progress
from benchmarks.report import Report
from indexer.records import Record
from indexer.store import RecordStore
from matcher import Detection, DetectionOptions
from service.auth import Principal
from service.promotion.service import Promotion
from service.settings import Settings

AUTO_SOURCES = ("intake_api", "as2", "edc", "structured_import", "e2b")


def _principal(organizations: Iterable[str]) -> Principal:
    return Principal(
        key_id="bench",
        organizations=frozenset(organizations),
        permissions=frozenset({"promote", "read_phi"}),
    )


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values_ms)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def _service(store: RecordStore) -> Promotion:
    service = Promotion(store, Settings(index_prefix=store.names.prefix))
    service.ensure_indices()
    return service


def _items(seed: int, pop: Population, n: int, prefix: str, *, auto: bool) -> list[Record]:
    rng = random.Random(seed)
    out: list[Record] = []
    for q in generate_queries(seed, pop, n, id_prefix=prefix):
        item = q.source
        if auto and item.source.value not in AUTO_SOURCES:
            data = item.model_dump(mode="json")
            data["source"] = rng.choice(AUTO_SOURCES[:4])
            item = Record.model_validate(data)
        out.append(item)
    return out


def measure_promotion(
    store: RecordStore, pop: Population, *, n_items: int, seed: int
) -> dict[str, Any]:
    """Promote ``n_items`` labelled Inbox Items one by one; throughput and latency."""
    service = _service(store)
    detection_ms: list[float] = []
    detector = service.manual.detector

    def timed_detector(source: Record, options: DetectionOptions) -> Detection:
        t0 = time.perf_counter()
        try:
            return detector(source, options)
        finally:
            detection_ms.append((time.perf_counter() - t0) * 1000)

    service.manual.detector = timed_detector
    principal = _principal(pop.organizations)
    items = _items(seed, pop, n_items, "PB", auto=False)
    load(store, items, total=len(items), label="store Inbox Items")
    latencies: dict[str, list[float]] = {}
    refused: Counter[str] = Counter()
    with progress() as bar:
        task = bar.add_task("promote", total=len(items))
        started = time.perf_counter()
        for n, item in enumerate(items):
            t0 = time.perf_counter()
            outcome: str
            try:
                outcome = service.manual.promote(item.id, principal, f"bench-{n}").outcome
            except Exception as exc:  # a refusal is a result too; count it by type
                refused[type(exc).__name__] += 1
                outcome = "refused"
            latencies.setdefault(outcome, []).append((time.perf_counter() - t0) * 1000)
            bar.advance(task)
        wall = time.perf_counter() - started
    every = [v for vs in latencies.values() for v in vs]
    return {
        "items": len(items),
        "wall_s": wall,
        "items_per_s": len(items) / wall if wall else float("nan"),
        "latency_ms": percentiles(every),
        "detection_ms": percentiles(detection_ms),
        "by_outcome": {
            k: {"count": len(v), **percentiles(v)} for k, v in sorted(latencies.items())
        },
        "refused": dict(refused),
    }


def measure_auto_promotion(
    store: RecordStore, pop: Population, *, n_items: int, seed: int
) -> dict[str, Any]:
    """One automated-promotion run over ``n_items`` new items from automated sources."""
    service = _service(store)
    principal = _principal(pop.organizations)
    items = _items(seed + 1, pop, n_items, "AUTO", auto=True)
    load(store, items, total=len(items), label="store automated items")
    mine = {(item.organization, item.id) for item in items}  # not the earlier measurement's
    ids = [i for i in service.automated.pending_items(pop.organizations) if i in mine]
    by_state: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    latencies: list[float] = []
    with progress() as bar:
        task = bar.add_task("auto-promote", total=len(ids))
        started = time.perf_counter()
        for n, (org, item_id) in enumerate(ids):
            t0 = time.perf_counter()
            try:
                acting = principal.narrowed(org)
                by_state[service.automated.auto_promote(item_id, acting, f"auto-{n}").state] += 1
            except Exception as exc:
                refused[type(exc).__name__] += 1
            latencies.append((time.perf_counter() - t0) * 1000)
            bar.advance(task)
        wall = time.perf_counter() - started
    return {
        "items": len(ids),
        "wall_s": wall,
        "items_per_s": len(ids) / wall if wall else float("nan"),
        "latency_ms": percentiles(latencies),
        "by_state": dict(sorted(by_state.items())),
        "refused": dict(refused),
    }


def run_promotion_bench(
    *,
    seed: int = 42,
    quick: bool = False,
    out: Path = Path("benchmarks/results/promotion"),
    cases: int | None = None,
    items: int | None = None,
    auto_items: int | None = None,
) -> Path:
    """Both measurements on one engine; writes the report and returns its path."""
    n_cases = cases or (2_000 if quick else 100_000)
    n_items = items or (100 if quick else 1_000)
    n_auto = auto_items or (500 if quick else 10_000)
    pop = Population(seed=seed, n=n_cases)
    report = Report(
        name="promotion",
        title="Promotion throughput, latency and one automated run",
        method=__doc__ or "",
        params={"seed": seed, "cases": n_cases, "promote_items": n_items, "auto_items": n_auto},
    )
    with bench_store("promotion") as (engine, store):
        report.engine = engine_facts(engine)
        load(store, pop, total=n_cases, label=f"index {n_cases:,} Cases")
        manual = measure_promotion(store, pop, n_items=n_items, seed=seed)
        auto = measure_auto_promotion(store, pop, n_items=n_auto, seed=seed)
        report.results = {
            "promote": manual,
            "auto_promote": auto,
            "engine_rss_mb": engine_rss_mb(engine),
        }
    lat = manual["latency_ms"]
    report.add_table(
        f"Manual promotion, {n_items:,} items against {n_cases:,} indexed Cases (sequential)",
        ["items/s", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [[manual["items_per_s"], lat["p50"], lat["p90"], lat["p99"], lat["max"]]],
    )
    det = manual["detection_ms"]
    report.add_table(
        "Of which duplicate detection (the matcher), per promote",
        ["p50 ms", "p90 ms", "p99 ms"],
        [[det["p50"], det["p90"], det["p99"]]],
    )
    report.add_table(
        "Manual promotion by outcome",
        ["outcome", "count", "p50 ms", "p99 ms"],
        [[k, v["count"], v["p50"], v["p99"]] for k, v in manual["by_outcome"].items()],
    )
    alat = auto["latency_ms"]
    report.add_table(
        f"Automated promotion, one run over {auto['items']:,} items",
        ["items/s", "wall s", "p50 ms", "p99 ms"],
        [[auto["items_per_s"], auto["wall_s"], alat["p50"], alat["p99"]]],
    )
    report.add_table(
        "Automated promotion: items per resulting state",
        ["state", "items"],
        [[k, v] for k, v in auto["by_state"].items()]
        + [[f"refused ({k})", v] for k, v in auto["refused"].items()],
    )
    return report.write(out)


def run_auto_promotion_bench(
    n_items: int = 10_000, *, cases: int = 20_000, seed: int = 42
) -> dict[str, Any]:
    """Only the automated run, on its own engine: ``cases`` Cases, then ``n_items`` items."""
    pop = Population(seed=seed, n=cases)
    with bench_store("auto-promotion") as (_engine, store):
        load(store, pop, total=cases, label=f"index {cases:,} Cases")
        return measure_auto_promotion(store, pop, n_items=n_items, seed=seed)
