"""``casematch bench index``: bulk-load rate, reindex time and peak memory against size.

One store grows through the requested sizes. At each step the next generated Cases
are bulk-stored with ``RecordStore.put_many`` (the ``casematch load`` path: documents
built in Python, ``_bulk`` in chunks of 1,000, every write also journaled, the journal
with ``synchronous=OFF`` because the data is disposable), then the whole store is
rebuilt with ``indexer.reindex.reindex`` (I4: copy into a new physical index, verify
the counts, swap the alias). A sampler thread reads the resident memory of the engine
process and of this process every 0.2 s; the peak of each step is reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from rich.progress import Progress, TaskID

from benchmarks import plots
from benchmarks.generator import Population
from benchmarks.harness import bench_store, engine_facts, engine_rss_mb, load, progress, rss_mb
from benchmarks.report import Report
from indexer.engine import Engine
from indexer.reindex import reindex


class PeakMemory:
    """The highest resident memory seen of the engine and of this process."""

    def __init__(self, engine: Engine, every_s: float = 0.2) -> None:
        self.engine = engine
        self.every_s = every_s
        self.engine_mb = 0.0
        self.python_mb = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        e, p = engine_rss_mb(self.engine), rss_mb()
        if e == e:  # not NaN
            self.engine_mb = max(self.engine_mb, e)
        self.python_mb = max(self.python_mb, p)

    @contextmanager
    def watching(self) -> Iterator[PeakMemory]:
        self._stop.clear()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self._sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every_s)


def run_index(*, seed: int, sizes: list[int], out: Path, quick: bool) -> Path:
    today = date.today()
    report = Report(
        "index",
        "Bulk load, reindex and memory against index size",
        method=__doc__.split("\n\n", 1)[1] if __doc__ else "",
        params={
            "seed": seed,
            "sizes": sizes,
            "quick": quick,
            "chunk_size": 1000,
            "journal_synchronous": "OFF",
        },
    )
    points: list[dict[str, Any]] = []
    with bench_store("index") as (engine, store):
        report.engine = engine_facts(engine)
        memory = PeakMemory(engine)
        indexed = 0
        for size in sizes:
            step = Population(seed=seed, n=size - indexed, today=today, start_index=indexed)
            with memory.watching():
                bulk, load_s = load(
                    store, step, total=size - indexed, label=f"bulk load to {size:,}"
                )
                with progress() as bar:
                    task = bar.add_task(f"reindex {size:,}", total=size)
                    cases_alias = store.names.cases

                    def on_progress(
                        alias: str,
                        copied: int,
                        total: int,
                        bar: Progress = bar,
                        task: TaskID = task,
                        cases_alias: str = cases_alias,
                    ) -> None:
                        if alias == cases_alias:
                            bar.update(task, completed=copied, total=max(total, 1))

                    started = time.perf_counter()
                    result = reindex(
                        store.engine, store.names, drop_grace_s=0.0, progress=on_progress
                    )
                    reindex_s = time.perf_counter() - started
            added = size - indexed
            indexed = size
            points.append(
                {
                    "size": size,
                    "added": added,
                    "load_s": load_s,
                    "docs_per_s": added / load_s if load_s else float("nan"),
                    "timings_s": bulk.timings,
                    "reindex_s": reindex_s,
                    "reindex_docs_per_s": result.copied / reindex_s if reindex_s else float("nan"),
                    "reindexed": result.copied,
                    "peak_engine_mb": memory.engine_mb,
                    "peak_python_mb": memory.python_mb,
                }
            )
    report.results = {"points": points}
    report.add_table(
        "Bulk load and reindex",
        [
            "indexed Cases",
            "added",
            "bulk docs/s",
            "load s",
            "reindex s",
            "reindex docs/s",
            "peak engine RSS MB",
            "peak Python RSS MB",
        ],
        [
            [
                p["size"],
                p["added"],
                p["docs_per_s"],
                p["load_s"],
                p["reindex_s"],
                p["reindex_docs_per_s"],
                p["peak_engine_mb"],
                p["peak_python_mb"],
            ]
            for p in points
        ],
        note="Bulk docs/s is the rate of the step that grew the store to the size shown; "
        "reindex rebuilds the whole store at that size. Peak memory is cumulative.",
    )
    xs = [p["size"] for p in points]
    plots.lines(
        out / "index_vs_size.png",
        "Bulk load rate and reindex time against size",
        xs,
        {
            "bulk load docs/s / 100": [p["docs_per_s"] / 100 for p in points],
            "reindex seconds": [p["reindex_s"] for p in points],
            "peak engine RSS GB x10": [p["peak_engine_mb"] / 102.4 for p in points],
        },
        xlabel="indexed Cases",
        ylabel="see legend",
    )
    report.add_plot(
        "index_vs_size.png",
        "Bulk load rate, reindex time and peak engine memory against the number of indexed Cases",
    )
    return report.write(out)
