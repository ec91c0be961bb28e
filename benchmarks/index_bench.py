"""Bulk-load benchmark: ``casematch bench index``.

Measures what ``casematch load`` does on the embedded engine with its durable
copy on: N generated Cases are written once to an NDJSON file (generation is
timed apart), then each run starts a fresh embedded engine on an empty data
directory and loads the file (parse + validate, build documents + JSON, engine
bulk requests, journal commits). Reported per run and as the median:

* ``docs_per_s``: loaded documents / wall time of the load;
* where the time goes: wall seconds per stage as measured in the loader
  (``parse``, ``build``, ``plan``, ``engine`` = bulk round trips including the
  journal commit, ``journal`` = the SQLite part of it), and CPU seconds of this
  process and of the osmem-server process (the engine's own indexing cost);
* ``peak_rss_mb``: the highest resident memory of this process and of the
  engine process, sampled every 100 ms;
* ``restore_s``: how long reopening the last run's data directory takes
  (the journal replayed into a fresh engine).

What it showed (``python -m benchmarks.index_bench -n 100000 --runs 1`` on the
2-core machine, shared): the load is engine-bound. osmem-server spends about
1.9 ms of CPU per casematch document (about 0.16 ms for the same documents under
a one-keyword mapping, the shape of the early ~2,900 docs/s probe): the cost is
spread over the ~60 indexed fields and their doc values. Python (parse, validate,
build, JSON) takes about 0.45 ms per document on the other core, the journal
about 0.09 ms. Chunks of 2,000 matter: with 500 the engine's cost per document
grows with the index (3.7 ms at 20k documents).

    >>> result = run_index_bench(n=2000, runs=1, data_dir=Path("/tmp/bench"))  # doctest: +SKIP
    >>> result["docs_per_s_median"]                                          # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psutil

from benchmarks.generator import generate_case_dicts
from benchmarks.harness import engine_config, stop_local_node
from indexer.engine import open_engine
from indexer.load import load_files
from indexer.store import IndexNames, RecordStore


class _PeakRss:
    """Samples the resident memory of some processes in a background thread."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.1) -> None:
        self._procs = {k: psutil.Process(p) for k, p in pids.items()}
        self.peak_mb = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._every)

    def sample(self) -> None:
        for key, proc in self._procs.items():
            try:
                rss = proc.memory_info().rss / 1e6
            except psutil.Error:
                continue
            self.peak_mb[key] = max(self.peak_mb[key], rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def write_dataset(path: Path, n: int, seed: int = 1) -> float:
    """Write N generated Cases as NDJSON; return the seconds it took."""
    started = time.perf_counter()
    with path.open("wb") as fh:
        for data in generate_case_dicts(seed, n, today=date(2026, 1, 15)):
            fh.write(orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE))
    return time.perf_counter() - started


def _one_run(
    dataset: Path, data_dir: Path, n: int, chunk_size: int, workers: int
) -> dict[str, Any]:
    config = engine_config(data_dir)
    stop_local_node(config)
    shutil.rmtree(data_dir, ignore_errors=True)
    me = psutil.Process()
    with open_engine(config) as engine:
        assert engine.process_pid is not None
        child = psutil.Process(engine.process_pid)
        store = RecordStore(engine, IndexNames("bench"))
        store.ensure_indices()
        cpu0, child0 = _cpu(me), _cpu(child)
        with _PeakRss({"python": me.pid, "engine": child.pid}) as rss:
            report = load_files(store, [dataset], chunk_size=chunk_size, workers=workers)
        cpu1, child1 = _cpu(me), _cpu(child)
        store.engine.refresh(store.names.cases)
        count = engine.count(store.names.cases)
        journal_s = engine.journal.write_seconds if engine.journal is not None else 0.0
    if report.loaded != n or count != n or report.failed:
        raise RuntimeError(
            f"bench load stored {report.loaded}/{count} of {n}; failures: {len(report.failed)}"
        )
    return {
        "docs_per_s": round(report.docs_per_s, 1),
        "seconds": round(report.seconds, 2),
        "stage_seconds": {k: round(v, 2) for k, v in report.timings.items()}
        | {"journal": round(journal_s, 2)},
        "cpu_seconds": {"python": round(cpu1 - cpu0, 2), "engine": round(child1 - child0, 2)},
        "engine_cpu_us_per_doc": round((child1 - child0) / n * 1e6),
        "python_cpu_us_per_doc": round((cpu1 - cpu0) / n * 1e6),
        "peak_rss_mb": {k: round(v) for k, v in rss.peak_mb.items()},
    }


def run_index_bench(
    n: int = 100_000,
    runs: int = 3,
    data_dir: Path | str = Path(".casematch-bench"),
    *,
    chunk_size: int = 2000,
    workers: int = 1,
    seed: int = 1,
    progress: Any = None,
) -> dict[str, Any]:
    """Load N generated Cases ``runs`` times into fresh embedded engines; the figures."""
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    dataset = root / f"cases-{seed}-{n}.ndjson"
    # Generation is timed apart from the load; a file from an earlier call is reused.
    generation_s = write_dataset(dataset, n, seed) if not dataset.exists() else None
    results = []
    for i in range(runs):
        result = _one_run(dataset, root / "data", n, chunk_size, workers)
        results.append(result)
        if progress is not None:
            progress(i + 1, runs, result)
    # Restart: osmem replays its journal; the local node is stopped and reopens its indices.
    config = engine_config(root / "data")
    stop_local_node(config)
    started = time.perf_counter()
    with open_engine(config) as engine:
        restored = engine.count("bench-cases")
    restore_s = time.perf_counter() - started
    stop_local_node(config)
    rates = [r["docs_per_s"] for r in results]
    return {
        "n": n,
        "runs": runs,
        "chunk_size": chunk_size,
        "workers": workers,
        "docs_per_s_median": statistics.median(rates),
        "docs_per_s_runs": rates,
        "generation_s": round(generation_s, 2) if generation_s is not None else None,
        "restore_s": round(restore_s, 2),
        "restored_docs": restored,
        "cpus": psutil.cpu_count(),
        "load_average_1m": round(psutil.getloadavg()[0], 2),
        "runs_detail": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="records to load")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(".casematch-bench"))
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    result = run_index_bench(
        args.n,
        args.runs,
        args.data_dir,
        chunk_size=args.chunk_size,
        workers=args.workers,
        progress=lambda i, k, r: print(f"run {i}/{k}: {r['docs_per_s']} docs/s", file=sys.stderr),
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
