"""The bulk audit's pure parts (``matcher/audit/``): blocking on retrieval keys, bulk levels
equal to ``linkage.pair_levels``, the seeds' exclusions, scoring, clustering without chains."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from benchmarks.audit import audit_rows, true_pairs
from benchmarks.audit_data import PlantedPopulation
from indexer.documents import build_document
from indexer.records import Record
from matcher import audit as bulk
from matcher import linkage
from matcher.facts import Facts, facts_from_view
from tests.factories import blank


def _rows(records: Sequence[Record]) -> list[tuple[Facts, list[str]]]:
    docs = [build_document(r) for r in records]
    return [(facts_from_view(d["match_view"]), d["keys"]) for d in docs]


def _pairs(records: Sequence[Record], max_block: int = bulk.MAX_BLOCK) -> set[tuple[str, str]]:
    enc = bulk.Encoder().encode(_rows(records))
    pairs, _ = bulk.candidate_pairs(enc, max_block)
    return {tuple(sorted((enc.ids[i], enc.ids[j]))) for i, j in pairs.tolist()}  # type: ignore[misc]


def _p(first: str | None = None, last: str | None = None, **more: Any) -> dict[str, Any]:
    patient: dict[str, Any] = dict(more)
    if first:
        patient["first_name"] = first
    if last:
        patient["last_name"] = last
    return patient


BLOCKING_CASES = [
    # (records as (id, fields), expected pairs)
    (
        [("A", {"patient": _p("Marie", "Curie")}), ("B", {"patient": _p("Marie", "Dupont")})],
        {("A", "B")},
    ),
    (
        [("A", {"patient": _p(dob="1980-06")}), ("B", {"patient": _p(dob="1980-06-15")})],
        {("A", "B")},
    ),
    (
        [("A", {"patient": _p(dob="1980-06-14")}), ("B", {"patient": _p(dob="1980-06-15")})],
        set(),
    ),
    (
        [("A", {"patient": _p(mrn={"gp": "G1"})}), ("B", {"patient": _p(mrn={"gp": "G1"})})],
        {("A", "B")},
    ),
    (
        [
            ("A", {"identifiers": {"wwuid": "US-X-1"}}),
            ("B", {"identifiers": {"external_system_uid": "US-X-1"}}),
        ],
        {("A", "B")},
    ),
    (  # the same product is no blocking key: it would pair most of a database
        [
            ("A", {"products": [{"product": "PRD-1", "rank": 1}]}),
            ("B", {"products": [{"product": "PRD-1", "rank": 1}]}),
        ],
        set(),
    ),
    (  # M1: keys are scoped by organization
        [
            ("A", {"patient": _p("Marie", "Curie")}),
            ("B", {"patient": _p("Marie", "Curie"), "organization": "ORG-B"}),
        ],
        set(),
    ),
    (  # M3: and by clinical trial / postmarketing
        [
            ("A", {"patient": _p(initials="MC")}),
            (
                "B",
                {
                    "patient": _p(initials="MC"),
                    "study_type": "clinical_trial",
                    "study_number": "S-1",
                },
            ),
        ],
        set(),
    ),
]


@pytest.mark.parametrize(
    ("records", "expected"),
    BLOCKING_CASES,
    ids=[
        "shared-first-name",
        "partial-dob-within",
        "two-days-not-keys",
        "mrn",
        "identifier-cross-field",
        "product-not-blocked",
        "M1-other-organization",
        "M3-ct-vs-pm",
    ],
)
def test_blocking_on_retrieval_keys(
    records: list[tuple[str, dict[str, Any]]], expected: set[tuple[str, str]]
) -> None:
    built = [blank(rid, **{"organization": "ORG-A", **fields}) for rid, fields in records]
    assert _pairs(built) == expected


def test_blocking_splits_an_oversized_block_by_birth_year() -> None:
    records = [
        blank("A", patient=_p(initials="MC", dob="1980-01-01")),
        blank("B", patient=_p(initials="MC", dob="1980-02-02")),
        blank("C", patient=_p(initials="MC", dob="1990-03-03")),
        blank("D", patient=_p(initials="MC")),
    ]
    assert _pairs(records, max_block=10) == {
        tuple(sorted(p)) for p in itertools.combinations("ABCD", 2)
    }
    # four records share the initials: over max_block=3, only the two born in 1980 pair
    enc = bulk.Encoder().encode(_rows(records))
    pairs, stats = bulk.candidate_pairs(enc, max_block=3)
    assert [tuple(enc.ids[k] for k in p) for p in pairs.tolist()] == [("A", "B")]
    assert stats.split == 1 and stats.dropped_records == 1  # D has no date of birth


def _population() -> list[Record]:
    pop = PlantedPopulation(seed=11, n=500, planted_fraction=0.3)
    return list(pop.records())


def test_bulk_levels_equal_pair_levels() -> None:
    records = _population()
    rows = _rows(records)
    encoder = bulk.Encoder()
    enc = encoder.encode(rows)
    blocked, _ = bulk.candidate_pairs(enc)
    pairs = np.concatenate([blocked, bulk.random_pairs(len(enc), 3000, seed=1)])
    levels = bulk.BulkLevels(encoder).levels(enc, pairs)
    facts = [f for f, _ in rows]
    expected = [linkage.pair_levels(facts[i], facts[j]) for i, j in pairs.tolist()]
    assert [tuple(row) for row in levels.tolist()] == expected
    # every level occurs: the test exercises exact, partial, close, none and null
    assert set(np.unique(levels).tolist()) == set(linkage.LEVEL_NAMES)


def test_bulk_levels_stay_equal_when_encoding_adds_codes() -> None:
    """The per-field tables ``BulkLevels`` builds from the code signatures are rebuilt when
    a later chunk adds codes (the store path encodes chunk by chunk)."""
    rows = _rows(_population())
    encoder = bulk.Encoder()
    first = encoder.encode(rows[:200])
    comparer = bulk.BulkLevels(encoder)
    comparer.levels(first, bulk.random_pairs(len(first), 500, seed=2))
    enc = bulk.concat([first, encoder.encode(rows[200:])])
    pairs = bulk.random_pairs(len(enc), 3000, seed=3)
    facts = [f for f, _ in rows]
    expected = [linkage.pair_levels(facts[i], facts[j]) for i, j in pairs.tolist()]
    assert [tuple(row) for row in comparer.levels(enc, pairs).tolist()] == expected


def test_bulk_levels_blinded_and_swapped_names() -> None:
    records = [
        blank(
            "A",
            patient=_p("Jacob", "Smith"),
            products=[{"study_product": "SP-1", "blinded": True, "rank": 1}],
            study_type="clinical_trial",
            study_number="S-1",
        ),
        blank(
            "B",
            patient=_p("Smith", "Jacob"),
            products=[{"study_product": "SP-1", "rank": 1}],
            study_type="clinical_trial",
            study_number="S-1",
        ),
        blank(
            "C",
            patient=_p("Jakob", "Smyth"),
            products=[{"study_product": "SP-1", "rank": 1}],
            study_type="clinical_trial",
            study_number="S-1",
        ),
    ]
    rows = _rows(records)
    encoder = bulk.Encoder()
    enc = encoder.encode(rows)
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    levels = bulk.BulkLevels(encoder).levels(enc, pairs)
    facts = [f for f, _ in rows]
    assert [tuple(r) for r in levels.tolist()] == [
        linkage.pair_levels(facts[i], facts[j]) for i, j in pairs.tolist()
    ]


def test_M5_exclusion_needs_a_patient_match() -> None:
    records = [
        blank("A", patient=_p(initials="MC"), reporter={"country": "FR"}),
        blank("B", patient=_p(initials="MC"), reporter={"country": "DE"}),
        blank(
            "C", patient=_p(initials="XY"), reporter={"country": "DE"}, identifiers={"wwuid": "W-1"}
        ),
        blank(
            "D", patient=_p(initials="ZZ"), reporter={"country": "FR"}, identifiers={"wwuid": "W-1"}
        ),
    ]
    encoder = bulk.Encoder()
    enc = encoder.encode(_rows(records))
    pairs = np.array([[0, 1], [2, 3]])
    levels = bulk.BulkLevels(encoder).levels(enc, pairs)
    ok, counts = bulk.exclusions(enc, pairs, levels, encoder.fields)
    # A-B: other countries but the initials match; C-D: other countries, no patient match
    assert ok.tolist() == [True, False]
    assert counts == {"M1": 0, "M3": 0, "M7": 0, "M5": 1}


def test_M1_M3_exclusions_of_pairs_from_elsewhere() -> None:
    records = [
        blank("A", patient=_p(initials="MC")),
        blank("B", patient=_p(initials="MC"), organization="ORG-B"),
        blank("C", patient=_p(initials="MC"), study_type="clinical_trial", study_number="S-1"),
    ]
    encoder = bulk.Encoder()
    enc = encoder.encode(_rows(records))
    pairs = np.array([[0, 1], [0, 2]])
    levels = bulk.BulkLevels(encoder).levels(enc, pairs)
    ok, counts = bulk.exclusions(enc, pairs, levels, encoder.fields)
    assert ok.tolist() == [False, False]
    assert counts["M1"] == 1 and counts["M3"] == 1


def test_initials_are_no_evidence_beside_a_compared_name() -> None:
    keys = [f.key for f in linkage.MODEL_FIELDS]
    row = np.full((3, len(keys)), linkage.NULL, dtype=np.int8)
    ini, first, last = (
        keys.index(k) for k in ("patient.initials", "patient.first_name", "patient.last_name")
    )
    row[:, ini] = linkage.EXACT
    row[0, [first, last]] = linkage.EXACT  # both names compared: initials repeat them
    row[1, first] = linkage.NONE  # one name compared: its letter is in the initials too
    # row 2: no name compared: the initials are the only evidence of the name
    out = bulk.independent(row, linkage.MODEL_FIELDS)
    assert out[:, ini].tolist() == [linkage.NULL, linkage.NULL, linkage.EXACT]
    assert [tuple(r) for r in out.tolist()] == [
        linkage.evidence(tuple(r), linkage.MODEL_FIELDS) for r in row.tolist()
    ]


def test_scores_equal_the_model() -> None:
    records = _population()
    run = bulk.audit_in_memory(_rows(records), organization="ORG-A", trained_at="t")
    sample = np.linspace(0, len(run.pairs) - 1, 200).astype(int)
    for k in sample.tolist():
        lv = run.levels[k].tolist()
        assert run.probability[k] == pytest.approx(run.model.probability(lv), rel=1e-9, abs=1e-12)
        assert run.weights[k] == pytest.approx(run.model.match_weight(lv), abs=1e-9)


CLUSTER_CASES = [
    # (pairs, probabilities, forced, expected clusters)
    ([(0, 1), (1, 2)], [0.95, 0.95], None, [[0, 1]]),  # a chain: C joins neither
    ([(0, 1), (1, 2), (0, 2)], [0.95, 0.95, 0.3], None, [[0, 1]]),  # A-C scored below
    ([(0, 1), (1, 2), (0, 2)], [0.95, 0.96, 0.97], None, [[0, 1, 2]]),  # a triangle
    ([(0, 1), (2, 3)], [0.95, 0.5], None, [[0, 1]]),  # under the threshold
    ([(0, 1), (2, 3)], [0.95, 0.1], [False, True], [[0, 1], [2, 3]]),  # an ID Match links
    (  # two pairs joined by one link of four: not merged
        [(0, 1), (2, 3), (1, 2)],
        [0.99, 0.99, 0.95],
        None,
        [[0, 1], [2, 3]],
    ),
    (  # joined by three links of four: merged
        [(0, 1), (2, 3), (1, 2), (0, 2), (1, 3)],
        [0.99, 0.99, 0.95, 0.95, 0.95],
        None,
        [[0, 1, 2, 3]],
    ),
]


@pytest.mark.parametrize(
    ("pairs", "prob", "forced", "expected"),
    CLUSTER_CASES,
    ids=[
        "chain-A-B-C",
        "weak-A-C",
        "triangle",
        "below-threshold",
        "id-match",
        "one-of-four",
        "three-of-four",
    ],
)
def test_clustering_does_not_chain(
    pairs: list[tuple[int, int]],
    prob: list[float],
    forced: list[bool] | None,
    expected: list[list[int]],
) -> None:
    got = bulk.cluster(
        np.array(pairs, dtype=np.int64),
        np.array(prob),
        0.9,
        forced=None if forced is None else np.array(forced),
    )
    assert got.members == expected


def test_training_finds_the_planted_duplicates() -> None:
    pop = PlantedPopulation(seed=3, n=800, planted_fraction=0.2)
    records = list(pop.records())
    run = bulk.audit_in_memory(_rows(records), organization="ORG-A", trained_at="t", threshold=0.5)
    ids = run.encoded.ids
    entity = pop.entities()
    members: dict[str, list[str]] = {}
    for record_id in ids:
        members.setdefault(entity.get(record_id, record_id), []).append(record_id)
    truth = {tuple(sorted(p)) for m in members.values() for p in itertools.combinations(m, 2)}
    found = {
        tuple(sorted((ids[a], ids[b])))
        for c in run.clusters.members
        for a, b in itertools.combinations(c, 2)
    }
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert precision > 0.9 and recall > 0.6, (precision, recall)
    assert 0 < run.model.prior < 0.01
    assert math.isfinite(float(run.weights.sum()))


def test_training_recovers_the_m_of_labelled_duplicates() -> None:
    """Trained without labels on planted duplicates (identifier links anchor the passes),
    the model's ``m`` of the patient's names and date of birth is the share of each level
    among the true duplicate pairs, within 0.05."""
    pop = PlantedPopulation(7, 8000)
    run = bulk.audit_in_memory(audit_rows(pop.records()), organization="ORG-A", trained_at="t")
    assert run.model.training.sessions[0].name == "identifier links"
    ids = run.encoded.ids
    truth = true_pairs(ids, pop.entities())
    same = np.array([tuple(sorted((ids[i], ids[j]))) in truth for i, j in run.pairs.tolist()])
    for key in ("patient.dob", "patient.first_name", "patient.last_name"):
        f = run.model.fields.index(key)
        col = run.levels[same, f]
        col = col[col != linkage.NULL]
        for level, m in run.model.m[f].items():
            assert m == pytest.approx(float(np.mean(col == level)), abs=0.05), (key, level)
