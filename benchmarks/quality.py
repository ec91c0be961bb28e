"""``casematch bench quality``: how well detection finds labelled duplicates, per family.

Two data sets:

1. **Generated** (``benchmarks.generator``): a seeded population of Cases over three
   organizations is indexed, then labelled Inbox Items are checked against it, one per
   perturbation family in turn: true duplicates and follow-ups (with and without a
   shared identifier) and near misses the rules must exclude (M1, M3, M5, M6) or must
   not call the same patient (a different patient with the same product and event).
2. **FEBRL** (``benchmarks.febrl``): every FEBRL record is indexed as a Case; every
   duplicate record (``rec-N-dup-k``) is then checked, expecting the other records of
   the same person.

Per query the ranked list is the Detection's sections in order (ID, Subject,
Possible: M15), the source itself left out. Measured: recall@1/@5/@10 (share of
expected records among the first k), hit@1 (= precision of the first result for
single-answer queries), MRR, recall anywhere in the Detection, "first in its section"
(the expected record has rank 1 in the section it is listed in), retrieval-stage recall
(the expected record was among the engine's candidates, before ranking and the cap),
and for near misses the false-match rate.

**Scores at the threshold.** The generated organizations each get a match model trained
on their indexed Cases (``casematch model train``'s training, ``matcher.training``), so
every listed match carries a probability. Reported beside recall: the recall *at the
threshold* (every expected record listed with probability >= the audit's default link
threshold, 0.9) and the near misses' false-match rate at the threshold (a forbidden record,
or another patient's, listed with probability >= 0.9).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import plots
from benchmarks.febrl import febrl_records, load_febrl
from benchmarks.generator import (
    DUPLICATE_FAMILIES,
    FAMILY_RULES,
    NEAR_MISS_FAMILIES,
    Population,
    generate_queries,
)
from benchmarks.harness import (
    bench_store,
    engine_facts,
    indexed_cases,
    load,
    progress,
    timed_detect,
)
from benchmarks.metrics import hit_at_k, mean, recall_at_k, reciprocal_rank, summarize
from benchmarks.report import Report
from indexer.records import Record
from indexer.store import RecordStore
from matcher.audit import DEFAULT_THRESHOLD
from matcher.linkage import MatchModel
from matcher.model import Detection, DetectionOptions, DetectionRun

#: The probability at or above which a match counts as the same report (the audit's default).
THRESHOLD = DEFAULT_THRESHOLD

#: The matcher issue's quality targets.
TARGET_RECALL_SHARED_ID = 0.99
TARGET_RECALL_NO_ID = 0.97
TARGET_FIRST_IN_SECTION = 0.95


@dataclass(frozen=True)
class QueryOutcome:
    """What one labelled duplicate check scored."""

    family: str
    kind: str  # "duplicate" or "near_miss"
    shares_identifier: bool
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    hit_at_1: bool
    reciprocal_rank: float
    found: bool  # every expected record appears somewhere in the Detection
    first_in_section: bool  # a true match is listed first (rank 1) in its section
    retrieved: bool  # every expected record was among the engine's candidates
    false_match: bool  # near miss: a forbidden record returned / a different patient claimed
    detect_ms: float
    matcher_cpu_ms: float
    #: Duplicate: every expected record listed with probability >= THRESHOLD.
    found_at_threshold: bool = False
    #: Near miss: a forbidden or other-patient record listed with probability >= THRESHOLD.
    false_match_at_threshold: bool = False


def ranked_ids(detection: Detection, exclude: str | None = None) -> list[str]:
    """The Detection's record ids in reading order: ID, Subject, then Possible Matches."""
    return [m.record_id for m in detection.sections.all() if m.record_id != exclude]


def _section_ranks(detection: Detection) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for m in detection.sections.all():
        ranks.setdefault(m.record_id, m.rank)
    return ranks


