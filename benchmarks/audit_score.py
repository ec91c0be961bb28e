"""Score a ``casematch audit`` run on a planted population against its truth.

    python -m benchmarks.audit_score --seed 42 --size 1000000 OUT/clusters.csv

The population (``benchmarks.audit_data.PlantedPopulation``) says which base Case each
planted duplicate copies; pairs within one entity are the true pairs. The audit's
``clusters.csv`` (one row per clustered Case) gives the found pairs: every pair inside a
cluster. Prints pairwise precision, recall and F1, as the other audit benchmarks score.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from benchmarks.audit import true_pairs
from benchmarks.audit_data import PlantedPopulation
from benchmarks.metrics import PairScores, pair_scores


def clustered_pairs(rows: Iterable[Mapping[str, str]]) -> set[tuple[str, str]]:
    """Every pair of record ids inside one cluster of ``clusters.csv``'s rows."""
    clusters: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        clusters[row["cluster"]].append(row["record_id"])
    return {
        (a, b) if a < b else (b, a)
        for members in clusters.values()
        for a, b in itertools.combinations(members, 2)
    }


def score(population: PlantedPopulation, clusters_csv: Path) -> tuple[PairScores, int]:
    """The run's pairwise scores and the number of true pairs."""
    entity = population.entities()
    ids = sorted(set(entity) | set(entity.values()))  # every Case of a planted family
    truth = true_pairs(ids, entity)
    with clusters_csv.open(newline="", encoding="utf-8") as fh:
        found = clustered_pairs(csv.DictReader(fh))
    return pair_scores(truth, found), len(truth)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit_score", description=__doc__)
    parser.add_argument("clusters", type=Path, help="the audit's clusters.csv")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--planted", type=float, default=0.1, help="fraction of planted Cases")
    args = parser.parse_args(argv)
    scores, n_true = score(PlantedPopulation(args.seed, args.size, args.planted), args.clusters)
    print(
        f"true pairs {n_true:,}; precision {scores.precision:.3f}, recall {scores.recall:.3f}, "
        f"F1 {scores.f1:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
