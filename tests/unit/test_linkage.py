"""The Fellegi-Sunter core (``matcher.linkage``): levels, scores, JSON, fitting."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.fields import FIELD_BY_KEY, RANKED_FIELDS
from matcher.facts import facts_from_record
from matcher.linkage import (
    CLOSE,
    EXACT,
    MODEL_FIELDS,
    NONE,
    NULL,
    PARTIAL,
    SCHEMA,
    MatchModel,
    count_levels,
    estimate_m,
    estimate_prior,
    estimate_u,
    evidence,
    field_levels,
    m_from_links,
    pair_levels,
    probability_of_weight,
)
from matcher.profiles import PROFILES
from matcher.reference import evaluate_by_registry
from tests.factories import blank, record

KEYS = [f.key for f in MODEL_FIELDS]


def _level(a: Any, b: Any, key: str) -> int:
    return pair_levels(facts_from_record(a), facts_from_record(b))[KEYS.index(key)]


def test_model_fields_are_the_ranked_fields_without_identifiers_or_country() -> None:
    assert MODEL_FIELDS == RANKED_FIELDS
    assert "identifiers.any" not in KEYS and "reporter.country" not in KEYS
    assert {"patient.sex", "reporter.qualification", "study.study_number"} <= set(KEYS)


LEVEL_CASES = [
    (
        "same-initials",
        {"patient": {"initials": "JS"}},
        {"patient": {"initials": "JS"}},
        "patient.initials",
        EXACT,
    ),
    (
        "other-initials",
        {"patient": {"initials": "JS"}},
        {"patient": {"initials": "AB"}},
        "patient.initials",
        NONE,
    ),
    (
        "one-side-missing",
        {"patient": {"initials": "JS"}},
        {"patient": {}},
        "patient.initials",
        NULL,
    ),
    ("both-missing", {"patient": {}}, {"patient": {}}, "patient.initials", NULL),
    (
        "typo-name",
        {"patient": {"last_name": "Smith"}},
        {"patient": {"last_name": "Smyth"}},
        "patient.last_name",
        PARTIAL,
    ),
    (
        "transliterated-name",
        {"patient": {"last_name": "Müller"}},
        {"patient": {"last_name": "Muller"}},
        "patient.last_name",
        EXACT,
    ),
    (
        "swapped-names-N3",
        {"patient": {"first_name": "Jacob", "last_name": "Smith"}},
        {"patient": {"first_name": "Smith", "last_name": "Jacob"}},
        "patient.first_name",
        PARTIAL,
    ),
    (
        "partial-dob-contains",
        {"patient": {"dob": "1980"}},
        {"patient": {"dob": "1980-06-02"}},
        "patient.dob",
        PARTIAL,
    ),
    ("other-dob", {"patient": {"dob": "1980"}}, {"patient": {"dob": "1981"}}, "patient.dob", NONE),
    (
        "dob-one-digit-close",
        {"patient": {"dob": "1975-09-03"}},
        {"patient": {"dob": "1973-09-03"}},
        "patient.dob",
        CLOSE,
    ),
    (
        "dob-day-month-swapped-close",
        {"patient": {"dob": "1980-03-05"}},
        {"patient": {"dob": "1980-05-03"}},
        "patient.dob",
        CLOSE,
    ),
    (
        "dob-far-apart-none",
        {"patient": {"dob": "1975-09-03"}},
        {"patient": {"dob": "1952-01-17"}},
        "patient.dob",
        NONE,
    ),
    (
        "partial-dob-never-close",
        {"patient": {"dob": "1975-09"}},
        {"patient": {"dob": "1973-09"}},
        "patient.dob",
        NONE,
    ),
    (
        "name-transposed-close",
        {"patient": {"first_name": "David", "last_name": "Brown"}},
        {"patient": {"first_name": "Davdi", "last_name": "Green"}},
        "patient.first_name",
        CLOSE,
    ),
    (
        "name-unlike-none",
        {"patient": {"first_name": "David", "last_name": "Brown"}},
        {"patient": {"first_name": "Maria", "last_name": "Green"}},
        "patient.first_name",
        NONE,
    ),
    (
        "swapped-name-typo-close-on-last-row",
        {"patient": {"first_name": "Harrison", "last_name": "Schuamnn"}},
        {"patient": {"first_name": "Schuman", "last_name": "Alexandra"}},
        "patient.last_name",
        CLOSE,
    ),
    (
        "mrn-one-typo-close",
        {"patient": {"mrn": {"gp": "8223201"}}},
        {"patient": {"mrn": {"gp": "8223210"}}},
        "patient.mrn_gp",
        CLOSE,
    ),
    (
        "short-mrn-typo-none",
        {"patient": {"mrn": {"gp": "821"}}},
        {"patient": {"mrn": {"gp": "812"}}},
        "patient.mrn_gp",
        NONE,
    ),
    (
        "sex-never-close",
        {"patient": {"sex": "female"}},
        {"patient": {"sex": "male"}},
        "patient.sex",
        NONE,
    ),
    (
        "similar-product-text",
        {"products": [{"product_reported": "Aspirin 100 mg", "rank": 1}]},
        {"products": [{"product_reported": "Aspirin 100 mg tablets", "rank": 1}]},
        "product.product_reported",
        PARTIAL,
    ),
    (
        "no-products",
        {"products": []},
        {"products": [{"product": "PRD-1", "rank": 1}]},
        "product.product",
        NULL,
    ),
    (
        "coded-events-differ-N7",
        {"events": [{"event_reported": "headache", "meddra_pt_code": "10019211", "rank": 1}]},
        {"events": [{"event_reported": "headache", "meddra_pt_code": "10000001", "rank": 1}]},
        "event.event_reported",
        NONE,
    ),
]


@pytest.mark.parametrize(
    ("a", "b", "key", "level"),
    [c[1:] for c in LEVEL_CASES],
    ids=[c[0] for c in LEVEL_CASES],
)
def test_pair_levels(a: dict[str, Any], b: dict[str, Any], key: str, level: int) -> None:
    ra, rb = blank("C-1", **a), blank("C-2", **b)
    assert _level(ra, rb, key) == level
    assert _level(rb, ra, key) == level


def test_close_is_declared_only_where_a_rule_exists() -> None:
    typos = {f.key for f in MODEL_FIELDS if f.typos}
    assert {"patient.first_name", "patient.dob", "patient.mrn_gp"} <= typos
    assert all(f.comparator in ("name", "dob", "exact") for f in MODEL_FIELDS if f.typos)
    for f in MODEL_FIELDS:
        assert (CLOSE in field_levels(f)) == f.typos, f.key


EVIDENCE_CASES = [
    ("names-compared", (EXACT, EXACT, EXACT), (NULL, EXACT, EXACT)),
    ("one-name-compared", (EXACT, NULL, NONE), (NULL, NULL, NONE)),
    ("no-name-compared", (EXACT, NULL, NULL), (EXACT, NULL, NULL)),
]


@pytest.mark.parametrize(
    ("levels", "scored"), [c[1:] for c in EVIDENCE_CASES], ids=[c[0] for c in EVIDENCE_CASES]
)
def test_initials_count_only_where_no_name_is_compared(
    levels: tuple[int, ...], scored: tuple[int, ...]
) -> None:
    fields = [
        FIELD_BY_KEY[k] for k in ("patient.initials", "patient.first_name", "patient.last_name")
    ]
    assert evidence(levels, fields) == scored


def test_model_levels_are_the_scored_evidence() -> None:
    a = blank("C-1", patient={"initials": "JS", "first_name": "John", "last_name": "Smith"})
    b = blank("C-2", patient={"initials": "JS", "first_name": "John", "last_name": "Smyth"})
    model = MatchModel(
        version=1,
        organization="ORG-A",
        trained_at="t",
        prior=0.01,
        fields=tuple(KEYS),
        m=tuple(dict.fromkeys(field_levels(f), 1 / len(field_levels(f))) for f in MODEL_FIELDS),
        u=tuple(dict.fromkeys(field_levels(f), 1 / len(field_levels(f))) for f in MODEL_FIELDS),
    )
    fa, fb = facts_from_record(a), facts_from_record(b)
    assert pair_levels(fa, fb)[KEYS.index("patient.initials")] == EXACT
    assert model.levels(fa, fb)[KEYS.index("patient.initials")] == NULL


def test_a_model_without_close_scores_close_as_none() -> None:
    spec = FIELD_BY_KEY["patient.dob"]
    old = MatchModel(
        version=1,
        organization="ORG-A",
        trained_at="t",
        prior=0.01,
        fields=(spec.key,),
        m=({NONE: 0.1, PARTIAL: 0.1, EXACT: 0.8},),
        u=({NONE: 0.9, PARTIAL: 0.05, EXACT: 0.05},),
    )
    assert old.bayes_factors((CLOSE,)) == old.bayes_factors((NONE,)) == (0.1 / 0.9,)


def test_M8_study_product_of_a_blinded_case_is_null() -> None:
    products = [{"study_product": "SP-1", "rank": 1}]
    a = blank("C-1", products=products, blinded=True)
    b = blank("C-2", products=products)
    assert _level(a, b, "product.study_product") == NULL


def test_levels_agree_with_the_ranked_results() -> None:
    """A level is partial/exact exactly when ranking's result is (matcher.reference)."""
    a, b = record("II-1"), record("C-2", kind="case")
    results = evaluate_by_registry(
        facts_from_record(a), facts_from_record(b), PROFILES["enhanced"]
    ).results
    levels = dict(zip(KEYS, pair_levels(facts_from_record(a), facts_from_record(b)), strict=True))
    want = {"exact": (EXACT,), "partial": (PARTIAL,), "none": (NULL, NONE)}
    for key, result in results.items():
        assert levels[key] in want[result], key