def score_query(
    run: DetectionRun,
    *,
    family: str,
    expected: Sequence[str],
    must_not_match: Sequence[str],
    shares_identifier: bool,
    near_miss: bool,
    different_patient: Sequence[str] = (),
    source_id: str | None = None,
    detect_ms: float = math.nan,
    threshold: float = THRESHOLD,
) -> QueryOutcome:
    """Score one Detection against its labels (pure: no engine, no clock)."""
    detection = run.detection
    ranked = ranked_ids(detection, exclude=source_id)
    ranks = _section_ranks(detection)
    wanted = set(expected)
    retrieved = set(run.retrieved_ids)
    false_match = any(rid in ranks for rid in must_not_match)
    if different_patient:
        # Allowed to be listed (it shares a product/event, M13), but never as the same
        # patient: an ID/Subject Match or a Possible Match whose top category is Patient.
        for section in ("id_matches", "subject_matches", "possible_matches"):
            for m in getattr(detection.sections, section):
                if m.record_id in different_patient and (
                    section != "possible_matches" or m.top_category == "patient"
                ):
                    false_match = True
    probability: dict[str, float] = {}
    for m in detection.sections.all():
        p = m.probability if m.probability is not None else 0.0
        probability[m.record_id] = max(p, probability.get(m.record_id, 0.0))
    sure = {rid for rid, p in probability.items() if p >= threshold}
    return QueryOutcome(
        family=family,
        kind="near_miss" if near_miss else "duplicate",
        shares_identifier=shares_identifier,
        recall_at_1=recall_at_k(ranked, wanted, 1),
        recall_at_5=recall_at_k(ranked, wanted, 5),
        recall_at_10=recall_at_k(ranked, wanted, 10),
        hit_at_1=hit_at_k(ranked, wanted, 1) if wanted else False,
        reciprocal_rank=reciprocal_rank(ranked, wanted) if wanted else math.nan,
        found=wanted <= set(ranked),
        first_in_section=any(ranks.get(rid) == 1 for rid in wanted),
        retrieved=wanted <= retrieved,
        false_match=false_match,
        detect_ms=detect_ms,
        matcher_cpu_ms=run.matcher_cpu_ms,
        found_at_threshold=bool(wanted) and wanted <= sure,
        false_match_at_threshold=near_miss
        and not sure.isdisjoint([*must_not_match, *different_patient]),
    )


def aggregate(outcomes: Iterable[QueryOutcome]) -> dict[str, float]:
    """Means over a group of queries (duplicate metrics over duplicates only)."""
    items = list(outcomes)
    dups = [o for o in items if o.kind == "duplicate"]
    misses = [o for o in items if o.kind == "near_miss"]
    return {
        "queries": float(len(items)),
        "recall_at_1": mean(o.recall_at_1 for o in dups),
        "recall_at_5": mean(o.recall_at_5 for o in dups),
        "recall_at_10": mean(o.recall_at_10 for o in dups),
        "precision_at_1": mean(float(o.hit_at_1) for o in dups),
        "mrr": mean(o.reciprocal_rank for o in dups),
        "recall": mean(float(o.found) for o in dups),
        "first_in_section": mean(float(o.first_in_section) for o in dups),
        "retrieval_recall": mean(float(o.retrieved) for o in dups),
        "false_match_rate": mean(float(o.false_match) for o in misses),
        "recall_at_threshold": mean(float(o.found_at_threshold) for o in dups),
        "false_match_rate_at_threshold": mean(float(o.false_match_at_threshold) for o in misses),
    }


def _train_models(
    store: RecordStore, organizations: Sequence[str], seed: int
) -> dict[str, MatchModel]:
    """Each organization's match model, trained on its indexed Cases as ``casematch model
    train`` trains (not stored: the benchmark's store may be a kept one)."""
    from matcher.training import train
    from service.models import now_iso, training_records

    out: dict[str, MatchModel] = {}
    with progress() as bar:
        task = bar.add_task("train match models", total=len(organizations))
        for organization in organizations:
            records = training_records(store, organization)
            if len(records) >= 2:
                out[organization] = train(
                    records, organization=organization, version=1, trained_at=now_iso(), seed=seed
                )
            bar.advance(task)
    return out


def _check_all(
    store: RecordStore,
    queries: Sequence[tuple[Record, dict[str, Any]]],
    options: DetectionOptions,
    label: str,
    models: dict[str, MatchModel] | None = None,
) -> list[QueryOutcome]:
    outcomes: list[QueryOutcome] = []
    by_org: dict[str, DetectionOptions] = {}
    with progress() as bar:
        task = bar.add_task(label, total=len(queries))
        for source, labels in queries:
            chosen = options
            if models and source.organization in models:
                chosen = by_org.setdefault(
                    source.organization,
                    replace(options, match_model=models[source.organization]),
                )
            run, wall_ms = timed_detect(store, source, chosen)
            outcomes.append(score_query(run, source_id=source.id, detect_ms=wall_ms, **labels))
            bar.advance(task)
    return outcomes


