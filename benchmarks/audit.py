"""``casematch bench audit``: the duplicate audit (``matcher/audit/``) against Splink on
generated Cases with planted duplicates, and the helpers ``bench peer`` shares.

**Data.** ``benchmarks.audit_data.PlantedPopulation``: ``n`` Cases of one organization,
a tenth of them planted duplicates of a random base Case (every duplicate family of the
generator: exact copies, follow-ups, name-order swaps, transliterations, typos, partial
dates of birth, reporter and product variants, duplicates without an identifier) or near
misses (another patient with the same product and event). The truth is the base Case each
planted duplicate was made from; pairs within an entity are the true pairs.

**Both tools in one run, each in a process of its own** (so each one's peak memory is its
own), from the same generated Records to clusters:

- casematch: Records -> index documents -> ``Facts`` and retrieval keys -> encode, block,
  compare, exclude (M1/M3/M5/M7), train, score, cluster (``matcher.audit.audit_in_memory``);
- Splink (DuckDB): Records -> a frame of the same fields -> train -> predict -> cluster
  (``benchmarks.peer_splink.run_splink_cases``).

The link threshold of both is chosen on a *different* generated population (another seed,
a tenth of the size) by pairwise F1, then applied unchanged. ``--with-store`` also runs
casematch with the local node in the loop (index the Cases, then ``casematch audit``'s
scan), reported separately.
"""

from __future__ import annotations

import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import plots
from benchmarks.audit_data import ORGANIZATION, PlantedPopulation
from benchmarks.metrics import PairScores, pair_scores, pairs_within, ratio
from benchmarks.report import Report
from indexer.documents import normalized_document, retrieval_keys
from indexer.records import Record
from matcher import audit as bulk
from matcher.facts import Facts, view_facts
from service.runtime import tune_gc

#: Thresholds tried on the tuning data (never on the evaluation data).
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def audit_rows(records: Iterable[Record]) -> Iterator[tuple[Facts, list[str]]]:
    """Records as the audit reads them from the store: each one's comparable values (its
    match view's, ``Facts`` without the stored record) and its retrieval keys. Built from
    the normalized document directly, without the JSON the engine needs; one at a time, so
    that only the encoded arrays outlive a record (as the store scan's chunks do). Only the
    keys of the kinds the audit blocks on are made (``bulk.BLOCK_KINDS``; the encoder
    skips the others)."""
    for record in records:
        doc = normalized_document(record)
        yield view_facts(doc), retrieval_keys(doc, bulk.BLOCK_KINDS)


def true_pairs(ids: Sequence[str], entity: dict[str, str]) -> set[tuple[str, str]]:
    """Every pair of ids of the same entity (``entity``: id -> label; absent: its own)."""
    groups: dict[str, list[str]] = {}
    for record_id in ids:
        groups.setdefault(entity.get(record_id, record_id), []).append(record_id)
    return {
        (a, b) if a < b else (b, a)
        for members in groups.values()
        for a, b in itertools.combinations(members, 2)
    }


def clustered_scores(
    run: bulk.AuditRun, truth: set[tuple[str, str]], threshold: float
) -> PairScores:
    """Pairwise scores of the clusters at ``threshold`` (re-clustered from the run's scores)."""
    clusters = bulk.cluster(run.pairs, run.probability, threshold, forced=run.id_match)
    ids = run.encoded.ids
    return pair_scores(truth, pairs_within([[ids[k] for k in m] for m in clusters.members]))


def choose_threshold(run: bulk.AuditRun, truth: set[tuple[str, str]]) -> tuple[float, list[Any]]:
    """The threshold of :data:`THRESHOLDS` with the best clustered F1 (ties: the higher)."""
    sweep = [(t, clustered_scores(run, truth, t)) for t in THRESHOLDS]
    best = max(sweep, key=lambda item: (item[1].f1, item[0]))
    return best[0], [[t, s.precision, s.recall, s.f1] for t, s in sweep]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- one process each


