"""The benchmark metric functions: ranking quality, pairwise scores, clustering, percentiles."""

from __future__ import annotations

import math

import pytest

from benchmarks.metrics import (
    UnionFind,
    cluster_pairs,
    hit_at_k,
    mean,
    median,
    pair_scores,
    pairs_from_labels,
    pairs_within,
    percentile,
    ratio,
    recall_at_k,
    reciprocal_rank,
    summarize,
)


@pytest.mark.parametrize(
    ("ranked", "expected", "k", "want"),
    [
        (["a", "b", "c"], {"a"}, 1, 1.0),
        (["a", "b", "c"], {"b"}, 1, 0.0),
        (["a", "b", "c"], {"b"}, 2, 1.0),
        (["a", "b", "c"], {"b", "z"}, 10, 0.5),
        ([], {"a"}, 5, 0.0),
        (["a"], set(), 1, 1.0),
    ],
    ids=["first", "second-at-1", "second-at-2", "half-found", "empty-ranking", "nothing-expected"],
)
def test_recall_at_k(ranked: list[str], expected: set[str], k: int, want: float) -> None:
    assert recall_at_k(ranked, expected, k) == want


@pytest.mark.parametrize(
    ("ranked", "expected", "want"),
    [
        (["a", "b"], {"a"}, 1.0),
        (["a", "b", "c"], {"c"}, 1 / 3),
        (["a"], {"z"}, 0.0),
        (["x", "b", "a"], {"a", "b"}, 0.5),
    ],
    ids=["rank-1", "rank-3", "missing", "first-of-several"],
)
def test_reciprocal_rank(ranked: list[str], expected: set[str], want: float) -> None:
    assert reciprocal_rank(ranked, expected) == pytest.approx(want)


def test_hit_at_k_needs_one_expected_id_in_the_top_k() -> None:
    assert hit_at_k(["x", "a"], {"a"}, 2)
    assert not hit_at_k(["x", "a"], {"a"}, 1)


@pytest.mark.parametrize(
    ("truth", "predicted", "precision", "recall", "f1"),
    [
        ({("a", "b")}, {("b", "a")}, 1.0, 1.0, 1.0),
        ({("a", "b")}, {("a", "b"), ("a", "c")}, 0.5, 1.0, 2 / 3),
        ({("a", "b"), ("c", "d")}, {("a", "b")}, 1.0, 0.5, 2 / 3),
        ({("a", "b")}, set(), 1.0, 0.0, 0.0),
        (set(), set(), 1.0, 1.0, 1.0),
        ({("a", "b")}, {("a", "a")}, 1.0, 0.0, 0.0),
    ],
    ids=[
        "unordered-equal",
        "one-false-positive",
        "one-missed",
        "nothing-predicted",
        "nothing-at-all",
        "self-pairs-ignored",
    ],
)
def test_pair_scores(
    truth: set[tuple[str, str]],
    predicted: set[tuple[str, str]],
    precision: float,
    recall: float,
    f1: float,
) -> None:
    scores = pair_scores(truth, predicted)
    assert (scores.precision, scores.recall) == (precision, recall)
    assert scores.f1 == pytest.approx(f1)


def test_union_find_joins_transitively_and_keeps_singletons() -> None:
    clusters = cluster_pairs(
        [("a", "b"), ("c", "b"), ("d", "e")], items=["a", "b", "c", "d", "e", "f"]
    )
    assert clusters == [["a", "b", "c"], ["d", "e"], ["f"]]


def test_union_find_union_of_same_set_is_a_no_op() -> None:
    uf = UnionFind(["a", "b"])
    uf.union("a", "b")
    uf.union("b", "a")
    assert uf.find("a") == uf.find("b")
    assert uf.clusters() == [["a", "b"]]


def test_pairs_within_a_cluster_of_three_are_three() -> None:
    assert pairs_within([["c", "a", "b"], ["d"]]) == {("a", "b"), ("a", "c"), ("b", "c")}


def test_pairs_from_labels_links_records_with_the_same_entity() -> None:
    assert pairs_from_labels({"r1": 1, "r2": 1, "r3": 2}) == {("r1", "r2")}


@pytest.mark.parametrize(
    ("values", "q", "want"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0], 0, 1.0),
        ([1.0, 2.0, 3.0], 100, 3.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([float(i) for i in range(1, 101)], 99, 99.01),
    ],
    ids=["even-median", "single", "min", "max", "unsorted", "p99-of-100"],
)
def test_percentile_interpolates_linearly(values: list[float], q: float, want: float) -> None:
    assert percentile(values, q) == pytest.approx(want)


def test_percentile_of_nothing_is_nan_and_out_of_range_is_an_error() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summarize_reports_count_and_percentiles() -> None:
    s = summarize([10.0, 20.0, 30.0])
    assert (s["count"], s["p50"], s["max"], s["mean"]) == (3.0, 20.0, 30.0, 20.0)
    assert median([4.0, 1.0]) == 2.5


def test_mean_and_ratio_make_missing_data_visible_as_nan() -> None:
    assert math.isnan(mean([]))
    assert math.isnan(ratio(1.0, 0.0))
    assert ratio(3.0, 2.0) == 1.5