def _model(m: list[dict[int, float]], u: list[dict[int, float]], prior: float = 0.01) -> MatchModel:
    keys = tuple(KEYS[: len(m)])
    return MatchModel(1, "ORG-A", "2026-01-01T00:00:00Z", prior, keys, tuple(m), tuple(u))


SIMPLE = _model(
    [{NONE: 0.1, PARTIAL: 0.2, EXACT: 0.7}, {NONE: 0.2, PARTIAL: 0.1, EXACT: 0.7}],
    [{NONE: 0.8, PARTIAL: 0.15, EXACT: 0.05}, {NONE: 0.5, PARTIAL: 0.4, EXACT: 0.1}],
    prior=0.2,
)
SCORE_CASES = [
    ("all-null", (NULL, NULL), (1.0, 1.0), 0.2),
    ("exact-null", (EXACT, NULL), (14.0, 1.0), 0.2 * 14 / (0.2 * 14 + 0.8)),
    ("none-exact", (NONE, EXACT), (0.125, 7.0), 0.2 * 0.875 / (0.2 * 0.875 + 0.8)),
]


@pytest.mark.parametrize(
    ("levels", "factors", "probability"),
    [c[1:] for c in SCORE_CASES],
    ids=[c[0] for c in SCORE_CASES],
)
def test_scores(levels: tuple[int, ...], factors: tuple[float, ...], probability: float) -> None:
    assert SIMPLE.bayes_factors(levels) == pytest.approx(factors)
    assert SIMPLE.probability(levels) == pytest.approx(probability)
    assert SIMPLE.match_weight(levels) == pytest.approx(
        math.log2(0.2 / 0.8) + sum(math.log2(f) for f in factors)
    )


