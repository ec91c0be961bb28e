"""``casematch bench parity``: the same data and labelled queries on both engines.

One seeded population of Cases is loaded into a fresh local OpenSearch node and into osmem;
the same labelled Inbox Items (every duplicate and near-miss family) are checked on each,
one after the other, for every detection profile. Reported: how many detections are
identical (sections, ranks, badges, tags, statuses, comparison tables — everything but the
timing), the first difference if any, and the check latency on each engine with their ratio.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.generator import Population, generate_queries
from benchmarks.harness import (
    BENCH_ENGINES,
    bench_store,
    engine_facts,
    load,
    progress,
    timed_detect,
    use_engine,
)
from benchmarks.metrics import summarize
from benchmarks.report import Report
from matcher import Detection, DetectionOptions
from service.settings import DetectionProfile

PROFILES: tuple[DetectionProfile, ...] = ("enhanced", "deep_22r1", "deep_22r3")


def _comparable(d: Detection) -> dict[str, Any]:
    out = d.model_dump(mode="json")
    out.pop("took_ms")
    return out


def run_parity(*, seed: int, size: int, queries: int, out: Path) -> Path:
    today = date.today()
    population = Population(seed=seed, n=size, today=today)
    sources = [q.source for q in generate_queries(seed + 1, population, queries, today=today)]
    report = Report(
        "parity",
        "Engine parity: identical detections on OpenSearch and osmem",
        method=__doc__.split("\n\n", 1)[1] if __doc__ else "",
        params={"seed": seed, "size": size, "queries": queries, "profiles": list(PROFILES)},
    )
    detections: dict[str, list[dict[str, Any]]] = {}
    wall: dict[str, list[float]] = {}
    engines: dict[str, Any] = {}
    for kind in BENCH_ENGINES:
        use_engine(kind)
        with bench_store(f"parity-{kind}") as (engine, store):
            engines[kind] = engine_facts(engine)
            load(store, population, total=size, label=f"index {size:,} Cases ({kind})")
            detections[kind], wall[kind] = [], []
            with progress() as bar:
                task = bar.add_task(f"checks on {kind}", total=len(sources) * len(PROFILES))
                for profile in PROFILES:
                    options = DetectionOptions(profile=profile, today=today)
                    for source in sources:
                        run, ms = timed_detect(store, source, options)
                        detections[kind].append(_comparable(run.detection))
                        wall[kind].append(ms)
                        bar.advance(task)
    use_engine("opensearch")
    report.engine = engines
    pairs = list(zip(detections["opensearch"], detections["osmem"], strict=True))
    same = sum(a == b for a, b in pairs)
    listed = sum(len([m for s in d["sections"].values() for m in s]) for d, _ in pairs)
    first_diff = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    lat = {k: summarize(v) for k, v in wall.items()}
    report.results = {
        "detections": len(pairs),
        "identical": same,
        "listed_matches": listed,
        "first_difference": first_diff,
        "check_ms": lat,
    }
    report.add_table(
        "Detections compared",
        ["detections", "identical", "listed matches", "first difference"],
        [[len(pairs), same, listed, "none" if first_diff is None else first_diff]],
    )
    report.add_table(
        "Duplicate check, in-process (same queries)",
        ["engine", "p50 ms", "p90", "p99"],
        [[k, v["p50"], v["p90"], v["p99"]] for k, v in lat.items()],
        note=f"p50 ratio OpenSearch / osmem: {lat['opensearch']['p50'] / lat['osmem']['p50']:.2f}",
    )
    report.findings.append(
        f"{same} of {len(pairs)} detections identical on both engines "
        f"({listed:,} listed matches compared)."
    )
    return report.write(out)
