"""Detection latency and quality per index size, retrieval stage apart: ``python -m benchmarks.stagebench``.

Loads generated Cases (:mod:`service.sample`) into a fresh embedded engine
in steps (``--sizes 10000,100000``) and, at each size, runs ``detect`` in
process for labelled Inbox Items. Prints latency percentiles, the engine's
share, the matcher's CPU, round trips, and for the labelled duplicates /
follow-ups: recall of the retrieval stage (``DetectionRun.retrieved_ids``)
apart from recall in the returned sections and "true match first in its
section", split by whether they share an identifier; and how many near-miss
items listed a record the rules forbid. The full benchmark suite is
``casematch bench latency|quality``; this is the matcher's quick view.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date

from benchmarks.generator import LabelledQuery, Population, generate_queries
from benchmarks.harness import bench_engine
from indexer.engine import Engine
from indexer.store import IndexNames, RecordStore
from matcher.detect import detect
from matcher.model import DetectionOptions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="cumulative index sizes")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    today = date(2026, 1, 15)
    options = DetectionOptions(today=today)
    # The harness's engine: the chosen one on a temporary data directory, whose local node
    # is stopped afterwards (a node started here on its own outlived the removed directory).
    with bench_engine("stages") as engine:
        names = IndexNames("stagebench")
        store = RecordStore(engine, names)
        store.ensure_indices()
        loaded = 0
        for size in (int(s) for s in args.sizes.split(",")):
            started = time.perf_counter()
            store.put_many(
                Population(seed=args.seed, n=size - loaded, today=today, start_index=loaded),
                chunk_size=1000,
            )
            loaded = size
            print(f"loaded {size} Cases in {time.perf_counter() - started:.0f} s", flush=True)
            population = Population(seed=args.seed, n=size, today=today)
            queries = list(generate_queries(args.seed + 1, population, args.queries))
            _measure(engine, names, queries, options, size)
    return 0


def _measure(
    engine: Engine,
    names: IndexNames,
    queries: Sequence[LabelledQuery],
    options: DetectionOptions,
    size: int,
) -> None:
    wall: list[float] = []
    engine_ms: list[float] = []
    cpu: list[float] = []
    trips: Counter[int] = Counter()
    found: dict[str, list[int]] = {}
    near = [0, 0]
    for q in queries:
        started = time.perf_counter()
        run = detect(engine, names, q.source, options)
        wall.append((time.perf_counter() - started) * 1000)
        engine_ms.append(run.engine_ms)
        cpu.append(run.matcher_cpu_ms)
        trips[run.round_trips] += 1
        listed = {m.record_id: m.rank for _, ms in run.detection.sections for m in ms}
        retrieved = set(run.retrieved_ids)
        stats = found.setdefault("shares_id" if q.shares_identifier else "no_id", [0, 0, 0, 0])
        for expected in q.expected:
            stats[0] += 1
            stats[1] += expected in retrieved
            stats[2] += expected in listed
            stats[3] += listed.get(expected) == 1
        if q.must_not_match:
            near[0] += 1
            near[1] += any(x in listed for x in q.must_not_match)
    pct = statistics.quantiles(wall, n=100)
    print(
        f"size={size} checks={len(wall)} p50={statistics.median(wall):.0f}ms "
        f"p90={pct[89]:.0f}ms p99={pct[98]:.0f}ms engine_p50={statistics.median(engine_ms):.0f}ms "
        f"matcher_cpu_p50={statistics.median(cpu):.1f}ms round_trips={dict(sorted(trips.items()))}",
        flush=True,
    )
    for key, (n, r, listed_n, first) in found.items():
        print(
            f"  {key}: labelled={n} retrieval_recall={r / n:.3f} recall={listed_n / n:.3f} "
            f"first_in_section={first / max(listed_n, 1):.3f}",
            flush=True,
        )
    print(f"  near misses: {near[0]} items, {near[1]} listed a forbidden record", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
