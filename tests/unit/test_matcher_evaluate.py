"""``evaluate`` compares products and events as sets and sums its counts once: same results as
comparing every (source, candidate) pair and summing on demand (M8, M13, M14, M16, M17, N7)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from indexer.dates import PartialDate
from matcher.compare import (
    NONE,
    best,
    compare_exact,
    compare_name_rows,
    compare_onset,
    compare_product_reported,
)
from matcher.evaluate import RESULT_SCORE, Evaluation, evaluate, event_kinds_match, prepare_source
from matcher.facts import EventFacts, Facts, ProductFacts, facts_from_record
from matcher.model import Result
from matcher.profiles import FIELD_BY_KEY, PROFILES
from tests.factories import record as make_record

BASE = facts_from_record(make_record("II-1"))

texts = st.sampled_from(
    [None, "", "aspirin 100 mg", "aspirin 100mg tab", "aspirin", "warfarin 5 mg", "10 mg"]
)
codes = st.sampled_from([None, "10019211", "10028813"])
events_text = st.sampled_from([None, "", "headache", "nausea"])
products = st.lists(
    st.builds(
        ProductFacts, st.sampled_from([None, "", "PRD-1", "PRD-2"]), texts, texts, st.just(1)
    ),
    max_size=4,
).map(lambda ps: tuple(replace(p, rank=i) for i, p in enumerate(ps, start=1)))
onsets = st.sampled_from([None, "2024-03-05", "2024-05-03", "2024-03-20", "2024", "2023-01-01"])
events = st.lists(
    st.builds(
        EventFacts,
        codes,
        events_text,
        st.sampled_from([None, "", "us", "fr"]),
        onsets.map(lambda day: PartialDate.parse(day) if day else None),
        st.just(1),
    ),
    max_size=4,
).map(lambda es: tuple(replace(e, rank=i) for i, e in enumerate(es, start=1)))
facts = st.builds(
    lambda ps, es, blinded: replace(BASE, products=ps, events=es, blinded=blinded),
    products,
    events,
    st.booleans(),
)


def pairwise(src: Facts, cand: Facts, depth: int) -> dict[str, Result]:
    """The product and event rows by their definition: the best over every compared pair."""
    product = reported = study = verbatim = meddra = NONE
    sps = [p for p in src.products if p.rank <= depth]
    cps = [p for p in cand.products if p.rank <= depth]
    for sp in sps:
        for cp in cps:
            product = best(product, compare_exact(sp.product, cp.product))
            reported = best(
                reported, compare_product_reported(sp.product_reported, cp.product_reported)
            )
            if not (src.blinded or cand.blinded):  # M8
                study = best(study, compare_exact(sp.study_product, cp.study_product))
    for se in [e for e in src.events if e.rank <= depth]:
        for ce in [e for e in cand.events if e.rank <= depth]:
            coded = se.meddra_pt_code is not None and ce.meddra_pt_code is not None
            if coded and se.meddra_pt_code == ce.meddra_pt_code:
                meddra = "exact"
            if not coded or se.meddra_pt_code == ce.meddra_pt_code:  # N7
                verbatim = best(verbatim, compare_exact(se.event_reported, ce.event_reported))
    return {
        "product.product_reported": reported,
        "product.product": product,
        "product.study_product": study,
        "event.event_reported": verbatim,
        "event.meddra_pt": meddra,
    }


@given(facts, facts, st.sampled_from(sorted(PROFILES)))
def test_M17_products_and_events_match_as_the_best_pair(src: Facts, cand: Facts, name: str) -> None:
    profile = PROFILES[name]
    depth = 2 if name != "enhanced" else profile.depth  # also compare beyond the depth
    profile = replace(profile, depth=depth)
    expected = pairwise(src, cand, depth)
    results = evaluate(src, cand, profile).results
    assert {k: results[k] for k in expected} == expected
    # The source's prepared side is per source: another source gives its own results.
    assert {k: evaluate(cand, src, profile).results[k] for k in expected} == pairwise(
        cand, src, depth
    )


@given(facts, facts, st.integers(1, 3), st.integers(1, 4))
def test_M24_event_field_kinds_match_across_any_pairs(
    src: Facts, cand: Facts, depth: int, enough: int
) -> None:
    kinds: set[str] = set()
    for se in [e for e in src.events if e.rank <= depth]:
        for ce in [e for e in cand.events if e.rank <= depth]:
            if compare_exact(se.event_reported, ce.event_reported) == "exact":
                kinds.add("reported")
            if compare_exact(se.meddra_pt_code, ce.meddra_pt_code) == "exact":
                kinds.add("meddra")
            if compare_exact(se.country, ce.country) == "exact":
                kinds.add("country")
            if compare_onset(se.onset, ce.onset) != NONE:
                kinds.add("onset")
    assert event_kinds_match(prepare_source(src, depth), cand, enough) == (len(kinds) >= enough)


@given(
    st.lists(
        st.sampled_from(["exact", "partial", "none"]),
        min_size=len(FIELD_BY_KEY),
        max_size=len(FIELD_BY_KEY),
    )
)
def test_M14_count_score_and_categories_are_summed_from_the_results(values: list[str]) -> None:
    results: dict[str, Result] = dict(zip(FIELD_BY_KEY, values, strict=True))  # type: ignore[arg-type]
    ev = Evaluation.of(BASE, results)
    matching = [k for k, r in results.items() if r != "none"]
    identifying = [k for k in matching if FIELD_BY_KEY[k].identifying]
    assert ev.count == len(identifying)
    assert ev.score == sum(RESULT_SCORE[r] for r in results.values())
    assert ev.identifying_categories() == {FIELD_BY_KEY[k].category for k in identifying}
    assert ev.patient_match == any(k.startswith("patient.") for k in identifying)
    order = PROFILES["deep_22r3"].category_order
    top = next((c for c in order if c in ev.identifying_categories()), None)
    assert ev.top_category(PROFILES["deep_22r3"]) == top


def test_M5_supporting_fields_alone_are_no_patient_match() -> None:
    results: dict[str, Result] = dict.fromkeys(FIELD_BY_KEY, "none")  # type: ignore[arg-type]
    results["patient.sex"] = "exact"
    ev = Evaluation.of(BASE, results)
    assert (ev.count, ev.score, ev.patient_match) == (0, 2, False)
    assert ev.top_category(PROFILES["enhanced"]) is None


def test_N7_events_coded_alike_match_by_pt_code_not_by_text() -> None:
    onset = PartialDate.parse("2024-03-05")
    src = replace(BASE, events=(EventFacts("10019211", "headache", "us", onset, 1),))
    cand = replace(BASE, events=(EventFacts("10019211", "migraine", "us", None, 1),))
    results = evaluate(src, cand, PROFILES["enhanced"]).results
    assert (results["event.meddra_pt"], results["event.event_reported"]) == ("exact", "none")


def test_sources_evaluated_in_turn_or_in_threads_keep_their_own_results() -> None:
    a = replace(BASE, products=(ProductFacts("prd-1", "aspirin 100 mg", None, 1),))
    b = replace(BASE, products=(ProductFacts("prd-2", "warfarin 5 mg", None, 1),))
    cands = [a, b] * 20
    profile = PROFILES["enhanced"]

    def product_results(src: Facts) -> list[Result]:
        return [evaluate(src, c, profile).results["product.product"] for c in cands]

    expected = {id(a): ["exact", "none"] * 20, id(b): ["none", "exact"] * 20}
    for src in (a, b, a):
        assert product_results(src) == expected[id(src)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for src, results in zip([a, b] * 8, pool.map(product_results, [a, b] * 8), strict=True):
            assert results == expected[id(src)]


_names = st.sampled_from([None, "anna", "anne", "maria", "anna maria", "schmidt"])
_codes = st.sampled_from([None, "", "x-1", "x-2"])


def _person(first: str | None, last: str | None) -> str | None:
    return " ".join(sorted(f"{first or ''} {last or ''}".split())) or None


@given(_names, _names, _names, _names, _codes, _codes)
def test_M16_M17_evaluate_compares_like_the_comparators(
    s_first: str | None,
    s_last: str | None,
    c_first: str | None,
    c_last: str | None,
    s_code: str | None,
    c_code: str | None,
) -> None:
    """evaluate writes out its exact checks and skips name rows without names: same results."""
    src = replace(
        BASE,
        first_name=s_first,
        last_name=s_last,
        patient_name=_person(s_first, s_last),
        reporter_first=s_last,
        reporter_last=s_first,
        reporter_name=_person(s_last, s_first),
        initials=s_code,
        sex=s_code,
        mrn_gp=s_code,
        mrn_investigation=s_code,
        study_number=s_code,
        qualification=s_code,
        country=s_code,
    )
    cand = replace(
        BASE,
        first_name=c_first,
        last_name=c_last,
        patient_name=_person(c_first, c_last),
        reporter_first=c_first,
        reporter_last=None,
        reporter_name=_person(c_first, None),
        initials=c_code,
        sex=c_code,
        mrn_gp=c_code,
        mrn_investigation=c_code,
        study_number=c_code,
        qualification=c_code,
        country=c_code,
    )
    ev = evaluate(src, cand, PROFILES["enhanced"])
    patient = compare_name_rows((s_first, s_last), (c_first, c_last))
    reporter = compare_name_rows((s_last, s_first), (c_first, None))
    assert (ev.results["patient.first_name"], ev.results["patient.last_name"]) == patient
    assert (ev.results["reporter.first_name"], ev.results["reporter.last_name"]) == reporter
    exact = compare_exact(s_code, c_code)
    for key in (
        "patient.initials",
        "patient.sex",
        "patient.mrn_gp",
        "patient.mrn_investigation",
        "study.study_number",
        "reporter.qualification",
    ):
        assert ev.results[key] == exact, key
    assert ev.country == exact