def _generated(seed: int, size: int, n_queries: int) -> tuple[list[QueryOutcome], dict[str, Any]]:
    today = date.today()
    population = Population(seed=seed, n=size, today=today)
    queries = []
    for q in generate_queries(seed, population, n_queries, today=today):
        near = q.family in NEAR_MISS_FAMILIES
        labels = {
            "family": q.family,
            "expected": q.expected,
            "must_not_match": q.must_not_match,
            "shares_identifier": q.shares_identifier,
            "near_miss": near,
            "different_patient": [q.base_id] if q.family not in FAMILY_RULES and near else [],
        }
        queries.append((q.source, labels))
    options = DetectionOptions(
        profile="enhanced", match_inbox_items=True, mask_phi=False, today=today
    )
    with bench_store("quality", reuse=f"{seed}-{today.isoformat()}") as (engine, store):
        held = indexed_cases(store)  # a kept store (CASEMATCH_BENCH_DATA_DIR) may hold it
        if held not in (0, size):
            raise RuntimeError(
                f"the kept store holds {held:,} Cases of this population, not {size:,}: "
                "run with the same --size as the run that loaded it, or another data directory"
            )
        load_s = float("nan")
        if held == 0:
            _, load_s = load(store, population, total=size, label=f"index {size:,} Cases")
        models = _train_models(store, population.organizations, seed)
        outcomes = _check_all(store, queries, options, "labelled queries", models)
        facts = engine_facts(engine)
    return outcomes, {"load_s": load_s, "engine": facts}


def _febrl(dataset: str, use_soc_sec_id: bool, max_queries: int, seed: int) -> list[QueryOutcome]:
    data = load_febrl(dataset)
    records = febrl_records(data, use_soc_sec_id=use_soc_sec_id, today=date.today())
    by_entity: dict[str, list[str]] = {}
    for rid, entity in data.entity.items():
        by_entity.setdefault(entity, []).append(rid)
    queries = []
    for record in records:
        if "-dup-" not in record.id:
            continue
        others = [r for r in by_entity[data.entity[record.id]] if r != record.id]
        labels = {
            "family": "febrl" + ("_ssid" if use_soc_sec_id else "_no_ssid"),
            "expected": others,
            "must_not_match": [],
            "shares_identifier": False,
            "near_miss": False,
        }
        queries.append((record, labels))
    if len(queries) > max_queries:
        queries = random.Random(seed).sample(queries, max_queries)
    options = DetectionOptions(profile="enhanced", match_inbox_items=False, mask_phi=False)
    variant = "with" if use_soc_sec_id else "without"
    with bench_store("quality-febrl") as (_, store):
        load(store, records, total=len(records), label=f"index FEBRL ({variant} ssid)")
        models = _train_models(store, [records[0].organization], seed)
        return _check_all(store, queries, options, f"FEBRL queries ({variant} ssid)", models)


METHOD = __doc__.split("\n\n", 1)[1] if __doc__ else ""


