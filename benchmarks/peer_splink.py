"""The peer: Splink (probabilistic Fellegi-Sunter linkage on DuckDB) deduplicating FEBRL.

A standard Splink model for person data, as Splink's own tutorials build it:

- comparisons: given name and surname (``NameComparison``: exact, Jaro-Winkler 0.92 /
  0.88 / 0.70), date of birth (``DateOfBirthComparison`` on ``YYYYMMDD`` strings),
  street number and postcode (exact; Damerau-Levenshtein <= 1 for the postcode),
  suburb (Jaro-Winkler), and ``soc_sec_id`` (Damerau-Levenshtein <= 1 / 2) only in the
  variant that uses it;
- blocking rules for prediction: same given name + surname, same date of birth, same
  postcode + street number, same suburb + surname (and same soc_sec_id in that variant);
- training: lambda from deterministic rules (recall 0.7), u by random sampling
  (seeded), m by expectation maximisation on two blocking passes;
- decision: a pair links when its match probability is >= ``threshold`` (0.9); pairs are
  clustered into connected components (Splink's own clustering) and scored pairwise
  within clusters, the same way casematch's audit is scored.

Splink sees every FEBRL column it can use, including the address that casematch does
not compare: the peer gets every advantage its standard model offers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.febrl import FebrlData
from benchmarks.metrics import PairScores, pair_scores, pairs_from_labels, pairs_within

DEFAULT_THRESHOLD = 0.9


@dataclass(frozen=True)
class SplinkResult:
    """What one Splink run predicted and how long it took."""

    threshold: float
    use_soc_sec_id: bool
    wall_s: float
    train_s: float
    predict_s: float
    links: list[tuple[str, str]]  # pairs at or above the threshold
    clusters: list[list[str]]

    def scores(self, data: FebrlData) -> dict[str, PairScores]:
        truth = pairs_from_labels(data.entity)
        return {
            "pairs": pair_scores(truth, self.links),
            "clustered": pair_scores(truth, pairs_within(self.clusters)),
        }


def _settings(use_soc_sec_id: bool, seed: int) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.ExactMatch("street_number"),
        cl.DamerauLevenshteinAtThresholds("postcode", [1]),
        cl.JaroWinklerAtThresholds("suburb", [0.9]),
    ]
    blocking: list[Any] = [
        block_on("given_name", "surname"),
        block_on("date_of_birth"),
        block_on("postcode", "street_number"),
        block_on("suburb", "surname"),
    ]
    if use_soc_sec_id:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]))
        blocking.append(block_on("soc_sec_id"))
    return SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run_splink(
    data: FebrlData, *, use_soc_sec_id: bool, seed: int, threshold: float = DEFAULT_THRESHOLD
) -> SplinkResult:
    """Train and run the Splink model on ``data``; wall time covers loading to clusters."""
    import pandas as pd
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    columns = [
        "rec_id",
        "given_name",
        "surname",
        "date_of_birth",
        "street_number",
        "postcode",
        "suburb",
    ]
    if use_soc_sec_id:
        columns.append("soc_sec_id")

    started = time.perf_counter()
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in data.rows])
    db_api = DuckDBAPI()
    table = db_api.register(frame, dataset_display_name=data.name)
    linker = Linker(table, _settings(use_soc_sec_id, seed), log_level=logging.ERROR)

    deterministic: list[Any] = [
        block_on("given_name", "surname", "date_of_birth"),
        "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
    ]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    trained = time.perf_counter()

    predictions: Any = linker.inference.predict(threshold_match_probability=threshold)
    pairs = predictions.as_pandas_dataframe()
    links = [(str(a), str(b)) for a, b in zip(pairs["rec_id_l"], pairs["rec_id_r"], strict=True)]
    clusters_table: Any = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    clustered = clusters_table.as_pandas_dataframe()
    finished = time.perf_counter()

    groups: dict[str, list[str]] = {}
    for rec_id, cluster_id in zip(clustered["rec_id"], clustered["cluster_id"], strict=True):
        groups.setdefault(str(cluster_id), []).append(str(rec_id))
    clusters = sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))
    return SplinkResult(
        threshold=threshold,
        use_soc_sec_id=use_soc_sec_id,
        wall_s=finished - started,
        train_s=trained - started,
        predict_s=finished - trained,
        links=links,
        clusters=clusters,
    )