def _in_child(target: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """Run ``target(*args)`` in a fresh Python process (``python -m benchmarks.audit``), so
    that its peak memory is its own; its result comes back as JSON on stdout."""
    command = [sys.executable, "-m", "benchmarks.audit", target.__name__, *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{target.__name__} ended with exit code {done.returncode}: {done.stderr[-2000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _casematch_child(seed: int, n: int, threshold: float) -> dict[str, Any]:
    pop = PlantedPopulation(seed, n)
    records = list(pop.records())
    tune_gc()  # as ``casematch audit`` runs (service.runtime)
    base_rss = peak_rss_mb()
    started = time.perf_counter()
    run = bulk.audit_in_memory(
        audit_rows(records), threshold=threshold, organization=ORGANIZATION, trained_at="bench"
    )
    wall = time.perf_counter() - started
    ids = run.encoded.ids
    truth = true_pairs(ids, pop.entities())
    found = pairs_within([[ids[k] for k in m] for m in run.clusters.members])
    direct = {
        tuple(sorted((ids[i], ids[j])))
        for (i, j), p, f in zip(run.pairs.tolist(), run.probability, run.id_match, strict=True)
        if p >= threshold or f
    }
    return {
        "wall_s": wall,
        "clustered": pair_scores(truth, found).as_dict(),
        "pairs": pair_scores(truth, direct).as_dict(),
        "candidate_pairs": run.blocking.pairs,
        "candidate_recall": pair_scores(
            truth, {tuple(sorted((ids[i], ids[j]))) for i, j in run.pairs.tolist()}
        ).recall,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": base_rss,
        "prior": run.model.prior,
        "excluded": run.excluded,
        "blocking": run.blocking.as_dict(),
    }


def _splink_child(seed: int, n: int, threshold: float) -> dict[str, Any]:
    from benchmarks.peer_splink import run_splink_cases

    pop = PlantedPopulation(seed, n)
    records = list(pop.records())
    base_rss = peak_rss_mb()
    result = run_splink_cases(records, seed=seed, threshold=threshold)
    truth = true_pairs([r.id for r in records], pop.entities())
    return {
        "wall_s": result.wall_s,
        "train_s": result.train_s,
        "predict_s": result.predict_s,
        "clustered": pair_scores(truth, pairs_within(result.clusters)).as_dict(),
        "pairs": pair_scores(truth, result.links).as_dict(),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": base_rss,
    }


def _tune(seed: int, n: int) -> dict[str, Any]:
    """Thresholds of both tools chosen on a tuning population (another seed)."""
    pop = PlantedPopulation(seed, n)
    records = list(pop.records())
    run = bulk.audit_in_memory(audit_rows(records), organization=ORGANIZATION, trained_at="tune")
    truth = true_pairs(run.encoded.ids, pop.entities())
    cm_threshold, cm_sweep = choose_threshold(run, truth)
    from benchmarks.peer_splink import run_splink_cases_at

    best: tuple[float, float] = (-1.0, 0.9)
    sweep = []
    for res in run_splink_cases_at(records, seed=seed, thresholds=THRESHOLDS):
        s = pair_scores(truth, pairs_within(res.clusters))
        sweep.append([res.threshold, s.precision, s.recall, s.f1])
        best = max(best, (s.f1, res.threshold))
    return {
        "casematch": cm_threshold,
        "casematch_sweep": cm_sweep,
        "splink": best[1],
        "splink_sweep": sweep,
    }


def _store_side(seed: int, n: int, threshold: float) -> dict[str, Any]:
    """casematch with the engine in the loop: index the Cases, then the store audit."""
    from benchmarks.harness import bench_store, load
    from service.audit import AuditParams, run_audit

    pop = PlantedPopulation(seed, n)
    out = Path(tempfile.mkdtemp(prefix="casematch-bench-audit-"))
    try:
        with bench_store("audit") as (_, store):
            _, index_s = load(store, pop.records(), total=n, label=f"index {n:,}")
            tune_gc()  # as ``casematch audit`` runs (service.runtime)
            started = time.perf_counter()
            summary = run_audit(store, AuditParams(ORGANIZATION, threshold=threshold), out)
            audit_s = time.perf_counter() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "index_s": index_s,
        "audit_s": audit_s,
        "phases": summary.phase_seconds,
        "peak_rss_mb": summary.peak_rss_mb,
    }


def run_audit_bench(*, seed: int, size: int, out: Path, with_store: bool) -> Path:
    """``casematch bench audit``: casematch's audit and Splink on ``size`` generated Cases."""
    import os
    from importlib.metadata import version

    report = Report(
        "audit",
        f"casematch audit vs Splink on {size:,} generated Cases with planted duplicates",
        method=__doc__.split("\n\n", 1)[1] if __doc__ else "",
        params={"seed": seed, "size": size, "tuning_seed": seed + 1000, "tuning_size": size // 10},
    )
    load_before = os.getloadavg()
    tuned = _in_child(_tune, (seed + 1000, max(size // 10, 2000)))
    cm = _in_child(_casematch_child, (seed, size, tuned["casematch"]))
    sp = _in_child(_splink_child, (seed, size, tuned["splink"]))
    store = _store_side(seed, size, tuned["casematch"]) if with_store else None
    load_after = os.getloadavg()
    report.results = {
        "casematch": cm,
        "splink": sp,
        "store": store,
        "tuning": tuned,
        "splink_version": version("splink"),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "ratio_f1": ratio(cm["clustered"]["f1"], sp["clustered"]["f1"]),
        "ratio_wall": ratio(cm["wall_s"], sp["wall_s"]),
    }
    rows = []
    for tool, res, t in (
        ("casematch", cm, tuned["casematch"]),
        (f"Splink {version('splink')}", sp, tuned["splink"]),
    ):
        c = res["clustered"]
        rows.append(
            [tool, t, c["precision"], c["recall"], c["f1"], res["wall_s"], res["peak_rss_mb"]]
        )
    rows.append(
        [
            "ratio casematch/Splink",
            "",
            "",
            "",
            report.results["ratio_f1"],
            report.results["ratio_wall"],
            ratio(cm["peak_rss_mb"], sp["peak_rss_mb"]),
        ]
    )
    report.add_table(
        "Side by side (Records to clusters, in memory, one process each)",
        ["tool", "threshold", "precision", "recall", "F1 (clustered)", "wall s", "peak RSS MiB"],
        rows,
        note=f"Load average before / after: {load_before[0]:.1f} / {load_after[0]:.1f}. "
        f"casematch: {cm['candidate_pairs']:,} candidate pairs (recall of true pairs "
        f"{cm['candidate_recall']:.4f}); excluded {cm['excluded']}.",
    )
    report.add_table(
        f"Thresholds chosen on another population (seed {seed + 1000}, {max(size // 10, 2000):,} Cases)",
        ["tool", "threshold", "precision", "recall", "F1"],
        [["casematch", *r] for r in tuned["casematch_sweep"]]
        + [["Splink", *r] for r in tuned["splink_sweep"]],
    )
    if store is not None:
        report.add_table(
            "casematch with the local node in the loop",
            ["index s", "audit s (scan to outputs)", "phases s", "peak RSS MiB"],
            [[store["index_s"], store["audit_s"], str(store["phases"]), store["peak_rss_mb"]]],
        )
    plots.grouped_bars(
        out / "audit.png",
        f"{size:,} generated Cases: F1 and wall time",
        ["F1 (clustered)", "wall s / 100"],
        {
            "casematch": [cm["clustered"]["f1"], cm["wall_s"] / 100],
            "Splink": [sp["clustered"]["f1"], sp["wall_s"] / 100],
        },
        ylabel="F1; seconds / 100",
    )
    report.add_plot("audit.png", "F1 and wall time of casematch and Splink in the same run")
    report.findings.append(
        f"F1 casematch {cm['clustered']['f1']:.4f} vs Splink {sp['clustered']['f1']:.4f}; wall "
        f"{cm['wall_s']:.1f} s vs {sp['wall_s']:.1f} s; peak memory {cm['peak_rss_mb']:.0f} vs "
        f"{sp['peak_rss_mb']:.0f} MiB."
    )
    return report.write(out)


def main(argv: Sequence[str]) -> int:
    """``python -m benchmarks.audit _casematch_child SEED N THRESHOLD`` (and ``_splink_child``,
    ``_tune SEED N``): one side of the benchmark, its result as one JSON line."""
    name, *args = argv
    children: dict[str, Any] = {
        "_tune": _tune,
        "_casematch_child": _casematch_child,
        "_splink_child": _splink_child,
    }
    target = children[name]
    values = [int(args[0]), int(args[1]), *(float(a) for a in args[2:])]
    print(json.dumps(target(*values), default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
