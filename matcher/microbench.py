"""Micro-benchmark of the matcher's own CPU time (no engine): ``python -m matcher.microbench``.

Takes a generated source and ``--candidates`` generated index documents (as the
engine would return them in ``_source``) and times what ``detect`` does with
them in Python: reading the documents (facts), comparing every field
(evaluate), sections and ranking, and building the Detection with comparison
tables and masking. Prints p50 / p90 / p99 in milliseconds of thread CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from datetime import date

from indexer.documents import build_document
from matcher.evaluate import evaluate
from matcher.facts import SOURCE_FIELDS, facts_from_document, facts_from_record
from matcher.model import DetectionOptions
from matcher.profiles import get_profile
from matcher.rank import assign_sections, to_detection


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.generator import Population, generate_queries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", default="enhanced")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)

    today = date(2026, 1, 15)
    pop = Population(seed=args.seed, n=max(args.candidates * 5, 1000), today=today)
    query = next(generate_queries(args.seed, pop, 1, families=["follow_up"]))
    source = query.source
    docs = []
    for record in pop:
        if record.organization == source.organization:
            doc = build_document(record)
            docs.append({k: doc[k] for k in SOURCE_FIELDS if k in doc})
        if len(docs) == args.candidates:
            break
    options = DetectionOptions(profile=args.profile, today=today)
    profile = get_profile(args.profile)
    cap = options.cap(clinical_trial=source.is_clinical_trial)

    samples: list[float] = []
    listed = 0
    for _ in range(args.runs):
        t0 = time.thread_time()
        src = facts_from_record(source)
        evs = [evaluate(src, facts_from_document(doc), profile) for doc in docs]
        ranked = assign_sections(src, evs, profile, cap=cap, today=today)
        detection = to_detection(src, source, ranked, profile, options)
        samples.append((time.thread_time() - t0) * 1000)
        listed = len(detection.sections.all())
    samples.sort()
    q = statistics.quantiles(samples, n=100)
    print(
        f"matcher CPU for {len(docs)} candidates ({listed} listed, profile {args.profile}): "
        f"p50 {statistics.median(samples):.2f} ms, p90 {q[89]:.2f} ms, p99 {q[98]:.2f} ms "
        f"over {args.runs} runs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
