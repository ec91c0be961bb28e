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
not compare: the peer gets every advantage its standard model offers. ``address=False``
is the like-for-like variant: the fields casematch compares only (names, date of birth,
``soc_sec_id``), without the address comparisons and blocking rules.

:func:`run_splink_cases` runs a Splink model over generated Cases (the 100k audit
benchmark), on the fields casematch's model compares (``cases_frame``).
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


def _settings(use_soc_sec_id: bool, seed: int, address: bool = True) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
    ]
    blocking: list[Any] = [block_on("given_name", "surname"), block_on("date_of_birth")]
    if address:
        comparisons += [
            cl.ExactMatch("street_number"),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]),
            cl.JaroWinklerAtThresholds("suburb", [0.9]),
        ]
        blocking += [block_on("postcode", "street_number"), block_on("suburb", "surname")]
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
    data: FebrlData,
    *,
    use_soc_sec_id: bool,
    seed: int,
    threshold: float = DEFAULT_THRESHOLD,
    address: bool = True,
) -> SplinkResult:
    """Train and run the Splink model on ``data``; wall time covers loading to clusters.
    ``address=False``: the like-for-like model (no address columns)."""
    import pandas as pd
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    columns = ["rec_id", "given_name", "surname", "date_of_birth"]
    if address:
        columns += ["street_number", "postcode", "suburb"]
    if use_soc_sec_id:
        columns.append("soc_sec_id")

    started = time.perf_counter()
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in data.rows])
    db_api = DuckDBAPI()
    table = db_api.register(frame, dataset_display_name=data.name)
    linker = Linker(table, _settings(use_soc_sec_id, seed, address), log_level=logging.ERROR)

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

    clusters = sorted(_cluster_members(clustered), key=lambda g: (-len(g), g[0]))
    return SplinkResult(
        threshold=threshold,
        use_soc_sec_id=use_soc_sec_id,
        wall_s=finished - started,
        train_s=trained - started,
        predict_s=finished - trained,
        links=links,
        clusters=clusters,
    )


#: The columns of a generated Case that the Splink model compares (casematch's model fields
#: that a Splink column can hold: the primary product and event stand for the lists).
CASE_COLUMNS = (
    "initials",
    "first_name",
    "last_name",
    "sex",
    "dob",
    "mrn_gp",
    "mrn_hospital",
    "mrn_investigation",
    "study_number",
    "reporter_first",
    "reporter_last",
    "qualification",
    "product",
    "event",
    "wwuid",
)


#: The share of true duplicate pairs the deterministic rules of :func:`run_splink_cases_at` find.
CASES_LAMBDA_RECALL = 0.3


def _cluster_members(clustered: Any) -> list[list[str]]:
    """Splink's clusters frame (``rec_id``, ``cluster_id``) as each cluster's sorted ids."""
    groups: dict[str, list[str]] = {}
    for rec_id, cluster_id in zip(clustered["rec_id"], clustered["cluster_id"], strict=True):
        groups.setdefault(str(cluster_id), []).append(str(rec_id))
    return [sorted(g) for g in groups.values()]


def _low(value: Any) -> str | None:
    text = str(value).strip().lower() if value is not None else ""
    return text or None


def cases_frame(records: Any) -> Any:
    """A pandas frame of Cases for Splink: raw values, lowercased (``CASE_COLUMNS``)."""
    import pandas as pd

    rows = []
    for r in records:
        p, rep = r.patient, r.reporter
        initials = "".join(ch for ch in (p.initials or "") if ch.isalpha()) or None
        rows.append(
            {
                "rec_id": r.id,
                "initials": _low(initials),
                "first_name": _low(p.first_name),
                "last_name": _low(p.last_name),
                "sex": _low(p.sex.value if p.sex else None),
                "dob": _low(p.dob),
                "mrn_gp": _low(p.mrn.gp),
                "mrn_hospital": _low(p.mrn.hospital),
                "mrn_investigation": _low(p.mrn.investigation),
                "study_number": _low(r.study_number),
                "reporter_first": _low(rep.first_name),
                "reporter_last": _low(rep.last_name),
                "qualification": _low(rep.qualification.value if rep.qualification else None),
                "product": _low(r.products[0].product) if r.products else None,
                "event": _low(r.events[0].meddra_pt_code) if r.events else None,
                "wwuid": _low(r.identifiers.wwuid),
            }
        )
    return pd.DataFrame(rows)


def run_splink_cases(
    records: Any, *, seed: int, threshold: float = DEFAULT_THRESHOLD
) -> SplinkResult:
    """A Splink model over generated Cases: Jaro-Winkler names, exact codes; blocking on the
    names, the date of birth, initials with date of birth, MRNs and the WWUID; lambda from
    deterministic rules, u by random sampling, m by EM on two blocking passes."""
    return run_splink_cases_at(records, seed=seed, thresholds=[threshold])[0]


def run_splink_cases_at(records: Any, *, seed: int, thresholds: Any) -> list[SplinkResult]:
    """:func:`run_splink_cases` trained once and clustered at each of ``thresholds``; the
    first result's wall time covers loading to clusters at the first threshold."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    frame = cases_frame(records)
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch("initials"),
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("dob"),
            cl.ExactMatch("mrn_gp"),
            cl.ExactMatch("mrn_hospital"),
            cl.ExactMatch("product"),
            cl.ExactMatch("event"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            block_on("dob"),
            block_on("initials", "dob"),
            block_on("mrn_gp"),
            block_on("mrn_hospital"),
            block_on("wwuid"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    table = db_api.register(frame, dataset_display_name="cases")
    linker = Linker(table, settings, log_level=logging.ERROR)
    # lambda from precise rules (a shared WWUID; the same full name and date of birth), which
    # find about a third of the planted duplicates (copies keeping their identifiers, and
    # named records keeping their date of birth): an imprecise rule (initials, date of birth
    # and sex) overestimates lambda as the population grows and sinks precision.
    linker.training.estimate_probability_two_random_records_match(
        [block_on("wwuid"), block_on("first_name", "last_name", "dob")], recall=CASES_LAMBDA_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name")
    )
    trained = time.perf_counter()
    lowest = min(thresholds)
    predictions: Any = linker.inference.predict(threshold_match_probability=lowest)
    pairs = predictions.as_pandas_dataframe()
    out: list[SplinkResult] = []
    for threshold in thresholds:
        at = pairs[pairs["match_probability"] >= threshold]
        links = [(str(a), str(b)) for a, b in zip(at["rec_id_l"], at["rec_id_r"], strict=True)]
        clusters_table: Any = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        )
        clustered = clusters_table.as_pandas_dataframe()
        finished = time.perf_counter()
        out.append(
            SplinkResult(
                threshold=threshold,
                use_soc_sec_id=False,
                wall_s=finished - started,
                train_s=trained - started,
                predict_s=finished - trained,
                links=links,
                clusters=[g for g in _cluster_members(clustered) if len(g) > 1],
            )
        )
    return out
