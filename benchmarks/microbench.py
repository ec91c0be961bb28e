"""Micro-benchmark of the matcher's own CPU time (no engine): ``python -m benchmarks.microbench``.

Takes a generated source and ``--candidates`` generated index documents and
times what ``detect`` does with them in Python: reading the candidates' match
views (facts), comparing every field (evaluate), sections and ranking, giving
the listed matches their stored records, and building the Detection with
comparison tables and masking. Prints p50 / p90 / p99 in milliseconds of
thread CPU time for two sets of candidates (``--case``):

- ``related`` (the realistic figure): Cases sharing the source's primary
  product or one of its event PTs, and its reporter country (or none), as
  detection's product and event tiers retrieve them with M5-scoped keys, found
  among 20,000 Cases of one organization, so that many of them are listed
  (real detections at 100k Cases list about 80); the rest are other Cases;
- ``sample``: the first Cases of the population, whatever they share with the
  source; few are listed, so this is mostly reading and comparing.

``--case both`` (the default) prints both; ``--stages`` adds the p50 of each
part of a run (reading the views, evaluating, ranking, the Detection).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from benchmarks.generator import Population, RecordDict, generate_queries
from indexer.documents import build_document
from indexer.normalize import normalize_code, normalize_country, normalize_meddra_code
from indexer.records import Record
from matcher.evaluate import evaluate
from matcher.facts import facts_from_record, facts_from_view, with_record
from matcher.model import DetectionOptions
from matcher.profiles import get_profile
from matcher.rank import assign_sections, to_detection

CASES = ("related", "sample")
#: Cases generated to find the ``related`` candidates among (one organization).
POPULATION = 20_000


@dataclass
class Candidates:
    """What retrieval would hand the matcher: match views, and records for the listed ones."""

    views: list[str]
    records: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, records: list[Record]) -> Candidates:
        docs = [build_document(r) for r in records]
        return cls([d["match_view"] for d in docs], {d["record_id"]: d["record"] for d in docs})


def related(source: Record, case: RecordDict) -> bool:
    """A Case detection's product or event tier would retrieve for ``source`` (M5-scoped keys):
    the source's primary product or one of its event PTs, and its reporter country or none."""
    source_country = normalize_country(source.reporter.country if source.reporter else None)
    country = normalize_country(case["reporter"].get("country"))
    if country is not None and source_country is not None and country != source_country:
        return False
    product = normalize_code(source.products[0].product) if source.products else None
    codes = {normalize_meddra_code(e.meddra_pt_code) for e in source.events} - {None}
    products = {normalize_code(p.get("product")) for p in case["products"]}
    return (product is not None and product in products) or any(
        normalize_meddra_code(e.get("meddra_pt_code")) in codes for e in case["events"]
    )


def candidates(pop: Population, source: Record, n: int, case: str) -> Candidates:
    """``n`` Cases: those related to the source first (``related``), or in population order."""
    chosen: list[RecordDict] = []
    others: list[RecordDict] = []
    for i in pop.indices():
        data = pop.case_dict(i)
        if case == "sample" or related(source, data):
            chosen.append(data)
        elif len(others) < n:
            others.append(data)
        if len(chosen) == n:
            break
    return Candidates.of([Record.model_validate(d) for d in [*chosen, *others][:n]])


#: The parts of a run timed apart (``--stages``), in order.
STAGES = ("source", "views", "evaluate", "sections", "records", "detection")


def run(
    source: Record,
    cands: Candidates,
    options: DetectionOptions,
    runs: int,
    stages: dict[str, list[float]] | None = None,
) -> tuple[list[float], int]:
    """Thread CPU milliseconds per detection over ``runs`` runs, and how many matches are listed.

    ``stages``, if given, receives each run's milliseconds per part (:data:`STAGES`):
    the source's facts, reading the views, evaluating, sections and ranking, giving
    the listed matches their records, and the Detection with its tables.
    """
    profile = get_profile(options.profile)
    today = options.on()
    cap = options.cap(clinical_trial=source.is_clinical_trial)
    samples: list[float] = []
    listed = 0
    for _ in range(runs):
        t0 = time.thread_time()
        src = facts_from_record(source)
        t1 = time.thread_time()
        facts = [facts_from_view(view) for view in cands.views]
        t2 = time.thread_time()
        evs = [evaluate(src, cand, profile) for cand in facts]
        t3 = time.thread_time()
        ranked = assign_sections(src, evs, profile, cap=cap, today=today)
        t4 = time.thread_time()
        for ev in [*ranked.id_matches, *ranked.subject_matches, *ranked.possible_matches]:
            ev.facts = with_record(ev.facts, cands.records[ev.facts.record_id])
        t5 = time.thread_time()
        detection = to_detection(src, source, ranked, profile, options)
        t6 = time.thread_time()
        samples.append((t6 - t0) * 1000)
        listed = len(detection.sections.all())
        if stages is not None:
            for stage, start, end in zip(
                STAGES, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6), strict=True
            ):
                stages.setdefault(stage, []).append((end - start) * 1000)
    return samples, listed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", default="enhanced")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--case", choices=[*CASES, "both"], default="both")
    parser.add_argument("--population", type=int, default=POPULATION, help="Cases generated")
    parser.add_argument(
        "--stages", action="store_true", help="also print the p50 of each part of a run"
    )
    args = parser.parse_args(argv)

    today = date(2026, 1, 15)
    pop = Population(
        seed=args.seed,
        n=max(args.population, args.candidates),
        organizations=("ORG-A",),
        today=today,
    )
    source = next(generate_queries(args.seed, pop, 1, families=["follow_up"])).source
    options = DetectionOptions(profile=args.profile, today=today)
    for case in CASES if args.case == "both" else [args.case]:
        cands = candidates(pop, source, args.candidates, case)
        stages: dict[str, list[float]] = {}
        samples, listed = run(source, cands, options, args.runs, stages)
        q = statistics.quantiles(samples, n=100)
        print(
            f"matcher CPU, {case:7s} candidates: {len(cands.views)} "
            f"({listed} listed, profile {args.profile}): "
            f"p50 {statistics.median(samples):.2f} ms, p90 {q[89]:.2f} ms, "
            f"p99 {q[98]:.2f} ms over {args.runs} runs"
        )
        if args.stages:
            parts = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stages.items())
            print(f"  p50 ms per part: {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
