"""``python -m benchmarks.audit_score``: an audit's clusters against a planted truth."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks.audit_data import PlantedPopulation
from benchmarks.audit_score import clustered_pairs, main, score


def test_clustered_pairs_are_the_pairs_inside_each_cluster() -> None:
    rows = [
        {"cluster": "C1", "record_id": "b"},
        {"cluster": "C1", "record_id": "a"},
        {"cluster": "C1", "record_id": "c"},
        {"cluster": "C2", "record_id": "d"},
        {"cluster": "C2", "record_id": "e"},
    ]
    assert clustered_pairs(rows) == {("a", "b"), ("a", "c"), ("b", "c"), ("d", "e")}


def _write(path: Path, clusters: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["cluster", "record_id", "size"])
        for n, members in enumerate(clusters):
            out.writerows([f"C{n}", rid, len(members)] for rid in members)


@pytest.mark.parametrize(
    ("drop", "precision", "recall"),
    [(False, 1.0, 1.0), (True, 1.0, None)],
    ids=["the-truth-itself", "one-family-missed"],
)
def test_score_against_the_planted_truth(
    tmp_path: Path, drop: bool, precision: float, recall: float | None
) -> None:
    pop = PlantedPopulation(3, 400)
    families: dict[str, list[str]] = defaultdict(list)
    for rid, base in pop.entities().items():
        families[base].append(rid)
    clusters = [[base, *copies] for base, copies in sorted(families.items())]
    _write(tmp_path / "clusters.csv", clusters[1:] if drop else clusters)
    scores, n_true = score(pop, tmp_path / "clusters.csv")
    assert n_true > 0 and scores.precision == precision
    assert scores.recall == 1.0 if recall else scores.recall < 1.0


def test_main_prints_the_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "clusters.csv", [])
    assert main([str(tmp_path / "clusters.csv"), "--seed", "3", "--size", "400"]) == 0
    assert "recall 0.000" in capsys.readouterr().out
