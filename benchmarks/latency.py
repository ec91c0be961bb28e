"""``casematch bench latency``: duplicate-check latency against the number of indexed Cases.

One store grows through the requested sizes (10k, then the next 90k, ...: Case ``i``
is a pure function of the seed, so growing in steps indexes exactly the population a
single load would). At each size, after a warm-up, ``queries`` labelled Inbox Items
(every generator family in turn, so duplicates, follow-ups and near misses alike) are
checked one at a time in-process with ``matcher.detect``, the call the promote
endpoint makes. Per check: wall time, the matcher's own CPU time (thread CPU spent
outside the engine: building queries, comparing, ranking, the comparison table), the
engine's time, and the number of candidates retrieved.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import psutil

from benchmarks import plots
from benchmarks.generator import Population, generate_queries
from benchmarks.harness import (
    bench_store,
    engine_facts,
    engine_rss_mb,
    indexed_cases,
    load,
    progress,
    timed_detect,
)
from benchmarks.metrics import summarize
from benchmarks.report import Report
from indexer.documents import build_document
from indexer.records import Record
from matcher.facts import facts_from_view
from matcher.model import DetectionOptions
from matcher.rank import rank_reference_facts
from service.runtime import tune_gc

#: The engine issue's targets: p50 / p99 at 1,000,000 Cases, p50 at 100,000.
TARGET_P50_MS = 30.0
TARGET_P99_MS = 150.0
TARGET_P50_MS_100K = 20.0
TARGET_CPU_P50_MS_200 = 3.0
WARMUP = 20
#: The matcher issue's CPU target is for this many candidates.
RANK_CANDIDATES = 200


def _measure(store: Any, seed: int, size: int, queries: int, today: date) -> dict[str, Any]:
    population = Population(seed=seed, n=size, today=today)
    sources = [
        q.source for q in generate_queries(seed + size, population, queries + WARMUP, today=today)
    ]
    options = DetectionOptions(
        profile="enhanced", match_inbox_items=True, mask_phi=True, today=today
    )
    tune_gc()  # as `casematch serve` does once its startup work is done
    wall: list[float] = []
    cpu: list[float] = []
    engine_ms: list[float] = []
    candidates: list[float] = []
    with progress() as bar:
        task = bar.add_task(f"checks at {size:,}", total=len(sources))
        for i, source in enumerate(sources):
            run, ms = timed_detect(store, source, options)
            bar.advance(task)
            if i < WARMUP:
                continue
            wall.append(ms)
            cpu.append(run.matcher_cpu_ms)
            engine_ms.append(run.engine_ms)
            candidates.append(float(len(run.retrieved_ids)))
    return {
        "size": size,
        "wall_ms": summarize(wall),
        "matcher_cpu_ms": summarize(cpu),
        "engine_ms": summarize(engine_ms),
        "candidates": summarize(candidates),
    }


def rank_cpu_ms(
    seed: int,
    population: Population,
    today: date,
    sources: int = 50,
    candidates: int = RANK_CANDIDATES,
) -> list[float]:
    """Thread CPU of ranking ``candidates`` Cases of the source's organization in Python.

    The candidates' index documents are built first, untimed (``detect`` gets them from
    the engine). Timed is what ``detect`` does with the engine's hits: reading each
    candidate from its match view (``facts_from_view``), then ``rank_reference_facts``
    evaluates those that can be listed (``prefilter``), ranks and builds the Detection
    (its listed matches carry their stored records, as ``detect`` fetches them).
    (Timing ``rank_reference`` and subtracting a separately timed pass of building the
    documents overstated this by ~3.5 ms of 5: the two passes allocate differently, so
    their times do not cancel.)
    """
    options = DetectionOptions(
        profile="enhanced", match_inbox_items=True, mask_phi=True, today=today
    )
    by_org: dict[str, list[Record]] = {}
    for case in Population(seed=seed, n=min(population.n, candidates * 4), today=today):
        by_org.setdefault(case.organization, []).append(case)
    out: list[float] = []
    for query in generate_queries(seed + 1, population, sources, today=today):
        docs = [build_document(r) for r in by_org.get(query.source.organization, [])[:candidates]]
        records = {(d["kind"], d["record_id"]): d["record"] for d in docs}
        started = time.thread_time()
        views = (facts_from_view(d["match_view"]) for d in docs)
        rank_reference_facts(query.source, views, options, records, prefilter=True)
        out.append((time.thread_time() - started) * 1000)
    return out


def _cpu_seconds(engine: Any) -> dict[str, float]:
    """CPU seconds so far of this process (generation, validation, documents, client) and
    of the engine process."""
    me = psutil.Process().cpu_times()
    out = {"python": me.user + me.system}
    pid = engine.process_pid
    if pid:
        them = psutil.Process(pid).cpu_times()
        out["engine"] = them.user + them.system
    return out


def _targets(points: list[dict[str, Any]], rank_cpu: dict[str, float]) -> list[list[Any]]:
    """The target rows this run can speak to (sizes it did not reach are left out)."""
    by_size = {p["size"]: p for p in points}
    rows: list[list[Any]] = []
    if 100_000 in by_size:
        p50 = by_size[100_000]["wall_ms"]["p50"]
        rows.append(
            ["p50 at 100,000", f"<= {TARGET_P50_MS_100K} ms", p50, p50 <= TARGET_P50_MS_100K]
        )
    top = by_size.get(1_000_000) or points[-1]
    for label, key, aim in (("p50", "p50", TARGET_P50_MS), ("p99", "p99", TARGET_P99_MS)):
        value = top["wall_ms"][key]
        target = f"<= {aim} ms" + ("" if top["size"] == 1_000_000 else " (a target for 1,000,000)")
        rows.append([f"{label} at {top['size']:,}", target, value, value <= aim])
    rows.append(
        [
            f"matcher CPU p50 ranking {RANK_CANDIDATES} candidates (rank_reference_facts)",
            f"<= {TARGET_CPU_P50_MS_200} ms",
            rank_cpu["p50"],
            rank_cpu["p50"] <= TARGET_CPU_P50_MS_200,
        ]
    )
    return rows


def run_latency(*, seed: int, sizes: list[int], queries: int, out: Path, quick: bool) -> Path:
    today = date.today()
    report = Report(
        "latency",
        "Duplicate-check latency against index size",
        method=__doc__.split("\n\n", 1)[1] if __doc__ else "",
        params={
            "seed": seed,
            "sizes": sizes,
            "queries_per_size": queries,
            "warmup": WARMUP,
            "quick": quick,
            "profile": "enhanced",
            "mask_phi": True,
        },
    )
    points: list[dict[str, Any]] = []
    with bench_store("latency", reuse=f"{seed}-{today.isoformat()}") as (engine, store):
        report.engine = engine_facts(engine)
        indexed = 0
        kept = indexed_cases(store)
        for size in sizes:
            started = time.perf_counter()
            load_s = float("nan")
            if kept < size:  # a kept store (CASEMATCH_BENCH_DATA_DIR) may hold it already
                start = max(indexed, kept)
                step = Population(seed=seed, n=size - start, today=today, start_index=start)
                load_cpu = _cpu_seconds(engine)
                _, load_s = load(store, step, total=size - start, label=f"index to {size:,}")
                cpu = {k: v - load_cpu[k] for k, v in _cpu_seconds(engine).items()}
                kept = size
                loaded = size - start
            indexed = size
            point = _measure(store, seed, size, queries, today)
            point["load_s"] = load_s
            if load_s == load_s:  # this run loaded the step: its rate and CPU per Case
                point["loaded"] = loaded
                point["load_cases_per_s"] = loaded / load_s
                point["load_cpu_ms_per_case"] = {k: v / loaded * 1000 for k, v in cpu.items()}
            point["engine_rss_mb"] = engine_rss_mb(engine)
            point["step_s"] = time.perf_counter() - started
            points.append(point)
        with progress() as bar:
            bar.add_task(f"rank {RANK_CANDIDATES} candidates", total=None)
            rank_cpu = summarize(
                rank_cpu_ms(seed, Population(seed=seed, n=sizes[-1], today=today), today)
            )
    report.results = {"points": points, "rank_cpu_ms_200_candidates": rank_cpu}
    report.add_table(
        f"Duplicate check (in-process, {engine.kind} {engine.version})",
        [
            "indexed Cases",
            "wall p50 ms",
            "p90",
            "p99",
            "matcher CPU p50 ms",
            "CPU p99",
            "engine p50 ms",
            "candidates p50",
            "engine RSS MB",
        ],
        [
            [
                p["size"],
                p["wall_ms"]["p50"],
                p["wall_ms"]["p90"],
                p["wall_ms"]["p99"],
                p["matcher_cpu_ms"]["p50"],
                p["matcher_cpu_ms"]["p99"],
                p["engine_ms"]["p50"],
                p["candidates"]["p50"],
                p["engine_rss_mb"],
            ]
            for p in points
        ],
        note="Matcher CPU: thread CPU of the detection minus the time spent waiting for the "
        "engine; candidates: documents the engine returned.",
    )
    report.add_table(
        "Against the targets",
        ["target", "aim", "measured", "met"],
        _targets(points, rank_cpu),
        note="Targets of the engine issue: at 1,000,000 Cases p50 <= 30 ms and p99 <= 150 ms; "
        "at 100,000 p50 <= 20 ms. The p99 of 100 checks is their second-worst.",
    )
    xs = [p["size"] for p in points]
    plots.lines(
        out / "latency_vs_size.png",
        "Duplicate-check latency against index size",
        xs,
        {
            "wall p50": [p["wall_ms"]["p50"] for p in points],
            "wall p90": [p["wall_ms"]["p90"] for p in points],
            "wall p99": [p["wall_ms"]["p99"] for p in points],
            "matcher CPU p50": [p["matcher_cpu_ms"]["p50"] for p in points],
        },
        xlabel="indexed Cases",
        ylabel="milliseconds",
        targets={"p50 target": TARGET_P50_MS, "p99 target": TARGET_P99_MS},
    )
    report.add_plot(
        "latency_vs_size.png",
        "Duplicate-check p50/p90/p99 and matcher CPU p50 against the number of indexed Cases",
    )
    if len(points) >= 2:
        first, final = points[0], points[-1]
        report.findings.append(
            f"From {first['size']:,} to {final['size']:,} Cases the p50 went from "
            f"{first['wall_ms']['p50']:.1f} ms to {final['wall_ms']['p50']:.1f} ms "
            f"(x{final['wall_ms']['p50'] / first['wall_ms']['p50']:.2f}) and the p99 from "
            f"{first['wall_ms']['p99']:.1f} ms to {final['wall_ms']['p99']:.1f} ms."
        )
    return report.write(out)