def run_quality(
    *, seed: int, size: int, queries: int, febrl: str, febrl_queries: int, out: Path, quick: bool
) -> Path:
    report = Report(
        "quality",
        f"Detection quality: {size:,} generated Cases and FEBRL {febrl}",
        method=METHOD,
        params={
            "seed": seed,
            "indexed_cases": size,
            "queries": queries,
            "febrl": febrl,
            "febrl_queries": febrl_queries,
            "quick": quick,
            "profile": "enhanced",
        },
    )
    generated, info = _generated(seed, size, queries)
    report.engine = info["engine"]
    febrl_outcomes: list[QueryOutcome] = []
    if febrl_queries > 0:  # 0 skips the FEBRL part (smoke tests)
        for use_ssid in (True, False):
            febrl_outcomes += _febrl(febrl, use_ssid, febrl_queries, seed)

    families = list(DUPLICATE_FAMILIES) + list(NEAR_MISS_FAMILIES)
    per_family = {f: aggregate(o for o in generated if o.family == f) for f in families}
    dups = [o for o in generated if o.kind == "duplicate"]
    groups = {
        "duplicates, shared identifier": aggregate(o for o in dups if o.shares_identifier),
        "duplicates, no shared identifier": aggregate(o for o in dups if not o.shares_identifier),
        "all duplicates": aggregate(dups),
        "near misses": aggregate(o for o in generated if o.kind == "near_miss"),
    }
    if febrl_outcomes:
        groups[f"FEBRL {febrl} with soc_sec_id as MRN"] = aggregate(
            o for o in febrl_outcomes if o.family == "febrl_ssid"
        )
        groups[f"FEBRL {febrl} without soc_sec_id"] = aggregate(
            o for o in febrl_outcomes if o.family == "febrl_no_ssid"
        )
    latency = summarize([o.detect_ms for o in generated])
    report.results = {
        "groups": groups,
        "families": per_family,
        "detect_ms": latency,
        "matcher_cpu_ms": summarize([o.matcher_cpu_ms for o in generated]),
        "load_s": info["load_s"],
        "outcomes": [asdict(o) for o in generated] if quick else None,
    }
    cols = [
        "recall_at_1",
        "recall_at_5",
        "recall_at_10",
        "precision_at_1",
        "mrr",
        "recall",
        "first_in_section",
        "retrieval_recall",
        "false_match_rate",
        "recall_at_threshold",
        "false_match_rate_at_threshold",
    ]
    heads = [
        "recall@1",
        "recall@5",
        "recall@10",
        "precision@1",
        "MRR",
        "recall (any rank)",
        "first in section",
        "retrieval recall",
        "false-match rate",
        f"recall at p >= {THRESHOLD}",
        f"false-match rate at p >= {THRESHOLD}",
    ]
    report.add_table(
        "Summary",
        ["group", "queries", *heads],
        [[g, int(v["queries"]), *(v[c] for c in cols)] for g, v in groups.items()],
    )
    report.add_table(
        "Per perturbation family (generated data)",
        ["family", "rule", "queries", *heads],
        [
            [f, FAMILY_RULES.get(f, ""), int(v["queries"]), *(v[c] for c in cols)]
            for f, v in per_family.items()
        ],
        note="Duplicate families score recall/rank; near-miss families score the false-match "
        "rate (M1/M3/M5/M6 families: the base Case returned at all; different patient: the "
        "base returned as an ID/Subject Match or as a Patient-category Possible Match).",
    )
    shared = groups["duplicates, shared identifier"]
    no_id = groups["duplicates, no shared identifier"]
    report.add_table(
        "Against the matcher issue's targets",
        ["target", "aim", "measured", "met"],
        [
            [
                "recall, shared identifier",
                TARGET_RECALL_SHARED_ID,
                shared["recall"],
                shared["recall"] >= TARGET_RECALL_SHARED_ID,
            ],
            [
                "recall, no shared identifier",
                TARGET_RECALL_NO_ID,
                no_id["recall"],
                no_id["recall"] >= TARGET_RECALL_NO_ID,
            ],
            [
                "true match first in its section",
                TARGET_FIRST_IN_SECTION,
                groups["all duplicates"]["first_in_section"],
                groups["all duplicates"]["first_in_section"] >= TARGET_FIRST_IN_SECTION,
            ],
            [
                "false-match rate on near misses",
                "reported",
                groups["near misses"]["false_match_rate"],
                "",
            ],
            [
                f"false-match rate on near misses at p >= {THRESHOLD} (beside recall at it)",
                "reported",
                groups["near misses"]["false_match_rate_at_threshold"],
                "",
            ],
            [
                f"recall at p >= {THRESHOLD}, all duplicates",
                "reported",
                groups["all duplicates"]["recall_at_threshold"],
                "",
            ],
            [
                "retrieval-stage recall (all duplicates)",
                "reported",
                groups["all duplicates"]["retrieval_recall"],
                "",
            ],
        ],
        note=f"Targets apply to >= 50,000 indexed Cases; this run indexed {size:,}.",
    )
    dup_fams = list(DUPLICATE_FAMILIES)
    plots.grouped_bars(
        out / "recall_by_family.png",
        f"Recall by family ({size:,} Cases)",
        dup_fams,
        {
            "retrieval recall": [per_family[f]["retrieval_recall"] for f in dup_fams],
            "recall@1": [per_family[f]["recall_at_1"] for f in dup_fams],
            "recall@10": [per_family[f]["recall_at_10"] for f in dup_fams],
            "recall (any rank)": [per_family[f]["recall"] for f in dup_fams],
        },
        ylabel="share of queries",
        ylim=(0.0, 1.05),
        target=TARGET_RECALL_NO_ID,
    )
    miss_fams = list(NEAR_MISS_FAMILIES)
    plots.grouped_bars(
        out / "near_miss.png",
        "False-match rate on near misses (lower is better)",
        miss_fams,
        {"false-match rate": [per_family[f]["false_match_rate"] for f in miss_fams]},
        ylabel="share of queries",
        ylim=(0.0, 1.05),
    )
    report.add_plot(
        "recall_by_family.png",
        "Retrieval recall, recall@1, recall@10 and recall at any rank per duplicate family",
    )
    report.add_plot("near_miss.png", "False-match rate per near-miss family")
    report.findings += [
        f"Recall with a shared identifier {shared['recall']:.4f} (target "
        f">= {TARGET_RECALL_SHARED_ID}); without {no_id['recall']:.4f} (target "
        f">= {TARGET_RECALL_NO_ID}).",
        f"True match first in its section: {groups['all duplicates']['first_in_section']:.4f} "
        f"(target >= {TARGET_FIRST_IN_SECTION}).",
        f"False-match rate on near misses: {groups['near misses']['false_match_rate']:.4f}; "
        f"at the match probability threshold {THRESHOLD}: "
        f"{groups['near misses']['false_match_rate_at_threshold']:.4f}, beside a recall at it of "
        f"{groups['all duplicates']['recall_at_threshold']:.4f}.",
        f"Duplicate-check wall time during this run: p50 {latency['p50']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms (see the latency benchmark for the controlled figures).",
    ]
    return report.write(out)