BAD_MODELS = [
    ("prior-0", dict(prior=0.0)),
    ("prior-1", dict(prior=1.0)),
    ("zero-probability", dict(m=({NONE: 0.0, EXACT: 1.0},), u=({NONE: 0.5, EXACT: 0.5},))),
    ("null-level", dict(m=({NULL: 0.5, EXACT: 0.5},), u=({NULL: 0.5, EXACT: 0.5},))),
    ("unknown-field", dict(fields=("patient.shoe_size",))),
]


@pytest.mark.parametrize("change", [c[1] for c in BAD_MODELS], ids=[c[0] for c in BAD_MODELS])
def test_invalid_models_are_refused(change: dict[str, Any]) -> None:
    args: dict[str, Any] = dict(
        version=1,
        organization="ORG-A",
        trained_at="t",
        prior=0.1,
        fields=("patient.initials",),
        m=({NONE: 0.1, EXACT: 0.9},),
        u=({NONE: 0.9, EXACT: 0.1},),
    )
    args.update(change)
    with pytest.raises(ValueError):
        MatchModel(**args)


def test_wrong_level_count_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 2 levels"):
        SIMPLE.probability((EXACT,))


@pytest.mark.parametrize(
    "data",
    [{"schema": "casematch.linkage/2"}, {}, {"schema": None}],
    ids=["newer", "missing", "null"],
)
def test_from_json_refuses_unknown_schema(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown match model schema"):
        MatchModel.from_json(data)


def test_from_json_refuses_malformed_model() -> None:
    data = SIMPLE.to_json()
    del data["prior"]
    with pytest.raises(ValueError, match="malformed"):
        MatchModel.from_json(data)


def test_json_is_human_readable() -> None:
    data = SIMPLE.to_json()
    assert data["schema"] == SCHEMA
    first = data["fields"][0]
    assert first["field"] == "patient.initials"
    assert [x["level"] for x in first["levels"]] == ["none", "partial", "exact"]
    assert first["levels"][2]["bayes_factor"] == pytest.approx(14.0)


_prob = st.floats(min_value=0.01, max_value=0.98)


@st.composite
def models(draw: st.DrawFn) -> MatchModel:
    n = draw(st.integers(min_value=1, max_value=6))
    ms, us = [], []
    for spec in MODEL_FIELDS[:n]:
        levels = field_levels(spec)
        m = [draw(_prob) for _ in levels]
        u = [draw(_prob) for _ in levels]
        ms.append({lv: x / sum(m) for lv, x in zip(levels, m, strict=True)})
        us.append({lv: x / sum(u) for lv, x in zip(levels, u, strict=True)})
    return MatchModel(
        draw(st.integers(1, 1000)),
        draw(st.sampled_from(["ORG-A", "ORG-B"])),
        "2026-01-01T00:00:00Z",
        draw(st.floats(min_value=1e-6, max_value=0.5)),
        tuple(KEYS[:n]),
        tuple(ms),
        tuple(us),
    )


@given(models())
def test_json_round_trip_is_exact(model: MatchModel) -> None:
    assert MatchModel.from_json(model.to_json()) == model


@st.composite
def ordered_models(draw: st.DrawFn) -> MatchModel:
    """Models whose Bayes factors rise with the level (m ascending, u descending)."""
    model = draw(models())
    ms, us = [], []
    for m, u in zip(model.m, model.u, strict=True):
        levels = sorted(m)
        mv = sorted(m.values())
        uv = sorted(u.values(), reverse=True)
        ms.append(dict(zip(levels, mv, strict=True)))
        us.append(dict(zip(levels, uv, strict=True)))
    return MatchModel(
        model.version,
        model.organization,
        model.trained_at,
        model.prior,
        model.fields,
        tuple(ms),
        tuple(us),
    )


@given(ordered_models(), st.data())
def test_probability_is_monotone_in_each_level(model: MatchModel, data: st.DataObject) -> None:
    levels = [data.draw(st.sampled_from([NULL, *sorted(m)])) for m in model.m]
    i = data.draw(st.integers(0, len(levels) - 1))
    ordered = sorted(model.m[i])
    base = model.probability(levels)
    for higher in ordered:
        if levels[i] != NULL and higher > levels[i]:
            raised = list(levels)
            raised[i] = higher
            assert model.probability(raised) >= base


@given(st.floats(min_value=-2000, max_value=2000))
def test_probability_of_weight_is_bounded(weight: float) -> None:
    p = probability_of_weight(weight)
    assert 0.0 <= p <= 1.0
    if abs(weight) < 50:
        assert p == pytest.approx(2**weight / (1 + 2**weight))


def test_estimate_u_counts_levels_with_smoothing() -> None:
    spec = FIELD_BY_KEY["patient.initials"]  # exact comparator: none / exact
    counts: Counter[tuple[int, ...]] = Counter({(NONE,): 97, (EXACT,): 1, (NULL,): 50})
    (u,) = estimate_u(counts, [spec], smoothing=1.0)
    assert u == {NONE: 98 / 100, EXACT: 2 / 100}


def test_estimate_u_never_gives_zero() -> None:
    spec = FIELD_BY_KEY["patient.last_name"]
    (u,) = estimate_u(Counter({(NONE,): 10}), [spec])
    assert all(p > 0 for p in u.values()) and u[PARTIAL] == pytest.approx(1 / 14)


PRIOR_CASES = [
    ("10-links-of-100", 10, 100, 1.0, 10 / 4950),
    ("half-recall", 10, 100, 0.5, 20 / 4950),
    ("none", 0, 100, 1.0, 1e-9),
    ("capped", 10, 3, 1.0, 0.5),
]


@pytest.mark.parametrize(
    ("links", "n", "recall", "prior"),
    [c[1:] for c in PRIOR_CASES],
    ids=[c[0] for c in PRIOR_CASES],
)
def test_estimate_prior(links: int, n: int, recall: float, prior: float) -> None:
    assert estimate_prior(links, n, recall) == pytest.approx(prior)


def test_estimate_prior_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        estimate_prior(1, 1)
    with pytest.raises(ValueError):
        estimate_prior(1, 10, recall=0)


TRUE_M = [
    {NONE: 0.05, PARTIAL: 0.15, EXACT: 0.8},
    {NONE: 0.1, EXACT: 0.9},
    {NONE: 0.2, PARTIAL: 0.3, EXACT: 0.5},
    {NONE: 0.15, EXACT: 0.85},
    {NONE: 0.1, PARTIAL: 0.2, EXACT: 0.7},
]
TRUE_U = [
    {NONE: 0.9, PARTIAL: 0.07, EXACT: 0.03},
    {NONE: 0.7, EXACT: 0.3},
    {NONE: 0.6, PARTIAL: 0.3, EXACT: 0.1},
    {NONE: 0.95, EXACT: 0.05},
    {NONE: 0.85, PARTIAL: 0.1, EXACT: 0.05},
]
#: Fields whose levels fit TRUE_M's (names, initials, dob, sex, ...; without ``close``).
SPECS = [
    dataclasses.replace(FIELD_BY_KEY[k], typos=False)
    for k in (
        "patient.first_name",
        "patient.initials",
        "patient.dob",
        "patient.sex",
        "patient.last_name",
    )
]


def _sample(rng: random.Random, probs: list[dict[int, float]], null_rate: float) -> tuple[int, ...]:
    out = []
    for p in probs:
        if rng.random() < null_rate:
            out.append(NULL)
            continue
        x, acc = rng.random(), 0.0
        level = max(p)
        for lv in sorted(p):
            acc += p[lv]
            if x < acc:
                level = lv
                break
        out.append(level)
    return tuple(out)


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["seed-1", "seed-2", "seed-3"])
def test_em_recovers_known_m(seed: int) -> None:
    assert [field_levels(s) for s in SPECS] == [tuple(sorted(m)) for m in TRUE_M]
    rng = random.Random(seed)
    blocked = Counter(
        _sample(rng, TRUE_M if rng.random() < 0.3 else TRUE_U, 0.1) for _ in range(20000)
    )
    result = estimate_m(blocked, TRUE_U, 0.1, SPECS)
    assert result.converged
    assert result.match_share == pytest.approx(0.3, abs=0.03)
    for got, want in zip(result.m, TRUE_M, strict=True):
        for level in want:
            assert got[level] == pytest.approx(want[level], abs=0.03)


def test_count_levels_reads_rows() -> None:
    assert count_levels([[1, 3], (1, 3), [0, 2]]) == Counter({(1, 3): 2, (0, 2): 1})


def test_level_vectors_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="level vector"):
        counts: Counter[tuple[int, ...]] = Counter({(NONE,): 1})
        estimate_u(counts, SPECS)


def test_m_from_links_needs_enough_compared_pairs() -> None:
    links: Counter[tuple[int, ...]] = Counter(
        {(EXACT, EXACT, NULL, EXACT, NULL): 60, (NONE, EXACT, NULL, NONE, EXACT): 10}
    )
    m = m_from_links(links, SPECS, min_pairs=50)
    assert m[2] is None and m[4] is None  # 0 and 10 pairs compare there
    assert m[0] == pytest.approx({NONE: 11 / 73, PARTIAL: 1 / 73, EXACT: 61 / 73})
    assert m[1] == pytest.approx({NONE: 1 / 72, EXACT: 71 / 72})


def test_estimate_m_holds_fixed_fields() -> None:
    rng = random.Random(7)
    blocked = Counter(
        _sample(rng, TRUE_M if rng.random() < 0.3 else TRUE_U, 0.1) for _ in range(5000)
    )
    held = {NONE: 0.5, EXACT: 0.5}
    result = estimate_m(
        blocked,
        TRUE_U,
        0.1,
        SPECS,
        m_start=[TRUE_M[0], held, TRUE_M[2], TRUE_M[3], TRUE_M[4]],
        fixed=[False, True, False, False, False],
    )
    assert result.m[1] == held
    assert result.m[0][EXACT] == pytest.approx(TRUE_M[0][EXACT], abs=0.05)
